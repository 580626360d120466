"""install/monitoring.yaml: the alert rules pass the real promtool's `check rules` and
`test rules` (tests/monitoring/alerts-test.yaml), and read only metrics that exist."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from function import metrics
from harness.paths import ROOT, go_tool

MANIFEST = ROOT / "install" / "monitoring.yaml"
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
