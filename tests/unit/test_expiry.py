"""XRs with a lifetime: status.expiresAt, the Expired condition, and the remove-expired Operation.

The decision what to delete is tested on real XR objects and times; the HTTP fault
paths of the delete against a real HTTP server on loopback standing in for the API
server (what it answers is chosen per test).
"""

import dataclasses
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.context import Composite
from function.expiry import kubeapi, lifetime, reaper
from function.input import SETTINGS_REQUIREMENT
from function.kinds.postgresqlinstance import KIND
from function.refusal import Refusal
from function.runner import run
from function.structs import JSON, to_dict
from harness.paths import ROOT
from harness.process import free_port
from harness.requests import operation_request, request, xr
from tests.composing import context, status

CREATED = "2026-01-05T10:00:00Z"
EXPIRES = "2026-01-12T10:00:00Z"  # + 168h
BEFORE = datetime(2026, 1, 12, 9, 59, 59, tzinfo=UTC)
AFTER = datetime(2026, 1, 12, 10, 0, 0, tzinfo=UTC)


def preview_ctx(**kw: Any) -> Any:
    annotations = kw.pop("annotations", {})
    ctx = context(
        KIND,
        {"environment": "pr-1234", "enableBackup": False} | kw.pop("params", {}),
        name="pr-1234-database",
        namespace="pr-1234",
        **kw,
    )
    return dataclasses.replace(
        ctx, xr=dataclasses.replace(ctx.xr, created=CREATED, annotations=annotations)
    )


def conditions(desired: Any) -> dict[str, tuple[str, str]]:
    return {c.typ: (c.status, c.reason) for c in desired.conditions}


# --- lifetime ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "expected"),
    [("168h", 604800), ("90m", 5400), ("1h30m", 5400), ("45s", 45), ("2h0m10s", 7210)],
)
def test_durations(duration: str, expected: int) -> None:
    assert lifetime.seconds(duration) == expected


def test_a_preview_gets_the_platform_default_lifetime_expires_at_and_expired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lifetime, "clock", lambda: BEFORE)
    before = KIND.compose(preview_ctx())
    assert status(before)["expiresAt"] == EXPIRES
    assert conditions(before)["Expired"] == ("False", "WithinLifetime")
    monkeypatch.setattr(lifetime, "clock", lambda: AFTER)
    after = KIND.compose(preview_ctx())
    assert status(after)["expiresAt"] == EXPIRES
    assert conditions(after)["Expired"] == ("True", "LifetimeElapsed")
    # Nothing else changes with the clock: the same resources are composed.
    assert after.resources == before.resources


def test_ttl_parameter_and_the_seeds_annotation_and_the_input_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lifetime, "clock", lambda: BEFORE)
    got = KIND.compose(preview_ctx(params={"ttl": "24h"}))
    assert status(got)["expiresAt"] == "2026-01-06T10:00:00Z"
    got = KIND.compose(preview_ctx(annotations={"ttl": "48h"}))
    assert status(got)["expiresAt"] == "2026-01-07T10:00:00Z"
    got = KIND.compose(preview_ctx(settings={"postgresqlInstance": {"preview": {"ttl": "1h"}}}))
    assert status(got)["expiresAt"] == "2026-01-05T11:00:00Z"
    # Equal values given twice are fine; different ones are refused.
    assert status(KIND.compose(preview_ctx(params={"ttl": "1h"}, annotations={"ttl": "60m"})))
    with pytest.raises(Refusal, match=r"spec.parameters.ttl \(2h\) and .*ttl \(3h\) disagree"):
        KIND.compose(preview_ctx(params={"ttl": "2h"}, annotations={"ttl": "3h"}))
    with pytest.raises(Refusal, match=r"annotations.ttl: must be a duration .*'7 days'"):
        KIND.compose(preview_ctx(annotations={"ttl": "7 days"}))


def test_no_lifetime_outside_previews_unless_asked_and_never_in_production() -> None:
    d = KIND.compose(context(KIND, {"environment": "staging"}))
    assert "expiresAt" not in status(d)
    assert "Expired" not in conditions(d)
    prod = context(KIND, {"environment": "production"})
    prod = dataclasses.replace(
        prod,
        xr=Composite(prod.xr.api_version, prod.xr.kind, "db", "shop", "u", CREATED, {"ttl": "1h"}),
    )
    with pytest.raises(Refusal, match="not allowed in production"):
        KIND.compose(prod)


def test_previews_are_small_without_backups_and_production_has_no_ttl() -> None:
    rsp = run_xr({"environment": "pr-9", "size": "medium"})
    assert [r.message for r in rsp.results] == [
        "invalid PostgreSQLInstance team-a/app: spec.parameters.size: must be small in a preview "
        'environment (pr-<number>) (got "medium"); spec.parameters.enableBackup: must be false in '
        "a preview environment (pr-<number>): previews are thrown away (got true)"
    ]
    rsp = run_xr({"environment": "production", "ttl": "1h"})
    assert "spec.parameters.ttl: not allowed in production" in rsp.results[0].message
    rsp = run_xr({"environment": "pr-0123", "enableBackup": False})
    assert "spec.parameters.environment: must be one of 'dev'" in rsp.results[0].message


def run_xr(parameters: JSON) -> fnv1.RunFunctionResponse:
    return run(request(xr(KIND.api.api_version, KIND.api.kind, parameters)))


def preview_request(settings: JSON | None = None) -> fnv1.RunFunctionRequest:
    """examples/postgresqlinstance/preview's XR (created CREATED, 168h to live)."""
    composite = yaml.safe_load((ROOT / "examples/postgresqlinstance/preview/xr.yaml").read_text())
    return request(composite, settings=settings)


@pytest.mark.parametrize(
    ("left", "settings", "longest"),
    [
        (timedelta(hours=2), None, 30),  # far from its expiry: the platform's 30 s
        (timedelta(seconds=20), None, 20),
        (timedelta(seconds=300), {"ttl": {"provisioningSeconds": 3600}}, 300),
        (timedelta(milliseconds=500), None, 0.5),
    ],
)
def test_meta_ttl_never_outlives_the_preview(
    monkeypatch: pytest.MonkeyPatch, left: timedelta, settings: JSON | None, longest: float
) -> None:
    # Crossplane core with --enable-function-response-cache serves an answer again for an
    # equal request, without calling the function, until meta.ttl after it received it, and
    # with realtime compositions calls again only meta.ttl later (crossplane v2.3.4
    # internal/xfn/cached/cached_runner.go CacheFunction; composite/reconciler.go): an
    # Expired=False answer kept past the expiry would hide that it expired.
    monkeypatch.setattr(lifetime, "clock", lambda: datetime(2026, 1, 12, 10, tzinfo=UTC) - left)
    rsp = run(preview_request(settings))
    assert [(c.type, c.status) for c in rsp.conditions] == [
        ("Expired", fnv1.STATUS_CONDITION_FALSE)
    ]
    ttl = rsp.meta.ttl.ToTimedelta().total_seconds()
    assert 0 <= ttl <= longest
    assert ttl >= longest - 2 or longest < 2  # requeued near the expiry, not long before


def test_an_operations_answer_is_not_kept_by_crossplane() -> None:
    # It deletes XRs or Vault entries and depends on the clock and the cluster: an answer
    # core kept (meta.ttl > 0; core caches Operations' responses too, internal/controller/
    # ops/operation/reconciler.go tags them) would skip the work. Core keeps none of ttl 0.
    rsp = run(operation_request({"operation": "remove-expired"}, {"expiring": []}))
    assert rsp.meta.ttl.ToTimedelta() == timedelta(0)


# --- deciding what to remove ---------------------------------------------------------------------


def xr_object(
    name: str = "pr-1-database",
    *,
    environment: str = "pr-1",
    expires: str | None = EXPIRES,
    deleting: bool = False,
    **parameters: Any,
) -> JSON:
    meta: JSON = {
        "name": name,
        "namespace": "pr-1",
        "uid": f"uid-{name}",
        "resourceVersion": "42",
        "creationTimestamp": CREATED,
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-12T10:00:00Z"
    obj: JSON = {
        "apiVersion": KIND.api.api_version,
        "kind": KIND.api.kind,
        "metadata": meta,
        "spec": {"parameters": {"environment": environment, "enableBackup": False} | parameters},
    }
    if expires is not None:
        obj["status"] = {"expiresAt": expires}
    return obj


@pytest.mark.parametrize(
    ("obj", "at", "delete", "why"),
    [
        pytest.param(xr_object(), AFTER, True, f"expired at {EXPIRES}", id="past expiresAt"),
        pytest.param(xr_object(), BEFORE, False, f"expires at {EXPIRES}", id="one second before"),
        pytest.param(xr_object(expires=None), AFTER, False, "no lifetime", id="no expiresAt"),
        pytest.param(
            xr_object(expires="next week"),
            AFTER,
            False,
            "status.expiresAt is not a timestamp: 'next week'",
            id="garbled expiresAt",
        ),
        pytest.param(
            xr_object(environment="production"),
            AFTER,
            False,
            "production never expires",
            id="production, whatever its status says",
        ),
        pytest.param(
            xr_object(deleting=True), AFTER, False, "already being deleted", id="being deleted"
        ),
        pytest.param(
            xr_object(ttl="336h"),
            AFTER,
            False,
            f"expires at 2026-01-19T10:00:00Z by its spec (status.expiresAt {EXPIRES} is of an "
            "older one)",
            id="ttl extended since the status was written",
        ),
        pytest.param(
            xr_object(expires="2026-01-19T10:00:00Z", ttl="24h"),
            AFTER,
            False,
            "expires at 2026-01-19T10:00:00Z",
            id="ttl shortened: not before the XR is told",
        ),
        pytest.param(
            xr_object(ttl="1h", **{"size": "large"}),
            AFTER,
            False,
            "its lifetime is refused: spec.parameters.size: must be small in a preview "
            'environment (pr-<number>) (got "large")',
            id="a spec its composer refuses",
        ),
        pytest.param(
            xr_object("../x?dryRun=All"),
            AFTER,
            False,
            "its name or namespace is no DNS-1123 name",
            id="a name that is no object name",
        ),
    ],
)
def test_decide(obj: JSON, at: datetime, delete: bool, why: str) -> None:
    decision = reaper.decide(KIND, obj, at, KIND.settings())
    assert (decision.delete, decision.why) == (delete, why)


def test_the_url_of_a_delete_is_built_from_escaped_parts() -> None:
    target = kubeapi.Target("g.example", "v1", "things", "ns", "a/../b?dryRun=All", "u", "1")
    assert target.path == "/apis/g.example/v1/namespaces/ns/things/a%2F..%2Fb%3FdryRun%3DAll"


def test_nothing_is_removed_when_a_requirement_is_missing() -> None:
    output, problem = reaper.remove_expired({}, api=None, at=AFTER)
    assert output == {"deleted": []}
    assert problem == "required resources missing: postgresqlinstances"


# --- deleting through the API server (a stand-in on loopback for the HTTP paths) ----------------


class StandIn(http.server.BaseHTTPRequestHandler):
    answers: list[int]
    seen: list[tuple[str, str, str, JSON]]

    def do_DELETE(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.command, self.path, self.headers["Authorization"], body))
        code = self.answers.pop(0)
        payload = json.dumps({"kind": "Status", "code": code}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[tuple[kubeapi.APIServer, type[StandIn]]]:
    handler = type("Handler", (StandIn,), {"answers": [], "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        yield kubeapi.APIServer(url=url, token="sa-token", ca_file=None), handler
    finally:
        server.shutdown()
        server.server_close()


def test_expired_xrs_are_deleted_with_preconditions_the_rest_kept(
    api_server: tuple[kubeapi.APIServer, type[StandIn]],
) -> None:
    api, handler = api_server
    handler.answers = [200, 404, 409]
    live = [
        xr_object("a"),
        xr_object("b"),
        xr_object("c"),
        xr_object("fresh", expires="2027-01-01T00:00:00Z"),
        xr_object("prod", environment="production"),
    ]
    output, problem = reaper.remove_expired({"postgresqlinstances": live}, api, AFTER)
    assert problem is None
    assert output == {
        "deleted": ["PostgreSQLInstance pr-1/a", "PostgreSQLInstance pr-1/b"],
        "changedSinceListed": ["PostgreSQLInstance pr-1/c"],
    }
    method, path, auth, body = handler.seen[0]
    assert (method, auth) == ("DELETE", "Bearer sa-token")
    assert path == (
        "/apis/database.platform.example.org/v1alpha1/namespaces/pr-1/postgresqlinstances/a"
    )
    assert body == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "preconditions": {"uid": "uid-a", "resourceVersion": "42"},
    }
    assert [p.rsplit("/", 1)[1] for _, p, _, _ in handler.seen] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("code", "reason"),
    [(403, "Forbidden"), (401, "Forbidden"), (500, "APIServerError")],
)
def test_a_refused_delete_is_the_problem_and_the_others_still_go(
    api_server: tuple[kubeapi.APIServer, type[StandIn]], code: int, reason: str
) -> None:
    api, handler = api_server
    handler.answers = [code, 200]
    output, problem = reaper.remove_expired(
        {"postgresqlinstances": [xr_object("a"), xr_object("b")]}, api, AFTER
    )
    assert output["deleted"] == ["PostgreSQLInstance pr-1/b"]
    assert problem is not None
    assert problem.startswith(f"{reason}: ")
    assert "sa-token" not in problem


def test_an_unreachable_api_server_deletes_nothing() -> None:
    api = kubeapi.APIServer(url=f"http://127.0.0.1:{free_port()}", token="t", ca_file=None)
    output, problem = reaper.remove_expired({"postgresqlinstances": [xr_object()]}, api, AFTER)
    assert output["deleted"] == []
    assert problem == "APIServerUnreachable: cannot connect to the API server"


def test_in_cluster_configuration(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tok\n")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    api = kubeapi.APIServer.in_cluster(env, tmp_path)
    assert api == kubeapi.APIServer("https://10.96.0.1:443", "tok", str(tmp_path / "ca.crt"))
    with pytest.raises(kubeapi.KubeAPIError, match="not running in a pod"):
        kubeapi.APIServer.in_cluster({}, tmp_path)
    with pytest.raises(kubeapi.KubeAPIError, match="service account token"):
        kubeapi.APIServer.in_cluster(env, tmp_path / "missing")


def test_the_operation_outside_a_pod_fails_only_when_something_must_go() -> None:
    def operation(*live: JSON) -> fnv1.RunFunctionResponse:
        required = {"postgresqlinstances": list(live)}
        return run(operation_request({"operation": "remove-expired"}, required))

    fresh = operation(xr_object(expires="2999-01-01T00:00:00Z"))
    assert not fresh.results
    assert to_dict(fresh.output) == {"deleted": [], "changedSinceListed": []}
    expired = operation(xr_object())
    assert [(r.severity, r.reason) for r in expired.results] == [
        (fnv1.SEVERITY_FATAL, "RemoveExpired")
    ]
    assert expired.results[0].message.startswith("NotInCluster: ")


# --- the install manifests -----------------------------------------------------------------------


def test_install_manifest_lists_every_expiring_kind_and_binds_only_delete() -> None:
    manifest = (ROOT / "install/components/remove-expired/remove-expired.yaml").read_text()
    docs = {d["kind"]: d for d in yaml.safe_load_all(manifest)}
    step = docs["CronOperation"]["spec"]["operationTemplate"]["spec"]["pipeline"][0]
    assert step["input"]["spec"] == {"operation": "remove-expired"}
    required = step["requirements"]["requiredResources"]
    assert {r["requirementName"]: r["kind"] for r in required} == {
        SETTINGS_REQUIREMENT: "EnvironmentConfig"
    } | {name: k.api.kind for name, k in reaper.EXPIRING.items()}
    assert docs["ClusterRole"]["rules"] == [
        {
            "apiGroups": sorted({k.api.group for k in reaper.EXPIRING.values()}),
            "resources": sorted(reaper.EXPIRING),
            "verbs": ["delete"],
        }
    ]
    runtime = next(
        d
        for d in yaml.safe_load_all((ROOT / "install/packages.yaml").read_text())
        if d["kind"] == "DeploymentRuntimeConfig"
    )
    account = runtime["spec"]["serviceAccountTemplate"]["metadata"]["name"]
    (subject,) = docs["ClusterRoleBinding"]["subjects"]
    assert (subject["name"], subject["namespace"]) == (account, "crossplane-system")
    (match,) = docs["ValidatingAdmissionPolicy"]["spec"]["matchConditions"]
    assert f"system:serviceaccount:crossplane-system:{account}" in match["expression"]
    rules = docs["ValidatingAdmissionPolicy"]["spec"]["matchConstraints"]["resourceRules"]
    assert rules[0]["resources"] == sorted(reaper.EXPIRING)


@pytest.mark.parametrize(
    ("ttl", "allowed"),
    [
        ("8760h", True),
        ("8759h60m", True),
        ("525600m", True),
        ("31536000s", True),
        ("8760h1s", False),
        ("70000000h", False),
        ("99999h99999999m999s", False),
        ("0000000001h", False),
    ],
)
def test_the_lifetime_maximum_is_the_xrds(ttl: str, allowed: bool) -> None:
    """The function refuses what the XRD's CEL refuses: more than 8760h, and numbers of more
    digits than a lifetime within it has (CEL's duration() cannot parse past Go's range)."""
    rsp = run_xr({"environment": "pr-1", "enableBackup": False, "ttl": ttl})
    refused = [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    if allowed:
        assert refused == []
    else:
        assert "spec.parameters.ttl: must be at most 8760h (a year)" in refused[0]
    (rule,) = KIND.api.parameters.model_json_schema()["properties"]["ttl"]["anyOf"][0][
        "x-kubernetes-validations"
    ]
    assert rule["rule"] == (
        f"!self.matches('{lifetime.TOO_MANY_DIGITS}') && duration(self) <= duration('8760h')"
    )
