"""PostgreSQLInstance: a database on the shared server (provider-sql) or its own CNPG cluster."""

from function.context import SECRET, RequiredKind
from function.kind import Kind
from function.kinds.postgresqlinstance import compose as composer
from function.kinds.postgresqlinstance import dedicated, shared
from function.kinds.postgresqlinstance.model import API, PostgreSQLParameters
from function.kinds.postgresqlinstance.readiness import READINESS
from function.kinds.postgresqlinstance.settings import PostgreSQLSettings

KIND = Kind[PostgreSQLParameters, PostgreSQLSettings](
    api=API,
    input_field="postgresqlInstance",
    settings=PostgreSQLSettings,
    compose=composer.compose,
    readiness=READINESS,
    crds=shared.CRDS + dedicated.CRDS,
    lifetime=composer.instance_lifetime,
    # Secrets (admin, superuser, a clone source's credentials) and a clone's source XR.
    requires=(SECRET, RequiredKind(API.api_version, API.kind, API.plural)),
)
