"""End-to-end: render every example with the real Crossplane CLI and validate it.

Starts the project's function server (`python -m function --insecure`) on a free
loopback port, renders examples/<kind>/<case>/ with `crossplane composition
render --crossplane-binary .tools/bin/crossplane-core`, compares stdout with
expected.yaml byte for byte (or stderr with expected-error.txt), checks that
rendering is deterministic, and validates all outputs offline (harness.validate).

Needs `make tools` (Go binaries in .tools/bin) and the upstream CRDs ($SHARED,
default ../shared, or `make deps`). Nothing is skipped: missing tools fail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from harness import render, validate
from harness.cases import Case, find_cases
from harness.paths import ROOT, ToolMissingError, Tools, shared_dir
from harness.server import FunctionServer

CASES = find_cases(ROOT)


def _python() -> str:
    return os.environ.get("PYTHON") or sys.executable


@pytest.fixture(scope="session")
def tools() -> Tools:
    try:
        return Tools.locate(ROOT)
    except ToolMissingError as e:
        pytest.fail(f"{e} (the e2e tests need `make tools`)", pytrace=False)


@pytest.fixture(scope="session")
def renderer(tools: Tools) -> Iterator[render.Renderer]:
    with FunctionServer(ROOT, python=_python()) as server:
        with render.Renderer(tools, server.target, ROOT) as r:
            yield r
        assert server.alive(), "function server died:\n" + server.log_tail()


@pytest.fixture(scope="session")
def results(renderer: render.Renderer) -> dict[str, render.RenderResult]:
    jobs = int(os.environ.get("RENDER_JOBS", "2"))
    return {r.case.id: r for r in renderer.render_all(CASES, jobs=jobs)}


def test_examples_exist() -> None:
    assert CASES, f"no example cases (examples/<kind>/<case>/xr.yaml) under {ROOT / 'examples'}"
    for case in CASES:
        assert case.expected.is_file() or case.expects_error, (
            f"{case.id}: needs expected.yaml (run `make update-examples`) or expected-error.txt"
        )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_render_matches_expected(case: Case, results: dict[str, render.RenderResult]) -> None:
    ok, message = render.check_result(results[case.id])
    assert ok, message


def test_render_is_deterministic(
    renderer: render.Renderer, results: dict[str, render.RenderResult]
) -> None:
    case = next((c for c in CASES if not c.expects_error), None)
    assert case is not None, "no example case that renders successfully"
    first = results[case.id]
    second = renderer.render(case)
    assert first.ok, f"{case.id}: render failed:\n{first.stderr}"
    assert second.ok, f"{case.id}: render failed:\n{second.stderr}"
    assert second.stdout == first.stdout, f"{case.id}: two renders differ"


def test_rendered_output_validates(tools: Tools, results: dict[str, render.RenderResult]) -> None:
    outputs = {cid: r.stdout for cid, r in results.items() if r.ok and not r.case.expects_error}
    unrendered = [cid for cid, r in results.items() if not r.ok and not r.case.expects_error]
    assert outputs, "nothing rendered to validate"
    try:
        shared = shared_dir(ROOT)
    except FileNotFoundError as e:
        pytest.fail(f"{e} (run `make deps` or set SHARED)", pytrace=False)
    report = validate.validate_outputs(outputs, ROOT, shared, tools.crossplane)
    details = "\n".join(report.failures) + "\n" + report.crossplane_output
    assert report.missing_schemas == 0, f"missing schemas:\n{details}"
    assert report.crossplane_invalid == 0, f"crossplane validation failures:\n{details}"
    assert not report.failures, f"validation failures:\n{details}"
    assert report.crossplane_total > 0, details
    assert not unrendered, f"cases that failed to render were not validated: {unrendered}"
