"""What the add-ons run in the environment's namespace, and the Helm values that pin it.

A vCluster's pods run in the host namespace, so the add-ons' pods count against its
ResourceQuota and get its LimitRange's defaults. Each add-on's pods therefore set
requests and limits explicitly (a container with a request but no limit would get the
LimitRange's default limit, and a default below the request makes the pod invalid),
and the quota must hold them beside the vCluster's own pods.

Upstream, at the pinned versions:
- istiod: istio/istio 1.30.3 manifests/charts/istio-control/istio-discovery/values.yaml
  (resources: requests cpu 500m, memory 2048Mi, no limits; autoscaleEnabled with up to
  5 replicas). Set here: one replica, no autoscaler, those requests and limits of
  1 CPU and 2048Mi. istio/base runs no pod.
- knative-operator: knative/operator knative-v1.23.0 config/charts/knative-operator/values.yaml
  (operator: requests 100m/100Mi, limits 1000m/1000Mi; webhook: requests 100m/100Mi,
  limits 500m/500Mi), set here as they are.
- Knative Serving, which the operator installs (not a chart: its manifests, where each
  container sets requests and limits): cmd/operator/kodata/knative-serving/1.23.0/
  2-serving-core.yaml (activator 300m/60Mi, 1000m/600Mi; autoscaler and controller
  100m/100Mi, 1000m/1000Mi; webhook 100m/100Mi, 500m/500Mi), 3-serving-hpa.yaml
  (autoscaler-hpa 30m/40Mi, 300m/400Mi) and ingress/1.23/kourier/kourier.yaml
  (net-kourier-controller 200m/200Mi, 1/500Mi; 3scale-kourier-gateway 200m/200Mi,
  1/800Mi), one replica each: what the activator's, the webhook's and the gateway's
  HorizontalPodAutoscalers add beyond that takes room the quota leaves.
  Kourier's Service `kourier` is a LoadBalancer with ports 80 and 443: two node ports
  and one load balancer in the quota (Kubernetes' service quota evaluator counts a
  LoadBalancer's ports as node ports unless allocateLoadBalancerNodePorts is false).
"""

from function.kinds.vclusterenvironment.pods import Pod, container
from function.structs import JSON


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> JSON:
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }


ISTIOD_RESOURCES = _resources("500m", "2048Mi", "1", "2048Mi")
# istio-discovery's top-level values (its _internal_defaults_do_not_set are their defaults).
ISTIOD_VALUES: JSON = {"autoscaleEnabled": False, "replicaCount": 1, "resources": ISTIOD_RESOURCES}
KNATIVE_OPERATOR_VALUES: JSON = {
    "knative_operator": {
        "knative_operator": {"resources": _resources("100m", "100Mi", "1000m", "1000Mi")},
        "operator_webhook": {"resources": _resources("100m", "100Mi", "500m", "500Mi")},
    }
}
# Knative Serving's containers, as (requests cpu, memory, limits cpu, memory), one pod each.
KNATIVE_SERVING_CONTAINERS = (
    ("300m", "60Mi", "1000m", "600Mi"),  # activator
    ("100m", "100Mi", "1000m", "1000Mi"),  # autoscaler
    ("100m", "100Mi", "1000m", "1000Mi"),  # controller
    ("100m", "100Mi", "500m", "500Mi"),  # webhook
    ("30m", "40Mi", "300m", "400Mi"),  # autoscaler-hpa
    ("200m", "200Mi", "1", "500Mi"),  # net-kourier-controller
    ("200m", "200Mi", "1", "800Mi"),  # 3scale-kourier-gateway
)
KOURIER_NODE_PORTS = 2


def _pod(name: str, resources: JSON) -> Pod:
    return Pod((container(name, resources),))


def _knative() -> tuple[Pod, ...]:
    operator = KNATIVE_OPERATOR_VALUES["knative_operator"]
    return (
        _pod("knative-operator", operator["knative_operator"]["resources"]),
        _pod("operator-webhook", operator["operator_webhook"]["resources"]),
        *(
            _pod("knative-serving", _resources(cpu, memory, cpu_limit, memory_limit))
            for cpu, memory, cpu_limit, memory_limit in KNATIVE_SERVING_CONTAINERS
        ),
    )


ADD_ONS: dict[str, tuple[Pod, ...]] = {
    "istio": (_pod("discovery", ISTIOD_RESOURCES),),
    "knative": _knative(),
}
NODE_PORTS = {"knative": KOURIER_NODE_PORTS}


def of_add_ons(add_ons: list[str]) -> list[Pod]:
    """The pods these add-ons run in the namespace, together."""
    return [pod for add_on in add_ons for pod in ADD_ONS[add_on]]


def node_ports(add_ons: list[str]) -> int:
    """The node ports their Services take."""
    return sum(NODE_PORTS.get(add_on, 0) for add_on in add_ons)
