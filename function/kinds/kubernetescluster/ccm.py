"""The KubeVirt cloud controller manager of a KubernetesCluster, run in the host cluster.

As CAPK runs it (kubernetes-sigs/cluster-api-provider-kubevirt v0.11.2,
templates/cluster-template-kccm.yaml): a Deployment in the namespace of the
cluster's virtual machines, talking to the workload cluster through the
<cluster>-kubeconfig Secret Cluster API writes (--kubeconfig) and to the host
cluster through its own ServiceAccount (the cloud config names no kubeconfig,
so kubevirt/cloud-provider-kubevirt v0.6.0 pkg/provider/cloud.go uses the
in-cluster one), with a Role over the VMs, VMIs and Services of that namespace.

Differences from the template, and why: objects are named after the cluster, so
two clusters share a namespace; no privileged container, no host control-plane
nodeSelector or tolerations (it only calls two API servers); Services get
explicit verbs instead of "*", which Crossplane would have to hold to grant.
"""

from function.blocks.lifecycle import compose_once_input_exists
from function.kinds.kubernetescluster.clusterapi import CLUSTER_NAME_LABEL, ClusterContext
from function.naming import dns_label
from function.structs import JSON

RBAC_API = "rbac.authorization.k8s.io/v1"
APP_LABEL = "k8s-app"
APP = "kubevirt-cloud-controller-manager"
CLOUD_CONFIG_KEY = "cloud-config"
KUBECONFIG_DIR = "/etc/kubernetes/kubeconfig"
CLOUD_CONFIG_DIR = "/etc/cloud"

# What the CCM does in the host cluster (CAPK's kccm Role): read the VMs, update
# VMIs, read pods, manage the LoadBalancer Services it creates. Crossplane composes
# this Role, so it must hold these rules itself (the catalogue entry grants them).
RULES: tuple[JSON, ...] = (
    {
        "apiGroups": ["kubevirt.io"],
        "resources": ["virtualmachines"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["kubevirt.io"],
        "resources": ["virtualmachineinstances"],
        "verbs": ["get", "list", "watch", "update"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {
        "apiGroups": [""],
        "resources": ["services"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
)
# Built-in resources composed here, as (API group, plural), for Crossplane's RBAC.
BUILTINS = (
    ("", "serviceaccounts"),
    ("", "configmaps"),
    ("apps", "deployments"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
)

# Composition resource names.
SERVICE_ACCOUNT = "ccm-service-account"
ROLE = "ccm-role"
ROLE_BINDING = "ccm-role-binding"
CLOUD_CONFIG = "ccm-cloud-config"
DEPLOYMENT = "cloud-controller-manager"
RESOURCES = (SERVICE_ACCOUNT, ROLE, ROLE_BINDING, CLOUD_CONFIG, DEPLOYMENT)


def cloud_config(namespace: str) -> str:
    """The cloud config as CAPK's cloud-config ConfigMap: the VMs' namespace, InstancesV2 on."""
    return (
        "loadBalancer:\n"
        "  creationPollInterval: 5\n"
        "  creationPollTimeout: 60\n"
        f"namespace: {namespace}\n"
        "instancesV2:\n"
        "  enabled: true\n"
        "  zoneAndRegionEnabled: false\n"
    )


def cloud_controller_manager(
    ctx: ClusterContext, cluster: str, kubeconfig_exists: bool, secret_name: str, key: str
) -> dict[str, JSON]:
    """Its objects, once the kubeconfig Secret it mounts exists; none when it is off."""
    settings = ctx.settings.cloudControllerManager
    if not settings.enabled or not compose_once_input_exists(
        kubeconfig_exists, ctx.observed, RESOURCES
    ):
        return {}
    namespace = ctx.xr.namespace
    name = dns_label(cluster, "cloud-controller-manager")  # 38 + 25: fits 63
    labels = {CLUSTER_NAME_LABEL: cluster, APP_LABEL: APP}

    def meta() -> JSON:  # a copy each: the Usage block adds labels to some
        return {"name": name, "labels": dict(labels)}

    pod_spec: JSON = {
        "serviceAccountName": name,
        "containers": [
            {
                "name": APP,
                "image": settings.image,
                "command": ["/bin/kubevirt-cloud-controller-manager"],
                "args": [
                    "--cloud-provider=kubevirt",
                    f"--cloud-config={CLOUD_CONFIG_DIR}/{CLOUD_CONFIG_KEY}",
                    f"--kubeconfig={KUBECONFIG_DIR}/{key}",
                    "--authentication-skip-lookup=true",
                    # Matches the VMs' cluster.x-k8s.io/cluster-name label (LB selectors).
                    f"--cluster-name={cluster}",
                ],
                "resources": {"requests": {"cpu": settings.cpuRequest}},
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [
                    {"name": "kubeconfig", "mountPath": KUBECONFIG_DIR, "readOnly": True},
                    {"name": "cloud-config", "mountPath": CLOUD_CONFIG_DIR, "readOnly": True},
                ],
            }
        ],
        "volumes": [
            {
                "name": "kubeconfig",
                "secret": {"secretName": secret_name, "items": [{"key": key, "path": key}]},
            },
            {"name": "cloud-config", "configMap": {"name": name}},
        ],
    }
    return {
        SERVICE_ACCOUNT: {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta()},
        ROLE: {"apiVersion": RBAC_API, "kind": "Role", "metadata": meta(), "rules": list(RULES)},
        ROLE_BINDING: {
            "apiVersion": RBAC_API,
            "kind": "RoleBinding",
            "metadata": meta(),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
        CLOUD_CONFIG: {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(),
            "data": {CLOUD_CONFIG_KEY: cloud_config(namespace)},
        },
        DEPLOYMENT: {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": dict(labels)},
                "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
            },
        },
    }
