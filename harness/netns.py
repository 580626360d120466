"""Run a controller in a network namespace of its own that still reaches the API server.

Controllers built on controller-runtime bind ports no flag moves: `crossplane rbac start`
serves metrics on :8080, provider-kubernetes metrics on :8080 and its webhook on :9443. In a
network namespace each, they collide neither with each other nor with anything else on a
shared machine. Inside, the API server's loopback address is forwarded through a Unix socket
(the file system is shared across network namespaces) to the same address on the host:

    python -m harness.netns host SOCKET HOST:PORT          # on the host: SOCKET -> HOST:PORT
    unshare --net python -m harness.netns guest SOCKET HOST:PORT -- CMD...
                                            # inside: lo up, HOST:PORT -> SOCKET, runs CMD

`wrap` builds both commands.
"""

from __future__ import annotations

import contextlib
import fcntl
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path


def wrap(python: str, sock: Path, address: str, cmd: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the host forwarder's command, cmd run in a new network namespace with `address`)."""
    host = [python, "-m", "harness.netns", "host", str(sock), address]
    guest = ["unshare", "--net", python, "-m", "harness.netns", "guest", str(sock), address, "--"]
    return host, [*guest, *cmd]


def loopback_up() -> None:
    """Bring up `lo`, down in a new network namespace (what `ip link set lo up` does, with no
    iproute2 needed): SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP (linux/sockios.h, if.h)."""
    get_flags, set_flags, up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, get_flags, request))[1]
        fcntl.ioctl(s, set_flags, struct.pack("16sh", b"lo", flags | up))


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy src to dst until EOF, then close dst for writing."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _serve(listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
    """Forward every connection accepted on listener to a new connect() in both directions."""
    while True:
        client, _ = listener.accept()
        try:
            upstream = connect()
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _tcp(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def host(sock: Path, address: str) -> None:
    sock.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock))
    listener.listen(64)
    _serve(listener, lambda: socket.create_connection(_tcp(address)))


def guest(sock: Path, address: str, cmd: Sequence[str]) -> int:
    loopback_up()
    listener = socket.create_server(_tcp(address))

    def connect() -> socket.socket:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(str(sock))
        return upstream

    threading.Thread(target=_serve, args=(listener, connect), daemon=True).start()
    child = subprocess.Popen(list(cmd))
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    return child.wait()


def main(argv: Sequence[str]) -> int:
    mode, sock, address, *rest = argv
    if mode == "host":
        host(Path(sock), address)
        return 0
    if mode == "guest" and rest[:1] == ["--"]:
        return guest(Path(sock), address, rest[1:])
    print(f"usage: {__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
