"""RedisInstance: a Valkey server with auth, from the official chart through provider-helm."""

from function.blocks import helm
from function.kind import Kind
from function.kinds.redisinstance import compose as composer
from function.kinds.redisinstance.model import API, RedisParameters
from function.kinds.redisinstance.settings import RedisSettings
from function.readiness import Readiness

KIND = Kind[RedisParameters, RedisSettings](
    api=API,
    input_field="redisInstance",
    settings=RedisSettings,
    compose=composer.compose,
    readiness=Readiness.of(helm.READINESS),
    crds=helm.RELEASE_CRDS,
    chart_values_schemas={"valkey": "valkey-helm"},
)
