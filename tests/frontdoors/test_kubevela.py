"""The generated KubeVela definitions, evaluated by the real `cue`, produce valid platform XRs.

KubeVela compiles a component as its template with `context` and `parameter`
appended; tests/frontdoors/doors.cue_export does the same with the cue CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from function import catalogue
from function.kind import AnyKind
from generate.frontdoors import kubevela
from harness.cases import JSON, load_yaml_docs
from harness.paths import ROOT
from tests.frontdoors.doors import assert_valid, cue_export, cue_values, requested, valid_samples


def _definition(name: str) -> JSON:
    doc: JSON = yaml.safe_load((ROOT / "kubevela" / f"{name}.yaml").read_text())
    return doc


def _template(name: str) -> str:
    return str(_definition(name)["spec"]["schematic"]["cue"]["template"])


def _context(xr: JSON) -> JSON:
    return {"name": xr["metadata"]["name"], "namespace": xr["metadata"].get("namespace", "")}


def _export(name: str, context: JSON, parameter: JSON, expression: str) -> Any:
    p = cue_export(_template(name), cue_values(context, parameter), expression)
    assert p.returncode == 0, f"{name}: {p.stderr}"
    return json.loads(p.stdout)


def test_definitions_are_valid_kubevela_objects() -> None:
    names = [kubevela.definition_name(k.api) for k in catalogue.kinds()] + [kubevela.WEBSERVICE]
    assert_valid({f"kubevela/{n}": [_definition(n)] for n in names})


def test_every_example_is_what_its_component_outputs() -> None:
    produced: dict[str, list[JSON]] = {}
    for kind, case, xr in valid_samples():
        name = kubevela.definition_name(kind.api)
        output = _export(name, _context(xr), xr["spec"]["parameters"], "output")
        requested(xr, output)
        produced[f"kubevela/{case.id}"] = [output]
    assert_valid(produced)


# Properties CUE refuses at `vela up`, before anything reaches the cluster: (kind, change, reason).
REFUSED = [
    ("RedisInstance", {"environment": "qa"}, "an environment the platform does not have"),
    ("RedisInstance", {"replicas": 10}, "above the maximum"),
    ("KubernetesCluster", {"controlPlaneCPU": "10 cores"}, "not a quantity"),
    ("PostgreSQLInstance", {"storageGB": "20"}, "a string where a number goes"),
]


def test_cue_refuses_what_the_api_refuses() -> None:
    samples = {k.api.kind: (k, xr) for k, _, xr in valid_samples()}
    for kind_name, change, reason in REFUSED:
        kind, xr = samples[kind_name]
        values = cue_values(_context(xr), xr["spec"]["parameters"] | change)
        p = cue_export(_template(kubevela.definition_name(kind.api)), values, "output")
        assert p.returncode != 0, f"cue accepted {change} ({reason})"


def _connection_secret(kind: AnyKind, xr_name: str) -> JSON | None:
    """The connection Secret in an example's expected output, if it has one."""
    for case in [c for _, c, x in valid_samples() if x["metadata"]["name"] == xr_name]:
        for doc in load_yaml_docs(case.expected):
            annotations = doc.get("metadata", {}).get("annotations", {})
            if (
                doc.get("kind") == "Secret"
                and annotations.get("crossplane.io/composition-resource-name")
                == "connection-secret"
            ):
                return doc
    return None


def test_connection_secrets_are_named_and_keyed_as_declared() -> None:
    """What the webservice mounts is what the composers write (ConnectionSecret is one source)."""
    seen = 0
    for kind, _, xr in valid_samples():
        connection = kind.api.connection
        secret = _connection_secret(kind, xr["metadata"]["name"])
        if connection is None or secret is None:
            continue
        assert secret["metadata"]["name"] == connection.name(xr["metadata"]["name"])
        assert sorted(secret.get("data") or secret.get("stringData") or {}) == sorted(
            connection.keys
        )
        seen += 1
    assert seen >= 2


def test_webservice_brings_its_database_and_cache() -> None:
    context = {"name": "orders", "namespace": "shop"}
    deps = kubevela.dependencies(catalogue.kinds())
    samples = {k.api.kind: xr for k, _, xr in valid_samples()}
    parameter: JSON = {"image": "ghcr.io/acme/orders:1.4.2"}
    for api, connection in deps:
        parameter[connection.workload_property] = samples[api.kind]["spec"]["parameters"]
    output = _export(kubevela.WEBSERVICE, context, parameter, "output")
    outputs = _export(kubevela.WEBSERVICE, context, parameter, "outputs")

    [container] = output["spec"]["template"]["spec"]["containers"]
    mounted = {
        (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in container["env"]
    }
    expected = set()
    for api, connection in deps:
        xr = outputs[connection.workload_property]
        assert (xr["apiVersion"], xr["kind"]) == (api.api_version, api.kind)
        assert xr["metadata"] == {
            "name": f"orders-{connection.workload_property}",
            "namespace": "shop",
        }
        expected |= {(connection.name(xr["metadata"]["name"]), key) for key in connection.keys}
    assert mounted == expected
    assert_valid({"kubevela/webservice": [output, *outputs.values()]})

    alone = _export(kubevela.WEBSERVICE, context, {"image": "nginx"}, "outputs")
    assert alone == {}
    bare = _export(kubevela.WEBSERVICE, context, {"image": "nginx"}, "output")
    assert bare["spec"]["template"]["spec"]["containers"][0]["env"] == []


def test_webservice_names_fit_without_shortening() -> None:
    too_long = {"name": "a" * 44, "namespace": "shop"}
    p = cue_export(
        _template(kubevela.WEBSERVICE), cue_values(too_long, {"image": "nginx"}), "output"
    )
    assert p.returncode != 0
    for _, connection in kubevela.dependencies(catalogue.kinds()):
        longest = connection.name("a" * 43 + f"-{connection.workload_property}")
        assert len(longest) <= 63
        assert longest.startswith("a" * 43)


HEALTH_CASES = yaml.safe_load((Path(__file__).parent / "health.yaml").read_text())


def _health(name: str, outputs: list[JSON]) -> list[bool]:
    """isHealth of a definition's health policy for each live object, by the real `cue`.

    KubeVela evaluates the policy with `context.output` the workload as the cluster reports
    it; here the policy is a definition unified with each object in turn, in one `cue` run."""
    policy = _definition(name)["spec"]["status"]["healthPolicy"]
    text = (
        "#Policy: {\ncontext: _\n" + policy + "}\n"
        f"outputs: {json.dumps(outputs)}\n"
        "results: [for o in outputs {(#Policy & {context: output: o}).isHealth}]\n"
    )
    p = cue_export(text, "", "results")
    assert p.returncode == 0, f"{name}: {p.stderr}"
    results: list[bool] = json.loads(p.stdout)
    return results


def _rendered_statuses(kind: AnyKind) -> list[tuple[JSON, bool, str]]:
    """The kind's XR status in each example as `crossplane composition render` wrote it."""
    out = []
    for _, case, _ in [s for s in valid_samples() if s[0].api.kind == kind.api.kind]:
        for doc in load_yaml_docs(case.expected):
            if doc.get("kind") != kind.api.kind:
                continue
            [ready] = [c for c in doc["status"]["conditions"] if c["type"] == "Ready"]
            why = f"examples/{case.id}: Ready {ready['status']} {ready['reason']}"
            out.append((doc["status"], ready["reason"] == "Available", why))
    return out


def test_each_component_is_healthy_when_its_xr_is_ready() -> None:
    """Each kind's component, against XR statuses as Crossplane writes them."""
    for kind in catalogue.kinds():
        cases = [(c["status"], c["healthy"], c["reason"]) for c in HEALTH_CASES["xr"]]
        rendered = _rendered_statuses(kind)
        assert {healthy for _, healthy, _ in rendered} == {True, False}, kind.api.kind
        cases += rendered
        outputs = [{"apiVersion": kind.api.api_version, "kind": kind.api.kind} for _ in cases]
        for output, (status, _, _) in zip(outputs, cases, strict=True):
            if status is not None:
                output["status"] = status
        results = _health(kubevela.definition_name(kind.api), outputs)
        for (_, healthy, reason), result in zip(cases, results, strict=True):
            assert result is healthy, f"{kind.api.kind}: {reason}: isHealth {result}"


def test_the_webservice_is_healthy_when_its_deployment_is() -> None:
    """platform-webservice, against Deployments as kube-controller-manager reports them."""
    cases = HEALTH_CASES["deployment"]
    objects = [{"apiVersion": "apps/v1", "kind": "Deployment", **c["object"]} for c in cases]
    results = _health(kubevela.WEBSERVICE, objects)
    for case, result in zip(cases, results, strict=True):
        assert result is case["healthy"], f"{case['reason']}: isHealth {result}"
    assert {c["healthy"] for c in cases} == {True, False}


def test_the_example_application_yields_valid_objects() -> None:
    """examples/kubevela/user-service.yaml, each component evaluated as KubeVela would."""
    [app] = load_yaml_docs(ROOT / "examples" / "kubevela" / "user-service.yaml")
    produced: dict[str, list[JSON]] = {"kubevela/application": [app]}
    for component in app["spec"]["components"]:
        context = {"name": component["name"], "namespace": app["metadata"]["namespace"]}
        docs = [_export(component["type"], context, component["properties"], "output")]
        if component["type"] == kubevela.WEBSERVICE:
            outputs = _export(component["type"], context, component["properties"], "outputs")
            assert sorted(outputs) == ["cache", "database"]
            docs += outputs.values()
        produced[f"kubevela/{component['name']}"] = docs
    assert_valid(produced)
