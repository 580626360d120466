"""Command line: the SDK's standard flags, served by our runner."""

from typing import Any

import click
from crossplane.function import cli as sdkcli
from crossplane.function import runtime

from function import logs
from function.runner import FunctionRunner


@click.command()
@sdkcli.standard_options
def main(
    *,
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
    logs.configure(debug=debug)
    send_mb = max_send_message_size or max_recv_message_size
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_recv_message_size * 1024 * 1024),
        ("grpc.max_send_message_length", send_mb * 1024 * 1024),
    ]
    # With credentials and --insecure the SDK binds TLS first and the plaintext
    # port then fails to bind: --insecure must mean no credentials at all.
    try:
        creds = None if insecure else runtime.load_credentials(str(tls_certs_dir))
    except OSError as e:
        raise click.UsageError(f"cannot read the mTLS certs: {e.strerror}: {e.filename}") from None
    runtime.serve(FunctionRunner(), address, creds=creds, insecure=insecure, options=options)
