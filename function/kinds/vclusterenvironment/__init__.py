"""VClusterEnvironment: a team's vCluster, quotas, add-ons, services and Argo CD registration."""

from function.blocks import helm, kubernetes, usage
from function.kind import Kind
from function.kinds.vclusterenvironment import compose as composer
from function.kinds.vclusterenvironment import services, sharing
from function.kinds.vclusterenvironment.model import API, VClusterEnvironmentParameters
from function.kinds.vclusterenvironment.readiness import READINESS
from function.kinds.vclusterenvironment.settings import VClusterEnvironmentSettings

KIND = Kind[VClusterEnvironmentParameters, VClusterEnvironmentSettings](
    api=API,
    input_field="vclusterEnvironment",
    settings=VClusterEnvironmentSettings,
    compose=composer.compose,
    readiness=READINESS,
    crds=helm.RELEASE_CRDS
    + helm.PROVIDER_CONFIG_CRDS
    + kubernetes.OBJECT_CRDS
    + kubernetes.PROVIDER_CONFIG_CRDS
    + usage.CRDS,
    chart_values_schemas={"vcluster": "vcluster"},
    requires=(*services.REQUIRES, sharing.ENVIRONMENT_KIND),
)
