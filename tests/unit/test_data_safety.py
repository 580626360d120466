"""PostgreSQLInstance and RedisInstance as they must work in a real cluster: backups wired or
refused, Helm releases that wait, changes that would destroy data refused, Redis URIs, names
and images."""

import base64
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from pydantic import ValidationError

from function.blocks.helm import add_on_release
from function.input import function_input
from function.kinds.mlopsplatform import KIND as MLOPS
from function.kinds.postgresqlinstance import KIND as POSTGRESQL
from function.kinds.postgresqlinstance.dedicated import ACCESS_KEY_ID, ACCESS_SECRET_KEY
from function.kinds.redisinstance import KIND as REDIS
from function.kinds.redisinstance.compose import NAME_LIMIT, RELEASE
from function.refusal import Refusal
from function.runner import run
from function.settings import AddOnChart, HelmChart
from function.structs import JSON
from generate import crossplane
from harness.paths import shared_dir
from harness.requests import request, xr
from tests.composing import context

SHARED = shared_dir()
BACKUP: JSON = {
    "postgresqlInstance": {
        "dedicated": {
            "backup": {
                "destinationPath": "s3://backups/pg",
                "credentials": {"clusterSecretStore": "platform", "remoteKey": "pg-backup"},
            }
        }
    }
}
DEDICATED: JSON = {"environment": "production", "deployment": "dedicated"}


def _crd_version(path: str) -> JSON:
    """The served version of a CRD under $SHARED."""
    crd = yaml.safe_load((SHARED / path).read_text())
    served: list[JSON] = [v for v in crd["spec"]["versions"] if v["served"]]
    assert len(served) == 1, f"{path}: one served version expected"
    return served[0]


def _properties(schema: JSON, *path: str) -> JSON:
    for key in path:
        schema = schema["properties"][key]
    return schema


def _parameters_schema(kind: Any) -> dict[str, Any]:
    version = crossplane.xrd(kind.api)["spec"]["versions"][0]
    return dict(
        _properties(version["schema"]["openAPIV3Schema"], "spec", "parameters")["properties"]
    )


# --- backups -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backup", "missing"),
    [
        pytest.param({}, ["destinationPath", "credentials"], id="default input: both named"),
        pytest.param(
            {"destinationPath": "s3://b/p"}, ["credentials"], id="destination only: credentials"
        ),
        pytest.param(
            {"credentials": {"clusterSecretStore": "s", "remoteKey": "k"}},
            ["destinationPath"],
            id="credentials only: destinationPath",
        ),
    ],
)
def test_backups_without_a_configured_destination_are_refused(
    backup: JSON, missing: list[str]
) -> None:
    settings = {"postgresqlInstance": {"dedicated": {"backup": backup}}}
    with pytest.raises(Refusal) as err:
        POSTGRESQL.compose(context(POSTGRESQL, DEDICATED, settings=settings))
    for field in ["destinationPath", "credentials"]:
        named = f"postgresqlInstance.dedicated.backup.{field}" in str(err.value)
        assert named is (field in missing), field


def test_no_backup_no_destination_needed() -> None:
    params = {"environment": "dev", "deployment": "dedicated", "enableBackup": False}
    resources = POSTGRESQL.compose(context(POSTGRESQL, params)).resources
    assert "backup-store" not in resources
    assert "backup-credentials" not in resources


def test_backup_not_configured_is_a_fatal_result() -> None:
    api = POSTGRESQL.api
    response = run(request(xr(api.api_version, api.kind, DEDICATED)))
    fatal = [r for r in response.results if r.severity == fnv1.SEVERITY_FATAL]
    assert len(fatal) == 1
    assert "postgresqlInstance.dedicated.backup.destinationPath" in fatal[0].message
    assert "EnvironmentConfig function-platform" in fatal[0].message


def test_the_external_secret_writes_the_secret_and_keys_the_object_store_reads() -> None:
    resources = POSTGRESQL.compose(context(POSTGRESQL, DEDICATED, settings=BACKUP)).resources
    external, store = resources["backup-credentials"], resources["backup-store"]
    served = _crd_version("crds/external-secrets/external-secrets.io_externalsecrets.yaml")
    assert external["apiVersion"] == f"external-secrets.io/{served['name']}"
    spec = external["spec"]
    assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "platform"}
    written = {d["secretKey"] for d in spec["data"]}
    creds = store["spec"]["configuration"]["s3Credentials"]
    assert "inheritFromIAMRole" not in creds
    for ref in (creds["accessKeyId"], creds["secretAccessKey"]):
        assert ref["name"] == spec["target"]["name"]
        assert ref["key"] in written
    assert written == {ACCESS_KEY_ID, ACCESS_SECRET_KEY}
    # plugin-barman-cloud's ObjectStore: both are Secret key selectors (name, key).
    s3 = _properties(
        _crd_version("crds/plugin-barman-cloud/barmancloud.cnpg.io_objectstores.yaml")["schema"][
            "openAPIV3Schema"
        ],
        "spec",
        "configuration",
        "s3Credentials",
    )
    for field in ("accessKeyId", "secretAccessKey"):
        assert set(s3["properties"][field]["required"]) == {"name", "key"}
    assert (
        store["spec"]["configuration"]["destinationPath"]
        == "s3://backups/pg/team-a/app-uid-team-a-app"
    )


def test_the_default_input_has_no_backup_destination() -> None:
    backup = function_input()().postgresqlInstance.dedicated.backup  # type: ignore[attr-defined]
    assert backup.destinationPath is None
    assert backup.credentials is None


# --- Helm releases wait -----------------------------------------------------------------


def test_helm_fields_exist_in_provider_helm() -> None:
    version = _crd_version("crds/provider-helm/helm.m.crossplane.io_releases.yaml")
    for_provider = _properties(version["schema"]["openAPIV3Schema"], "spec", "forProvider")
    assert for_provider["properties"]["wait"]["type"] == "boolean"
    assert for_provider["properties"]["waitTimeout"]["type"] == "string"


def test_redis_release_waits_with_the_timeout_of_the_input() -> None:
    ctx = context(REDIS, {"environment": "dev"}, settings={"redisInstance": {"waitTimeout": "3m"}})
    spec = REDIS.compose(ctx).resources[RELEASE]["spec"]["forProvider"]
    assert (spec["wait"], spec["waitTimeout"]) == (True, "3m")


def test_add_on_releases_wait_with_their_timeout() -> None:
    chart = HelmChart(repository="https://example.org", name="c", version="1.0.0")
    release = add_on_release(
        "c", AddOnChart(chart=chart, namespace="ns", waitTimeout="7m"), "pc", {}
    )
    assert (
        release["spec"]["forProvider"]["wait"],
        release["spec"]["forProvider"]["waitTimeout"],
    ) == (
        True,
        "7m",
    )


@pytest.mark.parametrize(
    "timeout",
    [pytest.param("ten minutes", id="words"), pytest.param("10", id="no unit")],
)
def test_a_wait_timeout_that_is_no_duration_is_refused(timeout: str) -> None:
    with pytest.raises(ValidationError, match="waitTimeout"):
        function_input().model_validate({"redisInstance": {"waitTimeout": timeout}})


# --- changes that would destroy data ---------------------------------------------------


def _observed_release(values: JSON) -> dict[str, JSON]:
    return {RELEASE: {"spec": {"forProvider": {"values": values}}}}


STANDALONE = _observed_release(
    {"dataStorage": {"enabled": True, "requestedSize": "8Gi"}, "deploymentStrategy": "Recreate"}
)
REPLICATED = _observed_release(
    {"replica": {"enabled": True, "replicas": 2, "persistence": {"size": "16Gi"}}}
)
EPHEMERAL = _observed_release({})


@pytest.mark.parametrize(
    ("observed", "params", "refused"),
    [
        pytest.param(STANDALONE, {"replicas": 3}, "replicas", id="1 -> 3 replicas: refused"),
        pytest.param(
            REPLICATED, {"replicas": 1, "persistenceSizeGB": 16}, "replicas", id="3 -> 1: refused"
        ),
        pytest.param(
            REPLICATED, {"replicas": 4, "persistenceSizeGB": 16}, None, id="3 -> 4: same layout"
        ),
        pytest.param(STANDALONE, {"persistenceSizeGB": 16}, "persistenceSizeGB", id="8 -> 16Gi"),
        pytest.param(
            REPLICATED,
            {"replicas": 3, "persistenceSizeGB": 32},
            "persistenceSizeGB",
            id="replicated 16 -> 32Gi: refused",
        ),
        pytest.param(STANDALONE, {"persistence": False}, "persistence", id="persistence off"),
        pytest.param(EPHEMERAL, {"persistence": True}, None, id="persistence on: safe"),
        pytest.param({}, {"replicas": 3}, None, id="nothing composed yet: anything"),
    ],
)
def test_redis_volume_layout_changes_are_refused(
    observed: dict[str, JSON], params: JSON, refused: str | None
) -> None:
    ctx = context(REDIS, {"environment": "dev"} | params, observed=observed)
    if refused is None:
        assert RELEASE in REDIS.compose(ctx).resources
        return
    with pytest.raises(Refusal, match=rf"spec\.parameters\.{refused} cannot change"):
        REDIS.compose(ctx)


@pytest.mark.parametrize(
    ("observed", "deployment", "refused"),
    [
        pytest.param({"database": {}}, "dedicated", True, id="shared -> dedicated: refused"),
        pytest.param({"cluster": {}}, "shared", True, id="dedicated -> shared: refused"),
        pytest.param({"database": {}}, "shared", False, id="shared stays shared"),
        pytest.param({}, "dedicated", False, id="nothing composed yet"),
    ],
)
def test_postgresql_deployment_change_is_refused(
    observed: dict[str, JSON], deployment: str, refused: bool
) -> None:
    params = {"environment": "dev", "deployment": deployment, "enableBackup": False}
    ctx = context(POSTGRESQL, params, observed=observed)
    if not refused:
        POSTGRESQL.compose(ctx)
        return
    with pytest.raises(Refusal, match=r"deployment cannot change.*copy the data"):
        POSTGRESQL.compose(ctx)


def _cel(rule: str, old: Any, new: Any) -> bool:
    """The few CEL forms these rules use, evaluated in Python (==, ||, !)."""
    python = rule.replace("||", " or ").replace("!", " not ").replace(" not =", "!=")
    return bool(eval(python, {}, {"self": new, "oldSelf": old}))


@pytest.mark.parametrize(
    ("kind", "field", "old", "new", "allowed"),
    [
        pytest.param(POSTGRESQL, "deployment", "shared", "dedicated", False, id="pg deployment"),
        pytest.param(POSTGRESQL, "deployment", "shared", "shared", True, id="pg same deployment"),
        pytest.param(REDIS, "replicas", 1, 2, False, id="redis 1 -> 2"),
        pytest.param(REDIS, "replicas", 3, 1, False, id="redis 3 -> 1"),
        pytest.param(REDIS, "replicas", 2, 5, True, id="redis 2 -> 5"),
        pytest.param(REDIS, "persistenceSizeGB", 8, 16, False, id="redis size"),
        pytest.param(REDIS, "persistence", True, False, False, id="redis persistence off"),
        pytest.param(REDIS, "persistence", False, True, True, id="redis persistence on"),
        pytest.param(MLOPS, "vectorDatabase.replicas", 3, 2, False, id="qdrant 3 -> 2"),
        pytest.param(MLOPS, "vectorDatabase.replicas", 3, 5, True, id="qdrant 3 -> 5"),
        pytest.param(MLOPS, "notebooks.workspaceGB", 20, 10, False, id="workspace shrinks"),
        pytest.param(MLOPS, "notebooks.workspaceGB", 5, 20, True, id="workspace grows"),
    ],
)
def test_the_xrd_refuses_the_same_transitions(
    kind: Any, field: str, old: Any, new: Any, allowed: bool
) -> None:
    top, *nested = field.split(".")
    schema = _parameters_schema(kind)[top]
    for name in nested:
        schema = schema["properties"][name]
    rules = schema["x-kubernetes-validations"]
    assert all(_cel(r["rule"], old, new) for r in rules) is allowed


# --- Redis URI, names, images ----------------------------------------------------------


def test_the_uri_carries_the_password_url_encoded() -> None:
    password = "p@ss:w/rd#%?"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "auth", "namespace": "team-a"},
        "data": {"password": base64.b64encode(password.encode()).decode()},
    }
    params = {"environment": "dev", "passwordSecretRef": {"name": "auth"}}
    ctx = context(REDIS, params, required={"user-password-secret": [secret]})
    uri = REDIS.compose(ctx).resources["connection-secret"]["stringData"]["uri"]
    parts = urlsplit(uri)
    assert unquote(parts.password or "") == password
    assert (parts.hostname, parts.port, parts.path) == ("app-redis.team-a.svc", 6379, "/0")


def test_long_names_leave_room_for_the_charts_suffixes() -> None:
    name = "a" * 63
    ctx = context(REDIS, {"environment": "dev", "replicas": 2}, name=name)
    values = REDIS.compose(ctx).resources[RELEASE]["spec"]["forProvider"]["values"]
    full = values["fullnameOverride"]
    assert len(full) == NAME_LIMIT
    # valkey-helm 0.11.0: Services <name>-headless/-read/-metrics; StatefulSet pods'
    # controller-revision-hash label <name>-<10 chars>.
    for derived in (f"{full}-headless", f"{full}-metrics", f"{full}-0123456789"):
        assert len(derived) <= 63, derived


def test_the_chart_suffixes_are_the_ones_capped_for() -> None:
    templates = Path(SHARED, "charts/valkey-0.11.0/templates")
    text = "".join(p.read_text() for p in sorted(templates.glob("*.yaml")))
    text += (templates / "_helpers.tpl").read_text()
    # Service names the chart derives: <fullname>-<suffix> in metadata.name.
    suffixes = set(re.findall(r'name: \{\{ include "valkey\.fullname" \. \}\}(-[a-z-]+)\n', text))
    suffixes |= set(re.findall(r"printf \"%s(-[a-z-]+)\" \(include \"valkey\.fullname\"", text))
    suffixes |= set(re.findall(r'\{\{ include "valkey\.fullname" \. \}\}(-headless)', text))
    assert {"-headless", "-read", "-metrics"} <= suffixes
    service_suffixes = {"-headless", "-read", "-metrics"}
    assert max(len(s) for s in service_suffixes) <= 63 - NAME_LIMIT


def test_default_images_are_pinned_by_version() -> None:
    parsed = function_input()()
    redis_tag = parsed.redisInstance.image.tag  # type: ignore[attr-defined]
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", redis_tag)
    for image in parsed.postgresqlInstance.dedicated.images.values():  # type: ignore[attr-defined]
        assert re.search(r":[0-9]+\.[0-9]+-", image), image
    values = REDIS.compose(context(REDIS, {"environment": "dev"})).resources[RELEASE]["spec"]
    assert values["forProvider"]["values"]["image"]["tag"] == redis_tag


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(
            {
                "postgresqlInstance": {
                    "dedicated": {"images": {"16": "ghcr.io/x/postgresql:16-minimal"}}
                }
            },
            id="a major-only PostgreSQL tag",
        ),
        pytest.param({"redisInstance": {"image": {"tag": "latest"}}}, id="a floating Valkey tag"),
    ],
)
def test_floating_tags_are_refused_in_the_input(settings: JSON) -> None:
    with pytest.raises(ValidationError):
        function_input().model_validate(settings)
