"""A fresh clone: the upstream files downloaded by `make deps`' code alone, then `make render`.

A loopback HTTP server serves a mirror of the local copy ($SHARED) laid out as the upstream
hosts serve it: raw.githubusercontent.com/<repo>/<tag>/<path> for the files, and for each
chart its repository's index.yaml and package, made with `helm package` as the chart's
release pipeline makes it (`stamped`: its --version and --app-version). $UPSTREAM_MIRROR
points every pinned URL at the mirror, so `python -m harness.deps fetch` runs as it does
without a local copy, from the same URLs. What it fetches must be the local copy's files,
byte for byte, and the charts as pinned; `make render` must pass against it; and a mirror
serving other bytes must make the fetch fail, naming the file, and keep nothing of it.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.deps import MIRROR_ENV, Manifest, PinnedChart, chart_listing, mirror_path
from harness.paths import ROOT, go_tool, shared_dir

MANIFEST = Manifest.load()
SHARED = shared_dir(ROOT)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, served dir): GET only, on 127.0.0.1, for this module's tests only."""
    served = tmp_path_factory.mktemp("served")
    handler = functools.partial(_Quiet, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _helm(*args: str | Path, home: Path) -> None:
    env = {**os.environ}
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(home / var)
    subprocess.run([go_tool("helm"), *args], env=env, check=True, capture_output=True)


def publish_chart(chart_dir: Path, pin: PinnedChart, mirror: Path, home: Path) -> None:
    """The chart's package and its repository's index.yaml, where the mirror serves them."""
    repository = mirror / mirror_path(pin.repository)
    repository.mkdir(parents=True, exist_ok=True)
    stamps = [f"--{'app-version' if k == 'appVersion' else k}={v}" for k, v in pin.stamped.items()]
    _helm("package", chart_dir, "--destination", repository, *stamps, home=home)
    _helm("repo", "index", repository, home=home)


def build_mirror(mirror: Path, home: Path) -> None:
    for pin in MANIFEST.files:
        if pin.url is not None:
            target = mirror / mirror_path(pin.url)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(SHARED / pin.file)
    for chart in MANIFEST.charts:
        publish_chart(SHARED / chart.dir, chart, mirror, home)


def fetch(dest: Path, mirror: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness.deps", "fetch", dest, *args]
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, MIRROR_ENV: mirror},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def fetched(server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory the fetch alone filled, from the mirror of the local copy."""
    base, served = server
    build_mirror(served / "good", tmp_path_factory.mktemp("helm"))
    dest = tmp_path_factory.mktemp("fresh") / "upstream"
    done = fetch(dest, f"{base}/good", "--helm", go_tool("helm"))
    assert done.returncode == 0, done.stderr
    return dest


def test_the_fetch_gives_the_local_copys_files_byte_for_byte(fetched: Path) -> None:
    for pin in MANIFEST.files:
        if pin.url is None:  # no public source: given with SHARED= only
            assert not (fetched / pin.file).exists()
        else:
            assert (fetched / pin.file).read_bytes() == (SHARED / pin.file).read_bytes(), pin.file


def test_the_fetch_gives_the_charts_as_pinned(fetched: Path) -> None:
    for pin in MANIFEST.charts:
        got = chart_listing(fetched / pin.dir, pin.stamped)
        assert got == pin.files == chart_listing(SHARED / pin.dir, pin.stamped)
        for rel in set(got) - {"Chart.yaml"}:
            assert (fetched / pin.dir / rel).read_bytes() == (SHARED / pin.dir / rel).read_bytes()


def test_a_second_fetch_downloads_nothing(fetched: Path, server: tuple[str, Path]) -> None:
    done = fetch(fetched, f"{server[0]}/nowhere", "--helm", go_tool("helm"))
    assert done.returncode == 0, done.stderr
    assert "0 downloaded" in done.stderr


def test_make_render_passes_against_the_fetched_files(fetched: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    done = subprocess.run(
        ["make", "-C", ROOT, "render", f"SHARED={fetched}", f"RENDER_OUT={tmp_path / 'out'}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert f"deps: {fetched} holds what upstream.yaml pins" in done.stderr
    assert f"validate: schemas from {fetched}" in done.stderr


def _one(pins: dict[str, object], tmp_path: Path) -> Path:
    manifest = tmp_path / "upstream.yaml"
    manifest.write_text(yaml.safe_dump(pins))
    return manifest


def test_a_file_served_with_other_bytes_fails_the_fetch(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    base, served = server
    pin = next(p for p in MANIFEST.files if p.url and p.file.endswith("secret-v1.json"))
    assert pin.url is not None
    target = served / "bad" / mirror_path(pin.url)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes((SHARED / pin.file).read_bytes().replace(b"Secret", b"Secrets", 1))
    manifest = _one({"files": [vars(pin)], "charts": []}, tmp_path)
    dest = tmp_path / "upstream"
    done = fetch(dest, f"{base}/bad", "--files-only", "--manifest", manifest)
    assert done.returncode == 1
    assert f"deps: {pin.file}: {base}/bad/" in done.stderr
    assert f"pinned {pin.sha256}" in done.stderr
    assert not (dest / pin.file).exists()
    assert list((dest / pin.file).parent.iterdir()) == []


def test_a_chart_published_with_other_templates_fails_the_fetch(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    base, served = server
    pin = next(c for c in MANIFEST.charts if c.chart == "qdrant")
    changed = tmp_path / pin.chart
    # The files' bits, not $SHARED's read-only modes: writing into a read-only copy needs root.
    shutil.copytree(SHARED / pin.dir, changed, copy_function=shutil.copyfile)
    with (changed / "templates/service.yaml").open("a") as f:
        f.write("# one more line\n")
    publish_chart(changed, pin, served / "bad", tmp_path / "helm")
    manifest = _one({"files": [], "charts": [{**vars(pin), "files": dict(pin.files)}]}, tmp_path)
    dest = tmp_path / "upstream"
    done = fetch(dest, f"{base}/bad", "--helm", go_tool("helm"), "--manifest", manifest)
    assert done.returncode == 1
    assert f"deps: {pin.dir}/templates/service.yaml: sha256 " in done.stderr
    assert not (dest / pin.dir).exists()
    assert list((dest / "charts").iterdir()) == []
