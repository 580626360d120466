"""The Cluster API objects of a KubernetesCluster: Cluster API v1beta2 with CAPK v1alpha1.

They are composed directly in the XR's namespace, named after the XR so two
clusters never collide. Machine templates are immutable in Cluster API, so each
template is named (and keyed) by a hash of its content: a resize composes a new
template, the MachineDeployment or KubeadmControlPlane reference moves to it and
Cluster API rolls the machines; Crossplane deletes the old template.

CRDs: kubernetes-sigs/cluster-api and cluster-api-provider-kubevirt, in $SHARED/crds.
"""

from function.blocks.storage import storage_class
from function.context import Context
from function.kinds.kubernetescluster.model import KubernetesClusterParameters
from function.kinds.kubernetescluster.settings import KubernetesClusterSettings
from function.kinds.kubernetescluster.sizing import Size
from function.naming import CONTENT_HASH_LEN, content_hash, dns_label, starts_with_letter
from function.quantity import whole_cpus
from function.refusal import Refusal
from function.structs import JSON, api_group

ClusterContext = Context[KubernetesClusterParameters, KubernetesClusterSettings]

CLUSTER_API = "cluster.x-k8s.io/v1beta2"
CONTROL_PLANE_API = "controlplane.cluster.x-k8s.io/v1beta2"
BOOTSTRAP_API = "bootstrap.cluster.x-k8s.io/v1beta2"
INFRASTRUCTURE_API = "infrastructure.cluster.x-k8s.io/v1alpha1"
CRDS = (
    "crds/cluster-api/cluster.x-k8s.io_clusters.yaml",
    "crds/cluster-api/cluster.x-k8s.io_machinedeployments.yaml",
    "crds/cluster-api/cluster.x-k8s.io_machinehealthchecks.yaml",
    "crds/cluster-api/controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml",
    "crds/cluster-api/bootstrap.cluster.x-k8s.io_kubeadmconfigtemplates.yaml",
    "crds/cluster-api-provider-kubevirt/infrastructure.cluster.x-k8s.io_kubevirtclusters.yaml",
    "crds/cluster-api-provider-kubevirt/infrastructure.cluster.x-k8s.io_kubevirtmachinetemplates.yaml",
)

CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
DEPLOYMENT_NAME_LABEL = "cluster.x-k8s.io/deployment-name"
LIVE_MIGRATION_ANNOTATION = "kubevirt.io/allow-pod-bridge-network-live-migration"
KUBE_OVN_MASTER_LABEL = "kube-ovn/role=master"

# Cluster names leave room for the suffixes Cluster API and CAPK add
# (<cluster>-kubeconfig, <cluster>-lb, machine names).
CLUSTER_NAME_MAX = 38  # <cluster>-control-plane-<hash> stays within 63

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


def cluster_name(xr_name: str) -> str:
    """The Cluster API cluster's name: the XR's, as a DNS label short enough for suffixes.

    It must start with a letter: CAPK names the API server's Service <cluster>-lb,
    and Service names are RFC 1035 labels; an XR name may start with a digit.
    """
    if not starts_with_letter(xr_name):
        raise Refusal(
            f"metadata.name {xr_name!r} must start with a letter: the cluster's API server "
            f"Service {xr_name}-lb (CAPK) would be an invalid Service name"
        )
    label = xr_name.replace(".", "-")
    if label != xr_name:  # keep a.b and a-b apart
        label = f"{label[: CLUSTER_NAME_MAX - CONTENT_HASH_LEN - 1]}-{content_hash(xr_name)}"
    return dns_label(label, limit=CLUSTER_NAME_MAX)


def disk_image(settings: KubernetesClusterSettings, version: str) -> str:
    """The machines' disk image for a Kubernetes version: the one place they are paired."""
    return f"{settings.diskImage}:{version}"


def ref(api_version: str, kind: str, name: str) -> JSON:
    """A Cluster API v1beta2 object reference (apiGroup, kind, name)."""
    return {"apiGroup": api_group(api_version), "kind": kind, "name": name}


def kubelet_args(settings: KubernetesClusterSettings, *labels: str) -> list[JSON]:
    """kubelet flags of every machine.

    With the cloud controller manager, kubelets start with an external cloud
    provider: nodes wait (tainted uninitialized) until it initialises them.
    Without it nothing would remove that taint, so the flag is left out.
    """
    args: list[JSON] = []
    if settings.cloudControllerManager.enabled:
        args.append({"name": "cloud-provider", "value": "external"})
    if labels:
        args.append({"name": "node-labels", "value": ",".join(labels)})
    return args


def cluster_api_objects(ctx: ClusterContext, name: str, size: Size) -> dict[str, JSON]:
    """Every Cluster API object of the cluster, by composition resource name."""
    settings = ctx.settings
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
    bootstrap_key, bootstrap = _worker_bootstrap(settings, name)
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
    return resources


def _machine_template(
    ctx: ClusterContext,
    *,
    key: str,
    prefix: str,
    cpu: str,
    memory: str,
    storage: str,
) -> tuple[str, JSON]:
    """A KubevirtMachineTemplate named and keyed by a hash of its content."""
    params, settings = ctx.params, ctx.settings
    live_migration = params.enableLiveMigration
    disk: JSON = {
        "accessModes": ["ReadWriteMany" if live_migration else "ReadWriteOnce"],
        "resources": {"requests": {"storage": storage}},
    }
    disk |= storage_class("storageClassName", settings.storageClass)
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
    else:
        # A host drain leaves the VM to CAPK, which drains the node and replaces the
        # machine (CAPK's templates, e.g. templates/cluster-template-kccm.yaml).
        vmi_spec["evictionStrategy"] = "External"
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


def _worker_bootstrap(settings: KubernetesClusterSettings, name: str) -> tuple[str, JSON]:
    """The workers' KubeadmConfigTemplate, named by content like the machine templates."""
    args = kubelet_args(settings)
    # The API wants a non-empty registration: without kubelet flags, say explicitly
    # that workers join untainted (kubeadm's default for join anyway).
    registration: JSON = {"kubeletExtraArgs": args} if args else {"taints": []}
    spec: JSON = {"template": {"spec": {"joinConfiguration": {"nodeRegistration": registration}}}}
    digest = content_hash(spec)
    return f"{WORKER_BOOTSTRAP}-{digest}", {
        "apiVersion": BOOTSTRAP_API,
        "kind": "KubeadmConfigTemplate",
        "metadata": {"name": dns_label(name, "workers", digest)},
        "spec": spec,
    }


def _cluster(settings: KubernetesClusterSettings, name: str, control_plane: str) -> JSON:
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


def _control_plane(ctx: ClusterContext, name: str, size: Size, template: str) -> JSON:
    # kube-ovn runs its central components on nodes with this label.
    labels = (KUBE_OVN_MASTER_LABEL,) if ctx.params.networkPlugin == "kube-ovn" else ()
    args = kubelet_args(ctx.settings, *labels)
    registration = {"nodeRegistration": {"kubeletExtraArgs": args}}
    config: JSON = {"initConfiguration": registration, "joinConfiguration": registration}
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
        }
        | ({"kubeadmConfigSpec": config} if args else {}),
    }


def _machine_deployment(
    ctx: ClusterContext,
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


def _health_check(settings: KubernetesClusterSettings, cluster: str, workers: str) -> JSON:
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
