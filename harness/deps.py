"""The upstream files the project reads from $SHARED: pinned, downloaded, checked.

    python -m harness.deps verify DIR           every pin of deps/upstream.yaml holds in DIR
    python -m harness.deps fetch DIR [--files-only] [--helm PATH]
                                                download what DIR lacks or holds wrong, then verify
    python -m harness.deps pin DIR              write the digests of DIR's copies into the manifest

deps/upstream.yaml pins two kinds of dependency, both laid out under DIR as under $SHARED:
- `files`: one file each (a CRD, a JSON schema, a benchmark peer's input) with its SHA-256
  and the URL it is downloaded from (raw GitHub at the pinned tag or commit). A file with no
  `url` has no public source: it is checked where present and never downloaded.
- `charts`: a Helm chart each, pulled with `helm pull <chart> --repo <repository> --version
  <version>` and pinned by its canonical listing (`chart_listing`).

$UPSTREAM_MIRROR, when set, is a base URL that replaces `https://` in every URL:
https://host/path is fetched from $UPSTREAM_MIRROR/host/path (`mirror_path`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from harness.paths import ROOT

MANIFEST = ROOT / "deps" / "upstream.yaml"
MIRROR_ENV = "UPSTREAM_MIRROR"

# What the project reads under $SHARED, each directory as a whole, so every file in one is
# pinned: crds/ is one argument of `crossplane resource validate` (harness/validate.py);
# schemas/ are looked up by kind and by chart (harness/schemas.py); a chart under charts/ is
# rendered from its folder by `helm template`; bench/patch-and-transform/ holds the P&T peer's
# Compositions (harness/compare.py).
READ = ("crds", "schemas", "charts", "bench/patch-and-transform")

# What `helm template` renders a chart from (Helm's pkg/chart/loader): the metadata, the
# default values and their schema, the templates, the CRDs and subcharts. The rest of the
# folder (README, LICENSE, helm-unittest's tests/, .helmignore) reaches no output unless a
# template reads it through .Files, which `chart_listing` refuses.
_RENDERED_FILES = ("Chart.yaml", "values.yaml", "values.schema.json")
_RENDERED_DIRS = ("templates", "crds", "charts")

_TIMEOUT = 60.0
_ATTEMPTS = 3


class PinError(RuntimeError):
    """What was downloaded, or found, is not what deps/upstream.yaml pins."""


@dataclasses.dataclass(frozen=True)
class PinnedFile:
    """One file: its path under $SHARED, where it comes from and its digest."""

    file: str
    sha256: str
    bytes: int
    url: str | None  # None: no public source; given with SHARED= only


@dataclasses.dataclass(frozen=True)
class PinnedChart:
    """One Helm chart: its folder under $SHARED, its chart repository and its listing."""

    dir: str
    chart: str
    repository: str
    version: str
    # Chart.yaml fields the chart's release pipeline sets when it packages the chart (e.g.
    # `helm package --version --app-version`); the folder at the tag may carry placeholders.
    stamped: Mapping[str, str]
    files: Mapping[str, str]  # the canonical listing: path in the chart -> digest


@dataclasses.dataclass(frozen=True)
class Manifest:
    """deps/upstream.yaml."""

    files: tuple[PinnedFile, ...]
    charts: tuple[PinnedChart, ...]

    @classmethod
    def load(cls, path: Path = MANIFEST) -> Manifest:
        doc = yaml.safe_load(path.read_text())
        files = tuple(
            PinnedFile(e["file"], e["sha256"], int(e["bytes"]), e.get("url")) for e in doc["files"]
        )
        charts = tuple(
            PinnedChart(
                e["dir"],
                e["chart"],
                e["repository"],
                str(e["version"]),
                {k: str(v) for k, v in (e.get("stamped") or {}).items()},
                dict(e["files"]),
            )
            for e in doc.get("charts") or []
        )
        return cls(files, charts)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- charts


def _rendered(rel: PurePosixPath) -> bool:
    if any(part.startswith(".") for part in rel.parts):  # Helm skips templates/.?* too
        return False
    return str(rel) in _RENDERED_FILES or (rel.parts[0] in _RENDERED_DIRS and len(rel.parts) > 1)


def chart_yaml_digest(data: bytes, stamped: Mapping[str, str]) -> str:
    """SHA-256 of Chart.yaml as data, not bytes: its mapping with `stamped` applied, as JSON
    with sorted keys. `helm package` writes Chart.yaml anew from the parsed metadata (Helm's
    pkg/chartutil/save.go), so the published file differs in layout from the one at the tag."""
    meta = yaml.safe_load(data)
    if not isinstance(meta, dict):
        raise PinError("Chart.yaml is not a mapping")
    meta.update(stamped)
    text = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sha256(text.encode())


def chart_listing(chart_dir: Path, stamped: Mapping[str, str]) -> dict[str, str]:
    """The chart's canonical listing: every file `helm template` renders from, by its path in
    the chart, with the SHA-256 of its bytes (Chart.yaml: `chart_yaml_digest`).

    The same for the chart's folder at its tag and for `helm pull` of its published package:
    packaging rewrites Chart.yaml and leaves out what .helmignore names, and nothing else.
    """
    out: dict[str, str] = {}
    for path in sorted(chart_dir.rglob("*")):
        rel = PurePosixPath(path.relative_to(chart_dir).as_posix())
        if not path.is_file() or not _rendered(rel):
            continue
        data = path.read_bytes()
        if rel.parts[0] == "templates" and b".Files" in data:
            raise PinError(
                f"{chart_dir.name}/{rel} reads the chart's other files (.Files): pin every "
                "file of the chart, not only what it renders from (harness/deps.py)"
            )
        if rel.name == "Chart.yaml":  # a subchart's too; the stamps are the chart's own
            out[str(rel)] = chart_yaml_digest(data, stamped if len(rel.parts) == 1 else {})
        else:
            out[str(rel)] = sha256(data)
    if "Chart.yaml" not in out:
        raise PinError(f"{chart_dir}: no Chart.yaml")
    return out


def listing_problems(name: str, want: Mapping[str, str], got: Mapping[str, str]) -> list[str]:
    out = [f"{name}/{p}: missing" for p in sorted(want.keys() - got.keys())]
    out += [f"{name}/{p}: not pinned" for p in sorted(got.keys() - want.keys())]
    out += [
        f"{name}/{p}: sha256 {got[p]}, pinned {want[p]}"
        for p in sorted(want.keys() & got.keys())
        if want[p] != got[p]
    ]
    return out


# ---------------------------------------------------------------- checking


def file_problem(base: Path, pin: PinnedFile) -> str | None:
    """Why base's copy of the file is not the pinned one (None: it is, or it is absent and has
    no public source)."""
    path = base / pin.file
    if not path.is_file():
        return None if pin.url is None else f"{pin.file}: missing"
    size = path.stat().st_size
    if size != pin.bytes:
        return f"{pin.file}: {size} bytes, pinned {pin.bytes}"
    digest = file_sha256(path)
    return None if digest == pin.sha256 else f"{pin.file}: sha256 {digest}, pinned {pin.sha256}"


def chart_problems(base: Path, pin: PinnedChart) -> list[str]:
    folder = base / pin.dir
    if not folder.is_dir():
        return [f"{pin.dir}: missing"]
    try:
        got = chart_listing(folder, pin.stamped)
    except (PinError, yaml.YAMLError) as e:
        return [f"{pin.dir}: {e}"]
    return listing_problems(pin.dir, pin.files, got)


def problems(base: Path, manifest: Manifest) -> list[str]:
    """Every way base differs from the pins (empty: it holds exactly what is pinned)."""
    out = [p for pin in manifest.files if (p := file_problem(base, pin))]
    for chart in manifest.charts:
        out += chart_problems(base, chart)
    return out


# ---------------------------------------------------------------- downloading


def mirror_path(url: str) -> str:
    """host/path of an https:// URL: where a mirror serves it."""
    if not url.startswith("https://"):
        raise ValueError(f"{url}: not an https:// URL")
    return url.removeprefix("https://")


def source_url(url: str) -> str:
    """url, or its copy under $UPSTREAM_MIRROR when that is set."""
    mirror = os.environ.get(MIRROR_ENV)
    return f"{mirror.rstrip('/')}/{mirror_path(url)}" if mirror else url


def download(url: str, dest: Path) -> None:
    """url into dest, retried on errors that may pass (not on an HTTP 4xx)."""
    request = urllib.request.Request(url, headers={"User-Agent": "function-platform deps"})
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as rsp, dest.open("wb") as out:
                shutil.copyfileobj(rsp, out)
            return
        except urllib.error.HTTPError as e:
            if e.code < 500 or attempt == _ATTEMPTS:
                raise PinError(f"{url}: HTTP {e.code}") from e
        except (urllib.error.URLError, OSError) as e:
            if attempt == _ATTEMPTS:
                raise PinError(f"{url}: {e}") from e
        time.sleep(2 * attempt)


def fetch_file(base: Path, pin: PinnedFile) -> bool:
    """Download the file unless base holds it as pinned; True when it was downloaded."""
    path = base / pin.file
    if file_problem(base, pin) is None:
        return False
    if pin.url is None:
        raise PinError(f"{pin.file}: not as pinned, and it has no public source to download")
    url = source_url(pin.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    download(url, part)
    got = file_sha256(part)
    if got != pin.sha256:
        part.unlink()
        raise PinError(f"{pin.file}: {url} has sha256 {got}, pinned {pin.sha256}")
    part.replace(path)
    return True


def helm_pull(helm: Path, pin: PinnedChart, into: Path) -> Path:
    """`helm pull --untar` of the pinned chart into a new folder under into; its path."""
    env = {**os.environ}
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(into / "helm-home" / var)
    repository = source_url(pin.repository)
    command = [
        str(helm),
        "pull",
        pin.chart,
        "--repo",
        repository,
        "--version",
        pin.version,
        "--untar",
        "--untardir",
        str(into / "chart"),
    ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise PinError(
            f"{pin.dir}: helm pull {pin.chart} --repo {repository} --version "
            f"{pin.version}: {done.stderr.strip()}"
        )
    return into / "chart" / pin.chart


def fetch_chart(base: Path, pin: PinnedChart, helm: Path) -> bool:
    """Pull the chart unless base holds it as pinned; True when it was pulled."""
    if not chart_problems(base, pin):
        return False
    target = base / pin.dir
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pull-") as tmp:
        pulled = helm_pull(helm, pin, Path(tmp))
        wrong = listing_problems(pin.dir, pin.files, chart_listing(pulled, pin.stamped))
        if wrong:
            raise PinError("; ".join(wrong))
        shutil.rmtree(target, ignore_errors=True)
        pulled.replace(target)
    return True


def fetch(base: Path, manifest: Manifest, helm: Path | None) -> list[str]:
    """Download into base what it lacks or holds wrong (the charts only with helm); the
    problems met, each naming the file (empty: base holds every pinned file and chart)."""
    if manifest.charts and helm is None:
        raise ValueError("fetching the charts needs helm")
    out: list[str] = []
    fetched = 0
    for pin in manifest.files:
        if pin.url is None and not (base / pin.file).exists():
            continue
        try:
            fetched += fetch_file(base, pin)
        except PinError as e:
            out.append(str(e))
    for chart in manifest.charts:
        assert helm is not None
        try:
            fetched += fetch_chart(base, chart, helm)
        except (PinError, subprocess.TimeoutExpired, yaml.YAMLError) as e:
            out.append(str(e))
    print(f"deps: {fetched} downloaded into {base}", file=sys.stderr)
    return out


# ---------------------------------------------------------------- pinning


def pin(base: Path, path: Path = MANIFEST) -> None:
    """Write bytes and sha256 of every file, and the listing of every chart, as base holds
    them, into the manifest at path. Its leading comment is kept; other comments are not."""
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    header = "".join(itertools.takewhile(lambda line: line.startswith("#"), lines))
    doc: dict[str, Any] = yaml.safe_load(text)
    for entry in doc["files"]:
        found = base / entry["file"]
        if not found.is_file():
            raise PinError(f"{entry['file']}: not in {base}")
        entry["bytes"] = found.stat().st_size
        entry["sha256"] = file_sha256(found)
    for entry in doc.get("charts") or []:
        stamped = {k: str(v) for k, v in (entry.get("stamped") or {}).items()}
        entry["files"] = chart_listing(base / entry["dir"], stamped)
    body = yaml.safe_dump(doc, sort_keys=False, width=1000, allow_unicode=True)
    path.write_text(header + body)


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=("verify", "fetch", "pin"))
    parser.add_argument("dir", type=Path, help="laid out as $SHARED")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--helm", type=Path, help="fetch: the helm binary, for the charts")
    parser.add_argument("--files-only", action="store_true", help="leave the charts out")
    args = parser.parse_args(argv)
    base: Path = args.dir.resolve()
    if args.command == "pin":
        pin(base, args.manifest)
        return 0
    manifest = Manifest.load(args.manifest)
    if args.files_only:
        manifest = dataclasses.replace(manifest, charts=())
    if args.command == "fetch":
        if not args.files_only and args.helm is None:
            parser.error("fetch: give --helm PATH, or --files-only")
        found = fetch(base, manifest, args.helm) or problems(base, manifest)
    else:
        found = problems(base, manifest)
    for problem in found:
        print(f"deps: {problem}", file=sys.stderr)
    if found:
        print(
            f"deps: {base} is not what {args.manifest} pins: {len(found)} problem(s)",
            file=sys.stderr,
        )
        return 1
    print(
        f"deps: {base} holds what {args.manifest.name} pins ({len(manifest.files)} files, "
        f"{len(manifest.charts)} charts)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
