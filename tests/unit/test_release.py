"""REGISTRY and VERSION, and the package object names Crossplane derives from them.

The expected names below are what Crossplane's own code gives: a Go program calling
go-containerregistry v0.21.9 `name.ParseReference(ref).Context().RepositoryStr()` and
crossplane-runtime v2.3.3 `xpkg.ToDNSLabel` on it, as crossplane v2.3.4's dependency
resolver does (internal/controller/pkg/resolver/reconciler.go NewPackage), printed them.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from generate import ROOT, output, release
from harness.cases import load_yaml_docs

# reference -> (RepositoryStr, ToDNSLabel of it), from the Go program.
CROSSPLANE_NAMES = {
    "xpkg.example.org/platform/function-platform": (
        "platform/function-platform",
        "platform-function-platform",
    ),
    "xpkg.upbound.io/crossplane-contrib/function-patch-and-transform:v0.10.8": (
        "crossplane-contrib/function-patch-and-transform",
        "crossplane-contrib-function-patch-and-transform",
    ),
    "localhost:5000/team/fn@sha256:" + "0" * 64: ("team/fn", "team-fn"),
    "registry.example.org:5000/fn": ("fn", "fn"),
    "nginx": ("library/nginx", "library-nginx"),
    "docker.io/nginx": ("library/nginx", "library-nginx"),
    "index.docker.io/team/fn": ("team/fn", "team-fn"),
    "ghcr.io/a.b/c_d/e--f": ("a.b/c_d/e--f", "a-b-cd-e--f"),
    "xpkg.example.org/platform/" + "a" * 67 + "-bbb": (
        "platform/" + "a" * 67 + "-bbb",
        "platform-" + "a" * 54,
    ),
    "xpkg.example.org/abcdefghijklmnopqrstuvwxyz012345678901234567890123456789012/z": (
        "abcdefghijklmnopqrstuvwxyz012345678901234567890123456789012/z",
        "abcdefghijklmnopqrstuvwxyz012345678901234567890123456789012-z",
    ),
    "xpkg.example.org/platform/platform-catalogue": (
        "platform/platform-catalogue",
        "platform-platform-catalogue",
    ),
}


@pytest.mark.parametrize("reference", sorted(CROSSPLANE_NAMES))
def test_names_are_the_ones_crossplane_derives(reference: str) -> None:
    repo, name = CROSSPLANE_NAMES[reference]
    assert release.repository(reference) == repo
    assert release.package_name(reference) == name


def test_dns_label_drops_what_a_label_cannot_hold() -> None:
    assert release.to_dns_label("Team/Fn") == "eam-n"  # upper case is dropped, not lowered
    assert release.to_dns_label("-a/b-") == "a-b"
    assert len(release.to_dns_label("x" * 100)) == 63


@pytest.mark.parametrize(
    ("tag", "compatible", "minor"),
    [
        ("v1.4.0", ">=v1.4.0 <v2.0.0", ">=v1.4.0 <v1.5.0"),
        ("v0.16.0", ">=v0.16.0 <v0.17.0", ">=v0.16.0 <v0.17.0"),  # 0.x: a minor may break
        ("v2.3.4", ">=v2.3.4 <v3.0.0", ">=v2.3.0 <v2.4.0"),
        ("v0.2.0-rc.1", ">=v0.2.0-rc.1 <v0.3.0", ">=v0.2.0 <v0.3.0"),
    ],
)
def test_version_ranges(tag: str, compatible: str, minor: str) -> None:
    assert release.compatible(tag) == compatible
    assert release.same_minor(tag) == minor


def test_a_tag_that_is_not_semver_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not vMAJOR\.MINOR\.PATCH"):
        release.compatible("knative-v1.23.0")
    with pytest.raises(ValueError, match=r"not vMAJOR\.MINOR\.PATCH"):
        release.Release("xpkg.example.org/platform", "0.1.0")


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _registry() -> str:
    return str(_pyproject()["tool"]["function-platform"]["registry"])


def _make_dry_run(target: str) -> str:
    run = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", "venv", "-o", "tools", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout


def test_the_makefile_passes_registry_and_version_from_pyproject() -> None:
    version = f"v{_pyproject()['project']['version']}"
    assert release.default() == release.Release(_registry(), version)
    wanted = f"--registry {_registry()} --version {version}"
    assert wanted in _make_dry_run("generate")
    assert f"REGISTRY={_registry()} VERSION={version} " in _make_dry_run("package")


def _function_refs(doc: Any) -> list[str]:
    """Every functionRef name anywhere in doc."""
    if isinstance(doc, dict):
        here = [doc["functionRef"]["name"]] if "functionRef" in doc else []
        return here + [n for v in doc.values() for n in _function_refs(v)]
    if isinstance(doc, list):
        return [n for v in doc for n in _function_refs(v)]
    return []


def _install_docs() -> dict[Path, list[Any]]:
    return {
        p: load_yaml_docs(p)
        for p in sorted((ROOT / "install").rglob("*.yaml"))
        if p.name != "kustomization.yaml"
    }


def test_every_composition_and_install_file_calls_the_function_by_its_derived_name() -> None:
    function = release.package_name(f"{_registry()}/function-platform")
    compositions = sorted((ROOT / "compositions").glob("*.yaml"))
    assert compositions
    for path in compositions:
        assert _function_refs(load_yaml_docs(path)) == [function], path.name
    install = _install_docs()
    calls = {p.name: _function_refs(docs) for p, docs in install.items()}
    assert calls["remove-expired.yaml"] == calls["vault-gc.yaml"] == [function]
    assert {n for names in calls.values() for n in names} == {function}
    (fn,) = [d for d in install[ROOT / "install/packages.yaml"] if d["kind"] == "Function"]
    assert fn["metadata"]["name"] == function
    assert fn["spec"]["package"].startswith(f"{_registry()}/function-platform:")
    monitoring = install[ROOT / "install/components/monitoring/monitoring.yaml"]
    selectors = [d["spec"].get("selector", {}) for d in monitoring if d["kind"] == "Service"]
    assert {"pkg.crossplane.io/function": function} in selectors
    (render,) = load_yaml_docs(ROOT / "examples/functions.yaml")
    assert render["metadata"]["name"] == function


def test_every_package_object_is_named_as_crossplane_names_it() -> None:
    objects = [
        d
        for docs in _install_docs().values()
        for d in docs
        if d["apiVersion"] == "pkg.crossplane.io/v1"
    ]
    assert {d["kind"] for d in objects} == {"Function", "Configuration"}
    for doc in objects:
        assert doc["metadata"]["name"] == release.package_name(doc["spec"]["package"]), doc


def test_everything_follows_registry_and_version() -> None:
    other = release.Release("registry.acme.io:5000/team/sub", "v1.2.3")
    generated = {
        path.relative_to(ROOT).as_posix(): [d for d in yaml.safe_load_all(text) if d]
        for path, text in output.files(other).items()
        if path.suffix == ".yaml" and "skeleton" not in path.parts  # Backstage templates' text
    }
    function = "team-sub-function-platform"
    (composition,) = generated["compositions/redisinstance.yaml"]
    assert _function_refs(composition) == [function]
    packages = {d["kind"]: d for d in generated["install/packages.yaml"]}
    assert packages["Function"]["metadata"]["name"] == function
    assert packages["Function"]["spec"]["package"] == (
        "registry.acme.io:5000/team/sub/function-platform:v1.2.3"
    )
    assert packages["Configuration"]["metadata"]["name"] == "team-sub-platform-catalogue"
    prefixes = [m["prefix"] for m in packages["ImageConfig"]["spec"]["matchImages"]]
    assert prefixes == [
        "registry.acme.io:5000/team/sub/function-platform:",
        "registry.acme.io:5000/team/sub/function-platform@",
    ]
    (meta,) = generated["package/configurations/platform-data/crossplane.yaml"]
    fn_dep = meta["spec"]["dependsOn"][0]
    assert (fn_dep["package"], fn_dep["version"]) == (
        "registry.acme.io:5000/team/sub/function-platform",
        ">=v1.2.3 <v2.0.0",
    )
    (umbrella,) = generated["package/configurations/platform-catalogue/crossplane.yaml"]
    assert {d["version"] for d in umbrella["spec"]["dependsOn"]} == {">=v1.2.3 <v2.0.0"}
    (vault_gc,) = generated["install/components/vault-gc/vault-gc.yaml"]
    assert _function_refs(vault_gc) == [function]


def test_generate_checks_against_the_registry_it_is_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert output.main(["--check"]) == 0
    assert output.main(["--check", "--registry", "registry.acme.io/team"]) == 1
    stale = capsys.readouterr().out
    assert "out of date: compositions/redisinstance.yaml" in stale
    assert "out of date: install/packages.yaml" in stale
