"""Sandbox clones and per-instance metrics of PostgreSQLInstance, from a built context."""

import base64
from typing import Any

import pytest

from function.kinds.postgresqlinstance import KIND, clone
from function.kinds.postgresqlinstance.dedicated import MONITORING_API
from function.refusal import Refusal
from function.runner import run
from function.structs import JSON
from harness.requests import request, xr
from tests.composing import context

SOURCE = {"namespace": "production", "name": "orders"}
SANDBOX = {"environment": "sandbox", "deployment": "dedicated", "enableBackup": False}
SQL = ["UPDATE customers SET email = 'c' || id || '@example.invalid';"]


def source_xr(namespaces: list[str], **parameters: Any) -> JSON:
    return {
        "apiVersion": KIND.api.api_version,
        "kind": KIND.api.kind,
        "metadata": {"name": "orders", "namespace": "production", "uid": "uid-orders"},
        "spec": {
            "parameters": {
                "environment": "production",
                "deployment": "dedicated",
                "version": 16,
                "cloning": {"namespaces": namespaces, "anonymizationSQL": SQL},
            }
            | parameters
        },
    }


def basic_auth(name: str, username: str, password: str) -> JSON:
    encode = lambda v: base64.b64encode(v.encode()).decode()  # noqa: E731
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "production"},
        "type": "kubernetes.io/basic-auth",
        "data": {"username": encode(username), "password": encode(password)},
    }


CREDENTIALS = basic_auth("orders-pg-clone", "orders_clone", "s3cret")


def sandbox(required: dict[str, list[JSON]] | None = None, **kw: Any) -> Any:
    params = SANDBOX | {"cloneFrom": SOURCE} | kw.pop("params", {})
    ctx = context(KIND, params, name="copy", namespace="sandbox", required=required, **kw)
    return ctx, KIND.compose(ctx)


def found(
    source: JSON | None = None, credentials: JSON | None = CREDENTIALS
) -> dict[str, list[JSON]]:
    out = {clone.SOURCE_XR: [source or source_xr(["sandbox"])]}
    if credentials is not None:
        out[clone.SOURCE_CREDENTIALS] = [credentials]
    return out


# --- the source side -----------------------------------------------------------------------------


def test_a_cloneable_source_gets_a_read_only_role_and_its_password_secret() -> None:
    ctx = context(
        KIND,
        {
            "environment": "staging",
            "deployment": "dedicated",
            "enableBackup": False,
            "cloning": {"namespaces": ["qa"]},
        },
        name="orders",
    )
    d = KIND.compose(ctx)
    (role,) = d.resources["cluster"]["spec"]["managed"]["roles"]
    secret = d.resources[clone.ROLE_SECRET]
    assert role == {
        "name": "orders_clone",
        "ensure": "present",
        "comment": "read-only login for sandbox clones (function-platform)",
        "login": True,
        "inRoles": ["pg_read_all_data"],
        "connectionLimit": 2,
        "passwordSecret": {"name": "orders-pg-clone"},
    }
    assert secret["metadata"] == {"name": "orders-pg-clone", "namespace": "team-a"}
    assert secret["type"] == "kubernetes.io/basic-auth"  # what CNPG's managed roles read
    assert secret["stringData"]["username"] == "orders_clone"
    assert (
        secret["stringData"]["password"]
        != d.resources["connection-secret"]["stringData"]["password"]
    )


def test_removing_cloning_drops_the_role_then_forgets_it() -> None:
    params = {"environment": "staging", "deployment": "dedicated", "enableBackup": False}
    listed = {"cluster": {"spec": {"managed": {"roles": [{"name": "orders_clone"}]}}}}
    d = KIND.compose(context(KIND, params, name="orders", observed=listed))
    assert d.resources["cluster"]["spec"]["managed"] == {
        "roles": [{"name": "orders_clone", "ensure": "absent"}]
    }
    assert clone.ROLE_SECRET not in d.resources
    d = KIND.compose(context(KIND, params, name="orders"))
    assert "managed" not in d.resources["cluster"]["spec"]


# --- the clone side ------------------------------------------------------------------------------


def test_an_allowed_clone_imports_the_source_database_anonymized() -> None:
    _, d = sandbox(found())
    spec = d.resources["cluster"]["spec"]
    assert spec["bootstrap"]["initdb"]["import"] == {
        "type": "microservice",
        "databases": ["orders"],
        "source": {"externalCluster": "clone-source"},
        "postImportApplicationSQL": SQL,
    }
    assert spec["externalClusters"] == [
        {
            "name": "clone-source",
            "connectionParameters": {
                "host": "orders-pg-rw.production.svc",
                "user": "orders_clone",
                "dbname": "orders",
                "sslmode": "require",
            },
            "password": {"name": "copy-pg-clone-source", "key": "password"},
        }
    ]
    copy = d.resources[clone.COPY]
    assert copy["metadata"] == {"name": "copy-pg-clone-source", "namespace": "sandbox"}
    assert copy["stringData"] == {"username": "orders_clone", "password": "s3cret"}
    # The source XR and its Secret were asked for, in the source's namespace.
    asked = {k: (s.kind, s.namespace, s.name) for k, s in d.requirements.items()}
    assert asked == {
        clone.SOURCE_XR: ("PostgreSQLInstance", "production", "orders"),
        clone.SOURCE_CREDENTIALS: ("Secret", "production", "orders-pg-clone"),
    }


@pytest.mark.parametrize(
    ("required", "warning"),
    [
        pytest.param(None, "production/orders not found", id="source not fetched yet"),
        pytest.param(found(credentials=None), "waiting for its clone credentials", id="no Secret"),
    ],
)
def test_no_cluster_before_the_import_can_run(
    required: dict[str, list[JSON]] | None, warning: str
) -> None:
    _, d = sandbox(required)
    assert sorted(d.resources) == ["connection-secret"]
    assert [w.reason for w in d.warnings] == ["WaitingForCloneSource"]
    assert warning in d.warnings[0].message


@pytest.mark.parametrize(
    ("source", "params", "message"),
    [
        pytest.param(
            source_xr(["qa"]),
            {},
            "does not allow namespace sandbox to clone it: its owner must list it in "
            "spec.parameters.cloning.namespaces",
            id="namespace not listed",
        ),
        pytest.param(
            {**source_xr(["sandbox"]), "spec": {"parameters": {"environment": "dev"}}},
            {},
            "does not allow namespace sandbox",
            id="source allows no one",
        ),
        pytest.param(
            source_xr(["sandbox"], deployment="shared"),
            {},
            "is not dedicated",
            id="shared source",
        ),
        pytest.param(
            source_xr(["sandbox"], version=17),
            {"version": 16},
            "spec.parameters.version: must be >= the source's (17)",
            id="newer source",
        ),
    ],
)
def test_a_clone_the_source_does_not_allow_is_refused(
    source: JSON, params: JSON, message: str
) -> None:
    with pytest.raises(Refusal, match=message.replace("(", r"\(").replace(")", r"\)")):
        sandbox(found(source), params=params)


def test_once_created_the_import_is_kept_and_revoking_drops_the_copy() -> None:
    _, first = sandbox(found())
    observed = {"cluster": first.resources["cluster"], clone.COPY: first.resources[clone.COPY]}
    # Still allowed: the copy stays.
    _, again = sandbox(found(), observed=observed)
    assert again.resources[clone.COPY] == first.resources[clone.COPY]
    assert not again.warnings
    # Before Crossplane has fetched the source: nothing is copied that was not checked.
    _, unread = sandbox({}, observed=observed)
    assert unread.resources["cluster"]["spec"] == first.resources["cluster"]["spec"]
    assert clone.COPY not in unread.resources
    assert not unread.warnings
    # The source no longer lists this namespace: the copy goes, the cluster and its data stay,
    # and its credentials are not even asked for.
    _, revoked = sandbox(found(source_xr(["qa"])), observed=observed)
    assert revoked.resources["cluster"]["spec"] == first.resources["cluster"]["spec"]
    assert clone.COPY not in revoked.resources
    assert [w.reason for w in revoked.warnings] == ["CloneNotAllowed"]
    assert clone.SOURCE_CREDENTIALS not in revoked.requirements
    # The source is gone.
    _, gone = sandbox({clone.SOURCE_XR: []}, observed=observed)
    assert clone.COPY not in gone.resources
    assert [w.reason for w in gone.warnings] == ["CloneSourceGone"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({}, "cannot change from 'none'", id="added to a cluster created empty"),
        pytest.param(
            {"cloneFrom": {"namespace": "finance", "name": "ledger"}},
            "cannot change from 'orders-pg-rw.production.svc/orders' to "
            "'ledger-pg-rw.finance.svc/ledger'",
            id="another source",
        ),
    ],
)
def test_clone_from_cannot_change_once_the_cluster_exists(params: JSON, message: str) -> None:
    empty = {"cluster": KIND.compose(context(KIND, SANDBOX, name="copy")).resources["cluster"]}
    _, created = sandbox(found())
    imported = {"cluster": created.resources["cluster"]}
    observed = imported if params else empty
    with pytest.raises(Refusal, match=message.replace("(", r"\(").replace(")", r"\)")):
        sandbox(found(), observed=observed, params=params)
    with pytest.raises(Refusal, match=r"spec\.parameters\.cloneFrom cannot change from 'orders"):
        KIND.compose(context(KIND, SANDBOX, name="copy", namespace="sandbox", observed=imported))


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        pytest.param(
            {"environment": "dev", "cloneFrom": SOURCE},
            "spec.parameters.cloneFrom: needs deployment: dedicated",
            id="clone on the shared server",
        ),
        pytest.param(
            {"environment": "production", "deployment": "dedicated", "cloneFrom": SOURCE},
            "a clone is never production",
            id="production clone",
        ),
        pytest.param(
            {
                "environment": "production",
                "deployment": "dedicated",
                "cloning": {"namespaces": ["qa"]},
            },
            "production data leaves only anonymized",
            id="production source without anonymization",
        ),
        pytest.param(
            {"environment": "dev", "deployment": "dedicated", "cloning": {"namespaces": []}},
            "spec.parameters.cloning.namespaces: must",
            id="cloning with nobody",
        ),
    ],
)
def test_clone_rules(parameters: JSON, message: str) -> None:
    rsp = run(request(xr(KIND.api.api_version, KIND.api.kind, parameters)))
    assert len(rsp.results) == 1
    assert message in rsp.results[0].message


# --- metrics -------------------------------------------------------------------------------------


def test_pod_monitor_when_the_input_enables_metrics() -> None:
    params = {"environment": "dev", "deployment": "dedicated", "enableBackup": False}
    d = KIND.compose(context(KIND, params, name="orders"))
    assert "pod-monitor" not in d.resources
    on = {"postgresqlInstance": {"dedicated": {"metrics": {"enabled": True}}}}
    d = KIND.compose(context(KIND, params, name="orders", settings=on))
    monitor = d.resources["pod-monitor"]
    assert (monitor["apiVersion"], monitor["kind"]) == (MONITORING_API, "PodMonitor")
    cluster = d.resources["cluster"]["metadata"]["name"]
    # CloudNativePG labels every instance pod cnpg.io/cluster=<cluster> and names its
    # exporter port metrics.
    assert monitor["spec"] == {
        "selector": {"matchLabels": {"cnpg.io/cluster": cluster}},
        "podMetricsEndpoints": [{"port": "metrics"}],
    }
