"""Where the packages are published, and the object names Crossplane gives them.

A release is REGISTRY and VERSION, the make variables (docs/install.md); their defaults are
pyproject.toml's `[tool.function-platform] registry` and `v` + the project version, and the
committed generated files use them. Every package is pushed as <REGISTRY>/<repository>:<VERSION>.

When Crossplane installs a package as another's dependency, it names the new object after
the package's repository path without the registry host (crossplane v2.3.4
internal/controller/pkg/resolver/reconciler.go, NewPackage:
`xpkg.ToDNSLabel(ref.Context().RepositoryStr())`): xpkg.example.org/platform/function-platform
becomes the Function `platform-function-platform`. A Composition calls its function by that
object's name, so every package object this project names (the Compositions' functionRef,
install/, the Operations) uses `package_name()` of the package's source: the Function
installed from install/ and the one dependency resolution creates are the same object.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from generate import ROOT

# The Function package's repository under REGISTRY; each Configuration's is in
# generate/configuration.py.
FUNCTION = "function-platform"
# go-containerregistry's default registry (pkg/name/options.go DefaultRegistry) and the
# alias it rewrites to it (pkg/name/registry.go).
DOCKER_HUB = "index.docker.io"
_DOCKER_HUB_ALIAS = "docker.io"
# DNS label length (crossplane-runtime pkg/xpkg/name.go ToDNSLabel stops at index 62).
_LAST = 62
_SEMVER = re.compile(r"v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?P<pre>-[0-9A-Za-z.-]+)?$")


def to_dns_label(text: str) -> str:
    """crossplane-runtime v2.3.3 pkg/xpkg/name.go ToDNSLabel, byte for byte.

    Go's `for i := range s` visits each character at its byte offset i and reads the byte
    there. Keeps a-z and 0-9, writes '-' for '.', '/', ':' and '-' except at offset 0, 62
    and the last byte, drops everything else (upper case included), stops after offset 62,
    and trims '-' from both ends.
    """
    size = len(text.encode())
    out = []
    i = 0
    for char in text:
        byte = char.encode()[0]
        if ord("a") <= byte <= ord("z") or ord("0") <= byte <= ord("9"):
            out.append(char)
        if char in "./:-" and i not in (0, _LAST, size - 1):
            out.append("-")
        if i == _LAST:
            break
        i += len(char.encode())
    return "".join(out).strip("-")


def repository(reference: str) -> str:
    """The repository path of a package reference, without registry host, tag or digest.

    go-containerregistry v0.21.9 pkg/name (repository.go NewRepository, RepositoryStr): the
    first path element is the registry when it is `localhost` or holds a '.' or ':', else
    the registry is Docker Hub, where a one-element path gets the `library/` namespace.
    """
    path = reference.split("@", 1)[0]
    head, slash, last = path.rpartition("/")
    path = head + slash + last.split(":", 1)[0]
    first, slash, rest = path.partition("/")
    if slash and (first == "localhost" or "." in first or ":" in first):
        registry, repo = first, rest
    else:
        registry, repo = DOCKER_HUB, path
    if registry in (DOCKER_HUB, _DOCKER_HUB_ALIAS) and "/" not in repo:
        repo = f"library/{repo}"
    return repo


def package_name(reference: str) -> str:
    """The name Crossplane gives the package object it installs for this reference."""
    return to_dns_label(repository(reference))


def compatible(tag: str) -> str:
    """The semver range of releases compatible with tag: up to the next major (0.x: minor).

    Crossplane reads dependsOn versions as Masterminds/semver v3 constraints, where a space
    separates the conditions that must all hold.
    """
    match = _SEMVER.match(tag)
    if match is None:
        raise ValueError(f"tag {tag!r} is not vMAJOR.MINOR.PATCH")
    major, minor = int(match["major"]), int(match["minor"])
    upper = f"v{major}.{minor + 1}.0" if major == 0 else f"v{major + 1}.0.0"
    return f">={tag} <{upper}"


def same_minor(tag: str) -> str:
    """The semver range of the patch releases of tag's minor: >=vX.Y.0 <vX.(Y+1).0."""
    match = _SEMVER.match(tag)
    if match is None:
        raise ValueError(f"tag {tag!r} is not vMAJOR.MINOR.PATCH")
    major, minor = int(match["major"]), int(match["minor"])
    return f">=v{major}.{minor}.0 <v{major}.{minor + 1}.0"


@dataclass(frozen=True)
class Release:
    """REGISTRY and VERSION: where every package is pushed, and its tag."""

    registry: str
    version: str

    def __post_init__(self) -> None:
        compatible(self.version)  # a tag dependsOn ranges can be derived from
        if not self.registry or self.registry != self.registry.strip("/"):
            raise ValueError(f"registry {self.registry!r}: a host and path, no trailing '/'")

    def source(self, repo: str) -> str:
        """The package's source: what dependsOn and the Lock name it by."""
        return f"{self.registry}/{repo}"

    def reference(self, repo: str) -> str:
        """The package at this release's tag."""
        return f"{self.source(repo)}:{self.version}"

    def name(self, repo: str) -> str:
        """The package object's name: what Crossplane names it when resolving a dependency."""
        return package_name(self.source(repo))

    @property
    def range(self) -> str:
        """The dependsOn version of this project's packages on each other."""
        return compatible(self.version)

    @property
    def function_name(self) -> str:
        """The Function object every Composition and Operation calls."""
        return self.name(FUNCTION)


def project_version(root: Path = ROOT) -> str:
    """v<version> from pyproject.toml: the default VERSION."""
    with (root / "pyproject.toml").open("rb") as f:
        return f"v{tomllib.load(f)['project']['version']}"


def default(root: Path = ROOT) -> Release:
    """The release the committed generated files are for: pyproject.toml's defaults."""
    with (root / "pyproject.toml").open("rb") as f:
        registry = tomllib.load(f)["tool"]["function-platform"]["registry"]
    return Release(registry, project_version(root))
