"""The test harness's own logic: what would silently make every other check meaningless."""

from __future__ import annotations

import base64
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function import response_cache, runner
from function.input import SETTINGS_REQUIREMENT
from function.runner import run
from function.structs import api_group, to_dict
from harness import phases, process
from harness.bench import cpu_seconds, peak_rss_mib
from harness.cases import (
    JSON,
    Case,
    example_credentials,
    find_cases,
    fold_string_data,
    group_kind,
    load_yaml_docs,
    split_api_version,
)
from harness.paths import ROOT, Tools
from harness.render import Renderer, RenderResult, check_result, update_case, write_output
from harness.requests import (
    PASSWORD_KEY,
    LocalCall,
    answer_requirements,
    answered_case_request,
    case_request,
    connection_details,
    request,
    xr,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_files(root: Path, files: dict[str, Any]) -> None:
    """Write {relative path: text, or a list of documents as multi-document YAML}."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else yaml.safe_dump_all(content)
        path.write_text(text)


# ---------------------------------------------------------------- api versions


@pytest.mark.parametrize(
    ("api_version", "group", "version"),
    [
        pytest.param("v1", "", "v1", id="the core group has no group part"),
        pytest.param("apps/v1", "apps", "v1", id="a built-in group"),
        pytest.param(
            "database.platform.example.org/v1alpha1",
            "database.platform.example.org",
            "v1alpha1",
            id="a custom group keeps its dots",
        ),
        pytest.param("", "", "", id="no apiVersion is the core group, not an error"),
    ],
)
def test_api_group(api_version: str, group: str, version: str) -> None:
    assert api_group(api_version) == group
    assert split_api_version(api_version) == (group, version)


def test_group_kind_reads_the_group_not_the_version() -> None:
    doc = {"apiVersion": "helm.m.crossplane.io/v1beta1", "kind": "Release"}
    assert group_kind(doc) == ("helm.m.crossplane.io", "Release")


# ---------------------------------------------------------------- Secrets


@pytest.mark.parametrize(
    ("secret", "data"),
    [
        pytest.param(
            {"kind": "Secret", "stringData": {"password": "s3cret"}},
            {"password": b64("s3cret")},
            id="stringData becomes base64 data",
        ),
        pytest.param(
            {
                "kind": "Secret",
                "data": {"a": b64("old"), "b": b64("kept")},
                "stringData": {"a": "new"},
            },
            {"a": b64("new"), "b": b64("kept")},
            id="stringData wins over data for a key in both, as on a cluster",
        ),
        pytest.param(
            {"kind": "Secret", "stringData": {"port": 5432}},
            {"port": b64("5432")},
            id="a YAML number is stored as its text",
        ),
        pytest.param(
            {"kind": "Secret", "data": {"a": b64("x")}},
            {"a": b64("x")},
            id="a Secret without stringData keeps its data",
        ),
    ],
)
def test_fold_string_data(secret: JSON, data: dict[str, str]) -> None:
    before = yaml.safe_dump(secret)
    folded = fold_string_data(secret)
    assert folded["data"] == data
    assert "stringData" not in folded
    assert yaml.safe_dump(secret) == before, "the input must not be changed"


def test_example_credentials_fold_secrets_only(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "examples/credentials.yaml": [
                {"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}},
                {"kind": "Other", "stringData": {"k": "v"}},
            ]
        },
    )
    secret, other = example_credentials(tmp_path)
    assert secret["data"] == {"k": b64("v")}
    assert other == {"kind": "Other", "stringData": {"k": "v"}}


def test_no_credentials_file_means_no_credentials(tmp_path: Path) -> None:
    assert example_credentials(tmp_path) == []


# ---------------------------------------------------------------- finding cases


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    write_files(
        tmp_path,
        {
            "examples/redis/prod/xr.yaml": "{}",
            "examples/redis/dev/xr.yaml": "{}",
            "examples/pg/dev/xr.yaml": "{}",
            "examples/pg/notes/README.md": "not a case: no xr.yaml",
        },
    )
    return tmp_path


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        pytest.param((), ["pg/dev", "redis/dev", "redis/prod"], id="no filter: all, sorted"),
        pytest.param(
            ("dev",), ["pg/dev", "redis/dev"], id="a filter matches anywhere in kind/case"
        ),
        pytest.param(("redis/",), ["redis/dev", "redis/prod"], id="kind/ selects one kind"),
        pytest.param(("prod", "pg"), ["pg/dev", "redis/prod"], id="several filters: any of them"),
        pytest.param(("staging",), [], id="a filter that matches nothing selects nothing"),
    ],
)
def test_find_cases(examples: Path, filters: tuple[str, ...], ids: list[str]) -> None:
    cases = find_cases(examples, filters)
    assert [c.id for c in cases] == ids
    assert all(c.root == examples for c in cases)


# ---------------------------------------------------------------- golden files


def make_case(root: Path, files: dict[str, str]) -> Case:
    write_files(root, {f"examples/widget/one/{name}": text for name, text in files.items()})
    return Case("widget", "one", root / "examples/widget/one")


GOLDEN = {"expected.yaml": "a: 1\n"}
ERROR = "bad size\n\n  must be >= 1  \n"  # every non-blank line must be in stderr
# (why, files of the case, (exit code, stdout, stderr), passes, part of the explanation)
CHECKS = [
    ("identical output passes", GOLDEN, (0, "a: 1\n", ""), True, "matches"),
    ("different output fails with a diff", GOLDEN, (0, "a: 2\n", ""), False, "-a: 1\n+a: 2\n"),
    ("a missing final newline fails", GOLDEN, (0, "a: 1", ""), False, "one/expected.yaml"),
    ("a failed render fails with its stderr", GOLDEN, (1, "", "boom"), False, "exited 1:\nboom"),
    ("no expected.yaml: says how to make one", {}, (0, "", ""), False, "make update-examples"),
    ("error expected and found", {"expected-error.txt": ERROR}, (1, "", "bad size: must be >= 1"),
     True, "failed as expected"),
    ("error expected, a line missing", {"expected-error.txt": ERROR}, (1, "", "bad size"),
     False, "lacks:\n    must be >= 1\n"),
    ("error expected, render succeeded", {"expected-error.txt": ERROR}, (0, "", ""),
     False, "but it exited 0"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("files", "result", "ok", "message"), [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS]
)
def test_check_result(
    tmp_path: Path, files: dict[str, str], result: tuple[int, str, str], ok: bool, message: str
) -> None:
    case = make_case(tmp_path, {"xr.yaml": "{}", **files})
    passed, explanation = check_result(RenderResult(case, [], *result))
    assert passed is ok, explanation
    assert message in explanation


@pytest.mark.parametrize(
    ("old", "message"),
    [
        pytest.param(None, "created", id="a new case gets its expected.yaml"),
        pytest.param("a: 1\n", "updated", id="a changed output is written"),
        pytest.param("a: 2\n", "unchanged", id="the same output leaves the file alone"),
    ],
)
def test_update_case(tmp_path: Path, old: str | None, message: str) -> None:
    case = make_case(tmp_path, {"xr.yaml": "{}"} | ({} if old is None else {"expected.yaml": old}))
    passed, explanation = update_case(RenderResult(case, [], 0, "a: 2\n", ""))
    assert passed, explanation
    assert message in explanation
    assert case.expected.read_text() == "a: 2\n"


def test_update_case_never_writes_a_failed_render(tmp_path: Path) -> None:
    case = make_case(tmp_path, {"xr.yaml": "{}", "expected.yaml": "a: 1\n"})
    passed, _ = update_case(RenderResult(case, [], 1, "partial", "boom"))
    assert not passed
    assert case.expected.read_text() == "a: 1\n"


@pytest.mark.parametrize(
    ("rc", "written", "removed"),
    [
        pytest.param(0, "one.yaml", "one.err", id="an output replaces a stale error"),
        pytest.param(1, "one.err", "one.yaml", id="an error replaces a stale output"),
    ],
)
def test_write_output(tmp_path: Path, rc: int, written: str, removed: str) -> None:
    case = make_case(tmp_path, {"xr.yaml": "{}"})
    out = tmp_path / "out"
    write_files(out, {f"widget/{removed}": "stale"})
    write_output(out, RenderResult(case, [], rc, "a: 1\n", "boom"))
    assert (out / "widget" / written).read_text() == ("a: 1\n" if rc == 0 else "boom")
    assert not (out / "widget" / removed).exists()


# ---------------------------------------------------------------- requests from a case

STEP_INPUT = {"apiVersion": "fn.platform.example.org/v1beta1", "kind": "Input", "spec": {"x": 1}}
WIDGET_XR = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}}


def observed(name: str, kind: str) -> JSON:
    annotations = {"crossplane.io/composition-resource-name": name}
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": f"w-{name}", "annotations": annotations},
    }


@pytest.fixture
def widget_case(tmp_path: Path) -> Case:
    creds_ref = {"namespace": "crossplane-system", "name": "fn"}
    step = {
        "step": "compose",
        "input": STEP_INPUT,
        "credentials": [
            {"name": "platform", "source": "Secret", "secretRef": creds_ref},
            {"name": "absent", "source": "Secret", "secretRef": {**creds_ref, "name": "none"}},
        ],
    }
    write_files(
        tmp_path,
        {
            "compositions/widget.yaml": [{"spec": {"pipeline": [step]}}],
            "examples/credentials.yaml": [
                {
                    "kind": "Secret",
                    "metadata": creds_ref,
                    "data": {"from-data": b64("d")},
                    "stringData": {"password-key": "k"},
                },
                # Same name in another namespace: not the step's Secret.
                {
                    "kind": "Secret",
                    "metadata": {"namespace": "other", "name": "fn"},
                    "stringData": {"password-key": "wrong"},
                },
            ],
            "examples/widget/one/xr.yaml": [WIDGET_XR],
            "examples/widget/one/observed.yaml": [
                observed("db", "Secret"),
                observed("cm", "ConfigMap"),
            ],
        },
    )
    return Case("widget", "one", tmp_path / "examples/widget/one")


def test_case_request_is_what_crossplane_sends(widget_case: Case) -> None:
    req = case_request(widget_case)
    assert to_dict(req.observed.composite.resource) == WIDGET_XR
    assert {k: to_dict(v.resource) for k, v in req.observed.resources.items()} == {
        "db": observed("db", "Secret"),
        "cm": observed("cm", "ConfigMap"),
    }, "observed resources are keyed by their composition-resource-name annotation"
    assert to_dict(req.input) == STEP_INPUT, "the input is the Composition step's"
    assert {k: dict(v.credential_data.data) for k, v in req.credentials.items()} == {
        "platform": {"password-key": b"k", "from-data": b"d"}
    }, "credentials come from the Secret the step names, stringData folded"
    assert {k: len(v.items) for k, v in req.required_resources.items()} == {
        SETTINGS_REQUIREMENT: 0
    }, "only what the step asks for up front, the settings, is required (none here)"


def test_a_case_input_replaces_the_step_input_spec(widget_case: Case) -> None:
    settings = {"redisInstance": {"storageClass": "fast"}}
    write_files(widget_case.dir, {"input.yaml": [settings]})
    step = widget_case.composition_doc()["spec"]["pipeline"][0]
    assert step["input"] == STEP_INPUT | {"spec": settings}, "only the spec is the case's"
    assert to_dict(case_request(widget_case).input)["spec"] == settings
    write_files(widget_case.root, {"examples/functions.yaml": [{"kind": "Function"}]})
    tools = Tools(Path("crossplane"), Path("crossplane-core"))
    renderer = Renderer(tools, "127.0.0.1:1", widget_case.root)
    with renderer:
        composition = Path(renderer.command(widget_case)[4])
        assert composition != widget_case.composition, "the kind's Composition is left as it is"
        assert load_yaml_docs(composition)[0]["spec"]["pipeline"][0]["input"]["spec"] == settings


def selector(name: str, kind: str = "Secret", namespace: str = "") -> fnv1.ResourceSelector:
    return fnv1.ResourceSelector(api_version="v1", kind=kind, match_name=name, namespace=namespace)


AUTH = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "auth", "namespace": "shop"}}


@pytest.mark.parametrize(
    ("sel", "answered"),
    [
        pytest.param(selector("auth"), True, id="the named object is answered"),
        pytest.param(selector("auth", namespace="shop"), True, id="in the namespace asked for"),
        pytest.param(selector("auth", namespace="dev"), False, id="not from another namespace"),
        pytest.param(selector("auth", kind="ConfigMap"), False, id="not an object of another kind"),
        pytest.param(selector("other"), False, id="not an object of another name"),
    ],
)
def test_answer_requirements(sel: fnv1.ResourceSelector, answered: bool) -> None:
    req = fnv1.RunFunctionRequest()
    requirements = fnv1.Requirements()
    requirements.resources["password"].CopyFrom(sel)
    answer_requirements(req, requirements, [AUTH])
    got = [to_dict(i.resource) for i in req.required_resources["password"].items]
    assert got == ([AUTH] if answered else [])


def test_answered_request_of_an_example_has_what_the_function_asked_for() -> None:
    (case,) = find_cases(ROOT, ["redisinstance/user-password"])
    (wanted,) = case.optional_docs("required.yaml")
    req = answered_case_request(case, run)
    assert [to_dict(i.resource) for r in req.required_resources.values() for i in r.items] == [
        wanted
    ]
    assert not [r.message for r in run(req).results], "the answered request composes cleanly"


def _managed(namespace: str, ref: JSON | None) -> JSON:
    spec = {"writeConnectionSecretToRef": ref} if ref is not None else {}
    return {"kind": "AccessKey", "metadata": {"name": "k", "namespace": namespace}, "spec": spec}


CONNECTION = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "key", "namespace": "infra"},
    "data": {"username": base64.b64encode(b"AKIA").decode(), "password": "c2VjcmV0"},
}


@pytest.mark.parametrize(
    ("observed", "found"),
    [
        pytest.param(_managed("infra", {"name": "key"}), True, id="namespaced: own namespace"),
        pytest.param(_managed("other", {"name": "key"}), False, id="namespaced: not elsewhere"),
        pytest.param(
            _managed("", {"name": "key", "namespace": "infra"}), True, id="cluster: ref namespace"
        ),
        pytest.param(_managed("infra", {"name": "nope"}), False, id="no such Secret"),
        pytest.param(_managed("infra", None), False, id="no writeConnectionSecretToRef"),
    ],
)
def test_connection_details_are_read_as_crossplane_reads_them(observed: JSON, found: bool) -> None:
    got = connection_details({"access-key": observed}, [CONNECTION])
    assert got == ({"access-key": {"username": b"AKIA", "password": b"secret"}} if found else {})


def test_an_example_carries_its_connection_details_into_the_request() -> None:
    (case,) = find_cases(ROOT, ["mlopsplatform/ready"])
    req = case_request(case)
    details = dict(req.observed.resources["access-key"].connection_details)
    assert set(details) == {"username", "password"}
    assert all(
        not r.connection_details for n, r in req.observed.resources.items() if n != "access-key"
    )


def test_request_from_parts_wraps_settings_in_the_input() -> None:
    req = request(xr("example.org/v1", "Widget", {}), settings={"ttl": {}})
    assert to_dict(req.input) == {
        "apiVersion": "fn.platform.example.org/v1beta1",
        "kind": "Input",
        "spec": {"ttl": {}},
    }
    assert req.credentials["platform"].credential_data.data["password-key"] == PASSWORD_KEY


# ---------------------------------------------------------------- processes


def python(code: str, tmp_path: Path) -> process.Process:
    return process.start("child", [sys.executable, "-c", code], log_path=tmp_path / "child.log")


def test_waiting_for_a_port_fails_fast_when_the_process_exits(tmp_path: Path) -> None:
    child = python("print('bad flag'); raise SystemExit(3)", tmp_path)
    started = time.monotonic()
    with pytest.raises(process.ProcessExitedError, match=r"code 3:\n  child\| bad flag"):
        process.wait_for_port("127.0.0.1", process.free_port(), 30, child)
    assert time.monotonic() - started < 10


def test_waiting_gives_up_after_the_timeout() -> None:
    with pytest.raises(TimeoutError, match=r"never: not ready within 0\.2s"):
        process.wait_until(lambda: False, 0.2, "never")


@pytest.mark.parametrize(
    ("ignores_sigterm", "returncode"),
    [
        pytest.param(False, -signal.SIGTERM, id="a process that stops on SIGTERM is terminated"),
        pytest.param(True, -signal.SIGKILL, id="one that ignores SIGTERM is killed"),
    ],
)
def test_stop(tmp_path: Path, ignores_sigterm: bool, returncode: int) -> None:
    ignore = "signal.signal(signal.SIGTERM, signal.SIG_IGN); " if ignores_sigterm else ""
    child = python(
        f"import signal, time; {ignore}print('up', flush=True); time.sleep(60)", tmp_path
    )
    process.wait_until(lambda: "up" in child.log_text(), 20, "child", child)
    child.stop(timeout=0.5)
    assert child.popen.returncode == returncode
    assert not child.alive()


def test_bench_counts_the_cpu_and_memory_of_a_servers_workers(tmp_path: Path) -> None:
    """A server with --workers is a supervisor that only waits: figures of it alone are 0."""
    worker = "\n".join(
        [
            "import time",
            "held = b'x' * (64 * 1024 * 1024)",
            "while time.process_time() < 0.3: pass",
            "time.sleep(60)",
        ]
    )
    supervisor = process.start(
        "supervisor",
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {worker!r}])",
        ],
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 30
        while cpu_seconds(supervisor.pid) < 0.3:
            assert time.monotonic() < deadline, "the worker's CPU time was never counted"
            time.sleep(0.05)
        assert len(process.tree(supervisor.pid)) == 2
        assert peak_rss_mib(supervisor.pid) > 64
    finally:
        supervisor.stop()


# ---------------------------------------------------------------- the benchmarks' reports


def test_servers_taking_blocks_in_turn_each_go_first_as_often() -> None:
    from harness import compare  # noqa: PLC0415 (its imports are the benchmark's)

    # The machine's speed drifts: the server going first in every block would be measured
    # at another speed than the others, so across blocks each one leads in turn.
    orders = [compare.turns(3, first) for first in range(6)]
    assert all(sorted(order) == [0, 1, 2] for order in orders), "each server once a block"
    assert [order[0] for order in orders] == [0, 1, 2, 0, 1, 2]


def test_the_comparison_heads_with_composing_and_gives_every_case_on_both_cores() -> None:
    from harness import compare  # noqa: PLC0415 (its imports are the benchmark's)

    def figures(p50: float, rps: float) -> compare.Figures:
        return compare.Figures([p50], [rps])

    cases = ["redisinstance/dev", "redisinstance/ready"]
    results = compare.Results(
        figures={c: (figures(0.5, 3000), figures(0.3, 8000), figures(0.4, 3500)) for c in cases},
        composed=dict.fromkeys(cases, (compare.Answered(2, 1344), compare.Answered(1, 650))),
        rss=dict.fromkeys(
            ["composing", "cached", "peer", "composing_peak", "cached_peak", "peer_peak"], 50.0
        ),
        wide=[(c, 3300.0, 6000.0, 3800.0) for c in cases],
        skipped=[],
        starts=[],
        load_before="0.1 / 0.1 / 0.1",
        load_after="0.2 / 0.2 / 0.2",
    )
    plan = compare.Plan(Path("function-patch-and-transform"), 3, 2, 5, 4)
    lines = compare.report(plan, results).splitlines()
    head = next(line for line in lines if line.startswith("| case | answers"))
    assert [c.strip() for c in head.split("|")[3:8]] == [
        "P&T p50 (c=1)",
        "composing",
        "ratio",
        "cached",
        "ratio",
    ]
    # composing 0.5 ms against P&T's 0.4; cached 0.3 ms
    assert (
        "| redisinstance/dev | 2 (1344 B) / 1 (650 B) | 0.40 ms | 0.50 ms | 1.25x | 0.30 ms "
        "| 0.75x |" in "\n".join(lines)
    )
    wide = [line for line in lines if line.endswith("| 1.58x |")]
    assert [line.split("|")[1].strip() for line in wide] == cases  # 6000 / 3800, every case
    assert all("| 3300 | 0.87x |" in line for line in wide)


def test_bench_phases_times_every_phase_the_runner_goes_through() -> None:
    # harness.phases wraps the runner's functions by name: one the runner no longer calls
    # leaves its phase at zero and moves its time into "other", unnoticed.
    case = next(c for c in find_cases() if c.id == "redisinstance/ready")
    data = answered_case_request(case, run).SerializeToString()
    serving = runner.FunctionRunner(response_cache.ResponseCache(0))
    clock = phases.PhaseClock()
    with phases.instrumented(clock):
        serving.serve(data, LocalCall())
    measured = [p for p in phases.PHASES if p not in ("digest", "serialize", "other")]
    assert {p: clock.calls[p] for p in measured if clock.calls[p] == 0} == {}
