"""RedisInstance: a Valkey server (one primary, optional replicas) from the official chart.

Auth is always on. The password is generated (and kept) in the connection
Secret, which the chart also reads its ACL password from; or it comes from a
Secret the user names, which is then read as a required resource so the
connection Secret can carry it.

Chart: valkey-io/valkey-helm 0.11.0 (values schema in $SHARED/schemas/charts/valkey-helm).
"""

import math

from function.blocks.helm import helm_release, release_deployed
from function.blocks.storage import storage_class
from function.context import Context, Desired, Selector, WarningResult
from function.kinds.redis.model import RedisParameters, RedisStatus
from function.kinds.redis.settings import RedisSettings
from function.naming import dns_label
from function.secrets import PASSWORD_KEY, connection_secret, secret_value, stable_password
from function.structs import JSON

RedisContext = Context[RedisParameters, RedisSettings]

PORT = 6379
ACL_ALL = "~* &* +@all"

SECRET = "connection-secret"
RELEASE = "release"
USER_PASSWORD = "user-password-secret"


def compose(ctx: RedisContext) -> Desired:
    """Compose a Valkey release and its connection Secret."""
    params = ctx.params
    name = dns_label(ctx.xr.name, "redis")
    host = f"{name}.{ctx.xr.namespace}.svc"
    secret_name = dns_label(ctx.xr.name, "redis")
    password_ref = params.passwordSecretRef
    if password_ref is None:
        password: str | None = stable_password(ctx, SECRET)
        acl_secret, acl_key = secret_name, PASSWORD_KEY
    else:
        password = _user_password(ctx, password_ref.name, password_ref.key)
        acl_secret, acl_key = password_ref.name, password_ref.key

    desired = Desired()
    if password is not None:
        desired.resources[SECRET] = connection_secret(
            ctx,
            secret_name,
            {
                "host": host,
                "port": str(PORT),
                "password": password,
                "uri": f"redis://:{password}@{host}:{PORT}/0",
            },
        )
    else:
        desired.warnings.append(
            WarningResult(
                f"waiting for Secret {acl_secret!r} (spec.parameters.passwordSecretRef) "
                "before writing the connection Secret"
            )
        )
    desired.resources[RELEASE] = _release(ctx, name, acl_secret, acl_key)
    deployed = release_deployed(ctx.observed.get(RELEASE) or {})
    desired.status = RedisStatus(
        connectionSecret=secret_name if SECRET in desired.resources else None,
        endpoint=f"{host}:{PORT}" if deployed else None,
    )
    return desired


def _user_password(ctx: RedisContext, secret: str, key: str) -> str | None:
    """The password in the user's Secret; else the one already in our connection Secret."""
    found = ctx.require(
        USER_PASSWORD, Selector("v1", "Secret", name=secret, namespace=ctx.xr.namespace)
    )
    return secret_value(found, key) or secret_value(ctx.observed.get(SECRET), PASSWORD_KEY)


def _release(ctx: RedisContext, name: str, acl_secret: str, acl_key: str) -> JSON:
    params, settings = ctx.params, ctx.settings
    memory = f"{params.memoryGB}Gi"
    # Leave a fifth of the container's memory to the process itself, so a full
    # dataset is refused (noeviction) instead of getting the pod OOM-killed.
    maxmemory_mb = math.floor(params.memoryGB * 1024 * 0.8)
    values: JSON = {
        "fullnameOverride": name,
        "auth": {
            "enabled": True,
            "usersExistingSecret": acl_secret,
            "aclUsers": {"default": {"permissions": ACL_ALL, "passwordKey": acl_key}},
        },
        "resources": {"requests": {"memory": memory}, "limits": {"memory": memory}},
        "valkeyConfig": f"maxmemory {maxmemory_mb}mb\nmaxmemory-policy noeviction\n",
    }
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
    return helm_release(name, settings.chart, ctx.xr.namespace, values, settings.providerConfigRef)
