"""Regression tests for each class of failure an adversarial probe of the function found, one
table per class.

Every case goes through the runner (function.runner.run) with a request built by
harness.requests, as Crossplane sends it; a few through the real gRPC server.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
import structlog
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from function import logs
from function.kinds.redisinstance import compose as redis_compose
from function.quantity import CORES_MAX, parse
from function.refusal import PROBLEMS_MAX
from function.runner import FunctionRunner, run
from function.structs import to_dict, to_struct
from function.vault.client import classify, redact
from harness.cases import find_cases
from harness.paths import ROOT
from harness.requests import (
    answered_case_request,
    case_request,
    desired,
    observed_secret,
    operation_request,
    request,
    status,
    xr,
)
from harness.server import FunctionServer
from tests.composing import NoDeadline

PG = ("database.platform.example.org/v1alpha1", "PostgreSQLInstance")
REDIS = ("cache.platform.example.org/v1alpha1", "RedisInstance")
CLUSTER = ("compute.platform.example.org/v1alpha1", "KubernetesCluster")
DEV = {"environment": "dev"}
SECRET_VALUE = "Sx9-do-not-log-me"
# Vault configured, at a closed local port: the step fails at once and reports what waits.
VAULT: dict[str, Any] = {
    "settings": {"vault": {"address": "http://127.0.0.1:9"}},
    "credentials": {"platform": {"password-key": b"k", "vault-token": b"t"}},
}


def fatal(rsp: fnv1.RunFunctionResponse) -> list[tuple[str, str]]:
    return [(r.reason, r.message) for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]


def warnings(rsp: fnv1.RunFunctionResponse) -> list[tuple[str, str]]:
    return [(r.reason, r.message) for r in rsp.results if r.severity == fnv1.SEVERITY_WARNING]


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def secret(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}


# ---------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("value", "rule", "reason"),
    [
        ("1e400", "must be a Kubernetes quantity", "raised OverflowError (float conversion)"),
        ("1e5000", "must be a Kubernetes quantity", "gave InternalError"),
        ("1e1000000", "must be a Kubernetes quantity", "burnt 26 s of CPU under the GIL"),
        ("1e19", "must be at most 2^63-1", "within the pattern, above any Kubernetes quantity"),
        ("99999999999999999999Ei", "must be at most 2^63-1", "a binary suffix, as large"),
        ("3e9", f"must be at most {CORES_MAX}", "more cores than KubeVirt's int32 holds"),
    ],
)
def test_quantities_out_of_range_are_a_fatal_naming_the_field(
    value: str, rule: str, reason: str
) -> None:
    rsp = run(request(xr(*CLUSTER, {**DEV, "controlPlaneCPU": value})))
    ((why, message),) = fatal(rsp)
    assert why == "InvalidParameters", reason
    assert f"spec.parameters.controlPlaneCPU: {rule}" in message, reason
    assert not rsp.desired.resources


def test_quantity_parse_cost_does_not_grow_with_the_value() -> None:
    # parse() only ever sees what the pattern admits: at most 32 characters, an exponent
    # of two digits, so the Decimal it builds is small whatever the value.
    assert parse("9" * 30 + "e99") == int("9" * 30) * 10**99
    assert not re.fullmatch(
        __import__("function.quantity", fromlist=["QUANTITY_PATTERN"]).QUANTITY_PATTERN, "1e100"
    )


# ---------------------------------------------------------------- readiness and observed shapes


@pytest.mark.parametrize(
    ("observed_status", "reason"),
    [
        ("x", "status a string"),
        (None, "status null"),
        ({"conditions": ["x"]}, "a condition that is not an object raised AttributeError"),
        ({"conditions": "x"}, "conditions a string raised AttributeError"),
        ({"conditions": [{"type": ["Ready"], "status": "True"}]}, "a type that is not a string"),
        ({"atProvider": "x", "conditions": [1, None]}, "atProvider a string"),
    ],
)
@pytest.mark.parametrize("kind", ["redis", "postgresql"])
def test_observed_status_of_another_shape_is_not_ready_and_never_raises(
    observed_status: Any, reason: str, kind: str
) -> None:
    composite = xr(*REDIS, DEV) if kind == "redis" else xr(*PG, DEV)
    first = desired(run(request(composite)))
    name = "release" if kind == "redis" else "database"
    observed = {name: first[name] | {"status": observed_status}}
    rsp = run(request(composite, observed=observed))
    assert fatal(rsp) == [], reason
    assert rsp.desired.resources[name].ready == fnv1.READY_FALSE, reason
    assert status(rsp)["phase"] == "Provisioning", reason


@pytest.mark.parametrize(
    ("cluster", "reason"),
    [
        ({"spec": {"controlPlaneEndpoint": "10.0.0.1:6443"}}, "endpoint a string: InternalError"),
        ({"status": {"controlPlane": {"readyReplicas": 2.5}}}, "a fraction: InternalError"),
        ({"status": {"workers": {"readyReplicas": "3"}}}, "a count as a string"),
        ({"status": {"workers": {"readyReplicas": -1}}}, "a negative count"),
        ({"spec": {"controlPlaneEndpoint": {"host": "a b/c", "port": 6443}}}, "not a host"),
        ({"spec": {"controlPlaneEndpoint": {"host": "10.0.0.1", "port": 70000}}}, "not a port"),
        ({"status": ["x"]}, "status a list"),
    ],
)
def test_observed_cluster_garbage_is_left_out_of_the_status(cluster: Any, reason: str) -> None:
    composite = xr(*CLUSTER, DEV)
    first = desired(run(request(composite)))
    rsp = run(request(composite, observed={"cluster": first["cluster"] | cluster}))
    assert fatal(rsp) == [], reason
    got = status(rsp)
    for field in ("clusterEndpoint", "readyControlPlaneNodes", "readyWorkerNodes"):
        assert field not in got, reason
    assert set(first) <= set(desired(rsp)), reason


def test_observed_cluster_status_of_the_right_shape_is_shown() -> None:
    composite = xr(*CLUSTER, DEV)
    first = desired(run(request(composite)))
    cluster = first["cluster"] | {
        "spec": {"controlPlaneEndpoint": {"host": "10.0.0.1", "port": 6443}},
        "status": {"controlPlane": {"readyReplicas": 1}, "workers": {"readyReplicas": 2}},
    }
    got = status(run(request(composite, observed={"cluster": cluster})))
    assert got["clusterEndpoint"] == "https://10.0.0.1:6443"
    assert (got["readyControlPlaneNodes"], got["readyWorkerNodes"]) == (1, 2)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"replica": "x"}, "replica a string raised AttributeError"),
        ({"replica": {"enabled": True, "replicas": "two"}}, "a count as text raised ValueError"),
        ({"dataStorage": ["x"]}, "dataStorage a list"),
        ({"dataStorage": {"enabled": True, "requestedSize": 8}}, "a size that is not <n>Gi"),
        ({"dataStorage": {"enabled": True, "requestedSize": "9" * 5000 + "Gi"}}, "a huge size"),
    ],
)
def test_observed_release_values_of_another_shape_never_raise(values: Any, reason: str) -> None:
    composite = xr(*REDIS, DEV)
    first = desired(run(request(composite)))
    release = first["release"]
    release["spec"]["forProvider"]["values"] = values
    rsp = run(request(composite, observed={"release": release}))
    assert [r for r, _ in fatal(rsp) if r == "InternalError"] == [], reason
    assert all(len(m) < 1000 for _, m in fatal(rsp)), reason


# ---------------------------------------------------------------- the XR's own shape


def _composite(change: Any) -> dict[str, Any]:
    obj = xr(*REDIS, DEV)
    change(obj)
    return obj


@pytest.mark.parametrize(
    ("change", "named", "reason"),
    [
        (lambda o: o.update(spec=None), "spec: must be an object", "spec null raised"),
        (lambda o: o.update(spec="x"), "spec: must be an object", "spec a string raised"),
        (lambda o: o.update(metadata="x"), "metadata: must be an object", "metadata a string"),
        (lambda o: o.pop("metadata"), "metadata: must be an object", "no metadata at all"),
        (lambda o: o["metadata"].pop("name"), "metadata.name: required", "names like None-redis"),
        (lambda o: o["metadata"].update(name=7), "metadata.name: must be a string", "a number"),
        (lambda o: o["metadata"].update(name="Bad Name"), "metadata.name: must be a DNS", "spaces"),
        (lambda o: o["metadata"].pop("namespace"), "metadata.namespace: required", "namespaced"),
        (
            lambda o: o["metadata"].update(namespace="a.b"),
            "metadata.namespace: must be a DNS label",
            "a namespace is a DNS label",
        ),
    ],
)
def test_an_xr_of_another_shape_is_one_fatal_naming_the_field(
    change: Any, named: str, reason: str
) -> None:
    rsp = run(request(_composite(change)))
    ((why, message),) = fatal(rsp)
    assert why == "InvalidComposite", reason
    assert named in message, reason
    assert not rsp.desired.resources, reason


# ---------------------------------------------------------------- Secret data and credentials


@pytest.mark.parametrize(
    ("data", "problem", "reason"),
    [
        ("!!!notb64", "is not base64 data", "gave InternalError"),
        (b64(b"\xff\xfe binary"), "is not UTF-8 text", "a binary user-supplied password"),
    ],
)
def test_a_user_password_that_is_not_text_is_a_fatal_naming_the_key(
    data: str, problem: str, reason: str
) -> None:
    params = {**DEV, "passwordSecretRef": {"name": "mine"}}
    rsp = run(
        request(
            xr(*REDIS, params),
            required={"user-password-secret": [secret("mine", password=data)]},
        )
    )
    ((why, message),) = fatal(rsp)
    assert why == "ComposeFailed", reason
    assert (
        f"spec.parameters.passwordSecretRef: key 'password' of Secret 'mine' {problem}" in message
    )
    assert data not in message


def test_an_unreadable_composed_connection_secret_is_a_fatal_not_a_new_password() -> None:
    observed = {"connection-secret": secret("app-redis", password=b64(b"\xff"))}
    rsp = run(request(xr(*REDIS, DEV), observed=observed))
    ((why, message),) = fatal(rsp)
    assert why == "ComposeFailed"
    assert "the composed Secret 'connection-secret': key 'password'" in message


@pytest.mark.parametrize(
    ("credential", "problem", "reason"),
    [
        (
            {"vault-token": b"\xff\xfe"},
            "is not UTF-8 text",
            "raised UnicodeDecodeError (Vault sync must never raise)",
        ),
        ({"vault-address": b"\xff"}, "is not UTF-8 text", "the address key"),
        (
            {"vault-token": "tok\u4e00en".encode()},
            "is not a Vault token (printable ASCII)",
            "an HTTP header cannot carry it: UnicodeEncodeError, an InternalError (make fuzz)",
        ),
    ],
)
def test_a_vault_credential_that_is_not_text_is_a_warning(
    credential: dict[str, bytes], problem: str, reason: str
) -> None:
    rsp = run(
        request(
            xr(*PG, {**DEV, "vaultPath": "secret/db/x"}),
            settings={"vault": {"address": "http://127.0.0.1:9"}}
            if "vault-token" in credential
            else None,
            credentials={"platform": {"password-key": b"k", **credential}},
        )
    )
    assert fatal(rsp) == [], reason
    (key,) = credential
    assert (
        "InvalidCredentials",
        f"key {key!r} in the step credentials 'platform' {problem}",
    ) in warnings(rsp), reason
    assert "connection-secret" in rsp.desired.resources, reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("http://vault..example:8200", "an empty label: urllib3's LocationParseError (make fuzz)"),
        ("http://" + "a" * 64 + ".example", "a label over 63 characters: LocationParseError"),
        ("http://vault:99999", "a port out of range"),
        ("http://[::1", "an unclosed IPv6 bracket"),
        ("ftp://vault", "not http(s)"),
        ("http://vault:8200/" + "x" * 4096, "too long to name in a warning"),
    ],
)
def test_a_vault_address_requests_cannot_connect_to_is_a_warning(address: str, reason: str) -> None:
    rsp = run(
        request(
            xr(*PG, {**DEV, "vaultPath": "secret/db/x"}),
            credentials={
                "platform": {
                    "password-key": b"k",
                    "vault-address": address.encode(),
                    "vault-token": b"t",
                }
            },
        )
    )
    assert fatal(rsp) == [], reason
    assert (
        "VaultNotConfigured",
        "the Vault address must be an http(s) URL with a valid host name and port",
    ) in warnings(rsp), reason
    assert "connection-secret" in rsp.desired.resources, reason


def test_an_admin_secret_that_is_not_text_defers_only_the_database_engine() -> None:
    rsp = run(
        request(
            xr(*PG, {**DEV, "vaultPath": "secret/db/x"}),
            required={
                "vault-database-admin": [
                    secret("shared-postgresql-admin", username=b64(b"\xff"), password="x")
                ]
            },
            **VAULT,
        )
    )
    assert fatal(rsp) == []
    assert "InvalidAdminSecret" in [r for r, _ in warnings(rsp)]
    assert {"connection-secret", "role", "database", "grant"} <= set(rsp.desired.resources)


def test_a_kubeconfig_that_is_not_text_defers_only_its_vault_entry() -> None:
    rsp = run(
        request(
            xr(*CLUSTER, {**DEV, "vaultPath": "secret/clusters/x"}),
            required={"kubeconfig": [secret("app-kubeconfig", value="%%%")]},
            **VAULT,
        )
    )
    assert fatal(rsp) == []
    assert "InvalidKubeconfig" in [r for r, _ in warnings(rsp)]
    assert "cni" in rsp.desired.resources, "the add-ons still come once the Secret exists"


# ---------------------------------------------------------------- input that makes no sense


@pytest.mark.parametrize(
    ("settings", "params", "reason_code", "named", "reason"),
    [
        (
            {"postgresqlInstance": {"shared": {"connectionLimits": {"small": 1}}}},
            {**DEV, "size": "large"},
            "InvalidInput",
            "input.spec.postgresqlInstance.shared.connectionLimits: must have a key for each of "
            "small, medium, large: missing medium, large",
            "KeyError: InternalError",
        ),
        (
            {
                "postgresqlInstance": {
                    "dedicated": {"resources": {"small": {"cpu": "1", "memory": "1Gi"}}}
                }
            },
            DEV,
            "InvalidInput",
            "input.spec.postgresqlInstance.dedicated.resources: must have a key for each of",
            "the same for compute sizes",
        ),
        (
            {
                "postgresqlInstance": {
                    "dedicated": {
                        "resources": {
                            s: {"cpu": "one", "memory": "1Gi"} for s in ("small", "medium", "large")
                        }
                    }
                }
            },
            DEV,
            "InvalidInput",
            "input.spec.postgresqlInstance.dedicated.resources.small.cpu: must be a Kubernetes "
            "quantity",
            "a CPU request that is no quantity",
        ),
        (
            {"postgresqlInstance": {"dedicated": {"images": {"16": "r/pg:16.10"}}}},
            {**DEV, "deployment": "dedicated", "enableBackup": False, "version": 15},
            "ComposeFailed",
            "spec.parameters.version 15 is not offered: the platform setting "
            "postgresqlInstance.dedicated.images has no image for it (offered: 16)",
            "a version the platform does not offer: KeyError",
        ),
        (
            {"postgresqlInstance": {"dedicated": {"instances": {"dev": 0}}}},
            DEV,
            "InvalidInput",
            "input.spec.postgresqlInstance.dedicated.instances.dev: must be >= 1",
            "a cluster of no instances",
        ),
        (
            {"kubernetesCluster": {"podCIDR": "10.244.0.1/16"}},
            DEV,
            "InvalidInput",
            "input.spec.kubernetesCluster.podCIDR: 10.244.0.1/16 has host bits set",
            "host bits: InternalError",
        ),
        (
            {"kubernetesCluster": {"podCIDR": "10.0.0.0/8", "serviceCIDR": "10.95.0.0/16"}},
            DEV,
            "InvalidInput",
            "podCIDR 10.0.0.0/8 and serviceCIDR 10.95.0.0/16 overlap",
            "overlapping networks",
        ),
        (
            {"kubernetesCluster": {"podCIDR": "10.1.0.0/28"}},
            DEV,
            "InvalidInput",
            "input.spec.kubernetesCluster.podCIDR: must have a prefix between /8 and /24",
            "no /24 per node",
        ),
        (
            {"kubernetesCluster": {"serviceCIDR": "10.0.0.0/8"}},
            DEV,
            "InvalidInput",
            "input.spec.kubernetesCluster.serviceCIDR: must have a prefix between /12 and /28",
            "kube-apiserver refuses it",
        ),
    ],
)
def test_input_that_passes_its_schema_but_makes_no_sense_is_a_fatal_naming_it(
    settings: dict[str, Any], params: dict[str, Any], reason_code: str, named: str, reason: str
) -> None:
    kind = CLUSTER if "kubernetesCluster" in settings else PG
    rsp = run(request(xr(*kind, params), settings=settings))
    ((why, message),) = fatal(rsp)
    assert (why, named in message) == (reason_code, True), (reason, message)


@pytest.mark.parametrize(
    ("case", "setting", "value", "named", "reason"),
    [
        (
            "mlopsplatform/ready",
            "mlopsPlatform.objectStore.endpoint",
            "http://[",
            "Invalid IPv6 URL",
            "unclosed IPv6 brackets: urlsplit's ValueError, an InternalError (make fuzz)",
        ),
        (
            "mlopsplatform/ready",
            "mlopsPlatform.objectStore.endpoint",
            "http://minio:99999",
            "Port out of range",
            "a port the pattern lets through",
        ),
        (
            "mlopsplatform/ready",
            "mlopsPlatform.objectStore.namespace",
            "Scunthorpe",
            "must be lowercase letters, digits and hyphens",
            "the metadata.namespace of the Bucket and IAM objects, which the API server refuses",
        ),
        (
            "serviceingress/tls-off",
            "serviceIngress.gatewayAPI.sharedGateway.httpListener",
            "Not A Listener",
            "must be lowercase letters, digits, hyphens and dots",
            "composed into parentRefs[].sectionName, which the HTTPRoute CRD refuses (make fuzz)",
        ),
    ],
)
def test_input_a_consumer_would_refuse_is_a_fatal_naming_it(
    case: str, setting: str, value: str, named: str, reason: str
) -> None:
    req = case_request(find_cases(ROOT, [case])[0])
    spec = to_dict(req.input)["spec"]
    *path, last = setting.split(".")
    node = spec
    for key in path:
        node = node.setdefault(key, {})
    node[last] = value
    req.input.fields["spec"].CopyFrom(to_struct({"spec": spec}).fields["spec"])
    ((why, message),) = fatal(run(req))
    assert why == "InvalidInput", reason
    assert f"input.spec.{setting}" in message, reason
    assert named in message, reason


# ---------------------------------------------------------------- huge values in messages


@pytest.mark.parametrize(
    ("params", "named", "reason"),
    [
        (
            {"environment": "x" * 1_000_000},
            "spec.parameters.environment",
            "echoed: a 6 MB response",
        ),
        ({**DEV, "y" * 1_000_000: 1}, "spec.parameters.yyyy", "an unknown field's huge name"),
        ({**DEV, **{f"f{i}": 1 for i in range(10_000)}}, "and 9980 more", "ten thousand problems"),
    ],
)
def test_a_huge_bad_value_is_cut_in_the_fatal(
    params: dict[str, Any], named: str, reason: str
) -> None:
    rsp = run(request(xr(*REDIS, params)))
    ((_, message),) = fatal(rsp)
    assert named in message, reason
    assert len(message) < 4096, reason
    assert rsp.ByteSize() < 8192, reason
    assert message.count("; ") <= PROBLEMS_MAX, reason


def test_a_huge_observed_value_is_cut_in_the_fatal() -> None:
    composite = xr(*REDIS, {**DEV, "replicas": 1})
    release = desired(run(request(composite)))["release"]
    release["spec"]["forProvider"]["values"] = {"replica": {"enabled": True, "replicas": 10**300}}
    ((_, message),) = fatal(run(request(composite, observed={"release": release})))
    assert "spec.parameters.replicas cannot change from 1000" in message
    assert len(message) < 1000


# ---------------------------------------------------------------- names Helm accepts


@pytest.mark.parametrize("length", [1, 52, 53, 54, 63, 64, 100, 253])
def test_helm_release_names_fit_helms_limit_whatever_the_xr_name(length: int) -> None:
    name = ("r" + "a" * 300)[:length]
    for composite in (xr(*REDIS, DEV, name=name), xr(*REDIS, {**DEV, "replicas": 3}, name=name)):
        release = desired(run(request(composite)))["release"]
        external = release["metadata"]["annotations"]["crossplane.io/external-name"]
        assert len(external) <= 53, f"{length}: Helm refuses release names over 53"
        assert release["spec"]["forProvider"]["values"]["fullnameOverride"] == external


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a.b", "a dotted XR name gave Services named a.b-redis-headless"),
        ("x" * 44 + ".yz", "the cut ended in a dot: release name 'xxx.-1a2b3c'"),
    ],
)
def test_names_services_are_derived_from_hold_no_dots(name: str, reason: str) -> None:
    release = desired(run(request(xr(*REDIS, DEV, name=name))))["release"]
    external = release["metadata"]["annotations"]["crossplane.io/external-name"]
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", external), reason
    params = {**DEV, "deployment": "dedicated", "enableBackup": False}
    cluster = desired(run(request(xr(*PG, params, name=name))))["cluster"]
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", cluster["metadata"]["name"]), reason


@pytest.mark.parametrize("kind", [REDIS, PG])
def test_a_name_that_cannot_name_a_service_is_a_fatal(kind: tuple[str, str]) -> None:
    params = {**DEV, "deployment": "dedicated", "enableBackup": False} if kind == PG else DEV
    ((why, message),) = fatal(run(request(xr(*kind, params, name="1cache"))))
    assert why == "ComposeFailed"
    assert "metadata.name '1cache' must start with a letter" in message


# ---------------------------------------------------------------- nothing observed is dropped


def test_a_missing_user_secret_does_not_drop_the_observed_connection_secret() -> None:
    params = {**DEV, "passwordSecretRef": {"name": "mine"}}
    observed = {
        "connection-secret": {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "app-redis"},
        }
    }
    rsp = run(request(xr(*REDIS, params), observed=observed))
    assert fatal(rsp) == []
    assert sorted(rsp.desired.resources) == ["connection-secret", "release"], "it would be deleted"
    kept = desired(rsp)["connection-secret"]["stringData"]
    assert set(kept) == {"host", "port"}, "only what is known, no made-up password"
    assert "connectionSecret" not in status(rsp), "not announced before it has the password"


def test_the_user_password_fills_the_kept_secret_once_it_is_there() -> None:
    params = {**DEV, "passwordSecretRef": {"name": "mine"}}
    rsp = run(
        request(
            xr(*REDIS, params),
            required={"user-password-secret": [secret("mine", password=b64(b"pw"))]},
        )
    )
    assert desired(rsp)["connection-secret"]["stringData"]["password"] == "pw"
    assert status(rsp)["connectionSecret"] == "app-redis"
    observed = {"connection-secret": observed_secret(desired(rsp)["connection-secret"])}
    again = run(request(xr(*REDIS, params), observed=observed))
    assert desired(again)["connection-secret"]["stringData"]["password"] == "pw"


# ---------------------------------------------------------------- the servicer and its logs


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    out = io.StringIO()
    logs.configure(output=out)  # the production format: JSON lines at INFO
    yield out
    structlog.reset_defaults()


def _boom(*_: Any) -> None:
    password = SECRET_VALUE  # a local a traceback with locals would print
    raise KeyError(password)


def test_a_bug_is_one_internal_error_and_one_log_line_without_values(
    monkeypatch: pytest.MonkeyPatch, log_output: io.StringIO
) -> None:
    monkeypatch.setattr(redis_compose, "stable_password", _boom)
    runner = FunctionRunner()
    rsp = runner.RunFunction(request(xr(*REDIS, DEV)), NoDeadline())  # type: ignore[arg-type]
    assert fatal(rsp) == [
        ("InternalError", "internal error composing RedisInstance; see function logs")
    ]
    lines = log_output.getvalue().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert (line["level"], line["msg"], line["error"]) == ("error", "internal error", "KeyError")
    assert any("test_reliability.py" in w and "_boom" in w for w in line["where"])
    assert SECRET_VALUE not in lines[0]
    assert "Traceback" not in lines[0]
    assert "locals" not in lines[0]


def test_an_unexpected_vault_error_is_logged_without_its_text(log_output: io.StringIO) -> None:
    try:
        raise RuntimeError(f"holds {SECRET_VALUE}")
    except RuntimeError as e:
        failure = classify(e, "http://vault:8200", [SECRET_VALUE])
    assert failure.reason == "InternalError"
    (line,) = [json.loads(x) for x in log_output.getvalue().splitlines()]
    assert (line["msg"], line["error"]) == ("unexpected error talking to Vault", "RuntimeError")
    assert SECRET_VALUE not in log_output.getvalue()


@pytest.mark.parametrize("debug", [False, True])
def test_log_exception_anywhere_writes_no_message_and_no_locals(debug: bool) -> None:
    out = io.StringIO()
    logs.configure(debug=debug, output=out)
    try:
        password = SECRET_VALUE
        raise ValueError(f"bad {password}")
    except ValueError:
        logs_logger = structlog.get_logger()
        logs_logger.exception("failed")
    finally:
        structlog.reset_defaults()
    text = out.getvalue()
    assert "ValueError" in text
    assert "failed" in text
    assert SECRET_VALUE not in text


@pytest.mark.parametrize(
    ("secret_text", "vault_says", "reason"),
    [
        ('pa"ss\\word', 'invalid value "pa\\"ss\\\\word"', "JSON-escaped: was not redacted"),
        ("p@ss/w:rd", "url postgresql://u:p%40ss%2Fw%3Ard@h", "URL-encoded in a connection URL"),
        ("plainsecret", "error with plainsecret in it", "the raw value, as before"),
    ],
)
def test_vault_error_text_is_redacted_in_every_form(
    secret_text: str, vault_says: str, reason: str
) -> None:
    assert "<redacted>" in redact(vault_says, [secret_text]), reason
    assert secret_text not in redact(vault_says, [secret_text]), reason


# ---------------------------------------------------------------- over the real gRPC server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    with FunctionServer(
        python=sys.executable,
        startup_timeout=20,
        log_path=tmp_path_factory.mktemp("log") / "function.log",
    ) as s:
        yield s


@pytest.mark.parametrize(
    ("composite", "reason"),
    [
        (_composite(lambda o: o.update(spec=None)), "returned UNKNOWN, no log line"),
        (_composite(lambda o: o.update(metadata="x")), "the same for metadata"),
    ],
)
def test_over_grpc_bad_input_is_never_an_rpc_error(
    server: FunctionServer, composite: dict[str, Any], reason: str
) -> None:
    with grpc.insecure_channel(server.target) as channel:
        rsp = grpcv1.FunctionRunnerServiceStub(channel).RunFunction(request(composite), timeout=10)
    assert [r for r, _ in fatal(rsp)] == ["InvalidComposite"], reason
    assert "Traceback" not in server.log_tail(200)


# ---------------------------------------------------------------- the newer kinds' observed shapes


def _case(case_id: str) -> fnv1.RunFunctionRequest:
    """The example's request as Crossplane sends it once its requirements are answered."""
    (case,) = [c for c in find_cases(ROOT, [case_id]) if c.id == case_id]
    return answered_case_request(case, run)


def _put(obj: Any, path: str, value: Any) -> None:
    """Set value at a dotted path of obj, creating objects on the way."""
    *parents, last = path.split(".")
    for key in parents:
        obj = obj.setdefault(key, {})
    obj[last] = value


def _edit(resource: fnv1.Resource, path: str, value: Any) -> None:
    obj = to_dict(resource.resource)
    _put(obj, path, value)
    resource.resource.Clear()
    resource.resource.CopyFrom(to_struct(obj))


def _observed(req: fnv1.RunFunctionRequest, name: str, path: str, value: Any) -> None:
    _edit(req.observed.resources[name], path, value)


def _observed_as_composed(
    req: fnv1.RunFunctionRequest, name: str, annotations: dict[str, str]
) -> None:
    """name observed as the function composes it, with these annotations."""
    obj = desired(run(req))[name]
    obj["metadata"].setdefault("annotations", {}).update(annotations)
    req.observed.resources[name].resource.CopyFrom(to_struct(obj))


def _required(req: fnv1.RunFunctionRequest, key: str, index: int, path: str, value: Any) -> None:
    _edit(req.required_resources[key].items[index], path, value)


def _before_and_after(
    case: str, change: Any
) -> tuple[fnv1.RunFunctionResponse, fnv1.RunFunctionResponse]:
    """The answers to the example's request as it is, and once change(request) has run."""
    req = _case(case)
    before = run(req)
    change(req)
    return before, run(req)


_ROUTE_PARENT = {
    "group": "gateway.networking.k8s.io",
    "kind": "Gateway",
    "name": "brand-gateway",
    "sectionName": "https",
}


@pytest.mark.parametrize(
    ("case", "change", "reason"),
    [
        (
            "serviceingress/ready",
            lambda r: _observed(r, "route", "status.parents", ["x"]),
            "a parent that is not an object: AttributeError",
        ),
        (
            "serviceingress/ready",
            lambda r: _observed(r, "route", "status.parents", [{"parentRef": "g"}]),
            "a parentRef that is not an object: AttributeError",
        ),
        (
            "serviceingress/ready",
            lambda r: _observed(r, "route", "spec.parentRefs", ["x"]),
            "a spec.parentRefs item that is not an object: AttributeError",
        ),
        (
            "serviceingress/ready",
            lambda r: _observed(
                r,
                "route",
                "status.parents",
                [
                    {
                        "parentRef": _ROUTE_PARENT,
                        "conditions": [
                            {"type": "Accepted", "status": "False", "reason": 5, "message": 6}
                        ],
                    }
                ],
            ),
            "a condition reason that is a number: pydantic's ValidationError on the status",
        ),
        (
            "mlopsplatform/ready",
            lambda r: _observed(r, "training-churn-train", "status.conditions", ["x"]),
            "a TFJob condition that is not an object: AttributeError",
        ),
        (
            "mlopsplatform/ready",
            lambda r: _observed(r, "model-churn-model", "status.url", ["x"]),
            "an InferenceService url that is a list: pydantic's ValidationError on the status",
        ),
        (
            "vclusterenvironment/services",
            lambda r: _observed_as_composed(
                r, "vcluster", {"platform.example.org/replicated-services": "[" * 100_000}
            ),
            "JSON nested past the recursion limit: json.loads's RecursionError",
        ),
    ],
)
def test_observed_state_of_another_shape_in_the_newer_kinds_never_raises(
    case: str, change: Any, reason: str
) -> None:
    before, rsp = _before_and_after(case, change)
    assert fatal(rsp) == [], reason
    assert sorted(rsp.desired.resources) == sorted(before.desired.resources), reason


@pytest.mark.parametrize(
    ("case", "change", "named", "reason"),
    [
        (
            "mlopsplatform/ready",
            lambda r: r.observed.resources["access-key"].connection_details.update(
                {"username": b"\xff\xfe"}
            ),
            "connection detail 'username' of the composed resource 'access-key' is not UTF-8 text",
            "decoded with bytes.decode: UnicodeDecodeError",
        ),
        (
            "vclusterenvironment/gitops",
            lambda r: _required(r, "kubeconfig", 0, "data.token", "\u00e9t\u00e9=="),
            "key 'token' of Secret 'vc-orders' is not base64 data",
            "not ASCII: b64decode's ValueError, not the binascii.Error it caught",
        ),
        (
            "vclusterenvironment/gitops",
            lambda r: _required(r, "kubeconfig", 0, "data", "x"),
            "lacks one of the keys",
            "data a string: AttributeError",
        ),
    ],
)
def test_secret_data_of_another_shape_in_the_newer_kinds_is_a_warning(
    case: str, change: Any, named: str, reason: str
) -> None:
    before, rsp = _before_and_after(case, change)
    assert fatal(rsp) == [], reason
    assert any(named in m for _, m in warnings(rsp)), (reason, warnings(rsp))
    assert set(before.desired.resources) >= set(rsp.desired.resources), reason


# ---------------------------------------------------------------- numbers read back as text


@pytest.mark.parametrize(
    ("case", "change", "reason"),
    [
        (
            "mlopsplatform/ready",
            lambda r: _observed(
                r, "vector-db", "spec.forProvider.values.persistence.size", "\u00b2Gi"
            ),
            "str.isdigit accepts '\u00b2', int() does not: ValueError",
        ),
        (
            "vclusterenvironment/services",
            lambda r: _required(
                r,
                "service-postgresqlinstance-orders",
                0,
                "status.endpoint",
                "orders-pg-rw.team-shop.svc:\u00b2",
            ),
            "a port of '\u00b2': ValueError",
        ),
        (
            "vclusterenvironment/services",
            lambda r: _required(
                r,
                "service-postgresqlinstance-orders",
                0,
                "status.endpoint",
                "orders-pg-rw.team-shop.svc:" + "9" * 5000,
            ),
            "5000 digits: int()'s limit on digits, ValueError",
        ),
    ],
)
def test_a_number_read_back_as_text_is_ascii_decimal_digits_or_nothing(
    case: str, change: Any, reason: str
) -> None:
    req = _case(case)
    change(req)
    rsp = run(req)
    assert fatal(rsp) == [], reason


# ---------------------------------------------------------------- lifetimes a datetime cannot hold


def _preview(created: str = "2026-01-05T10:00:00Z", **kw: Any) -> dict[str, Any]:
    params = {"environment": "pr-7", "enableBackup": False} | kw.pop("params", {})
    obj = xr(*PG, params, name="pr-7-database", namespace="pr-7")
    obj["metadata"] |= {"creationTimestamp": created} | kw
    return obj


@pytest.mark.parametrize(
    ("composite", "reason_code", "named", "reason"),
    [
        (
            _preview(params={"ttl": "70000000h"}),
            "InvalidParameters",
            "spec.parameters.ttl: must be at most 8760h (a year)",
            "within the XRD's pattern, 8000 years: OverflowError",
        ),
        (
            _preview(annotations={"ttl": "99999999999h"}),
            "ComposeFailed",
            "metadata.annotations.ttl: must be at most 8760h (a year)",
            "beyond timedelta's range: OverflowError",
        ),
        (
            _preview(annotations={"ttl": "9" * 5000 + "h"}),
            "ComposeFailed",
            "metadata.annotations.ttl: must be a duration such as 168h or 90m",
            "more digits than int() reads: ValueError",
        ),
        (
            _preview(created="9999-12-31T23:59:59Z"),
            None,
            "",
            "creation in the last second a datetime holds, plus the preview's 168h",
        ),
    ],
)
def test_a_lifetime_a_datetime_cannot_hold_is_refused_or_left_out(
    composite: dict[str, Any], reason_code: str | None, named: str, reason: str
) -> None:
    rsp = run(request(composite))
    if reason_code is None:
        assert fatal(rsp) == [], reason
        assert "expiresAt" not in status(rsp), reason
        return
    ((why, message),) = fatal(rsp)
    assert (why, named in message) == (reason_code, True), (reason, message)


# ---------------------------------------------------------------- another PostgreSQLInstance


# Team B's source, in namespace finance.
LEDGER = {"namespace": "finance", "name": "ledger"}


def _source(parameters: Any = None, **top: Any) -> dict[str, Any]:
    obj = xr(*PG, parameters, name="ledger", namespace="finance")
    obj.update(top)
    return obj


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (_source(5), "spec.parameters a number: AttributeError"),
        (_source(spec="x"), "spec a string: AttributeError"),
        (_source({"deployment": "dedicated", "cloning": "x"}), "cloning a string"),
        (
            _source({"deployment": "dedicated", "cloning": {"namespaces": "team-a-staging"}}),
            "namespaces a string: 'team-a' in 'team-a-staging' is a substring match",
        ),
        (
            _source({"deployment": "dedicated", "version": "x", "cloning": {"namespaces": 5}}),
            "a version that is no number: ValueError",
        ),
    ],
)
def test_a_clone_source_of_another_shape_allows_no_one(source: Any, reason: str) -> None:
    params = {
        "environment": "sandbox",
        "deployment": "dedicated",
        "enableBackup": False,
        "cloneFrom": LEDGER,
    }
    rsp = run(request(xr(*PG, params), required={"clone-source": [source]}))
    ((why, message),) = fatal(rsp)
    assert why == "ComposeFailed", reason
    assert "does not allow namespace team-a to clone it" in message, reason
    assert not rsp.desired.resources, reason


# ---------------------------------------------------------------- the remove-expired Operation


def _operation(*live: Any) -> fnv1.RunFunctionResponse:
    return run(operation_request({"operation": "remove-expired"}, {"postgresqlinstances": live}))


def _listed(**change: Any) -> dict[str, Any]:
    """A preview XR past its lifetime, as the Operation lists it."""
    obj = _preview(created="2020-01-01T00:00:00Z", resourceVersion="1")
    obj["status"] = {"expiresAt": "2020-01-08T00:00:00Z"}
    obj.update(change)
    return obj


@pytest.mark.parametrize(
    ("listed", "reason"),
    [
        (_listed(metadata="x"), "metadata a string: AttributeError"),
        (_listed(spec="x"), "spec a string: AttributeError"),
        (_listed(spec={"parameters": 5}), "spec.parameters a number: AttributeError"),
        (_listed(status="x"), "status a string: AttributeError"),
        (_listed(status={"expiresAt": ["x"]}), "expiresAt a list"),
    ],
)
def test_the_remove_expired_operation_never_raises_on_a_listed_xr(listed: Any, reason: str) -> None:
    rsp = _operation(listed)
    assert [r for r, _ in fatal(rsp) if r == "InternalError"] == [], reason
    assert to_dict(rsp.output)["deleted"] == [], reason


def _in(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("listed", "reason"),
    [
        (
            _listed(
                metadata=_preview(
                    created=_in(-timedelta(days=1)), generation=2, resourceVersion="9"
                )["metadata"],
                spec={"parameters": {"environment": "pr-7", "enableBackup": False, "ttl": "72h"}},
                status={"expiresAt": _in(-timedelta(hours=23))},
            ),
            "ttl extended to 72h (generation 2); status.expiresAt still of the 1h of generation 1",
        ),
        (
            _listed(
                metadata=_preview(
                    annotations={"ttl": "8760h"},
                    created=_in(-timedelta(days=9)),
                    resourceVersion="9",
                )["metadata"]
            ),
            "a ttl annotation extended: no new generation, status.expiresAt not yet rewritten",
        ),
        (
            _listed(
                metadata=_preview(resourceVersion="1")["metadata"] | {"name": "../x?dryRun=All"}
            ),
            "a name that is no DNS-1123 name was normalised into another URL path",
        ),
        (
            _listed(metadata=_preview(resourceVersion="1")["metadata"] | {"namespace": "a/b"}),
            "a namespace with a slash",
        ),
    ],
)
def test_the_remove_expired_operation_deletes_only_what_the_spec_says_is_past(
    listed: Any, reason: str
) -> None:
    # Outside a pod: the Operation fails (NotInCluster) only when it has something to delete.
    rsp = _operation(listed)
    assert fatal(rsp) == [], reason
    assert to_dict(rsp.output)["deleted"] == [], reason


def test_the_remove_expired_operation_still_deletes_what_is_past() -> None:
    ((why, message),) = fatal(_operation(_listed()))
    assert (why, message.startswith("NotInCluster: ")) == ("RemoveExpired", True)


# ---------------------------------------------------------------- MLOps keeps what it composed


@pytest.mark.parametrize(
    ("observed_data", "reason"),
    [
        (True, "the access key is in the observed Secret: it is composed again from it"),
        (False, "nothing readable in it: kept as it is observed"),
    ],
)
def test_a_composed_secret_that_is_observed_is_never_dropped_for_want_of_the_key(
    observed_data: bool, reason: str
) -> None:
    req = _case("mlopsplatform/ready")
    before = desired(run(req))
    req.observed.resources["access-key"].ClearField("connection_details")
    del req.observed.resources["storage-secret"]
    if not observed_data:
        _observed(req, "pipelines-secret", "data", {})
    rsp = run(req)
    assert fatal(rsp) == [], reason
    got = desired(rsp)
    assert "pipelines-secret" in got, f"Crossplane would delete it: {reason}"
    if observed_data:
        assert got["pipelines-secret"] == before["pipelines-secret"], reason
        assert got["storage-secret"] == before["storage-secret"], reason


# ---------------------------------------------------------------- the same answer in every process

_ANSWER = """
import sys
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from function.runner import run
for line in sys.stdin.read().split():
    rsp = run(fnv1.RunFunctionRequest.FromString(bytes.fromhex(line)))
    sys.stdout.write(rsp.SerializeToString(deterministic=True).hex() + "\\n")
"""

_MANY_UNKNOWN = {f"{c}field": 1 for c in "zyxwvutsrq"}
_SAME_ANSWER = [
    (
        request(xr(*REDIS, {**DEV, **_MANY_UNKNOWN})),
        "unknown fields of spec.parameters: listed in protobuf map order, which differs by process",
    ),
    (
        request(xr(*REDIS, DEV), settings={"redisInstance": _MANY_UNKNOWN}),
        "unknown fields of the function input",
    ),
    (
        request(
            xr(*PG, DEV),
            settings={
                "postgresqlInstance": {
                    "shared": {"connectionLimits": {"small": "x", "medium": "y", "large": "z"}}
                }
            },
        ),
        "a map setting with values of the wrong type",
    ),
    (
        request(xr(*PG, {**DEV, "cloning": {"namespaces": ["a"], **_MANY_UNKNOWN}})),
        "unknown fields of a nested object",
    ),
]


@pytest.fixture(scope="module")
def answers_by_process() -> list[list[str]]:
    """Each request of _SAME_ANSWER answered by fresh interpreters of different hash seeds."""
    data = "\n".join(r.SerializeToString(deterministic=True).hex() for r, _ in _SAME_ANSWER)
    out = []
    for seed in ("0", "1", "2", "3"):
        done = subprocess.run(
            [sys.executable, "-c", _ANSWER],
            input=data,
            text=True,
            capture_output=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        out.append(done.stdout.split())
    return out


@pytest.mark.parametrize("index", range(len(_SAME_ANSWER)), ids=[r for _, r in _SAME_ANSWER])
def test_two_replicas_answer_one_bad_request_with_the_same_bytes(
    answers_by_process: list[list[str]], index: int
) -> None:
    answers = {process[index] for process in answers_by_process}
    rsp = fnv1.RunFunctionResponse.FromString(bytes.fromhex(next(iter(answers))))
    assert fatal(rsp), _SAME_ANSWER[index][1]
    assert len(answers) == 1, _SAME_ANSWER[index][1]


# ---------------------------------------------------------------- one team's clone credentials

LEDGER_PASSWORD = "ledger-read-only-password"
OWN_PASSWORD = "own-read-only-password"
SANDBOX = {"environment": "sandbox", "deployment": "dedicated", "enableBackup": False}


def _pg_source(namespace: str, name: str, allowed: list[str]) -> dict[str, Any]:
    params = {
        "environment": "staging",
        "deployment": "dedicated",
        "cloning": {"namespaces": allowed},
    }
    return xr(*PG, params, name=name, namespace=namespace)


def _clone_secret(namespace: str, name: str, password: str) -> dict[str, Any]:
    obj = secret(
        f"{name}-pg-clone", username=b64(f"{name}_clone".encode()), password=b64(password.encode())
    )
    obj["metadata"]["namespace"] = namespace
    return obj


OWN = {"namespace": "team-a", "name": "orders"}
# Team B's ledger allows its own staging namespace only.
TEAM_B = {
    "clone-source": [_pg_source("finance", "ledger", ["finance-staging"])],
    "clone-source-credentials": [_clone_secret("finance", "ledger", LEDGER_PASSWORD)],
}


def _sandbox(
    clone_from: Any, required: dict[str, Any], observed: Any = None
) -> fnv1.RunFunctionRequest:
    params = SANDBOX | ({"cloneFrom": clone_from} if clone_from is not None else {})
    return request(
        xr(*PG, params, name="copy", namespace="team-a"), observed=observed, required=required
    )


def _created_from_own_source() -> dict[str, Any]:
    """Team A's sandbox as observed once its cluster was created from its own source."""
    required = {
        "clone-source": [_pg_source("team-a", "orders", ["team-a"])],
        "clone-source-credentials": [_clone_secret("team-a", "orders", OWN_PASSWORD)],
    }
    composed = desired(run(_sandbox(OWN, required)))
    assert "cluster" in composed
    return {n: observed_secret(o) if o["kind"] == "Secret" else o for n, o in composed.items()}


@pytest.mark.parametrize(
    ("clone_from", "reason"),
    [
        (LEDGER, "cloneFrom changed once the cluster holds its import: the ledger's Secret copied"),
        (None, "cloneFrom removed (the field's self == oldSelf does not fire on removal)"),
    ],
)
def test_a_sandbox_cannot_get_another_teams_source_credentials(
    clone_from: Any, reason: str
) -> None:
    rsp = run(_sandbox(clone_from, TEAM_B, _created_from_own_source()))
    assert LEDGER_PASSWORD.encode() not in rsp.SerializeToString(), reason
    ((why, message),) = fatal(rsp)
    assert why == "ComposeFailed", reason
    assert "spec.parameters.cloneFrom cannot" in message, (reason, message)


def test_a_source_that_stops_allowing_the_clone_has_its_copy_dropped() -> None:
    observed = _created_from_own_source()
    assert "clone-source-secret" in observed
    revoked = {
        "clone-source": [_pg_source("team-a", "orders", ["team-a-staging"])],
        "clone-source-credentials": [_clone_secret("team-a", "orders", OWN_PASSWORD)],
    }
    rsp = run(_sandbox(OWN, revoked, observed))
    assert fatal(rsp) == []
    assert "clone-source-secret" not in rsp.desired.resources, "the copy must go"
    assert "cluster" in rsp.desired.resources, "the cluster and its data stay"
    assert OWN_PASSWORD.encode() not in rsp.SerializeToString()
    assert any("does not allow namespace team-a to clone it" in m for _, m in warnings(rsp)), (
        warnings(rsp)
    )
    asked = {k: (s.namespace, s.match_name) for k, s in rsp.requirements.resources.items()}
    assert asked.get("clone-source") == ("team-a", "orders"), "the source is read every time"
