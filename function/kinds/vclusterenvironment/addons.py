"""Add-ons installed inside the vCluster: Istio (base, istiod) and Knative Serving.

Helm releases go through a provider-helm ProviderConfig, the KnativeServing
object through a provider-kubernetes one, both built from the kubeconfig Secret
vCluster writes (vc-<name>, key config). They are composed once that Secret
exists and never dropped afterwards (function/blocks/lifecycle.py): a Secret
briefly missing must not uninstall Istio from under the team's workloads. An
add-on, once installed, stays even if it leaves spec.parameters.addons (the
XRD refuses removing one too): uninstalling Istio or Knative breaks what runs on them.

Knative Serving uses Kourier for ingress, the operator's default: Knative on
Istio needs an Istio ingress gateway, which base + istiod do not install.
KnativeServing: knative/operator knative-v1.23.0, $SHARED/crds/knative-operator/.
"""

from function.blocks import helm, kubernetes
from function.blocks.lifecycle import compose_once_input_exists
from function.kinds.vclusterenvironment.footprint import ISTIOD_VALUES, KNATIVE_OPERATOR_VALUES
from function.kinds.vclusterenvironment.settings import EnvironmentContext
from function.kinds.vclusterenvironment.vcluster import Names
from function.naming import provider_config_name
from function.settings import ProviderConfigRef
from function.structs import JSON

KUBECONFIG_KEY = "config"  # vCluster's key in vc-<name>

# Composition resource names.
HELM_PROVIDER_CONFIG = "helm-provider-config"
KUBERNETES_PROVIDER_CONFIG = "kubernetes-provider-config"
ISTIO_BASE = "istio-base"
ISTIOD = "istiod"
KNATIVE_OPERATOR = "knative-operator"
KNATIVE_NAMESPACE = "knative-serving-namespace"
KNATIVE_SERVING = "knative-serving"

# What each add-on composes, besides the ProviderConfigs.
ADD_ONS: dict[str, tuple[str, ...]] = {
    "istio": (ISTIO_BASE, ISTIOD),
    "knative": (KNATIVE_OPERATOR, KNATIVE_NAMESPACE, KNATIVE_SERVING),
}
RELEASES = (ISTIO_BASE, ISTIOD, KNATIVE_OPERATOR)
OBJECTS = (KNATIVE_NAMESPACE, KNATIVE_SERVING)

KNATIVE_SERVING_API = "operator.knative.dev/v1beta1"
KOURIER_INGRESS_CLASS = "kourier.ingress.networking.knative.dev"


def wanted(ctx: EnvironmentContext) -> list[str]:
    """The add-ons asked for, plus any already installed (never removed)."""
    installed = {a for a, names in ADD_ONS.items() if any(n in ctx.observed for n in names)}
    return sorted(set(ctx.params.addons) | installed)


def add_ons(ctx: EnvironmentContext, names: Names, kubeconfig_exists: bool) -> dict[str, JSON]:
    """The add-ons' releases, objects and ProviderConfigs, once the kubeconfig Secret exists."""
    out: dict[str, JSON] = {}
    settings = ctx.settings
    helm_config = provider_config_name(
        ctx.observed.name_of(HELM_PROVIDER_CONFIG), names.namespace, names.release, "helm"
    )
    kubernetes_config = provider_config_name(
        ctx.observed.name_of(KUBERNETES_PROVIDER_CONFIG),
        names.namespace,
        names.release,
        "kubernetes",
    )
    for add_on in wanted(ctx):
        if not compose_once_input_exists(kubeconfig_exists, ctx.observed, ADD_ONS[add_on]):
            continue
        out[HELM_PROVIDER_CONFIG] = helm.kubeconfig_provider_config(
            helm_config, names.namespace, names.kubeconfig_secret, KUBECONFIG_KEY
        )
        if add_on == "istio":
            istio = settings.istio
            out[ISTIO_BASE] = helm.add_on_release("istio-base", istio.base, helm_config, {})
            out[ISTIOD] = helm.add_on_release("istiod", istio.istiod, helm_config, ISTIOD_VALUES)
        else:
            out[KUBERNETES_PROVIDER_CONFIG] = kubernetes.kubeconfig_provider_config(
                kubernetes_config, names.namespace, names.kubeconfig_secret, KUBECONFIG_KEY
            )
            out.update(_knative(ctx, helm_config, kubernetes_config))
    return out


def _knative(ctx: EnvironmentContext, helm_config: str, kubernetes_config: str) -> JSON:
    """The operator's release; its KnativeServing once the operator (and its CRD) is deployed."""
    knative = ctx.settings.knative
    out: JSON = {
        KNATIVE_OPERATOR: helm.add_on_release(
            "knative-operator", knative.operator, helm_config, KNATIVE_OPERATOR_VALUES
        ),
    }
    operator_up = helm.release_deployed(ctx.observed.get(KNATIVE_OPERATOR) or {})
    if not compose_once_input_exists(
        operator_up, ctx.observed, (KNATIVE_NAMESPACE, KNATIVE_SERVING)
    ):
        return out
    inside = ProviderConfigRef(kind="ProviderConfig", name=kubernetes_config)
    namespace = knative.servingNamespace
    out[KNATIVE_NAMESPACE] = kubernetes.kubernetes_object(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, inside
    )
    out[KNATIVE_SERVING] = kubernetes.kubernetes_object(
        {
            "apiVersion": KNATIVE_SERVING_API,
            "kind": "KnativeServing",
            "metadata": {"name": "knative-serving", "namespace": namespace},
            "spec": {
                "ingress": {"kourier": {"enabled": True}},
                "config": {"network": {"ingress-class": KOURIER_INGRESS_CLASS}},
            },
        },
        inside,
        # Ready when the operator reports Knative Serving Ready, not when applied.
        policy="DeriveFromObject",
    )
    return out


def ready(ctx: EnvironmentContext, composed: dict[str, JSON]) -> dict[str, bool]:
    """Each wanted add-on: whether everything it composes is composed and observed ready."""
    return {
        add_on: all(name in composed and ctx.observed.ready(name) for name in ADD_ONS[add_on])
        for add_on in wanted(ctx)
    }
