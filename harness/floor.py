"""The floor of a call: a bare server on the function's transport answering fixed bytes.

    python -m harness.floor --address HOST:PORT --response FILE
                            [--threads N] [--max-concurrent-rpcs N] [--aio]

The server is function/server.py's (`bytes_server`: grpc's threaded server with the same
options and the same generic handler on raw bytes); its handler returns the bytes of FILE
whatever it is sent. What it costs per call is what serving costs before anything is
parsed or composed. --threads and --max-concurrent-rpcs weigh the server's options;
--aio serves the same bytes with grpc.aio instead (one event loop, no thread pool).
"""

from __future__ import annotations

# isort: off
# First: the function's package chooses grpc's listener before grpc loads (function/__init__.py),
# so the floor serves on the function's transport.
import function  # noqa: F401
# isort: on

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import grpc

from function import server
from function.runner import RESPONSE_MAX


def _config(address: str) -> server.ServeConfig:
    """What `python -m function --insecure --address ADDRESS` serves with (function/cli.py's
    default message limits)."""
    options = [
        ("grpc.max_receive_message_length", RESPONSE_MAX),
        ("grpc.max_send_message_length", RESPONSE_MAX),
    ]
    return server.ServeConfig(address=address, tls=None, options=options)


def serve_threaded(
    address: str, response: bytes, threads: int, max_concurrent_rpcs: int | None
) -> None:
    def answer(_data: bytes, _context: grpc.ServicerContext) -> bytes:
        return response

    bare, _ = server.bytes_server(
        _config(address),
        answer,
        reuse_port=False,
        threads=threads,
        max_concurrent_rpcs=max_concurrent_rpcs,
    )
    signal.signal(signal.SIGTERM, lambda *_: bare.stop(0))
    bare.start()
    bare.wait_for_termination()


async def _serve_aio(address: str, response: bytes) -> None:
    async def answer(_data: bytes, _context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return response

    config = _config(address)
    bare = grpc.aio.server(options=[*config.options, ("grpc.http2.bdp_probe", 0)])
    handler = grpc.unary_unary_rpc_method_handler(answer)
    bare.add_generic_rpc_handlers(
        tuple(
            grpc.method_handlers_generic_handler(s, {"RunFunction": handler})
            for s in server.SERVICES
        )
    )
    bare.add_insecure_port(address)
    await bare.start()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(bare.stop(0)))
    await bare.wait_for_termination()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--response", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=server.THREADS_PER_WORKER)
    parser.add_argument("--max-concurrent-rpcs", type=int, default=None)
    parser.add_argument("--aio", action="store_true")
    args = parser.parse_args(argv)
    response = args.response.read_bytes()
    if args.aio:
        asyncio.run(_serve_aio(args.address, response))
    else:
        serve_threaded(args.address, response, args.threads, args.max_concurrent_rpcs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
