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
- On every call the clone's composition reads the source XR (a required resource) and
  checks that it lists the clone's namespace; only then does it ask Crossplane for that
  Secret (Crossplane reads it, the clone's namespace cannot) and compose a copy,
  <clone cluster>-clone-source, in the clone's namespace, which the externalClusters
  entry reads. A source that does not (or no longer) allow it gets no copy: before the
  cluster exists that is a FATAL, after it the copy is dropped with a warning.
- Removing the clone's namespace from cloning (or cloning itself) drops the role
  (ensure: absent) and the source Secret; the copy then goes too.
- cloneFrom cannot be set, removed or changed once the cluster exists (the XRD's
  transition rule, PostgreSQLParameters.transitions); the function checks the same
  against the source the observed cluster was imported from.
"""

from dataclasses import dataclass

from function.blocks.immutable import refuse_change
from function.context import Selector, WarningResult
from function.kinds.postgresqlinstance.connection import PostgreSQLContext
from function.kinds.postgresqlinstance.model import API, CloneSource, PostgreSQLParameters
from function.naming import dns_label, service_label, sql_identifier
from function.observed import integer, mapping, objects, secret_value, strings, text
from function.refusal import Refusal
from function.secrets import PASSWORD_KEY, connection_secret, stable_password
from function.structs import JSON

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
        listed = objects(ctx.observed.get("cluster"), "spec", "managed", "roles")
        if any(text(r, "name") == role for r in listed):
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
    imported = mapping(observed_cluster, "spec", "bootstrap", "initdb", "import")
    external = [
        e
        for e in objects(observed_cluster, "spec", "externalClusters")
        if e.get("name") == EXTERNAL_CLUSTER
    ]
    if imported is None or not external:
        return None
    return Clone(bootstrap_import=imported, external_cluster=external[0], copy=None)


def _source_host(source: CloneSource) -> str:
    """The source's read-write Service, which the clone imports from."""
    return f"{cluster_name(source.name)}-rw.{source.namespace}.svc"


CLONE_FROM_WHY = (
    "the cluster imports its data once, when it is created; create a new PostgreSQLInstance "
    "to clone another source (or none)"
)


def refuse_source_change(ctx: PostgreSQLContext, source: CloneSource | None) -> None:
    """A FATAL when cloneFrom is not what the observed cluster was created from: set on a
    cluster created empty, removed, or naming another source. The XRD's transition rule
    refuses the same at admission; this covers XRs created before it."""
    cluster = ctx.observed.get("cluster")
    if cluster is None:
        return
    kept = _kept(cluster)
    was = "none" if kept is None else _imported_from(kept)
    now = "none" if source is None else f"{_source_host(source)}/{sql_identifier(source.name)}"
    refuse_change("cloneFrom", was, now, CLONE_FROM_WHY)


def _imported_from(kept: Clone) -> str:
    """host/database of what the observed cluster imported, as the composer writes it."""
    host = text(kept.external_cluster, "connectionParameters", "host") or "?"
    database = text(kept.external_cluster, "connectionParameters", "dbname") or "?"
    return f"{host}/{database}"


def clone(
    ctx: PostgreSQLContext,
    source: CloneSource,
    cluster: str,
    warnings: list[WarningResult],
    requirements: dict[str, Selector],
) -> Clone | None:
    """The clone's import; None (with a warning) while the source or its credentials are not
    there yet. A Refusal when the source does not allow it before the cluster exists; after,
    the import is kept without the credentials' copy, with a warning. What it reads of the
    source joins requirements."""
    src_cluster = cluster_name(source.name)
    src_secret = role_secret_name(src_cluster)
    # Read on every call: whether the source still allows this namespace decides the copy.
    requirements[SOURCE_XR] = Selector(API.api_version, API.kind, source.name, source.namespace)
    found = ctx.found(SOURCE_XR)
    kept = _kept(ctx.observed.get("cluster"))
    who = f"spec.parameters.cloneFrom: PostgreSQLInstance {source.namespace}/{source.name}"
    if found is None:
        if kept is None:
            warnings.append(
                WarningResult(
                    f"{who} not found: the cluster is created once it exists",
                    "WaitingForCloneSource",
                )
            )
        elif ctx.fetched(SOURCE_XR):
            warnings.append(
                WarningResult(
                    f"{who} not found: its credentials are no longer copied", "CloneSourceGone"
                )
            )
        return kept
    refused = _not_allowed(ctx, found)
    if refused is not None:
        if kept is None and COPY not in ctx.observed:
            raise Refusal(f"{who} {refused}")
        warnings.append(
            WarningResult(
                f"{who} {refused}; its credentials are no longer copied into this namespace",
                "CloneNotAllowed",
            )
        )
        return kept
    # Asked for only once the source allows this namespace.
    requirements[SOURCE_CREDENTIALS] = Selector("v1", "Secret", src_secret, source.namespace)
    credentials = ctx.found(SOURCE_CREDENTIALS)
    copy = _copy(ctx, cluster, credentials)
    if kept is not None:
        kept.copy = copy  # until the source's owner revokes it
        return kept
    params = mapping(found, "spec", "parameters") or {}
    _check_importable(ctx, params, who)
    if copy is None:
        warnings.append(
            WarningResult(
                f"{who}: waiting for its clone credentials (Secret {src_secret})",
                "WaitingForCloneSource",
            )
        )
        return None
    database = sql_identifier(source.name)
    imported: JSON = {
        "type": "microservice",
        "databases": [database],
        "source": {"externalCluster": EXTERNAL_CLUSTER},
    }
    sql = strings(params, "cloning", "anonymizationSQL")
    if sql:
        imported["postImportApplicationSQL"] = sql
    external = {
        "name": EXTERNAL_CLUSTER,
        "connectionParameters": {
            "host": _source_host(source),
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


def _not_allowed(ctx: PostgreSQLContext, source: JSON) -> str | None:
    """Why the source XR does not allow this namespace to clone it; None when it does. A
    source of another shape allows no one."""
    allowed = strings(source, "spec", "parameters", "cloning", "namespaces")
    if ctx.xr.namespace not in allowed:
        return (
            f"does not allow namespace {ctx.xr.namespace} to clone it: its owner must list it "
            "in spec.parameters.cloning.namespaces"
        )
    return None


# The source's version when its spec leaves it out: the XRD's default.
_DEFAULT_VERSION = PostgreSQLParameters.model_fields["version"].default


def _check_importable(ctx: PostgreSQLContext, params: JSON, who: str) -> None:
    """A Refusal when the source's data cannot be imported into this instance."""
    if text(params, "deployment") != "dedicated":
        raise Refusal(f"{who} is not dedicated: only a dedicated instance can be cloned")
    source_version = integer(params, "version") if "version" in params else _DEFAULT_VERSION
    if source_version is None:
        raise Refusal(f"{who} has no PostgreSQL major version (spec.parameters.version)")
    if source_version > ctx.params.version:
        raise Refusal(
            f"spec.parameters.version: must be >= the source's ({source_version}): pg_dump "
            f"cannot import into an older PostgreSQL (got {ctx.params.version})"
        )
