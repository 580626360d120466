"""The Valkey chart's metrics when the input enables them: the composed values rendered by the
real chart (../shared/charts/valkey-0.11.0) with `helm template`."""

from typing import Any

from function.kinds.redisinstance import KIND
from function.kinds.redisinstance.compose import RELEASE
from function.structs import JSON
from harness.paths import shared_dir
from tests import charts
from tests.composing import context

CHART = shared_dir() / "charts" / "valkey-0.11.0"
METRICS_ON = {"redisInstance": {"metrics": {"enabled": True}}}


def release_values(settings: JSON | None) -> JSON:
    ctx = context(KIND, {"environment": "dev"}, name="cache", namespace="shop", settings=settings)
    values: JSON = KIND.compose(ctx).resources[RELEASE]["spec"]["forProvider"]["values"]
    return values


def helm_template(values: JSON, tmp: Any) -> list[JSON]:
    return charts.helm_template(CHART, "cache", "shop", values, tmp)


def test_no_exporter_unless_the_input_says_so(tmp_path: Any) -> None:
    values = release_values(None)
    assert "metrics" not in values
    kinds = {d["kind"] for d in helm_template(values, tmp_path)}
    assert "PodMonitor" not in kinds


def test_exporter_and_pod_monitor_scrape_with_the_servers_password(tmp_path: Any) -> None:
    values = release_values(METRICS_ON)
    assert values["metrics"] == {"enabled": True, "podMonitor": {"enabled": True}}
    docs = helm_template(values, tmp_path)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    exporter = next(c for name, c in containers.items() if "metrics" in name or "exporter" in name)
    ports = {p["name"]: p["containerPort"] for p in exporter["ports"]}
    assert ports == {"metrics": 9121}
    env = {e["name"]: e for e in exporter["env"]}
    # The exporter logs in as the default user with the password the server uses.
    ref = env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    acl = values["auth"]
    assert (ref["name"], ref["key"]) == (
        acl["usersExistingSecret"],
        acl["aclUsers"]["default"]["passwordKey"],
    )
    (monitor,) = [d for d in docs if d["kind"] == "PodMonitor"]
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    selected = monitor["spec"]["selector"]["matchLabels"]
    assert selected.items() <= pod["metadata"]["labels"].items()
