"""Where an XR's Vault entries live: always inside its namespace's subtree.

An XR names only the tail of its path (vaultPath); the function places it under
the input's tenant prefix (default ``<kvMount>/tenants/<namespace>/``), so the
written path is inside the namespace's subtree whatever the XR says, and a
Vault policy per namespace (docs/vault.md) can fence the subtrees apart.
"""

from collections.abc import Mapping

from function.context import Composite
from function.vault.intents import split_kv_path
from function.vault.settings import Vault

# custom_metadata keys of every KV entry the function writes: who owns it, so
# the garbage collector (gc.py) can tell an orphan once its XR is gone.
OWNER_KEYS = ("owner-namespace", "owner-kind", "owner-name", "owner-uid")


ROLE_SUFFIX = "-readwrite"


def tenant_root(vault: Vault, namespace: str, mount: str) -> str:
    """<mount>/<prefix with the namespace>: the namespace's subtree, in vaultPath's convention
    (without the mount when kvMount is set)."""
    prefix = vault.tenantPrefix.format(namespace=namespace).strip("/")
    return prefix if vault.kvMount else f"{mount}/{prefix}"


def tenant_path(vault: Vault, namespace: str, vault_path: str) -> str:
    """The KV path written for an XR's vaultPath: the tail placed under the namespace's root.

    vaultPath keeps its meaning (mount first unless kvMount is set), so
    secret/database/dev in team-a becomes secret/tenants/team-a/database/dev.
    """
    mount, tail = split_kv_path(vault_path, vault.kvMount)
    root = tenant_root(vault, namespace, mount)
    return f"{root}/{tail}" if tail else root


def inside(vault: Vault, namespace: str, path: str) -> bool:
    """Whether path is in the namespace's subtree (what a cleanup may delete)."""
    mount, _ = split_kv_path(path, vault.kvMount)
    root = tenant_root(vault, namespace, mount)
    return path == root or path.startswith(root + "/")


def engine_name(namespace: str, name: str) -> str:
    """The database engine connection name of an XR: injective over (namespace, name).

    Kubernetes names have only [a-z0-9.-] and namespaces no '.', so '_' cannot
    occur in either and splits the pair unambiguously (team-a/db -> team-a_db,
    team/a-db -> team_a-db). '_' is a word character, valid in Vault's
    config and role names (GenericNameRegex).
    """
    return f"{namespace}_{name}"


def role_name(connection: str) -> str:
    """The read-write role of an engine connection: <connection>-readwrite."""
    return f"{connection}{ROLE_SUFFIX}"


def owner_of(xr: Composite) -> dict[str, str]:
    return dict(zip(OWNER_KEYS, (xr.namespace, xr.kind, xr.name, xr.uid), strict=True))


def owned_by(metadata: Mapping[str, str] | None, xr: Composite) -> bool:
    """An entry is the XR's when it carries its uid, or no owner tag (written before tagging)."""
    uid = (metadata or {}).get("owner-uid")
    return uid is None or uid == xr.uid
