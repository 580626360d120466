"""The generated Backstage templates pass Backstage's validators and open the pull request a team
asked for.

For every valid example, the example XR is typed into the template's form; Backstage's form
defaults, and its own scaffolder with the real actions, run the template
(tests/frontdoors/backstage.mjs). The pull request must hold that XR, valid against its XRD,
and a catalog entry the catalog accepts, registered where it lands on merge.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from function import catalogue
from function.kind import AnyKind
from function.model import DOMAIN
from generate.frontdoors import backstage, settings
from generate.frontdoors.forms import form_schema, kind_title, section_title, title
from harness.cases import JSON
from harness.paths import ROOT
from tests.frontdoors.doors import assert_valid, requested, tool, valid_samples
from tests.frontdoors.doors import backstage as run_template

REPO = "github.com?owner=acme&repo=platform-requests"
# How Backstage's GitHub integration resolves the registered path (it links files as tree/).
REPO_FILES = "https://github.com/acme/platform-requests/tree/main"
OWNER = "group:default/team-shop"
HOSTS = settings.load().backstage.gitHosts


def _template(kind: AnyKind) -> tuple[JSON, Path]:
    path = ROOT / "backstage" / backstage.template_name(kind.api) / "template.yaml"
    return yaml.safe_load(path.read_text()), path


def _form(xr: JSON, **parameters: Any) -> JSON:
    form = {"name": xr["metadata"]["name"], "owner": OWNER, "repoUrl": REPO}
    if "namespace" in xr["metadata"]:
        form["namespace"] = xr["metadata"]["namespace"]
    form["parameters"] = xr["spec"]["parameters"] | parameters
    return form


def _folder(kind: AnyKind, xr: JSON) -> str:
    where = [xr["metadata"].get("namespace"), xr["metadata"]["name"]]
    return "/".join([f"infrastructure/{kind.api.plural}", *filter(None, where)])


def _fits_the_catalog(kind: AnyKind, xr: JSON) -> bool:
    return len(xr["metadata"]["name"] + backstage.entity_suffix(kind.api)) <= 63


def test_every_example_round_trips_through_its_template() -> None:
    produced: dict[str, list[JSON]] = {}
    samples = [s for s in valid_samples() if _fits_the_catalog(s[0], s[2])]
    results = run_template([(*_template(kind), _form(xr)) for kind, _, xr in samples], HOSTS)
    for (kind, case, xr), result in zip(samples, results, strict=True):
        assert result["entityErrors"] == [], f"{case.id}: {result['entityErrors']}"
        assert result["formErrors"] == [], f"{case.id}: {result['formErrors']}"
        assert "error" not in result, f"{case.id}: {result['error']}"
        folder = _folder(kind, xr)
        name = xr["metadata"]["name"]
        pull = result["pullRequest"]
        assert (pull["owner"], pull["repo"]) == ("acme", "platform-requests")
        assert set(pull["files"]) == {f"{folder}/catalog-info.yaml", f"{folder}/{name}.yaml"}

        xr_doc = yaml.safe_load(pull["files"][f"{folder}/{name}.yaml"])
        requested(xr, xr_doc)
        assert result["parsed"][f"{folder}/{name}.yaml"] == xr_doc, "YAML 1.1 and 1.2 differ"
        _assert_block_style(pull["files"][f"{folder}/{name}.yaml"], case.id)
        produced[f"backstage/{case.id}"] = [xr_doc]

        assert result["catalogErrors"] == {f"{folder}/catalog-info.yaml": []}, case.id
        _assert_entity(kind, xr, result["parsed"][f"{folder}/catalog-info.yaml"])
        catalog_url = f"{REPO_FILES}/{folder}/catalog-info.yaml"
        assert result["registered"] == [
            {"type": "url", "target": catalog_url},
            {"type": "url", "target": catalog_url, "dryRun": True},
        ]
        [text] = result["output"]["text"]
        assert catalog_url in text["content"]
        assert result["output"]["links"] == [
            {"title": "Pull request", "url": "https://github.com/acme/platform-requests/pull/7"}
        ]
    assert {k.api.kind for k, _, _ in samples} == {k.api.kind for k in catalogue.kinds()}
    assert_valid(produced)


def _assert_block_style(text: str, case: str) -> None:
    """The XR is YAML to read: block mappings and sequences; flow style only for `{}`, `[]`."""
    nodes = [yaml.compose(text)]
    while nodes:
        node = nodes.pop()
        if isinstance(node, yaml.MappingNode):
            assert not node.flow_style or not node.value, f"{case}: flow style {node.start_mark}"
            nodes += [v for _, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            assert not node.flow_style or not node.value, f"{case}: flow style {node.start_mark}"
            nodes += node.value


def _assert_entity(kind: AnyKind, xr: JSON, entity: JSON) -> None:
    """A Resource owned by the picked team, in the XR's namespace, naming the XR."""
    api, meta = kind.api, xr["metadata"]
    assert (entity["apiVersion"], entity["kind"]) == ("backstage.io/v1alpha1", "Resource")
    assert entity["metadata"]["name"] == meta["name"] + backstage.entity_suffix(api)
    assert entity["metadata"].get("namespace", "default") == meta.get("namespace", "default")
    assert entity["spec"] == {"type": api.kind.lower(), "owner": OWNER}
    annotations = entity["metadata"]["annotations"]
    assert annotations.pop("backstage.io/source-template") == (
        f"template:default/{backstage.template_name(api)}"
    )
    tied = {f"{DOMAIN}/xr-api-version": api.api_version, f"{DOMAIN}/xr-kind": api.kind}
    tied |= {f"{DOMAIN}/xr-{k}": v for k, v in meta.items()}
    assert annotations == tied


def test_names_the_catalog_cannot_hold_are_refused() -> None:
    """The catalog entry's name is the XR's plus the kind, within 63 characters."""
    samples = [s for s in valid_samples() if not _fits_the_catalog(s[0], s[2])]
    assert samples, "an example with a long name (redisinstance/long-name)"
    results = run_template([(*_template(k), _form(xr)) for k, _, xr in samples], HOSTS)
    for result in results:
        assert any("/name must NOT have more than" in e for e in result["formErrors"])


def test_owner_references_are_completed() -> None:
    """The entry lives in the XR's namespace: an owner picked as `team-shop` or `user:alice`
    must still mean the default namespace's."""
    kind, _, xr = next(s for s in valid_samples() if s[0].api.kind == "RedisInstance")
    forms = [_form(xr) | {"owner": owner} for owner in ("team-shop", "user:alice", OWNER)]
    results = run_template([(*_template(kind), f) for f in forms], HOSTS)
    owners = [
        r["parsed"][f"{_folder(kind, xr)}/catalog-info.yaml"]["spec"]["owner"] for r in results
    ]
    assert owners == ["group:default/team-shop", "user:default/alice", OWNER]


# Values a person may type, and what each must stay in the XR: the string is never a number,
# a boolean, a date, YAML syntax or a template; the numbers and booleans are not strings.
TRICKY = [
    "yes",
    "no",
    "on",
    "NULL",
    "~",
    "8",
    "010",
    "0x1F",
    "1e3",
    "1.0",
    "12:30",
    "2026-12-14",
    ".inf",
    "- item",
    "key: value",
    "# comment",
    "&anchor *alias !!binary",
    "'single' \"double\" `back`",
    "line one\nline two\t\\",
    "{a: 1}",
    "[1, 2]",
    "${{ parameters.name }}",
    "{{ values.name }} {% raw %}{# c #}",
    "ünïcödé ✓",
]


def test_values_keep_their_types_and_are_never_interpreted() -> None:
    """Rendered by the scaffolder's own templating, then read as YAML 1.1 (PyYAML), 1.2 (the
    yaml package the catalog uses) and by kustomize (Go): the same values, of the same types."""
    samples = {k.api.kind: (k, xr) for k, _, xr in valid_samples()}
    postgres = {
        "environment": "staging",
        "deployment": "dedicated",
        "version": 16,
        "storageGB": 50,
        "enableBackup": False,
        "cloning": {"namespaces": ["team-a"], "anonymizationSQL": TRICKY},
    }
    cluster = {
        "environment": "dev",
        "workerCPU": "8",
        "workerNodes": 3,
        "enableLiveMigration": True,
    }
    vcluster = {
        "environment": "dev",
        "gitops": {
            "repoURL": "https://git.example.org/shop/deploy.git",
            "targetRevision": "1.0",
            "path": "010",
            "project": "yes",
        },
    }
    asked = [
        ("PostgreSQLInstance", postgres),
        ("KubernetesCluster", cluster),
        ("VClusterEnvironment", vcluster),
    ]
    requests = []
    for kind_name, parameters in asked:
        kind, xr = samples[kind_name]
        requests.append((*_template(kind), _form(xr) | {"parameters": parameters}))
    results = run_template(requests, HOSTS)
    for (kind_name, parameters), result in zip(asked, results, strict=True):
        kind, xr = samples[kind_name]
        assert "error" not in result, result["error"]
        assert result["formErrors"] == []
        path = f"{_folder(kind, xr)}/{xr['metadata']['name']}.yaml"
        text = result["pullRequest"]["files"][path]
        for reader, doc in (
            ("YAML 1.1", yaml.safe_load(text)),
            ("YAML 1.2", result["parsed"][path]),
            ("kustomize", _kustomize(text)),
        ):
            got = doc["spec"]["parameters"]
            for key, value in parameters.items():
                assert _same(got[key], value), f"{kind_name} {key} by {reader}: {got[key]!r}"


def _same(got: object, want: object) -> bool:
    """Equal and of the same JSON type at every depth (1 == 1.0 == True in Python)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _same(got[k], v) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(_same(g, w) for g, w in zip(got, want, strict=True))
        )
    return type(got) is type(want) and got == want


def _kustomize(text: str) -> JSON:
    """The manifest as kustomize reads and writes it (Go YAML), read back as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "xr.yaml").write_text(text)
        Path(tmp, "kustomization.yaml").write_text("resources: [xr.yaml]\n")
        built = subprocess.run(
            [str(tool("kustomize")), "build", tmp],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    doc: JSON = yaml.safe_load(built)
    return doc


def test_allowed_hosts_come_from_the_settings(tmp_path: Path) -> None:
    assert settings.load().backstage == settings.BackstageSettings()
    path = tmp_path / "settings.yaml"
    path.write_text("backstage:\n  gitHosts: [github.com, github.example.org:8443]\n")
    custom = settings.load(path).backstage
    kind = catalogue.kinds()[0]
    pages = backstage.template(kind, custom)["spec"]["parameters"]
    [page] = [p for p in pages if "repoUrl" in p["properties"]]
    assert page["properties"]["repoUrl"]["ui:options"]["allowedHosts"] == [
        "github.com",
        "github.example.org:8443",
    ]
    path.write_text("backstage:\n  gitHosts: [https://github.com]\n")
    with pytest.raises(ValueError, match="gitHosts"):
        settings.load(path)


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
        requests.append((*_template(kind), _form(xr, **change)))
    requests.append((*_template(kind), _form(xr) | {"path": "../outside"}))
    reasons = [*(r for _, _, r in REFUSED), "a folder outside the repository"]
    for reason, result in zip(reasons, run_template(requests, HOSTS), strict=True):
        assert result["formErrors"], f"the form accepted it ({reason})"
        assert "pullRequest" not in result


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
            assert prop["title"].lower().replace(" ", "") == name.lower()
        assert "x-kubernetes-validations" not in str(schema)
    assert title("persistenceSizeGB") == "Persistence size GB"
    assert title("controlPlaneCPU") == "Control plane CPU"


def test_sections_are_titled_for_people() -> None:
    """Page and section titles come from the models: no field path, no per-kind table."""
    titles = {}
    for kind in catalogue.kinds():
        template, _ = _template(kind)
        pages = [page["title"] for page in template["spec"]["parameters"]]
        assert pages == ["Placement and ownership", kind_title(kind.api), "Pull request"]
        titles[kind.api.kind] = pages[1]
        assert "spec.parameters" not in json.dumps(template["spec"]["parameters"])
    assert titles == {
        "PostgreSQLInstance": "PostgreSQL instance",
        "RedisInstance": "Redis instance",
        "KubernetesCluster": "Kubernetes cluster",
        "VClusterEnvironment": "VCluster environment",
        "ServiceIngress": "Service ingress",
        "MLOpsPlatform": "MLOps platform",
    }
    ingress = form_schema(next(k for k in catalogue.kinds() if k.api.kind == "ServiceIngress").api)
    assert (ingress["properties"]["tls"]["title"], ingress["properties"]["cors"]["title"]) == (
        "TLS",
        "CORS",
    )
    assert section_title("objectStore", None) == "Object store"
