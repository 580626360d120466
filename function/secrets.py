"""Generated credentials and connection Secrets.

A password the function generates must be the same on every call: it is read
back from the observed Secret once that exists, and before that derived from
the XR's UID with a key held in the Composition step's credentials. No random
values, so the same request always gives the same desired state.
"""

import base64
import functools
import hashlib
import hmac

from function.context import Context, P, S
from function.observed import SecretDataError, secret_value
from function.refusal import Refusal
from function.structs import JSON

PASSWORD_KEY = "password"


def composed_secret_value(ctx: Context[P, S], resource_name: str, key: str) -> str | None:
    """The value of key in the observed composed Secret resource_name; a FATAL when unusable."""
    try:
        return secret_value(ctx.observed.get(resource_name), key)
    except SecretDataError as e:
        raise Refusal(f"the composed Secret {resource_name!r}: {e}; fix or delete it") from None


def stable_password(ctx: Context[P, S], resource_name: str, key: str = PASSWORD_KEY) -> str:
    """The password stored under key in the composed Secret resource_name, or a derived one."""
    existing = composed_secret_value(ctx, resource_name, key)
    if existing is not None:
        return existing
    if not ctx.xr.uid:
        raise Refusal("the XR has no metadata.uid to derive a password from")
    creds = ctx.platform.credentials
    seed = ctx.credentials.get(creds.name, {}).get(creds.passwordKeyField)
    if not seed:
        raise Refusal(
            f"cannot generate a password: the Composition step's credentials {creds.name!r} "
            f"have no key {creds.passwordKeyField!r}"
        )
    mac = _keyed(seed).copy()
    mac.update(f"{ctx.xr.uid}/{resource_name}/{key}".encode())
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


@functools.lru_cache(maxsize=8)
def _keyed(seed: bytes) -> hmac.HMAC:
    """HMAC-SHA256 keyed with seed, nothing hashed yet, to copy: OpenSSL 3 looks the
    algorithm up again for every one-shot hmac.digest, a copy only duplicates the state
    (a few of a platform's seeds at most)."""
    return hmac.new(seed, digestmod=hashlib.sha256)


def connection_secret(
    ctx: Context[P, S],
    name: str,
    data: dict[str, str],
    secret_type: str = "Opaque",
    namespace: str | None = None,
) -> JSON:
    """A Secret with the given connection details, in namespace (default: the XR's)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace or ctx.xr.namespace},
        "type": secret_type,
        "stringData": dict(sorted(data.items())),
    }
