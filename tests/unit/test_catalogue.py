"""The catalogue is the one list of kinds: every kind folder is in it, and what it declares is true.

A kind's entry names the upstream CRDs of what it composes and the chart values
schemas of what it installs; validation and `make deps` rely on those lists,
so these tests check them against the kind's own rendered examples.
"""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function import catalogue
from function.catalogue import lookup
from function.context import Selector
from function.kind import AnyKind
from function.runner import run
from function.structs import api_group
from generate import crossplane, output
from harness.cases import Case, find_cases
from harness.paths import shared_dir
from harness.requests import answered_case_request, case_request
from harness.schemas import is_core
from tests import rbac

ROOT = Path(__file__).resolve().parents[2]
KINDS_DIR = ROOT / "function" / "kinds"
EXAMPLES = ROOT / "examples"
SHARED = shared_dir(ROOT)
IDS = [k.api.kind for k in catalogue.kinds()]


def _docs(path: Path) -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # upstream CRDs are large
    return [d for d in yaml.load_all(path.read_text(), Loader=loader) if d]


def _defined(crd_files: tuple[str, ...]) -> set[tuple[str, str]]:
    """(group, kind) of every CRD in these files under $SHARED."""
    out = set()
    for f in crd_files:
        for doc in _docs(SHARED / f):
            if doc.get("kind") == "CustomResourceDefinition":
                out.add((doc["spec"]["group"], doc["spec"]["names"]["kind"]))
    return out


def test_every_kind_folder_is_in_the_catalogue() -> None:
    folders = {
        f"function.kinds.{p.name}" for p in KINDS_DIR.iterdir() if (p / "__init__.py").is_file()
    }
    assert folders == {k.package for k in catalogue.kinds()}, (
        "a folder in function/kinds/ must have its line in function/catalogue.py, and the reverse"
    )


# Where a kind's lower-cased name is a path: (folder, file name pattern).
NAMED_PATHS = (
    ("function/kinds", "{}"),
    ("examples", "{}"),
    ("backstage", "{}"),
    ("kubevela", "{}.yaml"),
    ("compositions", "{}.yaml"),
    ("tests/unit", "test_{}.py"),
)


@pytest.mark.parametrize("entry", catalogue.ENTRIES, ids=[e.kind for e in catalogue.ENTRIES])
def test_a_kind_has_one_name_in_every_path_and_the_input(entry: catalogue.Entry) -> None:
    name = entry.kind.lower()
    assert entry.package == name
    assert entry.input_field.lower() == name, "the input section is the kind in lowerCamelCase"
    assert entry.input_field[0].islower()
    missing = [
        f"{d}/{f.format(name)}" for d, f in NAMED_PATHS if not (ROOT / d / f.format(name)).exists()
    ]
    assert missing == []


def test_kinds_are_unique_and_found_by_their_api() -> None:
    for key in (lambda k: k.api.kind, lambda k: k.api.xrd_name, lambda k: k.input_field):
        values = [key(k) for k in catalogue.kinds()]
        assert len(values) == len(set(values)), values
    for kind in catalogue.kinds():
        assert lookup(kind.api.api_version, kind.api.kind) is kind


def test_each_line_says_what_its_package_declares() -> None:
    for entry in catalogue.ENTRIES:
        kind = catalogue.load(entry)
        assert (entry.api_version, entry.kind, entry.input_field) == (
            kind.api.api_version,
            kind.api.kind,
            kind.input_field,
        ), entry
        assert kind.package == f"function.kinds.{entry.package}", entry


@pytest.mark.parametrize("entry", catalogue.ENTRIES, ids=[e.kind for e in catalogue.ENTRIES])
def test_serving_one_kind_imports_no_other_and_no_vault_client(entry: catalogue.Entry) -> None:
    # A fresh interpreter serves one XR of the kind; what it imported is printed.
    namespace = "" if entry.kind == "MLOpsPlatform" else "team-a"  # cluster-scoped
    script = (
        "import sys\n"
        "from function.runner import run\n"
        "from harness.requests import request, xr\n"
        f"run(request(xr({entry.api_version!r}, {entry.kind!r}, {{}}, namespace={namespace!r})))\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    modules = set(done.stdout.split())
    assert f"function.kinds.{entry.package}" in modules
    others = {f"function.kinds.{e.package}" for e in catalogue.ENTRIES if e != entry}
    assert modules & others == set(), "other kinds' packages are imported on their first XR"
    assert modules & {"hvac", "requests", "prometheus_client"} == set()


@pytest.mark.parametrize("kind", catalogue.kinds(), ids=IDS)
def test_every_kind_has_examples_that_render(kind: AnyKind) -> None:
    cases = sorted((EXAMPLES / kind.api.kind.lower()).glob("*/xr.yaml"))
    assert cases, f"examples/{kind.api.kind.lower()}/<case>/xr.yaml: a kind needs examples"
    rendering = [c for c in cases if (c.parent / "expected.yaml").is_file()]
    assert rendering, "at least one example must render (an expected.yaml, not only errors)"
    for case in cases:
        xr = _docs(case)[0]
        assert (xr["apiVersion"], xr["kind"]) == (kind.api.api_version, kind.api.kind), case


# The front doors' examples (tests/frontdoors), not a kind's cases.
FRONT_DOORS = {"gitops", "kubevela"}


def test_every_examples_folder_is_a_kind() -> None:
    folders = {p.name for p in EXAMPLES.iterdir() if p.is_dir()} - FRONT_DOORS
    assert folders == {k.api.kind.lower() for k in catalogue.kinds()}


@pytest.mark.parametrize("kind", catalogue.kinds(), ids=IDS)
def test_declared_crds_cover_everything_the_kind_composes(kind: AnyKind) -> None:
    defined = _defined(kind.crds)
    composed = set()
    for expected in (EXAMPLES / kind.api.kind.lower()).glob("*/expected.yaml"):
        for doc in _docs(expected)[1:]:  # the first is the XR itself
            group = api_group(doc["apiVersion"])
            if not is_core(doc) and group != "render.crossplane.io":  # rbac.authorization.k8s.io
                composed.add((group, doc["kind"]))
    assert composed, "the examples compose nothing outside the core API"
    assert composed <= defined, f"composed without a declared CRD: {sorted(composed - defined)}"
    assert defined <= composed, f"declared but never composed: {sorted(defined - composed)}"


def test_declared_upstream_files_are_listed_for_make_deps() -> None:
    listed = {e["file"] for e in yaml.safe_load((ROOT / "deps/upstream.yaml").read_text())["files"]}
    for kind in catalogue.kinds():
        for f in kind.crds:
            assert f in listed, f"{kind.api.kind}: {f} is not in deps/upstream.yaml"
            assert (SHARED / f).is_file(), f"{kind.api.kind}: {SHARED / f} does not exist"
        for folder in kind.chart_values_schemas.values():
            schema = f"schemas/charts/{folder}/values.schema.json"
            assert schema in listed, f"{kind.api.kind}: {schema} is not in deps/upstream.yaml"


@pytest.mark.parametrize("kind", catalogue.kinds(), ids=IDS)
def test_declared_chart_schemas_are_the_charts_it_installs(kind: AnyKind) -> None:
    charts = set()
    for expected in (EXAMPLES / kind.api.kind.lower()).glob("*/expected.yaml"):
        for doc in _docs(expected)[1:]:
            if doc["kind"] == "Release" and api_group(doc["apiVersion"]) == "helm.m.crossplane.io":
                charts.add(doc["spec"]["forProvider"]["chart"]["name"])
    for chart, folder in kind.chart_values_schemas.items():
        assert chart in charts, f"{kind.api.kind}: declares a schema for {chart!r}, never installed"
        assert (SHARED / "schemas/charts" / folder / "values.schema.json").is_file()


def _plurals(crd_files: tuple[str, ...]) -> dict[tuple[str, str], str]:
    out = {}
    for f in crd_files:
        for doc in _docs(SHARED / f):
            names = doc["spec"]["names"]
            out[(doc["spec"]["group"], names["kind"])] = names["plural"]
    return out


@pytest.mark.parametrize("kind", catalogue.kinds(), ids=IDS)
def test_crossplane_may_create_everything_the_kind_composes(kind: AnyKind) -> None:
    rbac = yaml.safe_load(output.dump(crossplane.rbac(), "test"))
    assert rbac["metadata"]["labels"] == {"rbac.crossplane.io/aggregate-to-crossplane": "true"}
    allowed = {
        (group, resource)
        for rule in rbac["rules"]
        if "create" in rule["verbs"] and "delete" in rule["verbs"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    plurals = _plurals(kind.crds)
    for group, resource in kind.resources() - set(kind.builtins):
        if "." in group:  # named after the file: the CRD in it must agree
            assert resource in plurals.values(), f"{group}_{resource}.yaml holds another kind"
    for expected in (EXAMPLES / kind.api.kind.lower()).glob("*/expected.yaml"):
        for doc in _docs(expected)[1:]:
            group = api_group(doc["apiVersion"])
            if group == "render.crossplane.io":
                continue
            plural = plurals.get((group, doc["kind"]), doc["kind"].lower() + "s")
            assert (group, plural) in allowed, f"{expected}: Crossplane may not make {doc['kind']}"


# ---------------------------------------------------------------- what composers require

CASES = [c for c in find_cases(ROOT) if not c.expects_error]


@pytest.mark.parametrize("kind", catalogue.kinds(), ids=IDS)
def test_crossplane_may_read_every_kind_the_kind_declares_it_requires(kind: AnyKind) -> None:
    for required in kind.requires:
        group = api_group(required.api_version)
        assert rbac.plurals()[(group, required.kind)] == required.plural, required
        assert rbac.may_read(group, required.plural), f"{kind.api.kind}: {required}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_crossplane_may_fetch_everything_an_example_requires(case: Case) -> None:
    """Core fetches required resources with its own ClusterRole, and a Forbidden fails the
    pipeline: every requirement of the first call and of the call answered from
    required.yaml must be readable by core with install/crossplane-rbac.yaml."""
    for rsp in (run(case_request(case)), run(answered_case_request(case, run))):
        reasons = [r.reason for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
        assert "InternalError" not in reasons
        for key, selector in rsp.requirements.resources.items():
            group = api_group(selector.api_version)
            plural = rbac.plurals().get((group, selector.kind))
            assert plural is not None, f"{case.id}: {key} requires unknown {selector.kind}"
            assert rbac.may_read(group, plural), f"{case.id}: core may not read {plural} ({key})"


def test_a_requirement_of_an_undeclared_kind_is_an_internal_error() -> None:
    """The runner refuses a requirement the kind did not declare: core could not fetch it."""
    kind = catalogue.lookup("cache.platform.example.org/v1alpha1", "RedisInstance")
    undeclared = {"ns": Selector("v1", "Namespace", "other", "")}
    assert kind.undeclared(undeclared) == ["ns"]
    assert kind.undeclared({"s": Selector("v1", "Secret", "mine", "shop")}) == []
