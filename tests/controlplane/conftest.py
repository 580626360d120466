"""The control-plane e2e's report (per case, the providers that ran for real; the time
budget), the whole control plane the e2e's modules share, and the control plane of
Crossplane core alone the CEL tests share."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from harness.cases import find_cases
from harness.controlplane import ControlPlane
from harness.paths import ROOT
from tests.controlplane import cluster
from tests.controlplane.core import start_core_plane


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per case: which providers served what it composed, and which the test
    stood in for by writing observed.yaml's status. Then where the time went: the Go tools
    (make e2e measures them into E2E_TOOLS_SECONDS) and each phase of the run."""
    if cluster.PROVIDERS_SEEN:
        terminalreporter.section("providers per case")
        for case_id, seen in sorted(cluster.PROVIDERS_SEEN.items()):
            real = ", ".join(seen["real"]) or "none"
            simulated = ", ".join(seen["simulated"]) or "none"
            terminalreporter.write_line(f"{case_id}: real {real}; simulated {simulated}")
    if cluster.TIMINGS:
        terminalreporter.section("time budget (seconds)")
        tools = os.environ.get("E2E_TOOLS_SECONDS")
        if tools:
            terminalreporter.write_line(f"{float(tools):7.1f}  Go tools (make tools e2e-tools)")
        for phase, seconds in cluster.TIMINGS.items():
            terminalreporter.write_line(f"{seconds:7.1f}  {phase}")
        terminalreporter.write_line(
            f"{sum(cluster.TIMINGS.values()):7.1f}  total of the phases above (the rest of "
            "the tests run between them)"
        )


@pytest.fixture(scope="session")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """The platform installed in a real control plane (harness/controlplane.py), with what
    every example needs beside its XR (cluster.install); one per run."""
    workdir = tmp_path_factory.mktemp("controlplane")
    python = os.environ.get("PYTHON") or sys.executable
    with ControlPlane(workdir, python=python) as cp:
        try:
            with cp.timed("test: upstream CRDs, XRDs Established, RBAC manager's roles"):
                cluster.install(cp, ROOT, find_cases(ROOT))
            yield cp
            assert cp.function is not None
            assert cp.function.alive(), "function died:\n" + cp.logs()
        finally:
            cluster.TIMINGS.update(cp.timings)


@pytest.fixture(scope="module")
def core_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """Crossplane core alone with every XRD's CRD (tests/controlplane/core.py), per module."""
    cp = start_core_plane(tmp_path_factory.mktemp("core-plane"))
    try:
        yield cp
    finally:
        cp.stop()
