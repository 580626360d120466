"""What a composer wants Vault to hold: plain data, applied later by sync.py.

Fields holding secrets are left out of repr(), so an intent that ends up in a
log or an assertion message shows where it goes, not what it carries.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class KVWrite:
    """Key/values at a KV v2 path (the XR's vaultPath or below it)."""

    path: str
    data: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class DatabaseConnection:
    """A connection of the database secrets engine (database/config/<name>)."""

    name: str
    connection_url: str  # with {{username}} and {{password}} templates, no secret
    username: str
    password: str = field(repr=False)
    allowed_roles: tuple[str, ...] = ()
    plugin_name: str = "postgresql-database-plugin"


@dataclass(frozen=True)
class DatabaseRole:
    """A dynamic role of the database secrets engine (database/roles/<name>)."""

    name: str
    db_name: str
    creation_statements: tuple[str, ...]
    revocation_statements: tuple[str, ...]
    default_ttl: int
    max_ttl: int


@dataclass(frozen=True)
class Pending:
    """Something that cannot be registered yet (e.g. an admin Secret not there yet)."""

    what: str
    reason: str
    message: str
    path: str | None = None  # the KV path it will be written to, if it is a KV entry


def split_kv_path(path: str, mount: str | None) -> tuple[str, str]:
    """(mount, path in mount): the first segment is the mount unless a mount is configured."""
    if mount:
        return mount.strip("/"), path
    head, _, rest = path.partition("/")
    return head, rest


@dataclass(frozen=True)
class KVDelete:
    """A KV v2 entry to remove with all its versions and metadata (a path the XR left)."""

    path: str


@dataclass(frozen=True)
class DatabaseDelete:
    """A database engine role and connection to remove (the XR no longer wants them)."""

    connection: str
    role: str


VaultIntent = KVWrite | DatabaseConnection | DatabaseRole | Pending | KVDelete | DatabaseDelete
