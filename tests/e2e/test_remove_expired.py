"""End-to-end: the remove-expired Operation of install/components/remove-expired, rendered with the
real `crossplane operation render` against the function server and Crossplane core.

Outside a pod the function has no API server to delete through, so an expired XR gives the
Operation's FATAL naming it and the cause, and nothing expired gives an empty success:
what the step decided, through the real Operation pipeline (required resources, input).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.paths import ROOT, ToolMissingError, Tools
from harness.render import write_functions_file
from harness.server import FunctionServer

PG = "database.platform.example.org/v1alpha1"


@pytest.fixture(scope="module")
def functions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    python = os.environ.get("PYTHON") or sys.executable
    with FunctionServer(ROOT, python=python) as server:
        yield write_functions_file(
            ROOT / "examples" / "functions.yaml", server.target, tmp_path_factory.mktemp("fn")
        )


def operation(tmp: Path) -> Path:
    """The Operation the CronOperation creates: its operationTemplate's spec."""
    manifest = ROOT / "install/components/remove-expired/remove-expired.yaml"
    docs = yaml.safe_load_all(manifest.read_text())
    (cron,) = [d for d in docs if d["kind"] == "CronOperation"]
    op = {
        "apiVersion": "ops.crossplane.io/v1alpha1",
        "kind": "Operation",
        "metadata": {"name": "remove-expired-1"},
        "spec": cron["spec"]["operationTemplate"]["spec"],
    }
    path = tmp / "operation.yaml"
    path.write_text(yaml.safe_dump(op))
    return path


def preview(name: str, created: str, expires: str) -> dict[str, object]:
    """A preview as the API server lists it; its lifetime is the preview default, 168h."""
    return {
        "apiVersion": PG,
        "kind": "PostgreSQLInstance",
        "metadata": {
            "name": name,
            "namespace": name,
            "uid": f"uid-{name}",
            "resourceVersion": "7",
            "creationTimestamp": created,
        },
        "spec": {"parameters": {"environment": name, "size": "small", "enableBackup": False}},
        "status": {"expiresAt": expires},
    }


def render(
    functions: Path, tmp: Path, *live: dict[str, object]
) -> subprocess.CompletedProcess[str]:
    try:
        tools = Tools.locate(ROOT)
    except ToolMissingError as e:
        pytest.fail(f"{e} (the e2e tests need `make tools`)", pytrace=False)
    required = tmp / "required.yaml"
    required.write_text(yaml.safe_dump_all(live))
    config = tmp / "crossplane-cli.yaml"  # operation render is an alpha command
    config.write_text(yaml.safe_dump({"version": 1, "features": {"enableAlpha": True}}))
    return subprocess.run(
        [
            str(tools.crossplane),
            "operation",
            "render",
            str(operation(tmp)),
            str(functions),
            f"--required-resources={required}",
            f"--crossplane-binary={tools.crossplane_core}",
            "--include-function-results",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "CROSSPLANE_CONFIG": str(config)},
    )


def test_nothing_expired_nothing_to_do(functions: Path, tmp_path: Path) -> None:
    done = render(
        functions, tmp_path, preview("pr-2", "2998-12-25T00:00:00Z", "2999-01-01T00:00:00Z")
    )
    assert done.returncode == 0, done.stderr
    (rendered,) = [d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "Operation"]
    status = rendered["status"]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Succeeded"] == "True"
    assert status["pipeline"] == [
        {"step": "remove-expired", "output": {"deleted": [], "changedSinceListed": []}}
    ]


def test_an_expired_preview_is_deleted_or_the_operation_says_why_not(
    functions: Path, tmp_path: Path
) -> None:
    done = render(
        functions,
        tmp_path,
        preview("pr-1", "2026-01-05T10:00:00Z", "2026-01-12T10:00:00Z"),
        preview("pr-2", "2998-12-25T00:00:00Z", "2999-01-01T00:00:00Z"),
    )
    assert done.returncode != 0
    assert 'pipeline step "remove-expired" returned a fatal result' in done.stderr
    assert "NotInCluster" in done.stderr
    assert "cannot delete PostgreSQLInstance pr-1/pr-1" in done.stderr
    assert "pr-2/pr-2" not in done.stderr
