"""Command line: the SDK's standard flags plus the server's own, served by function/server.py."""

from collections.abc import Callable
from typing import Any, TypeVar

import click

from function import logs, response_cache, server
from function.runner import Observe

F = TypeVar("F", bound=Callable[..., Any])


def standard_options(command: F) -> F:
    """The SDK's standard flags, as crossplane.function.cli.standard_options declares them in
    crossplane-function-sdk-python 0.15.1, declared here because importing that module
    imports the SDK's asyncio runtime too, a twentieth of a second of start-up for a server
    this function does not use. tests/unit/test_cli.py keeps the two the same."""
    options = [
        click.option("--debug", "-d", is_flag=True, envvar="DEBUG", help="Emit debug logs."),
        click.option(
            "--address",
            default="0.0.0.0:9443",
            show_default=True,
            envvar="ADDRESS",
            help="Address at which to listen for gRPC connections.",
        ),
        click.option(
            "--tls-server-certs-dir",
            "--tls-certs-dir",
            "tls_certs_dir",
            envvar="TLS_SERVER_CERTS_DIR",
            help="Serve using mTLS certificates.",
        ),
        click.option(
            "--insecure",
            is_flag=True,
            envvar="INSECURE",
            help="Run without mTLS credentials. "
            "If you supply this flag --tls-server-certs-dir will be ignored.",
        ),
        click.option(
            "--max-recv-message-size",
            "--max-grpc-message-size",
            type=int,
            default=4,
            show_default=True,
            envvar=["MAX_RECV_MESSAGE_SIZE", "MAX_GRPC_MESSAGE_SIZE"],
            help="Maximum size of received gRPC messages in MB.",
        ),
        click.option(
            "--max-send-message-size",
            type=int,
            default=None,
            envvar="MAX_SEND_MESSAGE_SIZE",
            help="Maximum size of sent gRPC messages in MB. Defaults to --max-recv-message-size.",
        ),
    ]
    for option in options:
        command = option(command)
    return command


@click.command()
@standard_options
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
    default=response_cache.DEFAULT_BUDGET_MIB,
    show_default=True,
    envvar="RESPONSE_CACHE_MIB",
    help="Memory per server process for the response cache: responses kept for identical "
    "requests (a reconcile that observed no change); responses that read the clock or Vault "
    "are never kept. 0: off.",
)
@click.option(
    "--in-flight-mib",
    type=click.FloatRange(min=0),
    default=server.DEFAULT_IN_FLIGHT_MIB,
    show_default=True,
    envvar="IN_FLIGHT_MIB",
    help="Request bytes per server process in flight at once (received, not yet answered); "
    "a call that would pass it while others are in flight is refused with RESOURCE_EXHAUSTED "
    "and Crossplane retries it. 0: unbounded. See docs/serving.md.",
)
@click.option(
    "--busy-poll-us",
    type=click.IntRange(0, 10_000),
    default=server.DEFAULT_BUSY_POLL_US,
    show_default=True,
    envvar="BUSY_POLL_US",
    help="While calls come back to back, keep polling for the next one this many "
    "microseconds after answering one instead of sleeping: the core stays awake and its "
    "caches warm. Costs at most this much CPU per call. 0: off. See docs/serving.md.",
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
    in_flight_mib: float,
    busy_poll_us: int,
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
    observe: Observe | None = None
    if metrics_port is not None:
        # The metrics count this process's calls: forked workers would each count their
        # own, unseen, so metrics mean one worker (scale with replicas instead).
        if workers not in (None, 1):
            raise click.UsageError("--metrics-port needs --workers 1 (each worker counts its own)")
        workers = 1
        # Imported only here: prometheus_client costs a tenth of a second at start-up.
        from function import metrics  # noqa: PLC0415

        metrics.serve(metrics_port)
        observe = metrics.observe
    config = server.ServeConfig(
        address=address,
        tls=tls,
        options=options,
        workers=workers or server.usable_cpus(),
        grace_seconds=shutdown_grace_period,
        response_cache_mib=response_cache_mib,
        in_flight_mib=in_flight_mib,
        busy_poll_us=busy_poll_us,
        response_max=send_mb * 1024 * 1024,
        observe=observe,
    )
    try:
        server.serve(config)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
