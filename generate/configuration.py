"""The Configuration package's metadata (package/configuration/crossplane.yaml), generated.

Its `dependsOn` is derived, never listed by hand:
- the function every Composition's pipeline calls (only this one is known; a step naming
  any other function is an error here, so a new one cannot be forgotten);
- the Crossplane provider packages of what the catalogue's kinds compose: each CRD a kind
  declares (Kind.crds) is looked up in deps/upstream.yaml, whose repo and tag say which
  provider ships it and at which version it was validated. An upjet family
  (provider-upjet-<cloud>) is split by API group into its per-service packages
  (s3.aws.m.upbound.io -> provider-aws-s3), as the family is published.

What is composed from outside the Crossplane package ecosystem (CloudNativePG, Cluster API,
...) cannot be a dependency; `controllers()` lists it for the install notes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from function import catalogue
from function.structs import JSON
from generate import ROOT

FUNCTION_NAME = "function-platform"
# Where this project's packages are pushed (README "Install"); the tag is the project version.
REGISTRY = "xpkg.crossplane.io/platform"
CONFIGURATION_NAME = "platform-catalogue"
# Where the providers are published: the repository's owner on the Crossplane registry.
PROVIDER_REGISTRY = "xpkg.crossplane.io"
# Usages (protection.crossplane.io/v1beta1) and namespaced XRs need Crossplane v2.
CROSSPLANE_VERSION = ">=v2.0.0"
_UPJET = re.compile(r"provider-upjet-(?P<cloud>[a-z0-9]+)$")
_SEMVER = re.compile(r"v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$")


@dataclass(frozen=True, order=True)
class Dependency:
    kind: str  # Provider or Function
    package: str
    version: str

    def manifest(self) -> dict[str, str]:
        return {
            "apiVersion": "pkg.crossplane.io/v1",
            "kind": self.kind,
            "package": self.package,
            "version": self.version,
        }


def project_version(root: Path = ROOT) -> str:
    """v<version> from pyproject.toml: the tag both packages are pushed with."""
    text = (root / "pyproject.toml").read_text()
    match = re.search(r'^version = "([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise ValueError("pyproject.toml has no version")
    return f"v{match.group(1)}"


def compatible(tag: str) -> str:
    """The semver range of releases compatible with the validated tag (next major; 0.x: minor)."""
    match = _SEMVER.match(tag)
    if match is None:
        raise ValueError(f"provider tag {tag!r} is not vMAJOR.MINOR.PATCH")
    major, minor = int(match["major"]), int(match["minor"])
    upper = f"v{major}.{minor + 1}.0" if major == 0 else f"v{major + 1}.0.0"
    return f">={tag}, <{upper}"


def upstream(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    """deps/upstream.yaml by file path under $SHARED (crds/<project>/<file>.yaml)."""
    docs = yaml.safe_load((root / "deps/upstream.yaml").read_text())
    return {entry["file"]: entry for entry in docs["files"]}


def _provider_package(repo: str, crd_path: str) -> str | None:
    """The provider package shipping a CRD, or None for a non-Crossplane project."""
    owner, _, name = repo.partition("/")
    if not name.startswith("provider-") or owner != "crossplane-contrib":
        return None
    if family := _UPJET.match(name):
        service = Path(crd_path).name.split(".", 1)[0]
        name = f"provider-{family['cloud']}-{service}"
    return f"{PROVIDER_REGISTRY}/{owner}/{name}"


def _crd_paths() -> list[str]:
    return sorted({path for kind in catalogue.kinds() for path in kind.crds})


def provider_dependencies(root: Path = ROOT) -> list[Dependency]:
    """One dependency per provider package any kind composes from."""
    entries = upstream(root)
    found: dict[str, str] = {}
    for path in _crd_paths():
        entry = entries.get(path)
        if entry is None:
            raise KeyError(f"{path}: declared by a kind but not in deps/upstream.yaml")
        package = _provider_package(entry["repo"], path)
        if package is not None:
            found[package] = compatible(entry["tag"])
    return [Dependency("Provider", pkg, version) for pkg, version in sorted(found.items())]


def controllers(root: Path = ROOT) -> list[str]:
    """Projects (owner/name tag) composed from that are not Crossplane packages."""
    entries = upstream(root)
    out = set()
    for path in _crd_paths():
        entry = entries[path]
        if entry["repo"] != "crossplane/crossplane" and not _provider_package(entry["repo"], path):
            out.add(f"{entry['repo']} {entry['tag']}")
    return sorted(out)


def function_dependencies(compositions: Iterable[JSON], root: Path = ROOT) -> list[Dependency]:
    """The functions the Compositions' pipeline steps call."""
    names = {
        step["functionRef"]["name"]
        for doc in compositions
        for step in doc.get("spec", {}).get("pipeline", [])
    }
    unknown = sorted(names - {FUNCTION_NAME})
    if unknown:
        raise ValueError(f"compositions call functions with no known package: {unknown}")
    return [Dependency("Function", function_package(), project_version(root))]


def function_package() -> str:
    return f"{REGISTRY}/{FUNCTION_NAME}"


def configuration(compositions: Iterable[JSON], root: Path = ROOT) -> JSON:
    """The meta.pkg.crossplane.io/v1 Configuration of the XRDs and these Compositions."""
    kinds = ", ".join(kind.api.kind for kind in catalogue.kinds())
    deps = function_dependencies(compositions, root) + provider_dependencies(root)
    return {
        "apiVersion": "meta.pkg.crossplane.io/v1",
        "kind": "Configuration",
        "metadata": {
            "name": CONFIGURATION_NAME,
            "annotations": {
                "meta.crossplane.io/maintainer": "Platform team <platform@example.org>",
                "meta.crossplane.io/source": "https://example.org/platform/function-platform",
                "meta.crossplane.io/description": f"The platform catalogue: {kinds}.",
            },
        },
        "spec": {
            "crossplane": {"version": CROSSPLANE_VERSION},
            "dependsOn": [dep.manifest() for dep in deps],
        },
    }
