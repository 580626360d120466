"""An OCI registry on loopback serving this project's packages over TLS, as a user's would.

distribution v3 (`make e2e-registry`, tools/registry/go.mod) with a certificate of the
control plane's CA; the packages `make package` built are pushed with `crossplane xpkg push`,
as docs/install.md does, each under the repository its package reference names.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import yaml

from generate import release
from harness import process
from harness.paths import go_tool


def config(storage: Path, address: str, crt: Path, key: Path) -> str:
    """The registry's configuration (distribution v3.1.2 docs/content/about/configuration.md).

    A fixed http.secret: without one the registry logs a warning on every start.
    """
    return yaml.safe_dump(
        {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(storage)}},
            "http": {
                "addr": address,
                "secret": "e2e-registry-upload-state",
                "tls": {"certificate": str(crt), "key": str(key)},
            },
        }
    )


def start(directory: Path, crt: Path, key: Path, root: Path) -> tuple[process.Process, str]:
    """The running registry and its host (127.0.0.1:PORT)."""
    directory.mkdir(parents=True, exist_ok=True)
    host = f"127.0.0.1:{process.free_port()}"
    cfg = directory / "config.yml"
    cfg.write_text(config(directory / "storage", host, crt, key))
    proc = process.start(
        "registry",
        [str(go_tool("registry", root)), "serve", str(cfg)],
        log_path=directory / "registry.log",
    )
    addr, _, port = host.rpartition(":")
    process.wait_until(lambda: process.port_open(addr, int(port)), 60, "registry", proc)
    return proc, host


def package_files(package_dir: Path, version: str) -> dict[str, list[Path]]:
    """What `make package` wrote, by repository: the Function's one file per platform (pushed
    as one index) and one file per Configuration (hack/build-packages.sh names)."""
    out: dict[str, list[Path]] = {}
    for path in sorted(package_dir.glob(f"*-{version}*.xpkg")):
        repo = path.name.split(f"-{version}")[0]
        out.setdefault(repo, []).append(path)
    if release.FUNCTION not in out:
        raise FileNotFoundError(
            f"no {release.FUNCTION}-{version}-*.xpkg in {package_dir}: run `make package` first"
        )
    return out


def push(crossplane: Path, files: Sequence[Path], reference: str, ca: Path, log: Path) -> None:
    """`crossplane xpkg push -f a,b reference`, trusting the registry's CA (SSL_CERT_FILE is
    what Go's crypto/x509 reads on Linux)."""
    result = subprocess.run(
        [str(crossplane), "xpkg", "push", "-f", ",".join(map(str, files)), reference],
        env={**os.environ, "SSL_CERT_FILE": str(ca)},
        capture_output=True,
        text=True,
        check=False,
    )
    with log.open("a") as f:
        f.write(f"$ xpkg push {reference}\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        raise RuntimeError(f"xpkg push {reference} failed:\n{result.stderr[-2000:]}")
