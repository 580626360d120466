"""Logging in to Vault with hvac, every request bounded by a timeout and a time budget
that holds whatever Vault does.

Errors become VaultSyncError(reason, message): messages are written here and
never carry a secret; Vault's own error text is included only after every
secret value known to the step has been cut out of it.
"""

import contextlib
import hashlib
import json
import socket
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import hvac
import requests
from crossplane.function import logging
from hvac import exceptions as vexc
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from function import logs
from function.platform import PlatformSettings
from function.vault.errors import VaultSyncError
from function.vault.settings import Vault


class BudgetExceededError(requests.exceptions.RequestException):
    """The Vault step's time budget ran out before a request could start, or during one."""


# The sockets of the Vault step this thread runs, for the watchdog (_BudgetSession).
_STEP = threading.local()
# Seconds the watchdog gives a request past the step's deadline (runner.ANSWER_MARGIN, the
# time kept for the answer after the step, is larger).
WATCHDOG_LAG = 0.2


def _watched(connection: type[HTTPConnection]) -> type[HTTPConnection]:
    """connection, recording every socket it opens (before TLS wraps it) for the watchdog
    of the Vault step that opens it."""

    class Watched(connection):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:  # urllib3 2.x: opens the TCP connection
            sock: socket.socket = super()._new_conn()
            sockets = getattr(_STEP, "sockets", None)
            if sockets is not None:
                sockets.append(sock)
            return sock

    return Watched


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connection pools open watched connections (urllib3 picks a
    pool class by scheme, PoolManager.pool_classes_by_scheme, and a pool's connections
    from its ConnectionCls)."""

    _POOLS: ClassVar[dict[str, type[HTTPConnectionPool]]] = {
        "http": type(
            "WatchedHTTPConnectionPool",
            (HTTPConnectionPool,),
            {"ConnectionCls": _watched(HTTPConnection)},
        ),
        "https": type(
            "WatchedHTTPSConnectionPool",
            (HTTPSConnectionPool,),
            {"ConnectionCls": _watched(HTTPSConnection)},
        ),
    }

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._POOLS)


class _BudgetSession(requests.Session):
    """A requests session whose every request ends by the step's deadline.

    requests' timeout bounds each socket operation, not the request (requests' "Timeouts"
    docs: the read timeout is the time between bytes; urllib3's Timeout(total=...) too caps
    only connect plus the wait for the first byte): a Vault that sends a byte now and then
    holds a request forever. So each request also runs under a watchdog that, at the
    deadline, shuts down every socket the session opened, which ends whatever read is
    waiting on it; the request then fails as BudgetExceededError.
    """

    def __init__(self, deadline: float, per_call: float) -> None:
        super().__init__()
        self.deadline = deadline
        self.per_call = per_call
        self.sockets: list[socket.socket] = []
        self.mount("http://", _WatchedAdapter())
        self.mount("https://", _WatchedAdapter())

    def _shut_down(self, fired: threading.Event) -> None:
        fired.set()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0.05:
            raise BudgetExceededError("time budget exhausted")
        kwargs["timeout"] = min(self.per_call, remaining)
        kwargs["allow_redirects"] = False
        fired = threading.Event()
        # A moment after the read timeout: a Vault that says nothing fails on that timeout (did
        # not answer in time); the watchdog ends only what the timeout cannot.
        watchdog = threading.Timer(remaining + WATCHDOG_LAG, self._shut_down, (fired,))
        watchdog.daemon = True
        _STEP.sockets = self.sockets
        watchdog.start()
        try:
            return super().request(method, url, *args, **kwargs)
        except Exception:
            if fired.is_set():
                raise BudgetExceededError("time budget exhausted during a request") from None
            raise
        finally:
            watchdog.cancel()
            _STEP.sockets = None


@dataclass(frozen=True)
class Login:
    """What the step's input and credentials say about reaching Vault."""

    address: str
    method: str
    secrets: tuple[str, ...]  # every secret value, for redaction
    token: str | None = None
    role_id: str | None = None
    secret_id: str | None = None
    jwt: str | None = None


def _text(value: bytes | None, key: str, cred_name: str) -> str | None:
    """A credential as text; VaultSyncError (naming the key, not the value) when not UTF-8."""
    if not value:
        return None
    try:
        return value.decode().strip() or None
    except UnicodeDecodeError:
        raise VaultSyncError(
            "InvalidCredentials",
            f"key {key!r} in the step credentials {cred_name!r} is not UTF-8 text",
        ) from None


ADDRESS_MAX = 2048  # the address is named in warnings; longer is no URL anyone meant


def _is_http_url(address: str) -> bool:
    """Whether requests can connect to address: urllib3 raises LocationParseError, outside
    requests' own exceptions, for a host with an empty or over-long label (IDNA's rules)."""
    if len(address) > ADDRESS_MAX or not address.isprintable() or " " in address:
        return False
    try:
        url = urlsplit(address)
        _ = url.port  # ValueError when out of range or not a number
        host = url.hostname
        if url.scheme not in ("http", "https") or not host:
            return False
        host.encode("idna")
    except (ValueError, UnicodeError):
        return False
    return True


def resolve(settings: PlatformSettings, credentials: Mapping[str, Mapping[str, bytes]]) -> Login:
    """Address and auth material; VaultSyncError when something is missing."""
    vault = settings.vault
    cred_name = vault.credentials or settings.credentials.name
    creds = credentials.get(cred_name, {})
    address = vault.address or _text(creds.get(vault.addressKey), vault.addressKey, cred_name)
    if not address:
        raise VaultSyncError(
            "VaultNotConfigured",
            f"no Vault address: set input spec.vault.address or key {vault.addressKey!r} "
            f"in the step credentials {cred_name!r}",
        )
    if not _is_http_url(address):
        raise VaultSyncError(
            "VaultNotConfigured",
            "the Vault address must be an http(s) URL with a valid host name and port",
        )
    auth = vault.auth

    def need(key: str) -> str:
        value = _text(creds.get(key), key, cred_name)
        if value is None:
            raise VaultSyncError(
                "MissingCredentials",
                f"{auth.method} auth needs key {key!r} in the step credentials {cred_name!r}",
            )
        return value

    if auth.method == "token":
        token = need(auth.token.tokenKey)
        if not (token.isascii() and token.isprintable()):  # it travels in an HTTP header
            raise VaultSyncError(
                "InvalidCredentials",
                f"key {auth.token.tokenKey!r} in the step credentials {cred_name!r} is not a "
                "Vault token (printable ASCII)",
            )
        return Login(address, "token", (token,), token=token)
    if auth.method == "approle":
        role_id = auth.appRole.roleId or need(auth.appRole.roleIdKey)
        secret_id = need(auth.appRole.secretIdKey)
        return Login(address, "approle", (secret_id,), role_id=role_id, secret_id=secret_id)
    jwt = _text(creds.get(auth.kubernetes.jwtKey), auth.kubernetes.jwtKey, cred_name)
    if jwt is None and auth.kubernetes.tokenFile:
        try:
            jwt = Path(auth.kubernetes.tokenFile).read_text().strip() or None
        except OSError:
            jwt = None
    if jwt is None:
        raise VaultSyncError(
            "MissingCredentials",
            f"kubernetes auth needs key {auth.kubernetes.jwtKey!r} in the step credentials "
            f"{cred_name!r} or a readable service account token file",
        )
    return Login(address, "kubernetes", (jwt,), jwt=jwt)


def _forms(secret: str) -> set[str]:
    """The ways a secret value shows up in Vault's error text: raw, JSON-escaped, URL-encoded."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
    }


def redact(text: str, secrets: Iterable[str]) -> str:
    """text with every secret value, in each of its forms, cut out (longest first)."""
    forms = {f for s in secrets if s and len(s) >= 4 for f in _forms(s)}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "<redacted>")
    return text


def vault_errors(e: vexc.VaultError, secrets: Iterable[str]) -> str:
    """Vault's error list, redacted and shortened; empty if there is none."""
    errors = [str(x) for x in (e.errors or [])]
    text = redact("; ".join(errors), secrets)
    return text[:300]


def _ca_file(pem: bytes) -> str:
    """A file with the CA bundle (not a secret), named by its content."""
    path = (
        Path(tempfile.gettempdir())
        / f"function-platform-vault-ca-{hashlib.sha256(pem).hexdigest()[:16]}.pem"
    )
    if not path.exists():
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_bytes(pem)
        tmp.replace(path)
    return str(path)


# Tokens from AppRole/Kubernetes logins, reused until close to expiry so a
# reconcile does not create a new token each time. Keyed by a hash of what the
# login used; held in memory only.
_TOKENS: dict[str, tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


def _cache_key(login: Login, vault: Vault) -> str:
    material = "\x00".join(
        [
            login.address,
            vault.namespace or "",
            login.method,
            vault.auth.appRole.mount,
            vault.auth.kubernetes.mount,
            vault.auth.kubernetes.role,
            login.role_id or "",
            *login.secrets,
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def forget(login: Login, vault: Vault) -> None:
    with _TOKENS_LOCK:
        _TOKENS.pop(_cache_key(login, vault), None)


def connect(
    login: Login,
    settings: PlatformSettings,
    credentials: Mapping[str, Mapping[str, bytes]],
    deadline: float,
) -> hvac.Client:
    """An authenticated client; VaultSyncError (via classify) if login fails."""
    vault = settings.vault
    creds = credentials.get(vault.credentials or settings.credentials.name, {})
    verify: bool | str = vault.tlsVerify
    ca = creds.get(vault.caCertKey)
    if vault.tlsVerify and ca:
        verify = _ca_file(ca)
    session = _BudgetSession(deadline, float(vault.requestTimeoutSeconds))
    session.verify = verify
    client = hvac.Client(
        url=login.address,
        verify=verify,
        timeout=vault.requestTimeoutSeconds,
        namespace=vault.namespace,
        session=session,
    )
    if login.method == "token":
        client.token = login.token
        return client
    key = _cache_key(login, vault)
    with _TOKENS_LOCK:
        cached = _TOKENS.get(key)
    if cached is not None and cached[1] > time.monotonic():
        client.token = cached[0]
        return client
    try:
        if login.method == "approle":
            rsp = client.auth.approle.login(
                role_id=login.role_id,
                secret_id=login.secret_id,
                mount_point=vault.auth.appRole.mount,
            )
        else:
            rsp = client.auth.kubernetes.login(
                role=vault.auth.kubernetes.role,
                jwt=login.jwt,
                mount_point=vault.auth.kubernetes.mount,
            )
    except (vexc.Forbidden, vexc.InvalidRequest, vexc.Unauthorized) as e:
        where = (
            f"auth/{vault.auth.appRole.mount}"
            if login.method == "approle"
            else f"auth/{vault.auth.kubernetes.mount} (role {vault.auth.kubernetes.role})"
        )
        detail = vault_errors(e, login.secrets)
        raise VaultSyncError(
            "AuthenticationFailed",
            f"Vault refused the {login.method} login at {where}"
            + (f": {detail}" if detail else ""),
        ) from None
    auth = (rsp or {}).get("auth") or {}
    token = auth.get("client_token")
    if not token:
        raise VaultSyncError("AuthenticationFailed", f"the {login.method} login returned no token")
    lease = int(auth.get("lease_duration") or 3600)
    with _TOKENS_LOCK:
        _TOKENS[key] = (token, time.monotonic() + max(lease * 0.75, 1.0))
    client.token = token
    return client


def classify(e: Exception, address: str, secrets: Iterable[str]) -> VaultSyncError:
    """A VaultSyncError for an error that is not about one particular path."""
    if isinstance(e, VaultSyncError):
        return e
    if isinstance(e, BudgetExceededError):
        return VaultSyncError(
            "BudgetExceeded", "the Vault step ran out of its time budget; the rest is retried"
        )
    if isinstance(e, requests.exceptions.SSLError):
        return VaultSyncError("VaultUnreachable", f"TLS to Vault at {address} failed")
    if isinstance(e, requests.exceptions.Timeout):
        return VaultSyncError("VaultUnreachable", f"Vault at {address} did not answer in time")
    if isinstance(e, requests.exceptions.RequestException):
        return VaultSyncError("VaultUnreachable", f"cannot connect to Vault at {address}")
    if isinstance(e, vexc.VaultDown):
        if "sealed" in " ".join(str(x) for x in (e.errors or [])).lower():
            return VaultSyncError("VaultSealed", f"Vault at {address} is sealed")
        return VaultSyncError("VaultUnavailable", f"Vault at {address} is unavailable (503)")
    if isinstance(e, vexc.VaultNotInitialized):
        return VaultSyncError("VaultUnavailable", f"Vault at {address} is not initialized")
    if isinstance(e, vexc.RateLimitExceeded):
        return VaultSyncError("VaultUnavailable", f"Vault at {address} is rate limiting requests")
    if isinstance(e, vexc.VaultError):
        detail = vault_errors(e, secrets)
        return VaultSyncError(
            "VaultError", f"Vault answered {type(e).__name__}" + (f": {detail}" if detail else "")
        )
    # A bug, not Vault: the log line names the exception's type and frames, never its text.
    logging.get_logger().error("unexpected error talking to Vault", **logs.describe_exception(e))
    return VaultSyncError("InternalError", "unexpected error talking to Vault; see function logs")
