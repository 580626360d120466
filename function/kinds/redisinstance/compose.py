"""RedisInstance: a Valkey server (one primary, optional replicas) from the official chart.

Auth is always on. The password is generated (and kept) in the connection
Secret, which the chart also reads its ACL password from; or it comes from a
Secret the user names, which is then read as a required resource so the
connection Secret can carry it.

Chart: valkey-io/valkey-helm 0.11.0 (values schema in $SHARED/schemas/charts/valkey-helm).
"""

import math
from urllib.parse import quote

from function.blocks.helm import helm_release, release_deployed
from function.blocks.immutable import refuse_change
from function.blocks.storage import storage_class
from function.context import Context, Desired, Selector, WarningResult
from function.kinds.redisinstance.model import CONNECTION, RedisParameters, RedisStatus
from function.kinds.redisinstance.settings import RedisSettings
from function.naming import service_label, starts_with_letter
from function.observed import (
    SecretDataError,
    digits,
    flag,
    integer,
    mapping,
    secret_value,
    text,
)
from function.refusal import Refusal
from function.secrets import PASSWORD_KEY, composed_secret_value, connection_secret, stable_password
from function.structs import JSON

RedisContext = Context[RedisParameters, RedisSettings]

PORT = 6379
ACL_ALL = "~* &* +@all"

SECRET = "connection-secret"
RELEASE = "release"
USER_PASSWORD = "user-password-secret"

# The chart names everything after fullnameOverride plus a suffix (valkey-helm 0.11.0
# templates: <name>-headless, -read, -metrics Services; StatefulSet pods <name>-<n>),
# and a StatefulSet's pods carry controller-revision-hash=<name>-<10 chars>, a label
# value of at most 63: so the name is capped at 52 (also Helm's release-name limit, 53).
NAME_LIMIT = 52

REPLICAS_WHY = (
    "the Valkey chart keeps a single server's data on one PersistentVolumeClaim and "
    "replicated servers' on StatefulSet volume templates, so the data would not move; "
    "create a new RedisInstance and migrate the data instead"
)
SIZE_WHY = (
    "the volumes are StatefulSet volume templates (replicated) or a claim Helm cannot shrink, "
    "so the upgrade fails; create a new RedisInstance with the size you need and migrate"
)
PERSISTENCE_WHY = (
    "turning persistence off deletes the volume holding the data; create a new "
    "RedisInstance without persistence instead"
)


def compose(ctx: RedisContext) -> Desired:
    """Compose a Valkey release and its connection Secret."""
    params = ctx.params
    _refuse_data_loss(ctx)
    if not starts_with_letter(ctx.xr.name):
        raise Refusal(
            f"metadata.name {ctx.xr.name!r} must start with a letter: the chart names its "
            "Services after it, and a Service name starts with a letter (RFC 1035)"
        )
    name = service_label(ctx.xr.name, "redis", limit=NAME_LIMIT)
    host = f"{name}.{ctx.xr.namespace}.svc"
    secret_name = CONNECTION.name(ctx.xr.name)
    password_ref = params.passwordSecretRef
    desired = Desired()
    if password_ref is None:
        password: str | None = stable_password(ctx, SECRET)
        acl_secret, acl_key = secret_name, PASSWORD_KEY
    else:
        password = _user_password(ctx, desired, password_ref.name, password_ref.key)
        acl_secret, acl_key = password_ref.name, password_ref.key

    connection = {"host": host, "port": str(PORT)}
    if password is not None:
        connection |= {
            "password": password,
            "uri": f"redis://:{quote(password, safe='')}@{host}:{PORT}/0",
        }
    if password is not None or SECRET in ctx.observed:
        # Without a password yet, an existing connection Secret is still composed (with what
        # is known) so that it is not deleted while the user's Secret is briefly missing.
        desired.resources[SECRET] = connection_secret(ctx, secret_name, connection)
    if password is None:
        desired.warnings.append(
            WarningResult(
                f"waiting for Secret {acl_secret!r} (spec.parameters.passwordSecretRef) "
                "before writing the connection Secret"
            )
        )
    desired.resources[RELEASE] = _release(ctx, name, acl_secret, acl_key)
    deployed = release_deployed(ctx.observed.get(RELEASE) or {})
    desired.status = RedisStatus(
        connectionSecret=secret_name if password is not None else None,
        endpoint=f"{host}:{PORT}" if deployed else None,
    )
    return desired


def _refuse_data_loss(ctx: RedisContext) -> None:
    """FATAL for a change of volume layout against the release already composed.

    The observed values are read as the composer writes them; anything of another shape
    was not written by it and is not judged.
    """
    values = mapping(ctx.observed.get(RELEASE), "spec", "forProvider", "values")
    if values is None:
        return
    params = ctx.params
    if flag(values, "replica", "enabled"):
        count = integer(values, "replica", "replicas")
        was_replicas = count + 1 if count is not None else "more than 1"
        if params.replicas == 1:
            refuse_change("replicas", was_replicas, params.replicas, REPLICAS_WHY)
        was_size = text(values, "replica", "persistence", "size")
    else:
        if params.replicas > 1:
            refuse_change("replicas", 1, params.replicas, REPLICAS_WHY)
        persistent = flag(values, "dataStorage", "enabled")
        if persistent and not params.persistence:
            refuse_change("persistence", True, False, PERSISTENCE_WHY)
        was_size = text(values, "dataStorage", "requestedSize") if persistent else None
    # The composer writes <n>Gi; anything else was not written by it and is not judged.
    was_gb = digits((was_size or "").removesuffix("Gi"), max_digits=9)
    if was_gb is not None and params.persistence:
        refuse_change("persistenceSizeGB", was_gb, params.persistenceSizeGB, SIZE_WHY)


def _user_password(ctx: RedisContext, desired: Desired, secret: str, key: str) -> str | None:
    """The password in the user's Secret; else the one already in our connection Secret."""
    desired.require(
        USER_PASSWORD, Selector("v1", "Secret", name=secret, namespace=ctx.xr.namespace)
    )
    try:
        user = secret_value(ctx.found(USER_PASSWORD), key)
    except SecretDataError as e:
        raise Refusal(f"spec.parameters.passwordSecretRef: {e}") from None
    return user or composed_secret_value(ctx, SECRET, PASSWORD_KEY)


def _release(ctx: RedisContext, name: str, acl_secret: str, acl_key: str) -> JSON:
    params, settings = ctx.params, ctx.settings
    memory = f"{params.memoryGB}Gi"
    # Leave a fifth of the container's memory to the process itself, so a full
    # dataset is refused (noeviction) instead of getting the pod OOM-killed.
    maxmemory_mb = math.floor(params.memoryGB * 1024 * 0.8)
    image = settings.image
    values: JSON = {
        "fullnameOverride": name,
        "image": {"registry": image.registry, "repository": image.repository, "tag": image.tag},
        "auth": {
            "enabled": True,
            "usersExistingSecret": acl_secret,
            "aclUsers": {"default": {"permissions": ACL_ALL, "passwordKey": acl_key}},
        },
        "resources": {"requests": {"memory": memory}, "limits": {"memory": memory}},
        "valkeyConfig": f"maxmemory {maxmemory_mb}mb\nmaxmemory-policy noeviction\n",
    }
    if settings.metrics.enabled:
        # The chart's exporter sidecar reads the default user's password from the same
        # Secret as the server (templates/deploy_valkey.yaml, REDIS_PASSWORD) and its
        # PodMonitor scrapes the port named metrics (templates/podmonitor.yaml).
        values["metrics"] = {"enabled": True, "podMonitor": {"enabled": True}}
    size = f"{params.persistenceSizeGB}Gi"
    if params.replicas > 1:
        persistence: JSON = {"size": size} | storage_class("storageClass", settings.storageClass)
        values["replica"] = {
            "enabled": True,
            "replicas": params.replicas - 1,
            "replicationUser": "default",
            "persistence": persistence,
        }
    elif params.persistence:
        values["dataStorage"] = {"enabled": True, "requestedSize": size} | storage_class(
            "className", settings.storageClass
        )
        # A ReadWriteOnce volume cannot be mounted by old and new pod at once.
        values["deploymentStrategy"] = "Recreate"
    return helm_release(
        name,
        settings.chart,
        ctx.xr.namespace,
        values,
        settings.providerConfigRef,
        wait_timeout=settings.waitTimeout,
    )
