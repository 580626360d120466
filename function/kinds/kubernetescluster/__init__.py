"""KubernetesCluster: Cluster API clusters on KubeVirt, with CNI and cloud controller manager."""

from function.blocks import helm, usage
from function.context import SECRET
from function.kind import Kind
from function.kinds.kubernetescluster import capiversion, ccm, clusterapi
from function.kinds.kubernetescluster import compose as composer
from function.kinds.kubernetescluster.model import API, KubernetesClusterParameters
from function.kinds.kubernetescluster.readiness import READINESS
from function.kinds.kubernetescluster.settings import KubernetesClusterSettings

KIND = Kind[KubernetesClusterParameters, KubernetesClusterSettings](
    api=API,
    input_field="kubernetesCluster",
    settings=KubernetesClusterSettings,
    compose=composer.compose,
    readiness=READINESS,
    crds=clusterapi.CRDS + helm.RELEASE_CRDS + helm.PROVIDER_CONFIG_CRDS + usage.CRDS,
    builtins=(("", "secrets"), *ccm.BUILTINS),
    granted=ccm.RULES,
    requires=(SECRET, capiversion.DEPLOYMENT),
)
