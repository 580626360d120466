"""The fuzzing run's seed, at the end of pytest's output (also under -q)."""

import sys

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    fuzz = sys.modules.get("tests.unit.test_fuzz")
    if fuzz is not None:
        terminalreporter.write_line(fuzz.summary())
