"""Command line: the SDK's standard flags plus the server's own, served by function/server.py."""

from typing import Any

import click
from crossplane.function import cli as sdkcli

from function import answers, logs, metrics, server


@click.command()
@sdkcli.standard_options
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Server processes sharing the port (SO_REUSEPORT). Default: the CPUs this process "
    "may use (its CPU affinity, capped by the container's CPU limit).",
)
@click.option(
    "--shutdown-grace-period",
    type=click.FloatRange(min=0),
    default=25.0,
    show_default=True,
    help="Seconds that calls in flight at SIGTERM may take to finish before they are cancelled.",
)
@click.option(
    "--response-cache-mib",
    type=click.FloatRange(min=0),
    default=answers.DEFAULT_BUDGET_MIB,
    show_default=True,
    envvar="RESPONSE_CACHE_MIB",
    help="Memory per server process for answers kept for identical requests (a reconcile "
    "that observed no change); answers that read the clock or Vault are never kept. 0: off.",
)
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
    workers: int | None,
    shutdown_grace_period: float,
    response_cache_mib: float,
) -> None:
    """Serve the platform composition function over gRPC."""
    if not insecure and not tls_certs_dir:
        raise click.UsageError("pass --insecure, or --tls-server-certs-dir with the mTLS certs")
    logs.configure(debug=debug)
    send_mb = max_send_message_size or max_recv_message_size
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_recv_message_size * 1024 * 1024),
        ("grpc.max_send_message_length", send_mb * 1024 * 1024),
    ]
    # --insecure means no credentials at all, even when a certs dir is given too.
    tls = None
    if not insecure:
        try:
            tls = server.TLSFiles.read(str(tls_certs_dir))
        except (OSError, ValueError) as e:
            raise click.UsageError(str(e)) from None
    if metrics_port is not None:
        # The metrics count this process's calls: forked workers would each count their
        # own, unseen, so metrics mean one worker (scale with replicas instead).
        if workers not in (None, 1):
            raise click.UsageError("--metrics-port needs --workers 1 (each worker counts its own)")
        workers = 1
        metrics.serve(metrics_port)
    config = server.ServeConfig(
        address=address,
        tls=tls,
        options=options,
        workers=workers or server.usable_cpus(),
        grace_seconds=shutdown_grace_period,
        remembered_mib=response_cache_mib,
    )
    try:
        server.serve(config)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
