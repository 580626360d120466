"""VClusterEnvironment: a vCluster release, its add-ons, its Argo CD registration and its status."""

from function.blocks.helm import release_deployed
from function.blocks.usage import deletion_order
from function.context import Desired, Selector
from function.kinds.vclusterenvironment import addons, argocd, fit, sharing, vcluster
from function.kinds.vclusterenvironment.footprint import node_ports, of_add_ons
from function.kinds.vclusterenvironment.instances import instances
from function.kinds.vclusterenvironment.instances import requirements as instance_requirements
from function.kinds.vclusterenvironment.model import (
    AddOnsStatus,
    ServiceStatus,
    VClusterEnvironmentStatus,
)
from function.kinds.vclusterenvironment.services import replicated_services, requirements
from function.kinds.vclusterenvironment.settings import EnvironmentContext
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


def compose(ctx: EnvironmentContext) -> Desired:
    """Compose the vCluster, and once its kubeconfig exists its add-ons and registration."""
    names = vcluster.names(ctx.xr.name, ctx.xr.namespace)
    sharing.refuse_second(ctx, VCLUSTER in ctx.observed)
    refuse_downgrade(ctx.observed.get(VCLUSTER), ctx.params.kubernetesVersion)
    wanted = addons.wanted(ctx)
    add_on_pods = of_add_ons(wanted)
    found = instances(ctx)
    known = [*vcluster.OWN_PODS, *add_on_pods, *(p for i in found for p in i.pods)]
    limits, derived = fit.limits(ctx, known)
    fit.check(limits, derived, wanted, add_on_pods, found)
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
        node_ports=node_ports(wanted),
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
            **instance_requirements(ctx),
            sharing.ENVIRONMENTS: sharing.requirement(ctx),
            KUBECONFIG: Selector(
                "v1", "Secret", name=names.kubeconfig_secret, namespace=names.namespace
            ),
        },
    )
