"""The packages' metadata: the Configurations by capability and their dependsOn (from the
catalogue, deps/upstream.yaml and the Compositions), the Crossplane they require, and the
release annotations of every package."""

from __future__ import annotations

from pathlib import Path

import pytest

from function import catalogue
from generate import ROOT, configuration, release
from generate.crossplane import composition
from harness.cases import load_yaml_docs

RELEASE = release.default()


def _compositions() -> list[dict[str, object]]:
    return [composition(kind.api, RELEASE.function_name) for kind in catalogue.kinds()]


@pytest.mark.parametrize(
    ("repo", "crd", "package"),
    [
        (
            "crossplane-contrib/provider-helm",
            "crds/provider-helm/helm.m.crossplane.io_releases.yaml",
            "xpkg.crossplane.io/crossplane-contrib/provider-helm",
        ),
        (
            "crossplane-contrib/provider-upjet-aws",
            "crds/provider-upjet-aws/s3.aws.m.upbound.io_buckets.yaml",
            "xpkg.crossplane.io/crossplane-contrib/provider-aws-s3",
        ),
        (
            "crossplane-contrib/provider-upjet-aws",
            "crds/provider-upjet-aws/iam.aws.m.upbound.io_users.yaml",
            "xpkg.crossplane.io/crossplane-contrib/provider-aws-iam",
        ),
        (
            "cloudnative-pg/cloudnative-pg",
            "crds/cloudnative-pg/postgresql.cnpg.io_clusters.yaml",
            None,
        ),
        ("crossplane/crossplane", "crds/crossplane/protection.crossplane.io_usages.yaml", None),
    ],
)
def test_provider_package_of_a_crd(repo: str, crd: str, package: str | None) -> None:
    assert configuration._provider_package(repo, crd) == package


def test_every_kind_s_provider_is_a_dependency() -> None:
    deps = configuration.provider_dependencies()
    packages = {d.package.rsplit("/", 1)[1] for d in deps}
    # What the catalogue composes today: provider-sql Roles/Databases/Grants, provider-helm
    # Releases and ProviderConfigs.
    assert {"provider-sql", "provider-helm"} <= packages
    assert all(d.kind == "Provider" for d in deps)
    assert all(d.version.startswith(">=v") and " <v" in d.version for d in deps)


def test_every_kind_is_in_exactly_one_capability() -> None:
    parts = configuration.capabilities()
    kinds = [kind.api.kind for part in parts for kind in part.kinds]
    assert sorted(kinds) == sorted(kind.api.kind for kind in catalogue.kinds())
    assert [p.repository for p in parts] == [
        "platform-data",
        "platform-compute",
        "platform-ml",
        "platform-network",
    ]


@pytest.mark.parametrize(
    "table",
    [
        {"data": ("PostgreSQLInstance",)},  # the others missing
        {**configuration.CAPABILITIES, "more": ("RedisInstance",)},  # one twice
        {**configuration.CAPABILITIES, "more": ("Widget",)},  # not a kind
    ],
)
def test_a_capability_table_that_is_not_a_partition_is_refused(
    table: dict[str, tuple[str, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(configuration, "CAPABILITIES", table)
    with pytest.raises(ValueError, match="every kind once"):
        configuration.capabilities()


def _meta(repository: str) -> dict[str, object]:
    (meta,) = load_yaml_docs(ROOT / "package/configurations" / repository / "crossplane.yaml")
    return meta


# What each capability's kinds compose: its dependsOn, no more (the upstream CRDs say which
# provider ships each group).
PROVIDERS = {
    "platform-data": {"provider-sql", "provider-helm"},
    "platform-compute": {"provider-helm", "provider-kubernetes"},
    "platform-ml": {"provider-aws-iam", "provider-aws-s3", "provider-helm", "provider-kubernetes"},
    "platform-network": {"provider-aws-apigatewayv2"},
}


@pytest.mark.parametrize("repository", sorted(PROVIDERS))
def test_a_capability_depends_on_the_function_and_only_its_kinds_providers(
    repository: str,
) -> None:
    deps: list[dict[str, str]] = _meta(repository)["spec"]["dependsOn"]  # type: ignore[index]
    function, *providers = deps
    assert function == {
        "apiVersion": "pkg.crossplane.io/v1",
        "kind": "Function",
        "package": "xpkg.example.org/platform/function-platform",
        "version": ">=v0.1.0 <v0.2.0",
    }
    assert {d["kind"] for d in providers} == {"Provider"}
    assert {d["package"].rsplit("/", 1)[1] for d in providers} == PROVIDERS[repository]


def test_the_umbrella_depends_on_every_capability_at_the_release_range() -> None:
    deps = _meta(configuration.CATALOGUE)["spec"]["dependsOn"]  # type: ignore[index]
    assert deps == [
        {
            "apiVersion": "pkg.crossplane.io/v1",
            "kind": "Configuration",
            "package": f"xpkg.example.org/platform/{repository}",
            "version": ">=v0.1.0 <v0.2.0",
        }
        for repository in PROVIDERS
    ]


def test_the_function_is_a_dependency_at_the_release_range() -> None:
    deps = configuration.function_dependencies(_compositions(), RELEASE)
    assert [(d.kind, d.package, d.version) for d in deps] == [
        ("Function", f"{RELEASE.registry}/function-platform", release.compatible(RELEASE.version))
    ]


def test_a_composition_calling_an_unknown_function_is_an_error() -> None:
    step = {"step": "ready", "functionRef": {"name": "function-auto-ready"}}
    extra = {"spec": {"pipeline": [step]}}
    with pytest.raises(ValueError, match="function-auto-ready"):
        configuration.function_dependencies([*_compositions(), extra], RELEASE)


def test_a_composition_calling_the_function_by_another_name_is_an_error() -> None:
    wrong = [composition(kind.api, "function-platform") for kind in catalogue.kinds()]
    with pytest.raises(ValueError, match="function-platform"):
        configuration.function_dependencies(wrong, RELEASE)


def _package_metas() -> dict[str, dict[str, object]]:
    paths = [ROOT / "package/crossplane.yaml", *ROOT.glob("package/configurations/*/*.yaml")]
    return {str(Path(p).relative_to(ROOT)): load_yaml_docs(p)[0] for p in paths}


def test_every_package_requires_the_crossplane_minor_that_is_tested() -> None:
    # tools/go.mod pins Crossplane core v2.3.4: make test and make e2e run v2.3.
    assert configuration.crossplane_version() == ">=v2.3.0 <v2.4.0"
    metas = _package_metas()
    assert len(metas) == 6
    for path, meta in metas.items():
        assert meta["spec"]["crossplane"] == {"version": ">=v2.3.0 <v2.4.0"}, path  # type: ignore[index]


def test_every_package_carries_the_release_annotations() -> None:
    for path, meta in _package_metas().items():
        annotations = meta["metadata"]["annotations"]  # type: ignore[index]
        assert annotations["meta.crossplane.io/license"] == "Apache-2.0", path
        assert annotations["meta.crossplane.io/source"] == configuration.SOURCE, path
        readme = annotations["meta.crossplane.io/readme"]
        assert readme.startswith(annotations["meta.crossplane.io/description"]), path
        assert f"{configuration.DOCS}/install.md" in readme, path


def test_configuration_uses_apiversion_kind_package_only() -> None:
    for path, meta in _package_metas().items():
        for dep in meta["spec"].get("dependsOn", []):  # type: ignore[attr-defined]
            assert set(dep) == {"apiVersion", "kind", "package", "version"}, path


def test_controllers_outside_crossplane_are_listed_for_the_install_notes() -> None:
    listed = configuration.controllers()
    repos = {entry.split(" ")[0] for entry in listed}
    assert {"cloudnative-pg/cloudnative-pg", "kubernetes-sigs/cluster-api"} <= repos
    assert not {r for r in repos if r.startswith(("crossplane-contrib/", "crossplane/"))}
