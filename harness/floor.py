"""The floor of a call: a bare server on the function's transport answering fixed bytes.

    python -m harness.floor --address HOST:PORT --response FILE
                            [--threads N] [--grpc-server | --aio]

The server is function/server.py's (`transport`: function/transport.py with the same
options, on raw bytes); its handler returns the bytes of FILE whatever it is sent. What it
costs per call is what serving costs before anything is parsed or composed. --threads
weighs the transport's threads; --grpc-server serves the same bytes with grpc's threaded
server (grpc.server, a pool of --threads threads) and --aio with grpc.aio (one event loop),
the two Python servers the transport is measured against.
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
from collections.abc import Callable, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from function import server
from function.runner import RESPONSE_MAX
from function.transport import Context


def _config(address: str) -> server.ServeConfig:
    """What `python -m function --insecure --address ADDRESS` serves with (function/cli.py's
    default message limits)."""
    options = [
        ("grpc.max_receive_message_length", RESPONSE_MAX),
        ("grpc.max_send_message_length", RESPONSE_MAX),
    ]
    return server.ServeConfig(address=address, tls=None, options=options)


def serve_transport(address: str, response: bytes, threads: int) -> None:
    def answer(_data: bytes, _context: Context) -> bytes:
        return response

    bare = server.transport(_config(address), answer, reuse_port=False, threads=threads)
    signal.signal(signal.SIGTERM, lambda *_: bare.stop(None))
    bare.start()
    bare.wait_for_termination()


def serve_grpc_server(address: str, response: bytes, threads: int) -> None:
    def answer(_data: bytes, _context: grpc.ServicerContext) -> bytes:
        return response

    bare = grpc.server(
        futures.ThreadPoolExecutor(threads),
        options=server.channel_options(_config(address), reuse_port=False),
    )
    bare.add_generic_rpc_handlers(_handlers(answer))
    bare.add_insecure_port(address)
    signal.signal(signal.SIGTERM, lambda *_: bare.stop(0))
    bare.start()
    bare.wait_for_termination()


def _handlers(answer: Callable[..., Any]) -> tuple[grpc.GenericRpcHandler, ...]:
    handler = grpc.unary_unary_rpc_method_handler(answer)
    return tuple(
        grpc.method_handlers_generic_handler(s, {"RunFunction": handler}) for s in server.SERVICES
    )


async def _serve_aio(address: str, response: bytes) -> None:
    async def answer(_data: bytes, _context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return response

    config = _config(address)
    bare = grpc.aio.server(options=server.channel_options(config, reuse_port=False))
    bare.add_generic_rpc_handlers(_handlers(answer))
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
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--grpc-server", action="store_true")
    which.add_argument("--aio", action="store_true")
    args = parser.parse_args(argv)
    response = args.response.read_bytes()
    if args.aio:
        asyncio.run(_serve_aio(args.address, response))
    elif args.grpc_server:
        serve_grpc_server(args.address, response, args.threads)
    else:
        serve_transport(args.address, response, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
