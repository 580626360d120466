"""When what a KubernetesCluster composes is ready: Cluster API's own signals, not Ready.

Cluster API v1beta2 objects summarise readiness in Available; CAPK's v1alpha1
KubevirtCluster reports status.ready; templates have no status at all; a
Deployment reports Available.
"""

from function.blocks import helm
from function.blocks.usage import USAGE_API
from function.readiness import ANY_KIND, Readiness, available_condition, exists, status_ready
from function.structs import api_group

READINESS = Readiness.of(
    helm.READINESS,
    {
        ("cluster.x-k8s.io", ANY_KIND): available_condition,
        ("controlplane.cluster.x-k8s.io", ANY_KIND): available_condition,
        ("bootstrap.cluster.x-k8s.io", ANY_KIND): exists,  # templates: no status
        ("cluster.x-k8s.io", "MachineHealthCheck"): exists,  # conditions say health, not readiness
        ("infrastructure.cluster.x-k8s.io", "KubevirtCluster"): status_ready,
        ("infrastructure.cluster.x-k8s.io", "KubevirtMachineTemplate"): exists,
        # The cloud controller manager: available replicas; its RBAC has no status.
        ("apps", "Deployment"): available_condition,
        ("rbac.authorization.k8s.io", ANY_KIND): exists,
        (api_group(USAGE_API), "Usage"): exists,  # a guard, no status to wait for
    },
)
