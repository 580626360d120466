"""PostgreSQLInstance: a database on the shared server (provider-sql) or its own CNPG cluster."""

from function.kind import Kind
from function.kinds.postgresql import compose as composer
from function.kinds.postgresql import dedicated, shared
from function.kinds.postgresql.model import API, PostgreSQLParameters
from function.kinds.postgresql.readiness import READINESS
from function.kinds.postgresql.settings import PostgreSQLSettings

KIND = Kind[PostgreSQLParameters, PostgreSQLSettings](
    api=API,
    input_field="postgresql",
    settings=PostgreSQLSettings,
    compose=composer.compose,
    readiness=READINESS,
    crds=shared.CRDS + dedicated.CRDS,
)
