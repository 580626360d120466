"""The packages' metadata, generated: the Function's (package/crossplane.yaml) and one
Configuration per capability plus the umbrella (package/configurations/<repository>/).

Each capability's Configuration carries the XRDs and Compositions of its kinds
(`CAPABILITIES`, the one table of which kind belongs where) and depends on:
- the function every Composition's pipeline calls (only this one is known; a step naming
  any other function is an error here, so a new one cannot be forgotten);
- the Crossplane provider packages of what its kinds compose: each CRD a kind declares
  (Kind.crds) is looked up in deps/upstream.yaml, whose repo and tag say which provider
  ships it and at which version it was validated. An upjet family (provider-upjet-<cloud>)
  is split by API group into its per-service packages (s3.aws.m.upbound.io ->
  provider-aws-s3), as the family is published.
The umbrella (`CATALOGUE`) holds no objects and depends on the four.

Versions: this project's packages depend on each other with `Release.range` (from
VERSION); providers with the range of the tag they were validated at; every package
requires the Crossplane minor that `make test` and `make e2e` run (tools/go.mod).

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
from function.kind import AnyKind
from function.structs import JSON
from generate import ROOT
from generate.release import FUNCTION, Release, compatible, same_minor

# Which Configuration carries which kinds. Every kind of the catalogue is in exactly one.
CAPABILITIES: dict[str, tuple[str, ...]] = {
    "data": ("PostgreSQLInstance", "RedisInstance"),
    "compute": ("KubernetesCluster", "VClusterEnvironment"),
    "ml": ("MLOpsPlatform",),
    "network": ("ServiceIngress",),
}
# The umbrella Configuration's repository: every capability.
CATALOGUE = "platform-catalogue"
# Where the providers are published: the repository's owner on the Crossplane registry.
PROVIDER_REGISTRY = "xpkg.crossplane.io"
# The project's home: the packages' meta.crossplane.io/source, and the base of the links
# the packages and the alerts give (readme, runbooks).
SOURCE = "https://example.org/platform/function-platform"
DOCS = f"{SOURCE}/blob/main/docs"
LICENSE = "Apache-2.0"
MAINTAINER = "Platform team <platform@example.org>"
# The Crossplane core `make test` and `make e2e` build and run.
CORE_MODULE = "github.com/crossplane/crossplane/v2"
_UPJET = re.compile(r"provider-upjet-(?P<cloud>[a-z0-9]+)$")


@dataclass(frozen=True)
class Capability:
    """One Configuration package: a capability's kinds."""

    name: str
    kinds: tuple[AnyKind, ...]

    @property
    def repository(self) -> str:
        return f"platform-{self.name}"


def capabilities() -> list[Capability]:
    """The Configurations by capability, in CAPABILITIES order, with the catalogue's kinds."""
    by_kind = {kind.api.kind: kind for kind in catalogue.kinds()}
    listed = [k for kinds in CAPABILITIES.values() for k in kinds]
    twice = sorted({k for k in listed if listed.count(k) > 1})
    unknown = sorted(set(listed) - set(by_kind))
    missing = sorted(set(by_kind) - set(listed))
    if twice or unknown or missing:
        raise ValueError(
            f"CAPABILITIES must hold every kind once: twice {twice}, unknown {unknown}, "
            f"missing {missing}"
        )
    return [
        Capability(name, tuple(by_kind[k] for k in kinds)) for name, kinds in CAPABILITIES.items()
    ]


@dataclass(frozen=True, order=True)
class Dependency:
    kind: str  # Provider, Function or Configuration
    package: str
    version: str

    def manifest(self) -> dict[str, str]:
        return {
            "apiVersion": "pkg.crossplane.io/v1",
            "kind": self.kind,
            "package": self.package,
            "version": self.version,
        }


def crossplane_version(root: Path = ROOT) -> str:
    """The Crossplane versions every package requires: the patch releases of the minor
    tools/go.mod pins (v2.3.4: >=v2.3.0 <v2.4.0)."""
    for line in (root / "tools/go.mod").read_text().splitlines():
        words = line.split()
        if words[:1] == [CORE_MODULE]:
            return same_minor(words[1])
    raise ValueError(f"tools/go.mod does not require {CORE_MODULE}")


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


def _crd_paths(kinds: Iterable[AnyKind]) -> list[str]:
    return sorted({path for kind in kinds for path in kind.crds})


def provider_dependencies(
    kinds: Iterable[AnyKind] | None = None, root: Path = ROOT
) -> list[Dependency]:
    """One dependency per provider package the kinds (default: all) compose from."""
    entries = upstream(root)
    found: dict[str, str] = {}
    for path in _crd_paths(catalogue.kinds() if kinds is None else kinds):
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
    for path in _crd_paths(catalogue.kinds()):
        entry = entries[path]
        if entry["repo"] != "crossplane/crossplane" and not _provider_package(entry["repo"], path):
            out.add(f"{entry['repo']} {entry['tag']}")
    return sorted(out)


def function_dependencies(compositions: Iterable[JSON], release: Release) -> list[Dependency]:
    """The functions the Compositions' pipeline steps call."""
    names = {
        step["functionRef"]["name"]
        for doc in compositions
        for step in doc.get("spec", {}).get("pipeline", [])
    }
    unknown = sorted(names - {release.function_name})
    if unknown:
        raise ValueError(f"compositions call functions with no known package: {unknown}")
    return [Dependency("Function", release.source(FUNCTION), release.range)] if names else []


def _metadata(name: str, description: str, readme: str) -> JSON:
    return {
        "name": name,
        "annotations": {
            "meta.crossplane.io/maintainer": MAINTAINER,
            "meta.crossplane.io/source": SOURCE,
            "meta.crossplane.io/license": LICENSE,
            "meta.crossplane.io/description": description,
            "meta.crossplane.io/readme": readme,
        },
    }


def _readme(what: str) -> str:
    return (
        f"{what}\n\nInstall, which Configuration to pick, the optional parts: {DOCS}/install.md\n"
    )


def function_meta(root: Path = ROOT) -> JSON:
    """The meta.pkg.crossplane.io/v1 Function: package/crossplane.yaml."""
    what = (
        "Composes the platform catalogue (PostgreSQL, Redis, KubeVirt clusters, ...) "
        "from typed Python."
    )
    return {
        "apiVersion": "meta.pkg.crossplane.io/v1",
        "kind": "Function",
        "metadata": _metadata(FUNCTION, what, _readme(what)),
        "spec": {
            "crossplane": {"version": crossplane_version(root)},
            "capabilities": ["composition", "operation"],
        },
    }


def configuration(
    capability: Capability, compositions: Iterable[JSON], release: Release, root: Path = ROOT
) -> JSON:
    """The meta.pkg.crossplane.io/v1 Configuration of a capability's XRDs and Compositions."""
    kinds = ", ".join(kind.api.kind for kind in capability.kinds)
    what = f"The platform's {capability.name} capability: {kinds}."
    deps = function_dependencies(compositions, release) + provider_dependencies(
        capability.kinds, root
    )
    return _configuration(capability.repository, what, deps, root)


def catalogue_configuration(release: Release, root: Path = ROOT) -> JSON:
    """The umbrella Configuration: every capability's, at this release's range."""
    parts = capabilities()
    what = "The whole platform catalogue: " + ", ".join(c.repository for c in parts) + "."
    deps = [Dependency("Configuration", release.source(c.repository), release.range) for c in parts]
    return _configuration(CATALOGUE, what, deps, root)


def _configuration(name: str, what: str, deps: list[Dependency], root: Path) -> JSON:
    return {
        "apiVersion": "meta.pkg.crossplane.io/v1",
        "kind": "Configuration",
        "metadata": _metadata(name, what, _readme(what)),
        "spec": {
            "crossplane": {"version": crossplane_version(root)},
            "dependsOn": [dep.manifest() for dep in deps],
        },
    }
