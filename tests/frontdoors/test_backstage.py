"""The generated Backstage templates pass Backstage's validators and write the XR a team asked for.

For every valid example, the example XR is typed into the template's form;
Backstage's form defaults and step rendering run (tests/frontdoors/backstage.mjs)
and the file the pull request would add must be that XR, valid against its XRD.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from function import catalogue
from function.kind import AnyKind
from generate.frontdoors import backstage
from generate.frontdoors.forms import form_schema, title
from harness.cases import JSON
from harness.paths import ROOT
from tests.frontdoors.doors import assert_valid, requested, valid_samples
from tests.frontdoors.doors import backstage as run_template

REPO = "github.com?owner=acme&repo=platform-requests"


def _files(kind: AnyKind) -> tuple[JSON, Path]:
    folder = ROOT / "backstage" / backstage.template_name(kind.api)
    template = yaml.safe_load((folder / "template.yaml").read_text())
    return template, folder / "skeleton" / backstage.SKELETON_FILE


def _form(xr: JSON, **parameters: Any) -> JSON:
    form = {"name": xr["metadata"]["name"], "repoUrl": REPO}
    if "namespace" in xr["metadata"]:
        form["namespace"] = xr["metadata"]["namespace"]
    form["parameters"] = xr["spec"]["parameters"] | parameters
    return form


def test_every_example_round_trips_through_its_template() -> None:
    produced: dict[str, list[JSON]] = {}
    samples = valid_samples()
    results = run_template([(*_files(kind), _form(xr)) for kind, _, xr in samples])
    for (kind, case, xr), result in zip(samples, results, strict=True):
        assert result["entityErrors"] == [], f"{case.id}: {result['entityErrors']}"
        assert result["formErrors"] == [], f"{case.id}: {result['formErrors']}"
        [(path, text)] = result["files"].items()
        assert path == f"infrastructure/{kind.api.plural}/{xr['metadata']['name']}.yaml"
        xr_doc = yaml.safe_load(text)
        requested(xr, xr_doc)
        produced[f"backstage/{case.id}"] = [xr_doc]
        publish = next(s for s in result["steps"] if s["id"] == "publish")
        assert publish["input"]["repoUrl"] == REPO
    assert {k.api.kind for k, _, _ in valid_samples()} == {k.api.kind for k in catalogue.kinds()}
    assert_valid(produced)


# What the form refuses before a pull request exists: (kind, change, reason).
REFUSED = [
    ("RedisInstance", {"environment": "qa"}, "an environment the platform does not have"),
    ("RedisInstance", {"replicas": 3, "persistence": False}, "replicas sync through volumes"),
    ("RedisInstance", {"memoryGB": 0}, "below the minimum"),
    (
        "PostgreSQLInstance",
        {"environment": "production", "enableBackup": False},
        "backups in production",
    ),
    ("KubernetesCluster", {"controlPlaneNodes": 2}, "etcd needs an odd quorum"),
]


def test_the_form_refuses_what_the_api_refuses() -> None:
    samples = {k.api.kind: (k, xr) for k, _, xr in valid_samples()}
    requests = []
    for kind_name, change, _ in REFUSED:
        kind, xr = samples[kind_name]
        requests.append((*_files(kind), _form(xr, **change)))
    for (_, change, reason), result in zip(REFUSED, run_template(requests), strict=True):
        assert result["formErrors"], f"the form accepted {change} ({reason})"
        assert result["files"] == {}


def test_form_rules_say_what_the_function_checks() -> None:
    """Each rule's JSON Schema form accepts exactly the parameters its check accepts."""
    checked = 0
    for kind, _, xr in valid_samples():
        for rule in kind.api.parameters.rules:
            if rule.form is None:
                continue
            for value in _variations(xr["spec"]["parameters"], kind):
                params = kind.api.parameters.model_validate(value)
                as_given = params.model_dump(exclude_none=True)
                by_form = jsonschema.Draft202012Validator(rule.form).is_valid(as_given)
                assert by_form == rule.check(params), f"{kind.api.kind} {rule.field}: {value}"
                checked += 1
    assert checked > 20


def _variations(params: JSON, kind: AnyKind) -> list[JSON]:
    """The example's parameters with each rule's fields flipped through a few values."""
    options: dict[str, list[Any]] = {
        "environment": ["dev", "production"],
        "enableBackup": [True, False],
        "replicas": [1, 2, 3],
        "persistence": [True, False],
        "controlPlaneNodes": [1, 2, 3, 4],
    }
    fields = kind.api.parameters.model_fields
    out = [params]
    for name, values in options.items():
        if name in fields:
            out += [o | {name: v} for o in list(out) for v in values]
    return out


def test_form_schema_is_the_xrd_schema_with_titles() -> None:
    for kind in catalogue.kinds():
        schema = form_schema(kind.api)
        for name, prop in schema["properties"].items():
            assert prop["title"] == title(name)
        assert "x-kubernetes-validations" not in str(schema)
    assert title("persistenceSizeGB") == "Persistence size GB"
    assert title("controlPlaneCPU") == "Control plane CPU"
