"""KubernetesCluster: Cluster API objects for a cluster of KubeVirt machines, and its add-ons.

The Cluster API objects are composed directly (Cluster API v1beta2, CAPK
v1alpha1) in the XR's namespace, named after the XR so two clusters never
collide. Machine templates are immutable in Cluster API, so each template is
named (and keyed) by a hash of its content: a resize composes a new template,
the MachineDeployment or KubeadmControlPlane reference moves to it and Cluster
API rolls the machines; Crossplane deletes the old template.

The network plugin and the KubeVirt cloud controller manager are Helm
releases installed into the workload cluster through a provider-helm
ProviderConfig that reads the kubeconfig Secret Cluster API writes. They are
composed once that Secret exists and, once composed, kept even if the Secret
is briefly gone (deleting them would uninstall the CNI).
"""

import hashlib
import json
from dataclasses import dataclass
from ipaddress import ip_network
from typing import Any

from function import readiness
from function.api.kubernetescluster import KubernetesClusterParameters, KubernetesClusterStatus
from function.composers.common import HELM_API, helm_release, status_field
from function.context import ComposeError, Context, Desired, Selector
from function.naming import dns_label
from function.quantity import whole_cpus
from function.settings import AddOnChart, ClusterSize, KubernetesClusters, ProviderConfigRef
from function.structs import JSON
from function.vault.kubeconfig import kubeconfig_intent

CLUSTER_API = "cluster.x-k8s.io/v1beta2"
CONTROL_PLANE_API = "controlplane.cluster.x-k8s.io/v1beta2"
BOOTSTRAP_API = "bootstrap.cluster.x-k8s.io/v1beta2"
INFRASTRUCTURE_API = "infrastructure.cluster.x-k8s.io/v1alpha1"

CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
DEPLOYMENT_NAME_LABEL = "cluster.x-k8s.io/deployment-name"
LIVE_MIGRATION_ANNOTATION = "kubevirt.io/allow-pod-bridge-network-live-migration"
KUBE_OVN_MASTER_LABEL = "kube-ovn/role=master"
KUBECONFIG_KEY = "value"  # Cluster API's key in <cluster>-kubeconfig

# Cluster names leave room for the suffixes Cluster API and CAPK add
# (<cluster>-kubeconfig, <cluster>-lb, machine names).
CLUSTER_NAME_MAX = 38  # <cluster>-control-plane-<hash> stays within 63
HASH_LEN = 8

# Composition resource names. Templates are keyed by content hash too:
# Crossplane keeps an existing composed resource's name, so a renamed template
# must be a new composed resource.
CLUSTER = "cluster"
KUBEVIRT_CLUSTER = "kubevirt-cluster"
CONTROL_PLANE = "control-plane"
CONTROL_PLANE_TEMPLATE = "control-plane-template"
WORKER_TEMPLATE = "worker-template"
WORKER_BOOTSTRAP = "worker-bootstrap"
WORKERS = "workers"
WORKER_HEALTH_CHECK = "worker-health-check"
HELM_PROVIDER_CONFIG = "helm-provider-config"
CNI = "cni"
CLOUD_CONTROLLER_MANAGER = "cloud-controller-manager"
ADD_ONS = (HELM_PROVIDER_CONFIG, CNI, CLOUD_CONTROLLER_MANAGER)
KUBECONFIG = "kubeconfig"  # required resource key


@dataclass(frozen=True)
class Size:
    """Machine counts and sizes after presets and defaults."""

    controlPlaneNodes: int
    workerNodes: int
    controlPlaneCPU: str
    controlPlaneMemory: str
    workerCPU: str
    workerMemory: str
    workerStorage: str


def resolve_size(params: KubernetesClusterParameters, settings: KubernetesClusters) -> Size:
    """Each size from the XR, else its environment's preset, else the platform default."""
    preset = settings.presets.get(params.environment, ClusterSize())
    values: dict[str, Any] = {}
    for field in Size.__dataclass_fields__:
        value = next(
            (
                v
                for v in (
                    getattr(params, field),
                    getattr(preset, field),
                    getattr(settings.defaults, field),
                )
                if v is not None
            ),
            None,
        )
        if value is None:
            raise ComposeError(f"input kubernetesClusters.defaults.{field} must be set")
        values[field] = value
    return Size(**values)


def content_hash(obj: Any) -> str:
    """A short, stable hash of a JSON value."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LEN]


def cluster_name(xr_name: str) -> str:
    """The Cluster API cluster's name: the XR's, as a DNS label short enough for suffixes."""
    label = xr_name.replace(".", "-")
    if label != xr_name:  # keep a.b and a-b apart
        label = f"{label[: CLUSTER_NAME_MAX - HASH_LEN - 1]}-{content_hash(xr_name)}"
    return dns_label(label, limit=CLUSTER_NAME_MAX)


def disk_image(settings: KubernetesClusters, version: str) -> str:
    """The machines' disk image for a Kubernetes version: the one place they are paired."""
    return f"{settings.diskImage}:{version}"


def ref(api_version: str, kind: str, name: str) -> JSON:
    """A Cluster API v1beta2 object reference (apiGroup, kind, name)."""
    return {"apiGroup": api_version.split("/", 1)[0], "kind": kind, "name": name}


def kubelet_args(*labels: str) -> list[JSON]:
    args: list[JSON] = [{"name": "cloud-provider", "value": "external"}]
    if labels:
        args.append({"name": "node-labels", "value": ",".join(labels)})
    return args


def compose(ctx: Context[KubernetesClusterParameters]) -> Desired:
    """Compose a Cluster API cluster on KubeVirt, and its add-ons once it has a kubeconfig."""
    params, settings = ctx.params, ctx.settings.kubernetesClusters
    size = resolve_size(params, settings)
    name = cluster_name(ctx.xr.name)
    resources: dict[str, JSON] = {}

    cp_key, cp_template = _machine_template(
        ctx,
        key=CONTROL_PLANE_TEMPLATE,
        prefix=dns_label(name, "control-plane"),
        cpu=size.controlPlaneCPU,
        memory=size.controlPlaneMemory,
        storage=settings.controlPlaneStorage,
    )
    worker_key, worker_template = _machine_template(
        ctx,
        key=WORKER_TEMPLATE,
        prefix=dns_label(name, "workers"),
        cpu=size.workerCPU,
        memory=size.workerMemory,
        storage=size.workerStorage,
    )
    bootstrap_key, bootstrap = _worker_bootstrap(name)
    resources[cp_key] = cp_template
    resources[worker_key] = worker_template
    resources[bootstrap_key] = bootstrap

    control_plane_name = dns_label(name, "control-plane")
    workers_name = dns_label(name, "workers")
    resources[CLUSTER] = _cluster(settings, name, control_plane_name)
    resources[KUBEVIRT_CLUSTER] = {
        "apiVersion": INFRASTRUCTURE_API,
        "kind": "KubevirtCluster",
        "metadata": {"name": name},
        "spec": {
            "controlPlaneServiceTemplate": {"spec": {"type": settings.controlPlaneServiceType}}
        },
    }
    resources[CONTROL_PLANE] = _control_plane(
        ctx, control_plane_name, size, cp_template["metadata"]["name"]
    )
    resources[WORKERS] = _machine_deployment(
        ctx,
        cluster=name,
        name=workers_name,
        size=size,
        template=worker_template["metadata"]["name"],
        bootstrap=bootstrap["metadata"]["name"],
    )
    resources[WORKER_HEALTH_CHECK] = _health_check(settings, name, workers_name)

    secret_name = f"{name}-kubeconfig"
    kubeconfig = ctx.require(
        KUBECONFIG, Selector("v1", "Secret", name=secret_name, namespace=ctx.xr.namespace)
    )
    # Never composed before their input exists, never dropped once composed.
    if kubeconfig is not None or any(key in ctx.observed for key in ADD_ONS):
        resources.update(_add_ons(ctx, name, secret_name))

    vault = (
        [kubeconfig_intent(ctx.params.vaultPath, kubeconfig, secret_name, KUBECONFIG_KEY)]
        if ctx.params.vaultPath
        else []
    )
    return Desired(resources=resources, status=_status(ctx, kubeconfig, secret_name), vault=vault)


def _machine_template(
    ctx: Context[KubernetesClusterParameters],
    *,
    key: str,
    prefix: str,
    cpu: str,
    memory: str,
    storage: str,
) -> tuple[str, JSON]:
    """A KubevirtMachineTemplate named and keyed by a hash of its content."""
    params, settings = ctx.params, ctx.settings.kubernetesClusters
    live_migration = params.enableLiveMigration
    disk: JSON = {
        "accessModes": ["ReadWriteMany" if live_migration else "ReadWriteOnce"],
        "resources": {"requests": {"storage": storage}},
    }
    if settings.storageClass:
        disk["storageClassName"] = settings.storageClass
    vmi_spec: JSON = {
        "domain": {
            "cpu": {"cores": whole_cpus(cpu)},
            "resources": {"requests": {"cpu": cpu, "memory": memory}},
            "devices": {
                "disks": [{"name": "system", "disk": {"bus": "virtio"}}],
                "interfaces": [{"name": "default", "bridge": {}}],
            },
        },
        "networks": [{"name": "default", "pod": {}}],
        "volumes": [{"name": "system", "dataVolume": {"name": "system-disk"}}],
    }
    vmi: JSON = {"spec": vmi_spec}
    if live_migration:
        vmi_spec["evictionStrategy"] = "LiveMigrate"
        # Bridge binding on the pod network blocks migration unless allowed.
        vmi["metadata"] = {"annotations": {LIVE_MIGRATION_ANNOTATION: "true"}}
    spec: JSON = {
        "template": {
            "spec": {
                "virtualMachineBootstrapCheck": {"checkStrategy": "ssh"},
                "virtualMachineTemplate": {
                    "metadata": {"namespace": ctx.xr.namespace},
                    "spec": {
                        "runStrategy": "Always",
                        "dataVolumeTemplates": [
                            {
                                "metadata": {"name": "system-disk"},
                                "spec": {
                                    "storage": disk,
                                    "source": {
                                        "registry": {
                                            "url": disk_image(settings, params.kubernetesVersion)
                                        }
                                    },
                                },
                            }
                        ],
                        "template": vmi,
                    },
                },
            }
        }
    }
    digest = content_hash(spec)
    return f"{key}-{digest}", {
        "apiVersion": INFRASTRUCTURE_API,
        "kind": "KubevirtMachineTemplate",
        "metadata": {"name": dns_label(prefix, digest)},
        "spec": spec,
    }


def _worker_bootstrap(name: str) -> tuple[str, JSON]:
    """The workers' KubeadmConfigTemplate, named by content like the machine templates."""
    registration = {"nodeRegistration": {"kubeletExtraArgs": kubelet_args()}}
    spec: JSON = {"template": {"spec": {"joinConfiguration": registration}}}
    digest = content_hash(spec)
    return f"{WORKER_BOOTSTRAP}-{digest}", {
        "apiVersion": BOOTSTRAP_API,
        "kind": "KubeadmConfigTemplate",
        "metadata": {"name": dns_label(name, "workers", digest)},
        "spec": spec,
    }


def _cluster(settings: KubernetesClusters, name: str, control_plane: str) -> JSON:
    return {
        "apiVersion": CLUSTER_API,
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "clusterNetwork": {
                "pods": {"cidrBlocks": [settings.podCIDR]},
                "services": {"cidrBlocks": [settings.serviceCIDR]},
            },
            "controlPlaneRef": ref(CONTROL_PLANE_API, "KubeadmControlPlane", control_plane),
            "infrastructureRef": ref(INFRASTRUCTURE_API, "KubevirtCluster", name),
        },
    }


def _control_plane(
    ctx: Context[KubernetesClusterParameters], name: str, size: Size, template: str
) -> JSON:
    # kube-ovn runs its central components on nodes with this label.
    labels = (KUBE_OVN_MASTER_LABEL,) if ctx.params.networkPlugin == "kube-ovn" else ()
    registration = {"nodeRegistration": {"kubeletExtraArgs": kubelet_args(*labels)}}
    return {
        "apiVersion": CONTROL_PLANE_API,
        "kind": "KubeadmControlPlane",
        "metadata": {"name": name},
        "spec": {
            "replicas": size.controlPlaneNodes,
            "version": ctx.params.kubernetesVersion,
            "machineTemplate": {
                "spec": {
                    "infrastructureRef": ref(
                        INFRASTRUCTURE_API, "KubevirtMachineTemplate", template
                    )
                }
            },
            "kubeadmConfigSpec": {
                "initConfiguration": registration,
                "joinConfiguration": registration,
            },
        },
    }


def _machine_deployment(
    ctx: Context[KubernetesClusterParameters],
    *,
    cluster: str,
    name: str,
    size: Size,
    template: str,
    bootstrap: str,
) -> JSON:
    labels = {CLUSTER_NAME_LABEL: cluster, DEPLOYMENT_NAME_LABEL: name}
    return {
        "apiVersion": CLUSTER_API,
        "kind": "MachineDeployment",
        "metadata": {"name": name},
        "spec": {
            "clusterName": cluster,
            "replicas": size.workerNodes,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "clusterName": cluster,
                    "version": ctx.params.kubernetesVersion,
                    "bootstrap": {
                        "configRef": ref(BOOTSTRAP_API, "KubeadmConfigTemplate", bootstrap)
                    },
                    "infrastructureRef": ref(
                        INFRASTRUCTURE_API, "KubevirtMachineTemplate", template
                    ),
                },
            },
        },
    }


def _health_check(settings: KubernetesClusters, cluster: str, workers: str) -> JSON:
    health = settings.machineHealth
    timeout = health.unhealthyNodeTimeoutSeconds
    max_unhealthy: int | str = (
        health.maxUnhealthy if health.maxUnhealthy.endswith("%") else int(health.maxUnhealthy)
    )
    return {
        "apiVersion": CLUSTER_API,
        "kind": "MachineHealthCheck",
        "metadata": {"name": workers},
        "spec": {
            "clusterName": cluster,
            "selector": {
                "matchLabels": {CLUSTER_NAME_LABEL: cluster, DEPLOYMENT_NAME_LABEL: workers}
            },
            "checks": {
                "nodeStartupTimeoutSeconds": health.nodeStartupTimeoutSeconds,
                "unhealthyNodeConditions": [
                    {"type": "Ready", "status": "False", "timeoutSeconds": timeout},
                    {"type": "Ready", "status": "Unknown", "timeoutSeconds": timeout},
                ],
            },
            "remediation": {"triggerIf": {"unhealthyLessThanOrEqualTo": max_unhealthy}},
        },
    }


def _add_ons(
    ctx: Context[KubernetesClusterParameters], cluster: str, secret_name: str
) -> dict[str, JSON]:
    settings = ctx.settings.kubernetesClusters
    provider_config = dns_label(cluster, settings.helmProviderConfigSuffix)
    plugin = ctx.params.networkPlugin
    plugins = settings.networkPlugins
    cni = {"kube-ovn": plugins.kubeOvn, "calico": plugins.calico, "cilium": plugins.cilium}[plugin]
    return {
        HELM_PROVIDER_CONFIG: {
            "apiVersion": HELM_API,
            "kind": "ProviderConfig",
            "metadata": {"name": provider_config},
            "spec": {
                "credentials": {
                    "source": "Secret",
                    "secretRef": {
                        "namespace": ctx.xr.namespace,
                        "name": secret_name,
                        "key": KUBECONFIG_KEY,
                    },
                }
            },
        },
        CNI: _release(plugin, cni, provider_config, _cni_values(plugin, settings)),
        CLOUD_CONTROLLER_MANAGER: _release(
            "kubevirt-cloud-controller-manager",
            settings.cloudControllerManager,
            provider_config,
            {
                "clusterName": cluster,
                # Where the cluster's virtual machines live, in the host cluster.
                "cloudConfig": {
                    "namespace": ctx.xr.namespace,
                    "infraLabels": {CLUSTER_NAME_LABEL: cluster},
                },
            },
        ),
    }


def _release(release: str, add_on: AddOnChart, provider_config: str, values: JSON) -> JSON:
    """An add-on release in the workload cluster, through the cluster's own ProviderConfig."""
    return helm_release(
        release,
        add_on.chart,
        add_on.namespace,
        values,
        ProviderConfigRef(kind="ProviderConfig", name=provider_config),
    )


def _cni_values(plugin: str, settings: KubernetesClusters) -> JSON:
    """Chart values that give each plugin the cluster's pod and service networks."""
    if plugin == "kube-ovn":
        gateway = str(next(ip_network(settings.podCIDR).hosts()))
        return {
            "MASTER_NODES_LABEL": KUBE_OVN_MASTER_LABEL,
            "ipv4": {
                "POD_CIDR": settings.podCIDR,
                "POD_GATEWAY": gateway,
                "SVC_CIDR": settings.serviceCIDR,
            },
        }
    if plugin == "calico":
        return {
            "installation": {
                "calicoNetwork": {"ipPools": [{"cidr": settings.podCIDR, "encapsulation": "VXLAN"}]}
            }
        }
    # cilium: node pod ranges as allocated by the controller manager from podCIDR.
    return {"ipam": {"mode": "kubernetes"}}


def _status(
    ctx: Context[KubernetesClusterParameters], kubeconfig: JSON | None, secret_name: str
) -> KubernetesClusterStatus:
    cluster = ctx.observed.get(CLUSTER)
    endpoint = (cluster or {}).get("spec", {}).get("controlPlaneEndpoint") or {}
    host, port = endpoint.get("host"), endpoint.get("port")
    secret = secret_name if kubeconfig is not None else None
    return KubernetesClusterStatus(
        clusterEndpoint=f"https://{host}:{port}" if host and port else None,
        clusterReady=readiness.is_ready(cluster) if cluster is not None else None,
        kubeconfigSecret=secret,
        connectionSecret=secret,
        readyControlPlaneNodes=status_field(cluster, "controlPlane", "readyReplicas"),
        readyWorkerNodes=status_field(cluster, "workers", "readyReplicas"),
    )
