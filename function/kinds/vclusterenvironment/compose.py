"""VClusterEnvironment: a vCluster release, its add-ons, its Argo CD registration and its status."""

from typing import Any

from pydantic import BaseModel

from function.blocks.helm import release_deployed
from function.blocks.usage import deletion_order
from function.context import Desired, Selector
from function.kinds.vclusterenvironment import addons, argocd, sharing, vcluster
from function.kinds.vclusterenvironment.footprint import of_add_ons
from function.kinds.vclusterenvironment.model import (
    AddOnsStatus,
    Quota,
    ServiceStatus,
    VClusterEnvironmentStatus,
)
from function.kinds.vclusterenvironment.services import replicated_services, requirements
from function.kinds.vclusterenvironment.settings import (
    EnvironmentContext,
    LimitRangeDefaults,
    QuotaDefaults,
)
from function.kinds.vclusterenvironment.upgrade import refuse_downgrade

VCLUSTER = "vcluster"
KUBECONFIG = "kubeconfig"  # required resource key

# (by, of): of is deleted only after by. Releases and objects inside the vCluster
# uninstall through their ProviderConfigs; those need vc-<name>, which goes with the
# vCluster; Argo CD must let go of the vCluster before it is gone.
DELETION_ORDER = [
    *((release, addons.HELM_PROVIDER_CONFIG) for release in addons.RELEASES),
    *((obj, addons.KUBERNETES_PROVIDER_CONFIG) for obj in addons.OBJECTS),
    (addons.ISTIOD, addons.ISTIO_BASE),  # istiod's resources are of base's CRDs
    (addons.KNATIVE_SERVING, addons.KNATIVE_OPERATOR),  # the operator removes its finalizer
    (addons.KNATIVE_SERVING, addons.KNATIVE_NAMESPACE),
    (addons.HELM_PROVIDER_CONFIG, VCLUSTER),
    (addons.KUBERNETES_PROVIDER_CONFIG, VCLUSTER),
    (argocd.APPLICATION, argocd.CLUSTER_SECRET),
    (argocd.APPLICATION, VCLUSTER),
    (argocd.CLUSTER_SECRET, VCLUSTER),
]


def _limits(ctx: EnvironmentContext) -> vcluster.Limits:
    """Each quota field from the XR, else its environment's preset, else the platform's
    default; each limit range field from the XR, else the platform's default."""

    def merged(defaults: BaseModel, *over: BaseModel) -> dict[str, Any]:
        out: dict[str, Any] = defaults.model_dump()
        for layer in over:
            out |= layer.model_dump(exclude_none=True)
        return out

    res, settings = ctx.params.resources, ctx.settings
    preset = settings.quotaPresets.get(ctx.params.environment, Quota())
    return vcluster.Limits(
        quota=QuotaDefaults(**merged(settings.quota, preset, res.quota)),
        limit_range=LimitRangeDefaults(**merged(settings.limitRange, res.limitRange)),
    )


def compose(ctx: EnvironmentContext) -> Desired:
    """Compose the vCluster, and once its kubeconfig exists its add-ons and registration."""
    names = vcluster.names(ctx.xr.name, ctx.xr.namespace)
    sharing.refuse_second(ctx, VCLUSTER in ctx.observed)
    refuse_downgrade(ctx.observed.get(VCLUSTER), ctx.params.kubernetesVersion)
    limits = _limits(ctx)
    wanted = addons.wanted(ctx)
    footprint = of_add_ons(wanted)
    vcluster.check_limits(limits, wanted, footprint)
    services, warnings = replicated_services(ctx, ctx.observed.get(VCLUSTER))
    isolation = ctx.params.isolation
    chart_values = vcluster.values(
        names,
        ctx.params.kubernetesVersion,
        limits,
        ctx.settings.image,
        on_deletion=ctx.settings.dataVolumeOnDeletion,
        network_policy=isolation.networkPolicy,
        public_egress=isolation.publicEgress,
        services=services,
        footprint=footprint,
    )
    resources = {VCLUSTER: vcluster.vcluster_release(names, chart_values, services, ctx.settings)}
    kubeconfig = ctx.found(KUBECONFIG)
    resources.update(addons.add_ons(ctx, names, kubeconfig is not None))
    registered, registration_warnings = argocd.registration(ctx, names, kubeconfig)
    resources.update(registered)
    deletion_order(resources, DELETION_ORDER)

    add_on_ready = addons.ready(ctx, resources)
    deployed = release_deployed(ctx.observed.get(VCLUSTER) or {})
    return Desired(
        resources=resources,
        status=VClusterEnvironmentStatus(
            endpoint=names.server if deployed else None,
            kubeconfigSecret=names.kubeconfig_secret if kubeconfig is not None else None,
            connectionSecret=names.kubeconfig_secret if kubeconfig is not None else None,
            addons=AddOnsStatus(**add_on_ready) if add_on_ready else None,
            services=[
                ServiceStatus(
                    kind=s.kind,
                    name=s.name,
                    host=s.host,
                    secret=f"{names.namespace}/{s.secret}" if s.secret else None,
                )
                for s in services
            ]
            or None,
            argocd=argocd.status(ctx, names, resources),
        ),
        warnings=[*warnings, *registration_warnings],
        requirements={
            **requirements(ctx),
            sharing.ENVIRONMENTS: sharing.requirement(ctx),
            KUBECONFIG: Selector(
                "v1", "Secret", name=names.kubeconfig_secret, namespace=names.namespace
            ),
        },
    )
