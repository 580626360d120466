"""Hostnames as Gateway API writes them (HTTPRoute spec.hostnames, listener hostname).

The pattern is the v1.6.1 CRDs' own (config/crd/standard/gateway.networking.k8s.io_
httproutes.yaml): lower-case DNS labels, optionally a leading "*." wildcard label; no
scheme, port, path or trailing dot. The API server refuses anything else, so the
function does too, with a message that says what a host looks like.
"""

from typing import Annotated

from pydantic import Field

HOSTNAME_PATTERN = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
HOSTNAME_RULE = (
    "must be a hostname such as shop.example.org or *.example.org (no scheme, port or path)"
)

Hostname = Annotated[str, Field(min_length=1, max_length=253, pattern=HOSTNAME_PATTERN)]
