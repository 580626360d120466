"""deps/upstream.yaml pins every file the project reads from $SHARED, and $SHARED holds them.

A new dependency cannot slip in unpinned: every file under the directories the project reads
(harness.deps.READ) is pinned, and every path literal of the sources into $SHARED lies in one
of them. How a chart is pinned (its canonical listing) is checked on small charts here, and
against `helm pull` of the real ones in tests/e2e/test_fresh_clone.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.cases import load_yaml_docs
from harness.deps import (
    MIRROR_ENV,
    READ,
    Manifest,
    PinError,
    chart_listing,
    chart_problems,
    listing_problems,
    problems,
    sha256,
    source_url,
)
from harness.paths import ROOT, shared_dir

MANIFEST = Manifest.load()
SHARED = shared_dir(ROOT)
# Where the project's sources name paths under $SHARED.
SOURCES = ("function", "harness", "generate", "tests", "hack", "Makefile", ".ci")


def _pinned_files() -> set[str]:
    return {pin.file for pin in MANIFEST.files}


def _pinned_charts() -> set[str]:
    return {chart.dir for chart in MANIFEST.charts}


# ---------------------------------------------------------------- the local copy


def test_the_local_copy_is_what_is_pinned() -> None:
    assert problems(SHARED, MANIFEST) == []


@pytest.mark.parametrize("root", READ)
def test_every_file_the_project_reads_is_pinned(root: str) -> None:
    if root == "charts":
        found = {str(p.relative_to(SHARED)) for p in (SHARED / root).iterdir() if p.is_dir()}
        assert found == _pinned_charts(), "a chart folder is not pinned, or a pinned one is gone"
        return
    found = {str(p.relative_to(SHARED)) for p in (SHARED / root).rglob("*") if p.is_file()}
    assert found - _pinned_files() == set(), "pin each in deps/upstream.yaml (docs/dependencies.md)"
    downloadable = {p.file for p in MANIFEST.files if p.url and p.file.startswith(f"{root}/")}
    assert downloadable <= found


def test_the_harness_falls_back_to_the_downloaded_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".cache/upstream/crds").mkdir(parents=True)
    monkeypatch.setenv("SHARED", str(tmp_path / "no-local-copy"))
    assert shared_dir(tmp_path) == tmp_path / ".cache/upstream"
    (tmp_path / "copy/crds").mkdir(parents=True)
    monkeypatch.setenv("SHARED", str(tmp_path / "copy"))
    assert shared_dir(tmp_path) == tmp_path / "copy"


def test_every_pin_is_in_a_directory_the_project_reads() -> None:
    def inside(path: str) -> bool:
        return any(path == root or path.startswith(f"{root}/") for root in READ)

    assert [p for p in _pinned_files() | _pinned_charts() if not inside(p)] == []


def test_pins_are_unique_and_complete() -> None:
    files = [pin.file for pin in MANIFEST.files]
    assert len(files) == len(set(files))
    for pin in MANIFEST.files:
        assert re.fullmatch(r"[0-9a-f]{64}", pin.sha256), pin.file
        if pin.url is not None:
            assert pin.url.startswith("https://raw.githubusercontent.com/"), pin.file
    raw = yaml.safe_load((ROOT / "deps/upstream.yaml").read_text())
    for entry in raw["files"]:
        if "url" in entry:  # the raw file at the pinned tag
            assert entry["url"].endswith(f"/{entry['repo']}/{entry['tag']}/{entry['path']}")
        else:
            assert entry.get("source"), f"{entry['file']}: say where it comes from"
    for entry in raw["charts"]:
        assert entry["dir"] == f"charts/{entry['chart']}-{entry['version']}"
        assert {"repo", "tag", "commit", "path", "license"} <= entry.keys()


# ---------------------------------------------------------------- the sources

# A path into $SHARED written in the sources: `$SHARED/...` (docs, shell, make), or a Python
# path built from shared_dir(), SHARED or shared with string literals.
_TEXT = re.compile(r"\$(?:\(SHARED\)|\{SHARED\}|SHARED)/([\w.\-/]*)")
_BASE = re.compile(r"\bshared_dir\([^()]*\)|\bSHARED\b|\bshared\b")
_STEP = re.compile(r"""\s*/\s*(f?)(["'])([^"'\n]*)\2""")
_PATH_CALL = re.compile(r"""\bPath\(\s*(?:SHARED|shared)\s*,\s*(["'])([^"'\n]*)\1""")


def _source_files() -> Iterator[Path]:
    for name in SOURCES:
        top = ROOT / name
        if top.is_file():
            yield top
            continue
        for path in sorted(top.rglob("*")):
            skipped = {"node_modules", "__pycache__"} & set(path.parts) or path == Path(__file__)
            if path.is_file() and not skipped and path.suffix in {".py", ".sh", ".mjs", ""}:
                yield path


def shared_paths(text: str) -> set[str]:
    """The paths under $SHARED a source text names, up to the first part not literal."""
    out = {m[1].rstrip("./") for m in _TEXT.finditer(text)}
    out |= {m[2] for m in _PATH_CALL.finditer(text)}
    for m in _BASE.finditer(text):
        parts, pos = [], m.end()
        while step := _STEP.match(text, pos):
            if step[1] and "{" in step[3]:
                break
            parts.append(step[3])
            pos = step.end()
        if parts:
            out.add("/".join(parts))
    return {p.strip("/") for p in out if p.strip("/")}


def test_the_path_scan_finds_what_it_should() -> None:
    text = (
        'x = shared_dir(ROOT) / "charts" / "valkey-0.11.0"\n'
        "f\"{shared_dir(self.root) / 'crds' / 'crossplane'}\"\n"
        'y = SHARED\n    / "crds/argo-cd/application-crd.yaml"\n'
        'z = Path(SHARED, "charts/qdrant-1.19.0/templates")\n'
        "w = shared / name / 'not-literal'\n"
        "Docs: $SHARED/crds/provider-helm. Make: $(SHARED)/notes/x.md\n"
    )
    assert shared_paths(text) == {
        "charts/valkey-0.11.0",
        "crds/crossplane",
        "crds/argo-cd/application-crd.yaml",
        "charts/qdrant-1.19.0/templates",
        "crds/provider-helm",
        "notes/x.md",
    }


def test_the_sources_read_only_pinned_paths() -> None:
    wrong = []
    for source in _source_files():
        for path in shared_paths(source.read_text(errors="replace")):
            root = next((r for r in READ if path == r or path.startswith(f"{r}/")), None)
            chart = "/".join(path.split("/")[:2])
            if root is None:
                wrong.append(f"{source.relative_to(ROOT)}: {path}: outside {READ}")
            elif root == "charts" and path != root and chart not in _pinned_charts():
                wrong.append(f"{source.relative_to(ROOT)}: {path}: not a pinned chart")
            elif (SHARED / path).is_file() and path not in _pinned_files() and root != "charts":
                wrong.append(f"{source.relative_to(ROOT)}: {path}: not pinned")
    assert wrong == [], "pin it in deps/upstream.yaml and harness.deps.READ (docs/dependencies.md)"


def test_each_pinned_chart_is_a_chart_the_function_installs() -> None:
    installed = set()
    for expected in (ROOT / "examples").glob("*/*/expected.yaml"):
        for doc in load_yaml_docs(expected):
            if doc.get("kind") == "Release" and doc["apiVersion"].startswith("helm."):
                chart = doc["spec"]["forProvider"]["chart"]
                installed.add((chart["repository"], chart["name"], str(chart["version"])))
    for pin in MANIFEST.charts:
        assert (pin.repository, pin.chart, pin.version) in installed, pin.dir


# ---------------------------------------------------------------- charts

CHART_YAML = "apiVersion: v2\nname: demo\nversion: 1.0.0  # stamped on release\ntype: application\n"


def _chart(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_chart_is_pinned_by_what_helm_renders_it_from(tmp_path: Path) -> None:
    chart = _chart(
        tmp_path / "demo",
        {
            "Chart.yaml": CHART_YAML,
            "values.yaml": "a: 1\n",
            "templates/cm.yaml": "kind: ConfigMap\n",
            "templates/.hidden": "skipped by Helm\n",
            "README.md": "not rendered\n",
            "LICENSE": "not rendered\n",
            "tests/unit_test.yaml": "helm-unittest's, not Helm's\n",
            ".helmignore": "tests/\n",
        },
    )
    listing = chart_listing(chart, {})
    assert sorted(listing) == ["Chart.yaml", "templates/cm.yaml", "values.yaml"]
    assert listing["values.yaml"] == sha256(b"a: 1\n")


def test_chart_yaml_is_pinned_as_data_as_helm_package_rewrites_it(tmp_path: Path) -> None:
    source = _chart(tmp_path / "source", {"Chart.yaml": CHART_YAML})
    packaged = _chart(
        tmp_path / "packaged",
        {"Chart.yaml": "apiVersion: v2\nname: demo\ntype: application\nversion: 1.0.0\n"},
    )
    assert chart_listing(source, {}) == chart_listing(packaged, {})
    stamped = _chart(
        tmp_path / "stamped",
        {
            "Chart.yaml": "apiVersion: v2\nappVersion: 2.0.0\nname: demo\ntype: application\n"
            "version: 2.0.0\n"
        },
    )
    stamp = {"version": "2.0.0", "appVersion": "2.0.0"}
    assert chart_listing(source, stamp) == chart_listing(stamped, stamp)
    assert chart_listing(source, {}) != chart_listing(stamped, {})


def test_a_chart_reading_its_other_files_is_refused(tmp_path: Path) -> None:
    chart = _chart(
        tmp_path / "demo",
        {"Chart.yaml": CHART_YAML, "templates/cm.yaml": '{{ .Files.Get "LICENSE" }}\n'},
    )
    with pytest.raises(PinError, match="Files"):
        chart_listing(chart, {})


def test_a_chart_differing_from_its_pin_names_each_file(tmp_path: Path) -> None:
    pin = next(c for c in MANIFEST.charts if c.chart == "valkey")
    assert chart_problems(tmp_path, pin) == [f"{pin.dir}: missing"]
    want = {"a": "1", "b": "2", "c": "3"}
    assert listing_problems("x", want, {"a": "1", "b": "9", "d": "4"}) == [
        "x/c: missing",
        "x/d: not pinned",
        "x/b: sha256 9, pinned 2",
    ]


def test_a_mirror_serves_every_url_under_its_host_and_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "https://raw.githubusercontent.com/o/r/v1/a.yaml"
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert source_url(url) == url
    monkeypatch.setenv(MIRROR_ENV, "http://127.0.0.1:8/m/")
    assert source_url(url) == "http://127.0.0.1:8/m/raw.githubusercontent.com/o/r/v1/a.yaml"
