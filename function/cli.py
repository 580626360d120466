"""Command line: the SDK's standard flags, served by our runner."""

from typing import Any

import click
from crossplane.function import cli as sdkcli
from crossplane.function import logging, runtime

from function import metrics
from function.runner import FunctionRunner


@click.command()
@sdkcli.standard_options
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    envvar="METRICS_PORT",
    help="Serve Prometheus metrics over HTTP on this port (all interfaces); off when unset.",
)
def main(
    *,
    metrics_port: int | None,
    debug: bool,
    address: str,
    tls_certs_dir: str | None,
    insecure: bool,
    max_recv_message_size: int,
    max_send_message_size: int | None,
) -> None:
    """Serve the platform composition function over gRPC."""
    if not insecure and not tls_certs_dir:
        raise click.UsageError("pass --insecure, or --tls-server-certs-dir with the mTLS certs")
    logging.configure(level=logging.Level.DEBUG if debug else logging.Level.INFO)
    send_mb = max_send_message_size or max_recv_message_size
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_recv_message_size * 1024 * 1024),
        ("grpc.max_send_message_length", send_mb * 1024 * 1024),
    ]
    # With credentials and --insecure the SDK binds TLS first and the plaintext
    # port then fails to bind: --insecure must mean no credentials at all.
    creds = None if insecure else runtime.load_credentials(str(tls_certs_dir))
    if metrics_port is not None:
        metrics.serve(metrics_port)
    runtime.serve(FunctionRunner(), address, creds=creds, insecure=insecure, options=options)
