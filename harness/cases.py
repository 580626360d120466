"""The example cases on disk (examples/<kind>/<case>/) and the YAML documents in them.

Also the one parser of apiVersion into group and version used by the harness and the tests.
"""

from __future__ import annotations

import base64
import dataclasses
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from function.structs import api_group
from harness.paths import ROOT

JSON = dict[str, Any]


def split_api_version(api_version: str) -> tuple[str, str]:
    """("apps", "v1") for "apps/v1"; ("", "v1") for the core group's "v1"."""
    group, _, version = api_version.rpartition("/")
    return group, version


def group_kind(doc: JSON) -> tuple[str, str]:
    """(group, kind) of a Kubernetes object."""
    return api_group(str(doc.get("apiVersion", ""))), str(doc.get("kind", ""))


def identity(doc: JSON) -> tuple[str, str, str]:
    """(apiVersion, kind, name): what tells two documents of one namespace apart."""
    name = (doc.get("metadata") or {}).get("name", "")
    return str(doc.get("apiVersion", "")), str(doc.get("kind", "")), str(name)


def load_yaml_docs(path: Path) -> list[JSON]:
    """The non-empty documents of a multi-document YAML file."""
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d]


def fold_string_data(secret: JSON) -> JSON:
    """A copy of a Secret as the API server stores it: stringData folded into base64 data.

    stringData wins over data for a key in both, as on a cluster.
    """
    out = {k: v for k, v in secret.items() if k != "stringData"}
    if "stringData" in secret:
        data = dict(secret.get("data") or {})
        for key, value in (secret["stringData"] or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        out["data"] = data
    return out


def example_credentials(root: Path = ROOT) -> list[JSON]:
    """examples/credentials.yaml, its Secrets folded as a cluster holds them ([] if absent)."""
    path = root / "examples" / "credentials.yaml"
    if not path.is_file():
        return []
    return [fold_string_data(d) if d.get("kind") == "Secret" else d for d in load_yaml_docs(path)]


@dataclasses.dataclass(frozen=True)
class Case:
    """One example: examples/<kind>/<name>/ with an xr.yaml and what it must render to."""

    kind: str
    name: str
    dir: Path

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def root(self) -> Path:
        """The project root the case belongs to (<root>/examples/<kind>/<name>)."""
        return self.dir.parents[2]

    @property
    def composition(self) -> Path:
        """compositions/<kind>.yaml: the Composition used for every case of the kind."""
        return self.root / "compositions" / f"{self.kind}.yaml"

    def composition_doc(self) -> JSON:
        """The Composition for this case: the kind's, with input.yaml (if the case has one)
        as its step's input spec, i.e. the settings a platform engineer would have chosen."""
        doc = load_yaml_docs(self.composition)[0]
        settings = self.optional_docs("input.yaml")
        if settings:
            doc["spec"]["pipeline"][0]["input"]["spec"] = settings[0]
        return doc

    @property
    def xr(self) -> Path:
        return self.dir / "xr.yaml"

    @property
    def expected(self) -> Path:
        return self.dir / "expected.yaml"

    @property
    def expected_error(self) -> Path:
        return self.dir / "expected-error.txt"

    @property
    def expects_error(self) -> bool:
        return self.expected_error.is_file()

    def optional(self, name: str) -> Path | None:
        """The case's file `name`, or None when the case has none."""
        p = self.dir / name
        return p if p.is_file() else None

    def optional_docs(self, name: str) -> list[JSON]:
        """The documents of the optional file `name` ([] when the case has none)."""
        p = self.optional(name)
        return load_yaml_docs(p) if p is not None else []

    def extra_args(self) -> list[str]:
        """render.args: extra `crossplane composition render` arguments, shell syntax."""
        p = self.optional("render.args")
        return shlex.split(p.read_text(), comments=True) if p is not None else []


def find_cases(root: Path = ROOT, filters: Sequence[str] = ()) -> list[Case]:
    """Every examples/<kind>/<case>/ with an xr.yaml, sorted.

    A filter selects a case when it is a substring of "<kind>/<case>".
    """
    cases = [
        Case(kind=xr.parent.parent.name, name=xr.parent.name, dir=xr.parent)
        for xr in sorted((root / "examples").glob("*/*/xr.yaml"))
    ]
    if filters:
        cases = [c for c in cases if any(f in c.id for f in filters)]
    return cases
