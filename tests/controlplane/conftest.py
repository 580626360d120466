"""The control-plane e2e's report: per case, the providers that ran for real."""

from __future__ import annotations

import pytest

from tests.controlplane import cluster


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per case: which providers served what it composed, and which the test
    stood in for by writing observed.yaml's status."""
    if not cluster.PROVIDERS_SEEN:
        return
    terminalreporter.section("providers per case")
    for case_id, seen in sorted(cluster.PROVIDERS_SEEN.items()):
        real = ", ".join(seen["real"]) or "none"
        simulated = ", ".join(seen["simulated"]) or "none"
        terminalreporter.write_line(f"{case_id}: real {real}; simulated {simulated}")
