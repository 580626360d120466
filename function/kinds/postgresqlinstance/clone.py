"""Sandbox clones: a dedicated instance bootstrapped from another's data.

CloudNativePG imports a database at bootstrap (Cluster spec.bootstrap.initdb.import,
type microservice: pg_dump over the network from an externalClusters entry, pg_restore
into the new application database, then postImportApplicationSQL as superuser in it;
docs/src/database_import.md, CRD postgresql.cnpg.io_clusters.yaml v1.30.0). No shell,
no dump file outside the new cluster's own volume.

Who may clone what:
- The source decides: spec.parameters.cloning.namespaces lists the namespaces whose
  instances may clone it; by default nobody may. A production source must also give
  cloning.anonymizationSQL (an XRD rule), which runs on every clone's data before
  its cluster accepts connections.
- A clone is never production, and must be dedicated (XRD rules); the source must be
  dedicated too, and of a PostgreSQL major version not newer than the clone's.

How the source's credentials reach the clone's namespace:
- The source's cluster gets a login role <database>_clone, member of pg_read_all_data
  (read-only, two connections), managed by CloudNativePG (spec.managed.roles) with its
  password in the Secret <cluster>-clone in the source's namespace.
- The clone's composition asks Crossplane for that Secret (a required resource: Crossplane
  reads it, the clone's namespace cannot) and composes a copy, <clone cluster>-clone-source,
  in the clone's namespace, which the externalClusters entry reads.
- Removing the clone's namespace from cloning (or cloning itself) drops the role
  (ensure: absent) and the source Secret; the copy then goes too.
"""

from dataclasses import dataclass

from function.context import Selector, WarningResult
from function.kinds.postgresqlinstance.connection import PostgreSQLContext
from function.kinds.postgresqlinstance.model import API, CloneSource
from function.naming import dns_label, service_label, sql_identifier
from function.observed import secret_value
from function.refusal import Refusal
from function.secrets import PASSWORD_KEY, connection_secret, stable_password
from function.structs import JSON, dig

SOURCE_XR = "clone-source"
SOURCE_CREDENTIALS = "clone-source-credentials"
COPY = "clone-source-secret"  # composition resource name of the copy, in the clone's namespace
ROLE_SECRET = "clone-role-secret"  # composition resource name of the source's Secret
EXTERNAL_CLUSTER = "clone-source"
READ_ALL = "pg_read_all_data"  # PostgreSQL 14+: SELECT on every table, view and sequence


def cluster_name(xr_name: str) -> str:
    """The CloudNativePG Cluster of an instance (its pods and Services are named after it)."""
    return service_label(xr_name, "pg", limit=50)


def role_secret_name(cluster: str) -> str:
    return dns_label(cluster, "clone")


# --- the source side -----------------------------------------------------------------------------


def source_role(
    ctx: PostgreSQLContext, cluster: str, database: str
) -> tuple[JSON | None, JSON | None]:
    """(managed role, its password Secret) of a source that allows cloning.

    Once cloning is removed, the role is kept in the spec with ensure: absent for as
    long as the observed cluster still lists it, so CloudNativePG drops it.
    """
    role = sql_identifier(database, "clone")
    if ctx.params.cloning is None:
        listed = dig(ctx.observed.get("cluster") or {}, "spec", "managed", "roles") or []
        if any(isinstance(r, dict) and r.get("name") == role for r in listed):
            return {"name": role, "ensure": "absent"}, None
        return None, None
    secret = connection_secret(
        ctx,
        role_secret_name(cluster),
        {"username": role, PASSWORD_KEY: stable_password(ctx, ROLE_SECRET)},
        secret_type="kubernetes.io/basic-auth",
    )
    managed = {
        "name": role,
        "ensure": "present",
        "comment": "read-only login for sandbox clones (function-platform)",
        "login": True,
        "inRoles": [READ_ALL],
        "connectionLimit": 2,
        "passwordSecret": {"name": secret["metadata"]["name"]},
    }
    return managed, secret


# --- the clone side ------------------------------------------------------------------------------


@dataclass
class Clone:
    """What the clone's Cluster needs: its import, the external cluster, the credentials copy."""

    bootstrap_import: JSON
    external_cluster: JSON
    copy: JSON | None


def _kept(observed_cluster: JSON | None) -> Clone | None:
    """The import the cluster was created with: bootstrap is read once, so it never changes."""
    spec = (observed_cluster or {}).get("spec") or {}
    imported = dig(spec, "bootstrap", "initdb", "import")
    external = [e for e in spec.get("externalClusters") or [] if e.get("name") == EXTERNAL_CLUSTER]
    if not isinstance(imported, dict) or not external:
        return None
    return Clone(bootstrap_import=imported, external_cluster=external[0], copy=None)


def clone(
    ctx: PostgreSQLContext,
    source: CloneSource,
    cluster: str,
    warnings: list[WarningResult],
    requirements: dict[str, Selector],
) -> Clone | None:
    """The clone's import; None (with a warning) while the source or its credentials are not
    there yet. A Refusal when the source does not allow it. What it reads of the source
    joins requirements."""
    src_cluster = cluster_name(source.name)
    src_secret = role_secret_name(src_cluster)
    requirements[SOURCE_CREDENTIALS] = Selector("v1", "Secret", src_secret, source.namespace)
    credentials = ctx.found(SOURCE_CREDENTIALS)
    kept = _kept(ctx.observed.get("cluster"))
    copy = _copy(ctx, cluster, credentials)
    if kept is not None:
        kept.copy = copy  # until the source's owner revokes it
        return kept
    requirements[SOURCE_XR] = Selector(API.api_version, API.kind, source.name, source.namespace)
    found = ctx.found(SOURCE_XR)
    who = f"spec.parameters.cloneFrom: PostgreSQLInstance {source.namespace}/{source.name}"
    if found is None:
        warnings.append(
            WarningResult(
                f"{who} not found: the cluster is created once it exists", "WaitingForCloneSource"
            )
        )
        return None
    _check_allowed(ctx, found, who)
    if copy is None:
        warnings.append(
            WarningResult(
                f"{who}: waiting for its clone credentials (Secret {src_secret})",
                "WaitingForCloneSource",
            )
        )
        return None
    params = (found.get("spec") or {}).get("parameters") or {}
    database = sql_identifier(source.name)
    imported: JSON = {
        "type": "microservice",
        "databases": [database],
        "source": {"externalCluster": EXTERNAL_CLUSTER},
    }
    sql = list((params.get("cloning") or {}).get("anonymizationSQL") or [])
    if sql:
        imported["postImportApplicationSQL"] = sql
    external = {
        "name": EXTERNAL_CLUSTER,
        "connectionParameters": {
            "host": f"{src_cluster}-rw.{source.namespace}.svc",
            "user": secret_value(credentials, "username") or "",
            "dbname": database,
            "sslmode": "require",
        },
        "password": {"name": copy["metadata"]["name"], "key": PASSWORD_KEY},
    }
    return Clone(bootstrap_import=imported, external_cluster=external, copy=copy)


def _copy(ctx: PostgreSQLContext, cluster: str, credentials: JSON | None) -> JSON | None:
    """The source's clone credentials, copied into the clone's namespace."""
    username, password = (
        secret_value(credentials, "username"),
        secret_value(credentials, PASSWORD_KEY),
    )
    if not username or not password:
        return None
    return connection_secret(
        ctx,
        dns_label(cluster, "clone-source"),
        {"username": username, PASSWORD_KEY: password},
        secret_type="kubernetes.io/basic-auth",
    )


def _check_allowed(ctx: PostgreSQLContext, source: JSON, who: str) -> None:
    params = (source.get("spec") or {}).get("parameters") or {}
    allowed = (params.get("cloning") or {}).get("namespaces") or []
    if ctx.xr.namespace not in allowed:
        raise Refusal(
            f"{who} does not allow namespace {ctx.xr.namespace} to clone it: its owner must "
            f"list it in spec.parameters.cloning.namespaces"
        )
    if params.get("deployment") != "dedicated":
        raise Refusal(f"{who} is not dedicated: only a dedicated instance can be cloned")
    source_version = int(params.get("version", 16))
    if source_version > ctx.params.version:
        raise Refusal(
            f"spec.parameters.version: must be >= the source's ({source_version}): pg_dump "
            f"cannot import into an older PostgreSQL (got {ctx.params.version})"
        )
