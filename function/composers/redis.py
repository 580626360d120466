"""RedisInstance: a Valkey server (one primary, optional replicas) from the official chart.

Auth is always on. The password is generated (and kept) in the connection
Secret, which the chart also reads its ACL password from; or it comes from a
Secret the user names, which is then read as a required resource so the
connection Secret can carry it.
"""

import math

from function.api.redis import RedisParameters, RedisStatus
from function.composers.common import helm_release, status_field
from function.context import Context, Desired, Selector
from function.naming import dns_label
from function.secrets import PASSWORD_KEY, connection_secret, secret_value, stable_password
from function.structs import JSON

PORT = 6379
ACL_ALL = "~* &* +@all"

SECRET = "connection-secret"
RELEASE = "release"
USER_PASSWORD = "user-password-secret"


def compose(ctx: Context[RedisParameters]) -> Desired:
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
            f"waiting for Secret {acl_secret!r} (spec.parameters.passwordSecretRef) "
            "before writing the connection Secret"
        )
    desired.resources[RELEASE] = _release(ctx, name, acl_secret, acl_key)
    release = ctx.observed.get(RELEASE)
    deployed = status_field(release, "atProvider", "state") == "deployed"
    desired.status = RedisStatus(
        connectionSecret=secret_name if SECRET in desired.resources else None,
        endpoint=f"{host}:{PORT}" if deployed else None,
    )
    return desired


def _user_password(ctx: Context[RedisParameters], secret: str, key: str) -> str | None:
    """The password in the user's Secret; else the one already in our connection Secret."""
    found = ctx.require(
        USER_PASSWORD, Selector("v1", "Secret", name=secret, namespace=ctx.xr.namespace)
    )
    return secret_value(found, key) or secret_value(ctx.observed.get(SECRET), PASSWORD_KEY)


def _release(ctx: Context[RedisParameters], name: str, acl_secret: str, acl_key: str) -> JSON:
    params, settings = ctx.params, ctx.settings.redis
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
        persistence: JSON = {"size": size}
        if settings.storageClass:
            persistence["storageClass"] = settings.storageClass
        values["replica"] = {
            "enabled": True,
            "replicas": params.replicas - 1,
            "replicationUser": "default",
            "persistence": persistence,
        }
    elif params.persistence:
        storage: JSON = {"enabled": True, "requestedSize": size}
        if settings.storageClass:
            storage["className"] = settings.storageClass
        values["dataStorage"] = storage
        # A ReadWriteOnce volume cannot be mounted by old and new pod at once.
        values["deploymentStrategy"] = "Recreate"
    return helm_release(name, settings.chart, ctx.xr.namespace, values, settings.providerConfigRef)
