"""Vault intents for a PostgreSQLInstance with a vaultPath.

- KV v2 at ``<vaultPath>`` inside the namespace's subtree (tenancy.py): the
  connection details of the connection Secret.
- Database secrets engine: a connection config for this database and a
  ``<connection>-readwrite`` role, the connection named ``<namespace>_<name>``.
  Vault logs in with admin credentials:

  shared server: the admin connection Secret provider-sql uses
    (input postgresqlInstance.shared.adminConnectionSecret), read as a required resource;
  dedicated server: CloudNativePG's ``<cluster>-superuser`` Secret, which the
    cluster publishes because the composer sets ``enableSuperuserAccess`` when
    the XR has a vaultPath and the engine is enabled.

  Until that Secret is there, the engine config waits (a Pending intent, which
  becomes a warning); the KV write does not.

A dynamic user is created IN ROLE the database's owner role (so it can read and
write what the owner can) and its sessions SET ROLE to the owner, so that what it
creates belongs to the owner and outlives the lease; revoking drops only the
login role.
"""

from collections.abc import Mapping
from urllib.parse import quote

from function.context import Selector
from function.kinds.postgresqlinstance.connection import PostgreSQLContext
from function.observed import SecretDataError, secret_value
from function.structs import JSON
from function.vault.intents import (
    DatabaseConnection,
    DatabaseRole,
    KVWrite,
    Pending,
    VaultIntent,
)
from function.vault.sql import statement_ident
from function.vault.tenancy import engine_name, role_name, tenant_path

ADMIN_SECRET = "vault-database-admin"


def creation_statements(owner: str) -> tuple[str, ...]:
    """Create a login role that is a member of owner and acts as owner."""
    q = statement_ident(owner)
    return (
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
        f"VALID UNTIL '{{{{expiration}}}}' IN ROLE {q};",
        f'ALTER ROLE "{{{{name}}}}" SET role TO {q};',
    )


def revocation_statements(owner: str) -> tuple[str, ...]:
    q = statement_ident(owner)
    return (f'REVOKE {q} FROM "{{{{name}}}}";', 'DROP ROLE IF EXISTS "{{name}}";')


def wants_engine(ctx: PostgreSQLContext) -> bool:
    """Whether this instance gets a database engine connection (so needs admin credentials)."""
    return bool(ctx.params.vaultPath) and ctx.platform.vault.database.enabled


def requirements(ctx: PostgreSQLContext, admin: Selector) -> dict[str, Selector]:
    """The admin Secret, fetched when the instance gets a database engine connection."""
    return {ADMIN_SECRET: admin} if wants_engine(ctx) else {}


def intents(
    ctx: PostgreSQLContext, *, secret: JSON, ssl_mode: str, admin: Selector
) -> list[VaultIntent]:
    """What Vault should hold for this database (nothing without a vaultPath).

    secret is the composed connection Secret (stringData); admin names the
    Secret whose username and password Vault configures the engine with.
    """
    vault_path = ctx.params.vaultPath
    if not vault_path:
        return []
    connection: Mapping[str, str] = secret["stringData"]
    path = tenant_path(ctx.platform.vault, ctx.xr.namespace, vault_path)
    out: list[VaultIntent] = [KVWrite(path, dict(connection))]
    settings = ctx.platform.vault.database
    if not wants_engine(ctx):
        return out
    found = ctx.found(ADMIN_SECRET)  # asked for by requirements(ctx, admin)
    name = engine_name(ctx.xr.namespace, ctx.xr.name)
    try:
        username, password = secret_value(found, "username"), secret_value(found, "password")
    except SecretDataError as e:  # only the engine config waits; the rest is composed
        out.append(Pending(f"database connection {name}", "InvalidAdminSecret", str(e)))
        return out
    if not username or not password:
        out.append(
            Pending(
                what=f"database connection {name}",
                reason="WaitingForAdminSecret",
                message=f"dynamic credentials wait for the admin Secret "
                f"{admin.namespace}/{admin.name} (username and password)",
            )
        )
        return out
    owner = connection["username"]
    role = role_name(name)
    url = (
        f"postgresql://{{{{username}}}}:{{{{password}}}}@{connection['host']}:"
        f"{connection['port']}/{quote(connection['database'], safe='')}?sslmode={ssl_mode}"
    )
    out.append(DatabaseConnection(name, url, username, password, allowed_roles=(role,)))
    out.append(
        DatabaseRole(
            name=role,
            db_name=name,
            creation_statements=creation_statements(owner),
            revocation_statements=revocation_statements(owner),
            default_ttl=settings.defaultTTLSeconds,
            max_ttl=settings.maxTTLSeconds,
        )
    )
    return out
