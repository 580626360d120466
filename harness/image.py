"""The built packages (make package) taken apart, and the runtime image run as Crossplane runs it.

- `Tarball`: an image or xpkg tarball (docker-save format, as crane and `crossplane xpkg
  build` write them), or one image of an OCI image layout tarball: config, layers, each
  layer's files.
- `Index`: the runtime image's index (an OCI image layout tarball, image-spec
  image-layout.md, whose index.json names one image index): its platforms' images.
- `elf_machines`: every ELF file of an image and the machine it is built for.
- `unpack`: the image's root file system in a directory, layer by layer.
- `tls_dir`: certificates laid out as Crossplane mounts them into a function's pod
  (crossplane internal/controller/pkg/runtime: the tls-server Secret at /tls/server with
  tls.crt, tls.key, ca.crt, and TLS_SERVER_CERTS_DIR naming it; the server certificate's
  DNS names from internal/initializer/tls.go DNSNamesForService), and a client certificate
  from the same CA, as Crossplane's /tls/client holds.
- `ImageFunction`: the image's own entrypoint and command, run in the unpacked root with
  chroot as the user install/packages.yaml's DeploymentRuntimeConfig runs the pod as, on a
  loopback port.
- `TLSBridge`: `crossplane composition render` only speaks plaintext to a Development
  function (cli render/runtime_development.go), so a plaintext gRPC listener forwards each
  call over mutual TLS, verifying the server's name as Crossplane's client does
  (dns:///<service>.<namespace>:9443, crossplane-runtime certificates.LoadMTLSConfig).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import tarfile
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import grpc

from generate import install, release
from generate.configuration import CATALOGUE, capabilities
from harness import process
from harness.paths import ROOT

JSON = dict[str, Any]
PACKAGE_DIR = Path(os.environ.get("PACKAGE_OUT") or ROOT / "build/package")
# What Crossplane names the function's Service and where it runs: the Function object's name
# (internal/controller/pkg/runtime/runtime.go, Service).
SERVICE, NAMESPACE = release.default().function_name, "crossplane-system"
SERVER_CERTS_DIR = "/tls/server"
# The image's platforms, each with the ELF machine of its binaries (e_machine: EM_X86_64,
# EM_AARCH64 of glibc's elf.h).
PLATFORMS = {"linux/amd64": 62, "linux/arm64": 183}


def pod_user() -> str:
    """uid:gid the function's container runs as: install/packages.yaml's runtime config."""
    pod = install.runtime_config()["spec"]["deploymentTemplate"]["spec"]["template"]["spec"]
    context = pod["containers"][0]["securityContext"]
    return f"{context['runAsUser']}:{context['runAsGroup']}"


@dataclass(frozen=True)
class Layer:
    digest: str  # of the compressed blob, as the registry stores it
    path: str  # inside the tarball


class Tarball:
    """An image in a tarball: its config blob and gzipped layers, each a member of the tarball.

    Docker-save (manifest.json); or, given one of its image manifests, an OCI image layout.
    """

    def __init__(self, path: Path, manifest: JSON | None = None) -> None:
        self.path = path
        with tarfile.open(path) as tar:
            if manifest is None:
                saved = json.load(_member(tar, "manifest.json"))[0]
                self.config_digest = str(saved["Config"])  # the member is named by its digest
                config_path, layer_paths = saved["Config"], saved["Layers"]
                digests = [
                    "sha256:" + name.split(".", 1)[0].removeprefix("sha256:")
                    for name in layer_paths
                ]
            else:
                self.config_digest = str(manifest["config"]["digest"])
                config_path = _blob(self.config_digest)
                digests = [str(la["digest"]) for la in manifest["layers"]]
                layer_paths = [_blob(d) for d in digests]
            self.config: JSON = json.load(_member(tar, config_path))
        self.layers = [Layer(d, p) for d, p in zip(digests, layer_paths, strict=True)]

    def layer_files(self, layer: Layer) -> dict[str, tarfile.TarInfo]:
        with tarfile.open(self.path) as tar, tarfile.open(fileobj=_member(tar, layer.path)) as lt:
            return {m.name.removeprefix("./"): m for m in lt.getmembers()}

    def read(self, layer: Layer, name: str) -> bytes:
        with tarfile.open(self.path) as tar, tarfile.open(fileobj=_member(tar, layer.path)) as lt:
            f = lt.extractfile(name) or lt.extractfile("./" + name)
            if f is None:
                raise KeyError(f"{name} is not a file in {layer.path}")
            return f.read()

    def sizes(self) -> tuple[int, int]:
        """(compressed bytes of all layers, bytes of all regular files unpacked)."""
        compressed = unpacked = 0
        with tarfile.open(self.path) as tar:
            for layer in self.layers:
                info = tar.getmember(layer.path)
                compressed += info.size
                with tarfile.open(fileobj=tar.extractfile(info)) as lt:
                    unpacked += sum(m.size for m in lt.getmembers() if m.isfile())
        return compressed, unpacked


def _member(tar: tarfile.TarFile, name: str) -> Any:
    f = tar.extractfile(name)
    if f is None:
        raise KeyError(f"{name} is not a file in {tar.name!r}")
    return f


def _blob(digest: str) -> str:
    """Where an OCI image layout keeps a blob: blobs/<algorithm>/<encoded>."""
    return "blobs/" + digest.replace(":", "/", 1)


class Index:
    """An OCI image layout tarball whose index.json names one image index: its images."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with tarfile.open(path) as tar:
            (entry,) = json.load(_member(tar, "index.json"))["manifests"]
            self.digest = str(entry["digest"])
            self.index: JSON = json.load(_member(tar, _blob(self.digest)))
            self.manifests = {
                platform_of(d): json.load(_member(tar, _blob(d["digest"])))
                for d in self.index["manifests"]
            }

    def image(self, platform: str) -> Tarball:
        return Tarball(self.path, self.manifests[platform])


def platform_of(descriptor: JSON) -> str:
    """os/architecture of an index's manifest descriptor (or of an image config)."""
    p = descriptor.get("platform", descriptor)
    return f"{p['os']}/{p['architecture']}"


def elf_machines(image: Tarball) -> dict[str, int]:
    """Every ELF file of the image (by path) and its machine (the ELF header's e_machine)."""
    machines = {}
    with tarfile.open(image.path) as tar:
        for layer in image.layers:
            with tarfile.open(fileobj=_member(tar, layer.path)) as lt:
                for member in lt:
                    f = lt.extractfile(member) if member.isfile() else None
                    header = f.read(20) if f is not None else b""
                    # e_ident: magic, class, data (1: little-endian); then e_type, e_machine.
                    if len(header) == 20 and header[:4] == b"\x7fELF":
                        order: Literal["little", "big"] = "little" if header[5] == 1 else "big"
                        name = member.name.removeprefix("./")
                        machines[name] = int.from_bytes(header[18:20], order)
    return machines


def unpack(image: Tarball, dest: Path) -> Path:
    """The image's root file system in dest (layers in order; this image has no whiteouts)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(image.path) as tar:
        for layer in image.layers:
            with tarfile.open(fileobj=_member(tar, layer.path)) as lt:
                whiteouts = [m.name for m in lt.getmembers() if "/.wh." in "/" + m.name]
                if whiteouts:
                    raise ValueError(f"{layer.path}: whiteouts not supported: {whiteouts[:3]}")
                lt.extractall(dest, filter="fully_trusted")  # our own image; keeps modes, owners
    return dest


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def tls_dir(dest: Path) -> tuple[Path, Path]:
    """(server dir, client dir), each holding tls.crt, tls.key and ca.crt of one test CA."""
    dest.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/O=Crossplane/CN=Crossplane Root CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=dest,
    )
    names = [SERVICE, f"{SERVICE}.{NAMESPACE}", f"{SERVICE}.{NAMESPACE}.svc"]
    dirs = []
    for who, usage, sans in (
        ("server", "serverAuth", names),
        ("client", "clientAuth", ["crossplane"]),
    ):
        d = dest / who
        d.mkdir(exist_ok=True)
        ext = f"subjectAltName={','.join('DNS:' + n for n in sans)}\nextendedKeyUsage={usage}\n"
        (d / "ext.cnf").write_text(ext)
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/O=Crossplane/CN={sans[0]}",
            "-keyout",
            "tls.key",
            "-out",
            "tls.csr",
            cwd=d,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            "tls.csr",
            "-CA",
            "../ca.crt",
            "-CAkey",
            "../ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "tls.crt",
            cwd=d,
        )
        shutil.copy(dest / "ca.crt", d / "ca.crt")
        for junk in ("ext.cnf", "tls.csr"):
            (d / junk).unlink()
        dirs.append(d)
    return dirs[0], dirs[1]


class ImageFunction:
    """The image's ENTRYPOINT + CMD in its unpacked root, with TLS as in a Crossplane pod."""

    def __init__(self, image: Tarball, rootfs: Path, server_certs: Path, user: str = ""):
        self.image, self.rootfs, self.user = image, rootfs, user or pod_user()
        mount = rootfs / SERVER_CERTS_DIR.lstrip("/")
        mount.mkdir(parents=True, exist_ok=True)
        for name in ("tls.crt", "tls.key", "ca.crt"):
            shutil.copy(server_certs / name, mount / name)
            (mount / name).chmod(0o644)  # a Secret volume's default mode
        container_devices(rootfs)
        (rootfs / "proc").mkdir(exist_ok=True)
        self.port = process.free_port()
        self.process: process.Process | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        config = self.image.config["config"]
        argv = [*config.get("Entrypoint", []), *config.get("Cmd", [])]
        # As a container runtime starts it: own mount and PID namespaces with /proc (the
        # function is PID 1, killed with the namespace), the image's root, the pod's user.
        return [
            shutil.which("unshare") or "/usr/bin/unshare",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            f"--mount-proc={self.rootfs}/proc",
            shutil.which("chroot") or "/usr/sbin/chroot",
            f"--userspec={self.user}",
            str(self.rootfs),
            *argv,
            "--address",
            self.target,
        ]

    def environment(self) -> dict[str, str]:
        env = dict(e.split("=", 1) for e in self.image.config["config"].get("Env", []))
        env["TLS_SERVER_CERTS_DIR"] = SERVER_CERTS_DIR
        return env

    def __enter__(self) -> ImageFunction:
        self.process = process.start("image-function", self.command(), env=self.environment())
        atexit.register(self.stop)
        try:
            process.wait_for_port("127.0.0.1", self.port, 60, self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def processes(self) -> list[int]:
        """unshare, the function (its namespace's PID 1) and the function's workers."""
        return [] if self.process is None else process.tree(self.process.popen.pid)

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM to the function, as the kubelet sends it; SIGKILL after grace seconds.

        Stopping unshare alone would leave the function running: chroot --userspec changes
        the user, which clears the parent-death signal unshare's --kill-child set.
        """
        if self.process is None or self.process.popen.poll() is not None:
            return
        function = self.processes()[1:2]
        for pid in function:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        try:
            self.process.popen.wait(timeout=grace)  # unshare exits when the function has
        except subprocess.TimeoutExpired:
            for pid in function:  # the namespace's PID 1: the kernel kills the rest with it
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        self.process.stop()

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def log_tail(self) -> str:
        return self.process.log_tail() if self.process is not None else ""


# The devices every OCI runtime creates in a container's /dev (runtime-spec config-linux.md).
DEVICES = {
    "null": (1, 3),
    "zero": (1, 5),
    "full": (1, 7),
    "random": (1, 8),
    "urandom": (1, 9),
    "tty": (5, 0),
}


def container_devices(rootfs: Path) -> None:
    """/dev of a container in the unpacked root (gRPC's seeding reads /dev/urandom)."""
    dev = rootfs / "dev"
    dev.mkdir(exist_ok=True)
    for name, (major, minor) in DEVICES.items():
        if not (dev / name).exists():
            os.mknod(dev / name, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            (dev / name).chmod(0o666)


def mtls_channel(target: str, client_certs: Path | None) -> grpc.Channel:
    """A channel to the function as Crossplane opens it (client certificate, server name)."""
    ca = (client_certs or Path()).joinpath("ca.crt").read_bytes() if client_certs else None
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=(client_certs / "tls.key").read_bytes() if client_certs else None,
        certificate_chain=(client_certs / "tls.crt").read_bytes() if client_certs else None,
    )
    options = [("grpc.ssl_target_name_override", f"{SERVICE}.{NAMESPACE}")]
    return grpc.secure_channel(target, creds, options=options)


class TLSBridge:
    """A plaintext gRPC listener on loopback that forwards every call to an mTLS target."""

    def __init__(self, target: str, client_certs: Path, timeout: float = 60.0) -> None:
        self.channel = mtls_channel(target, client_certs)
        self.timeout = timeout
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers([_Forward(self)])
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> TLSBridge:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(grace=None)
        self.channel.close()


class _Forward(grpc.GenericRpcHandler):  # type: ignore[misc]  # grpc has no stubs here
    """Unary calls as raw bytes: no (de)serializers on either side."""

    def __init__(self, bridge: TLSBridge) -> None:
        self.bridge = bridge

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        call = self.bridge.channel.unary_unary(details.method)

        def forward(request: bytes, context: grpc.ServicerContext) -> bytes:
            try:
                return bytes(call(request, timeout=self.bridge.timeout))
            except grpc.RpcError as e:
                context.abort(e.code(), e.details())
                raise

        return grpc.unary_unary_rpc_method_handler(forward)


def packages(out: Path = PACKAGE_DIR, version: str = "") -> dict[str, Path]:
    """The files make package wrote: image (the index), each Configuration by repository
    (platform-data, ..., platform-catalogue) and the Function's by repository/architecture
    (function-platform/amd64, ...), at version (default: the project version)."""
    version = version or release.project_version()
    repos = [*(part.repository for part in capabilities()), CATALOGUE]
    found = {"image": out / "image.tar"} | {r: out / f"{r}-{version}.xpkg" for r in repos}
    for arch in (p.split("/")[1] for p in PLATFORMS):
        found[f"{release.FUNCTION}/{arch}"] = out / f"{release.FUNCTION}-{version}-{arch}.xpkg"
    missing = [path.name for path in found.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{out}: no {', '.join(missing)}; run `make package`")
    return found


def dockerfile_runtime(path: Path = ROOT / "Dockerfile") -> JSON:
    """ENTRYPOINT, CMD, USER and EXPOSE of the Dockerfile's final stage."""
    stages = path.read_text().split("\nFROM ")
    out: JSON = {}
    for line in stages[-1].splitlines():
        word, _, rest = line.strip().partition(" ")
        if word in ("ENTRYPOINT", "CMD"):
            out[word] = json.loads(rest)
        elif word in ("USER", "EXPOSE"):
            out[word] = rest.strip()
    return out


def describe(paths: Sequence[Path]) -> str:
    """Sizes and digests of built tarballs (an index: each of its images), for the notes."""
    lines = []
    for path in paths:
        with tarfile.open(path) as tar:
            layout = "index.json" in tar.getnames()
        if layout:
            index = Index(path)
            lines.append(f"{path.name}: index {index.digest}")
            images = [(f"  {p}", index.image(p)) for p in index.manifests]
        else:
            images = [(path.name, Tarball(path))]
        for label, t in images:
            compressed, unpacked = t.sizes()
            lines.append(
                f"{label}: {len(t.layers)} layers, {compressed / 1e6:.1f} MB compressed, "
                f"{unpacked / 1e6:.1f} MB unpacked; config {t.config_digest}"
            )
            lines += [f"  {layer.digest}" for layer in t.layers]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(describe([Path(p) for p in sys.argv[1:]] or list(packages().values())))
