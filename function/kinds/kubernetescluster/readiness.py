"""When what a KubernetesCluster composes is ready: Cluster API's own signals, not Ready.

Cluster API v1beta2 objects summarise readiness in Available; CAPK's v1alpha1
KubevirtCluster reports status.ready; templates have no status at all. The cloud
controller manager's Deployment and RBAC follow the built-in rules (function/readiness.py).
"""

from function.blocks import helm, usage
from function.readiness import ANY_KIND, Readiness, available_condition, exists, status_ready

READINESS = Readiness.of(
    helm.READINESS,
    usage.READINESS,
    {
        ("cluster.x-k8s.io", ANY_KIND): available_condition,
        ("controlplane.cluster.x-k8s.io", ANY_KIND): available_condition,
        ("bootstrap.cluster.x-k8s.io", ANY_KIND): exists,  # templates: no status
        ("cluster.x-k8s.io", "MachineHealthCheck"): exists,  # conditions say health, not readiness
        ("infrastructure.cluster.x-k8s.io", "KubevirtCluster"): status_ready,
        ("infrastructure.cluster.x-k8s.io", "KubevirtMachineTemplate"): exists,
    },
)
