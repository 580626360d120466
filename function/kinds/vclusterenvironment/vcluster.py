"""The vCluster Helm release: control plane, kubeconfig export, quotas, isolation, services.

Chart: loft-sh/vcluster v0.36.1 ($SHARED/charts/vcluster-0.36.1; values schema and
defaults in $SHARED/schemas/charts/vcluster/). Every value below is checked against
that schema and rendered through the chart's templates by tests/unit/test_vcluster_chart.py.
"""

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from function.blocks.helm import helm_release
from function.formats import DNS_1035_LABEL
from function.kinds.vclusterenvironment.footprint import Footprint
from function.kinds.vclusterenvironment.services import (
    RECORD_ANNOTATION,
    SECRETS_ANNOTATION,
    Replicated,
    record,
    record_secrets,
    secret_mappings,
)
from function.kinds.vclusterenvironment.settings import (
    Image,
    LimitRangeDefaults,
    QuotaDefaults,
    VClusterEnvironmentSettings,
)
from function.quantity import parse
from function.refusal import Refusal
from function.structs import JSON

# The chart's Service is named after the release and its StatefulSet's pods carry
# controller-revision-hash=<release>-<10 chars> (at most 63): a DNS-1035 label of 52.
NAME_LIMIT = 52
_NAME = re.compile(DNS_1035_LABEL)
# templates/service.yaml: port 443 -> the API server's 8443.
SERVICE_PORT = 443
# values.yaml controlPlane.statefulSet.persistence.volumeClaim.retentionPolicy, which
# templates/statefulset.yaml writes as the StatefulSet's
# persistentVolumeClaimRetentionPolicy.whenDeleted (Kubernetes 1.27 and later).
RETENTION_POLICIES = {"Keep": "Retain", "Delete": "Delete"}
# The exported kubeconfig authenticates as this ServiceAccount inside the vCluster, with a
# token vCluster requests for it (values.yaml exportKubeConfig.serviceAccount; vcluster
# v0.36.1 pkg/setup/controllers.go CreateVClusterKubeConfigForExport), never the admin
# client certificate: a token dies with its ServiceAccount, a certificate lives until it
# expires. Every reader of vc-<name> uses it: the add-ons' ProviderConfigs, Argo CD, the team.
EXPORT_SERVICE_ACCOUNT = {
    "name": "platform-admin",
    "namespace": "kube-system",
    "clusterRole": "cluster-admin",
}


@dataclass(frozen=True)
class Names:
    """What the chart and vCluster name after the release, in the XR's namespace."""

    release: str
    namespace: str

    @property
    def kubeconfig_secret(self) -> str:
        """vCluster always writes its kubeconfig to vc-<name> (keys config, certificate-authority,
        token, and client-certificate, client-key left empty with a ServiceAccount), whatever
        exportKubeConfig says."""
        return f"vc-{self.release}"

    @property
    def server(self) -> str:
        """The API server through the chart's Service; its certificate lists <name>.<namespace>."""
        return f"https://{self.release}.{self.namespace}:{SERVICE_PORT}"


def names(xr_name: str, namespace: str) -> Names:
    """The release is the XR's name, which must fit the chart's Service and StatefulSet."""
    if len(xr_name) > NAME_LIMIT or not _NAME.match(xr_name):
        raise Refusal(
            f"metadata.name {xr_name!r} must be a DNS-1035 label of at most {NAME_LIMIT} "
            "characters (a lowercase letter first, then letters, digits and '-'): the vCluster's "
            "Service and StatefulSet are named after it"
        )
    return Names(xr_name, namespace)


@dataclass(frozen=True)
class Limits:
    """The quota and limit range after the XR's values and the platform's defaults."""

    quota: QuotaDefaults
    limit_range: LimitRangeDefaults


# The vCluster's own pods run in the namespace and count against its quota (chart
# values.yaml): the control plane (controlPlane.statefulSet.resources: requests cpu 200m,
# memory 256Mi; limits memory 4Gi, no CPU limit, so the limit range's default applies)
# and CoreDNS (controlPlane.coredns.deployment.resources: requests cpu 20m, memory 64Mi;
# limits cpu 1000m, memory 170Mi). tests/e2e/test_vcluster_chart.py reads them back.
OWN_CPU_REQUESTS = parse("220m")
OWN_MEMORY_REQUESTS = parse("320Mi")
OWN_CPU_LIMITS_BESIDES_DEFAULT = parse("1000m")  # CoreDNS; the control plane gets the default
OWN_MEMORY_LIMITS = parse("4266Mi")
OWN_PODS = 2


def twice(quantity: str) -> str:
    """2 x a quantity, in its own unit ("4" -> "8", "500m" -> "1000m", "8Gi" -> "16Gi")."""
    found = re.match(r"^([0-9]*\.?[0-9]*)(.*)$", quantity)
    assert found is not None  # every Quantity matches
    doubled = (Decimal(found.group(1)) * 2).normalize()
    return f"{doubled:f}{found.group(2)}"


def _at_least(value: Decimal, unit: str) -> str:
    """The smallest quantity in unit ("m" or "Mi") that is at least value."""
    scale = Decimal("0.001") if unit == "m" else Decimal(1024**2)
    return f"{math.ceil(value / scale)}{unit}"


def check_limits(limits: Limits, add_ons: list[str], footprint: Footprint) -> None:
    """FATAL for defaults the API server would refuse, or pods that could never start: the
    vCluster's own, the add-ons' (footprint) and one container with the defaults must fit."""
    lr, quota = limits.limit_range, limits.quota
    base = "spec.parameters.resources"
    problems = []
    # Kubernetes' LimitRange validation: a default request is at most the default limit.
    for what in ("CPU", "Memory"):
        request, limit = getattr(lr, f"defaultRequest{what}"), getattr(lr, f"default{what}")
        if parse(request) > parse(limit):
            problems.append(
                f"{base}.limitRange.defaultRequest{what}: must be at most default{what} "
                f"(got {request} > {limit})"
            )
    # The vCluster's own pods, the add-ons' and one container with the defaults must fit
    # the quota (requests up to the quota, limits up to twice it).
    least_cpu = max(
        OWN_CPU_REQUESTS + footprint.cpu_requests + parse(lr.defaultRequestCPU),
        (OWN_CPU_LIMITS_BESIDES_DEFAULT + footprint.cpu_limits + 2 * parse(lr.defaultCPU)) / 2,
    )
    least_memory = max(
        OWN_MEMORY_REQUESTS + footprint.memory_requests + parse(lr.defaultRequestMemory),
        (OWN_MEMORY_LIMITS + footprint.memory_limits + parse(lr.defaultMemory)) / 2,
    )
    what = "the vCluster's own control plane and DNS"
    if add_ons:
        what += f", the add-ons ({', '.join(add_ons)})"
    for field, least, unit in (("cpu", least_cpu, "m"), ("memory", least_memory, "Mi")):
        given = getattr(quota, field)
        if parse(given) < least:
            problems.append(
                f"{base}.quota.{field}: must leave room for {what} and one container with the "
                f"limit range's defaults: at least {_at_least(least, unit)} (got {given}, "
                f"{_at_least(least - parse(given), unit)} short)"
            )
    least_pods = OWN_PODS + footprint.pods + 1
    if quota.pods < least_pods:
        problems.append(
            f"{base}.quota.pods: must leave room for {what} and one more pod: at least "
            f"{least_pods} (got {quota.pods}, {least_pods - quota.pods} short)"
        )
    if problems:
        raise Refusal("; ".join(problems))


def _policies(
    limits: Limits,
    footprint: Footprint,
    network_policy: bool,
    public_egress: bool,
    services: list[Replicated],
) -> JSON:
    quota, lr = limits.quota, limits.limit_range
    return {
        # Helm merges these maps into the chart's defaults (values.yaml policies.*): every
        # key the chart sets is set here, so its defaults never mix with the environment's;
        # its guards on object counts and load balancers stay. Node ports: as many as the
        # add-ons' LoadBalancer Services take (the chart's 0 refuses Kourier's). Ephemeral
        # storage: no namespace total (null removes the chart's key): its 60Gi at the
        # limit range's 3Gi default request held 18 containers whatever count/pods says;
        # each container keeps the limit range's ephemeral-storage default and limit.
        "resourceQuota": {
            "enabled": True,
            "quota": {
                "services.nodeports": footprint.node_ports,
                "requests.ephemeral-storage": None,
                "limits.ephemeral-storage": None,
                "requests.cpu": quota.cpu,
                # Limits may add up to twice the requests, the chart's own ratio
                # (requests.cpu 10, limits.cpu 20, requests.memory 20Gi, limits.memory 40Gi).
                "limits.cpu": twice(quota.cpu),
                "requests.memory": quota.memory,
                "limits.memory": twice(quota.memory),
                "requests.storage": quota.storage,
                "count/pods": quota.pods,
            },
        },
        "limitRange": {
            "enabled": True,
            "default": {"cpu": lr.defaultCPU, "memory": lr.defaultMemory},
            "defaultRequest": {"cpu": lr.defaultRequestCPU, "memory": lr.defaultRequestMemory},
        },
        "networkPolicy": {
            "enabled": network_policy,
            "workload": {
                "publicEgress": {"enabled": public_egress},
                # The replicated services' pods: the chart's policy lets workloads reach
                # only each other, their control plane and public addresses.
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": namespace}
                                }
                            }
                        ],
                        "ports": sorted(
                            (
                                {"port": s.port, "protocol": "TCP"}
                                for s in services
                                if s.namespace == namespace
                            ),
                            key=lambda p: int(p["port"]),
                        ),
                    }
                    for namespace in sorted({s.namespace for s in services})
                ],
            },
        },
    }


def values(
    names: Names,
    kubernetes_version: str,
    limits: Limits,
    image: Image,
    *,
    on_deletion: str,
    network_policy: bool,
    public_egress: bool,
    services: list[Replicated],
    footprint: Footprint,
) -> JSON:
    """The chart values of one environment."""
    out: JSON = {
        "controlPlane": {
            "distro": {"k8s": {"version": kubernetes_version}},
            # templates/_helper.tpl tags it with the chart's version unless set: pinned here.
            "statefulSet": {
                "image": image.model_dump(),
                "persistence": {
                    "volumeClaim": {"retentionPolicy": RETENTION_POLICIES[on_deletion]}
                },
            },
            # The serving certificate lists <name> and <name>.<namespace>; clients using
            # the fully qualified names need them too.
            "proxy": {
                "extraSANs": [
                    f"{names.release}.{names.namespace}.svc",
                    f"{names.release}.{names.namespace}.svc.cluster.local",
                ]
            },
        },
        # Its default https://localhost:8443 works only inside the vCluster's pod.
        "exportKubeConfig": {"server": names.server, "serviceAccount": EXPORT_SERVICE_ACCOUNT},
        "policies": _policies(limits, footprint, network_policy, public_egress, services),
        "networking": {
            "replicateServices": {
                "fromHost": [
                    {"from": f"{s.namespace}/{s.service}", "to": f"{s.namespace}/{s.service}"}
                    for s in services
                ]
            }
        },
    }
    secrets = secret_mappings(services, names.namespace)
    if secrets:
        out["sync"] = {"fromHost": {"secrets": {"enabled": True, "mappings": {"byName": secrets}}}}
    return out


def vcluster_release(
    names: Names,
    chart_values: JSON,
    services: list[Replicated],
    settings: VClusterEnvironmentSettings,
) -> JSON:
    """The Release, with what it replicates recorded for the next call."""
    release = helm_release(
        names.release,
        settings.chart,
        names.namespace,
        chart_values,
        settings.providerConfigRef,
        wait_timeout=settings.waitTimeout,
    )
    release["metadata"]["annotations"][RECORD_ANNOTATION] = record(services)
    release["metadata"]["annotations"][SECRETS_ANNOTATION] = record_secrets(services)
    return release
