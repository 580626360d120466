"""install/components/monitoring: the alert rules pass the real promtool's `check rules` and
`test rules` (tests/monitoring/alerts-test.yaml) and read only metrics that exist; every alert
links its runbook; Prometheus finds the objects; the function is found by its object's name."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from function import metrics
from generate import release
from generate.configuration import SOURCE
from harness.paths import ROOT, go_tool

MANIFEST = ROOT / "install/components/monitoring/monitoring.yaml"
RULE_TESTS = ROOT / "tests" / "monitoring" / "alerts-test.yaml"


def prometheus_rule() -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    return rule


def alert_names() -> list[str]:
    spec: Any = prometheus_rule()["spec"]
    return [r["alert"] for g in spec["groups"] for r in g["rules"]]


def rules_dir(tmp_path: Path, spec: Any) -> Path:
    """rules.yaml (the PrometheusRule's spec, a plain Prometheus rule file) and the tests."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    return tmp_path


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(go_tool("promtool")), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rules_pass_promtool_check_and_their_unit_tests(tmp_path: Path) -> None:
    where = rules_dir(tmp_path, prometheus_rule()["spec"])
    checked = promtool("check", "rules", "rules.yaml", cwd=where)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in checked.stdout
    tested = promtool("test", "rules", RULE_TESTS.name, cwd=where)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_the_rule_tests_catch_a_changed_alert(tmp_path: Path) -> None:
    spec = prometheus_rule()["spec"]
    for group in spec["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == "CompositeNotReady":
                rule["for"] = "30m"
    tested = promtool("test", "rules", RULE_TESTS.name, cwd=rules_dir(tmp_path, spec))
    assert tested.returncode != 0
    assert "CompositeNotReady" in tested.stdout + tested.stderr


def test_every_alert_has_a_rule_test() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested = {t["alertname"] for case in tests for t in case.get("alert_rule_test", [])}
    assert set(alert_names()) == tested


def exported_samples() -> set[str]:
    """The sample names the function's metrics module exports."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    out = set()
    families = [f for c in metrics._METRICS for f in c.describe()]  # type: ignore[attr-defined]
    for family in [*families, *metrics.READINESS.collect()]:
        out |= {family.name + s for s in suffixes[family.type]}
    return out


READ = sorted(set(re.findall(r"function_platform_\w+", MANIFEST.read_text())))


@pytest.mark.parametrize("name", READ)
def test_alerts_read_metrics_the_function_exports(name: str) -> None:
    assert name in exported_samples()


def _anchor(heading: str) -> str:
    """A Markdown heading's anchor as GitHub writes it: lower case, spaces to '-', no
    punctuation but '-' and '_'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_alert_links_its_runbook_section() -> None:
    runbooks = ROOT / "docs" / "runbooks.md"
    sections = {
        _anchor(line.lstrip("#")): line
        for line in runbooks.read_text().splitlines()
        if line.startswith("## ")
    }
    spec: Any = prometheus_rule()["spec"]
    linked = {}
    for rule in (r for g in spec["groups"] for r in g["rules"]):
        url = rule["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page == f"{SOURCE}/blob/main/docs/runbooks.md", rule["alert"]
        assert anchor in sections, f"{rule['alert']}: no section #{anchor} in docs/runbooks.md"
        linked[rule["alert"]] = anchor
    # One section per alert, no section for an alert that does not exist.
    assert sorted(linked.values()) == sorted(sections)
    for alert, anchor in linked.items():
        assert alert in sections[anchor], f"#{anchor} is not {alert}'s section"


def test_the_prometheus_operator_objects_carry_kube_prometheus_stack_s_selector() -> None:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    selected = [d for d in docs if d["apiVersion"].startswith("monitoring.coreos.com/")]
    assert {d["kind"] for d in selected} == {"ServiceMonitor", "PrometheusRule"}
    for doc in selected:
        assert doc["metadata"]["labels"]["release"] == "kube-prometheus-stack", doc["kind"]


def test_the_function_is_scraped_and_watched_under_the_name_crossplane_gives_it() -> None:
    function = release.package_name(f"{release.default().registry}/{release.FUNCTION}")
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    (service,) = [
        d
        for d in docs
        if d["kind"] == "Service" and "pkg.crossplane.io/function" in d["spec"]["selector"]
    ]
    assert service["spec"]["selector"] == {"pkg.crossplane.io/function": function}
    expressions = [r["expr"] for g in prometheus_rule()["spec"]["groups"] for r in g["rules"]]
    assert f'function_name="{function}"' in " ".join(expressions)
