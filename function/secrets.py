"""Generated credentials and connection Secrets.

A password the function generates must be the same on every call: it is read
back from the observed Secret once that exists, and before that derived from
the XR's UID with a key held in the Composition step's credentials. No random
values, so the same request always gives the same desired state.
"""

import base64
import hashlib
import hmac

from function.context import ComposeError, Context, P, S
from function.structs import JSON

PASSWORD_KEY = "password"


def secret_value(secret: JSON | None, key: str) -> str | None:
    """The decoded value of key in a Secret as the API server returns it (base64 data)."""
    encoded = ((secret or {}).get("data") or {}).get(key)
    if not encoded:
        return None
    return base64.b64decode(encoded).decode()


def stable_password(ctx: Context[P, S], resource_name: str, key: str = PASSWORD_KEY) -> str:
    """The password stored under key in the composed Secret resource_name, or a derived one."""
    existing = secret_value(ctx.observed.get(resource_name), key)
    if existing is not None:
        return existing
    if not ctx.xr.uid:
        raise ComposeError("the XR has no metadata.uid to derive a password from")
    creds = ctx.platform.credentials
    seed = ctx.credentials.get(creds.name, {}).get(creds.passwordKeyField)
    if not seed:
        raise ComposeError(
            f"cannot generate a password: the Composition step's credentials {creds.name!r} "
            f"have no key {creds.passwordKeyField!r}"
        )
    message = f"{ctx.xr.uid}/{resource_name}/{key}".encode()
    digest = hmac.new(seed, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


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
