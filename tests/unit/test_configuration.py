"""The Configuration's dependsOn: from the catalogue, deps/upstream.yaml and the Compositions."""

from __future__ import annotations

import pytest

from function import catalogue
from generate import configuration
from generate.crossplane import composition


def _compositions() -> list[dict[str, object]]:
    return [composition(kind.api) for kind in catalogue.kinds()]


@pytest.mark.parametrize(
    ("tag", "constraint"),
    [
        ("v1.4.0", ">=v1.4.0, <v2.0.0"),
        ("v0.16.0", ">=v0.16.0, <v0.17.0"),  # 0.x: a minor release may break
        ("v2.6.0", ">=v2.6.0, <v3.0.0"),
    ],
)
def test_constraint_allows_compatible_releases_only(tag: str, constraint: str) -> None:
    assert configuration.compatible(tag) == constraint


def test_a_tag_that_is_not_semver_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not vMAJOR\.MINOR\.PATCH"):
        configuration.compatible("knative-v1.23.0")


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


def test_the_function_is_a_dependency_at_the_project_version() -> None:
    deps = configuration.function_dependencies(_compositions())
    assert [(d.kind, d.package, d.version) for d in deps] == [
        (
            "Function",
            "xpkg.crossplane.io/platform/function-platform",
            configuration.project_version(),
        ),
    ]


def test_a_composition_calling_an_unknown_function_is_an_error() -> None:
    step = {"step": "ready", "functionRef": {"name": "function-auto-ready"}}
    extra = {"spec": {"pipeline": [step]}}
    with pytest.raises(ValueError, match="function-auto-ready"):
        configuration.function_dependencies([*_compositions(), extra])


def test_configuration_uses_apiversion_kind_package_only() -> None:
    meta = configuration.configuration(_compositions())
    assert (meta["apiVersion"], meta["kind"]) == ("meta.pkg.crossplane.io/v1", "Configuration")
    for dep in meta["spec"]["dependsOn"]:
        assert set(dep) == {"apiVersion", "kind", "package", "version"}


def test_controllers_outside_crossplane_are_listed_for_the_install_notes() -> None:
    listed = configuration.controllers()
    repos = {entry.split(" ")[0] for entry in listed}
    assert {"cloudnative-pg/cloudnative-pg", "kubernetes-sigs/cluster-api"} <= repos
    assert not {r for r in repos if r.startswith(("crossplane-contrib/", "crossplane/"))}
