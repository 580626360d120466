"""Argo CD registration: the declarative cluster Secret and an Application targeting the vCluster.

Both live in Argo CD's namespace, which a namespaced XR cannot compose into:
each is the manifest of a namespaced provider-kubernetes Object in the XR's
namespace, applied through the platform's provider-kubernetes configuration
(input vclusterEnvironment.argocd.providerConfigRef).

The cluster Secret follows Argo CD v3.5.1's declarative setup
(docs/operator-manual/declarative-setup.md, "Clusters"): label
argocd.argoproj.io/secret-type=cluster, keys name, server, project and config, a
JSON string with a bearerToken and tlsClientConfig.caData (base64 PEM). The key
project makes it a project-scoped cluster (docs/user-guide/projects.md, "Project
scoped Repositories and Clusters"), and the Application is in the same project: the
namespace's tenancy.argocdProject, which the platform decides, never the XR. The
token is the one vCluster exports into vc-<name> for its ServiceAccount
(vcluster.py, exportKubeConfig.serviceAccount; vcluster v0.36.1
pkg/util/kubeconfig/kubeconfig.go writes it under the key token), so vc-<name> is
read as a required resource and the token is in the Object's spec: see
docs/kinds/vclusterenvironment.md, "Argo CD and the token".
Composed once vc-<name> holds the token; while it is briefly missing the observed
Objects are kept as they are, never dropped.
"""

import json

from function.blocks import kubernetes
from function.blocks.lifecycle import kept
from function.context import WarningResult
from function.kinds.vclusterenvironment.model import (
    ArgoCDStatus,
    GitOps,
)
from function.kinds.vclusterenvironment.settings import EnvironmentContext
from function.kinds.vclusterenvironment.vcluster import Names
from function.observed import SecretDataError, secret_bytes, secret_value, text
from function.readiness import ready_condition
from function.refusal import Refusal
from function.settings import SETTINGS_WHERE
from function.structs import JSON
from function.tenancy import rules_for, rules_path

# Composition resource names.
CLUSTER_SECRET = "argocd-cluster"
APPLICATION = "argocd-application"

APPLICATION_API = "argoproj.io/v1alpha1"
CLUSTER_LABEL = "argocd.argoproj.io/secret-type"
# vCluster's keys in vc-<name> (vcluster v0.36.1 pkg/util/kubeconfig/kubeconfig.go):
# the exported ServiceAccount's token, and the CA as base64 PEM, as Argo CD wants caData.
TOKEN_KEY = "token"
CA_KEY = "certificate-authority"


def cluster_name(names: Names) -> str:
    """The name in Argo CD: unique across namespaces (a namespace has no '/')."""
    return f"{names.namespace}/{names.release}"


def object_name(names: Names) -> str:
    """Name of the Secret and the Application in Argo CD's namespace, unique across namespaces:
    a namespace is a DNS label (no '.'), so <namespace>.<name> cannot collide."""
    return f"vcluster.{names.namespace}.{names.release}"


def project(ctx: EnvironmentContext, gitops: GitOps) -> str:
    """The Argo CD project of the XR's namespace, which the platform decides; a FATAL when
    the namespace has none or the XR names another."""
    namespace, tenancy = ctx.xr.namespace, ctx.platform.tenancy
    decided = rules_for(tenancy, namespace).argocdProject
    where = f"{rules_path(tenancy, namespace)}.argocdProject of {SETTINGS_WHERE}"
    if decided is None:
        raise Refusal(
            f"spec.parameters.gitops: namespace {namespace} has no Argo CD project, so its "
            f"environments cannot be registered with Argo CD; a platform engineer sets one in "
            f"{where}"
        )
    if gitops.project is not None and gitops.project != decided:
        raise Refusal(
            f"spec.parameters.gitops.project {gitops.project!r}: the platform decides the "
            f"Argo CD project (namespace {namespace}'s is {decided!r}, set in {where}); "
            "remove the field"
        )
    return decided


def _cluster_config(kubeconfig: JSON) -> JSON | None:
    """Argo CD's cluster config from vc-<name>: the token and the CA, or None when one is
    missing; SecretDataError when one is not base64 (or the token not text)."""
    token = secret_value(kubeconfig, TOKEN_KEY)
    if token is None or secret_bytes(kubeconfig, CA_KEY) is None:
        return None
    # Argo CD wants the base64 PEM, as data holds it.
    return {"bearerToken": token, "tlsClientConfig": {"caData": kubeconfig["data"][CA_KEY]}}


def _cluster_secret(ctx: EnvironmentContext, names: Names, config: JSON, in_project: str) -> JSON:
    return kubernetes.kubernetes_object(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": object_name(names),
                "namespace": ctx.settings.argocd.namespace,
                "labels": {CLUSTER_LABEL: "cluster"},
            },
            "type": "Opaque",
            "stringData": {
                "name": cluster_name(names),
                "server": names.server,
                "project": in_project,
                "config": json.dumps(config, sort_keys=True, separators=(",", ":")),
            },
        },
        ctx.settings.argocd.providerConfigRef,
    )


def _application(ctx: EnvironmentContext, names: Names, gitops: GitOps, in_project: str) -> JSON:
    """An Application syncing the repository into the vCluster, automatically.

    No resources finalizer: deleting the environment removes the vCluster with
    everything in it, and Argo CD cannot reach it to prune once it is gone.
    """
    return kubernetes.kubernetes_object(
        {
            "apiVersion": APPLICATION_API,
            "kind": "Application",
            "metadata": {"name": object_name(names), "namespace": ctx.settings.argocd.namespace},
            "spec": {
                "project": in_project,
                "source": {
                    "repoURL": gitops.repoURL,
                    "path": gitops.path,
                    "targetRevision": gitops.targetRevision,
                },
                "destination": {"server": names.server, "namespace": gitops.namespace},
                "syncPolicy": {
                    "automated": {"prune": True, "selfHeal": True},
                    "syncOptions": ["CreateNamespace=true"],
                },
            },
        },
        ctx.settings.argocd.providerConfigRef,
    )


def registration(
    ctx: EnvironmentContext, names: Names, kubeconfig: JSON | None
) -> tuple[dict[str, JSON], list[WarningResult]]:
    """The cluster Secret and Application Objects, when gitops is set and vc-<name> is read."""
    gitops = ctx.params.gitops
    if gitops is None:
        return {}, []
    in_project = project(ctx, gitops)
    application = _application(ctx, names, gitops, in_project)
    warnings = []
    try:
        config = _cluster_config(kubeconfig) if kubeconfig is not None else None
    except SecretDataError as e:
        config = None
        warnings.append(
            WarningResult(f"{e}; the Argo CD registration waits for it", "InvalidKubeconfig")
        )
    if config is None:
        if kubeconfig is not None and not warnings:
            warnings.append(
                WarningResult(
                    f"Secret {names.kubeconfig_secret!r} lacks one of the keys {TOKEN_KEY}, "
                    f"{CA_KEY}; the Argo CD registration waits for them",
                    reason="WaitingForKubeconfig",
                )
            )
        observed = ctx.observed.get(CLUSTER_SECRET)
        if observed is None:
            return {}, warnings
        # Keep what is registered: the observed Object as composed, token and all.
        return {CLUSTER_SECRET: kept(observed, "spec"), APPLICATION: application}, warnings
    return {
        CLUSTER_SECRET: _cluster_secret(ctx, names, config, in_project),
        APPLICATION: application,
    }, []


def status(ctx: EnvironmentContext, names: Names, composed: dict[str, JSON]) -> ArgoCDStatus | None:
    """Registration and the Application's sync and health, as Argo CD reports them."""
    if CLUSTER_SECRET not in composed:
        return None
    secret = ctx.observed.get(CLUSTER_SECRET)
    app = kubernetes.observed_manifest(ctx.observed.get(APPLICATION))
    return ArgoCDStatus(
        registered=secret is not None and ready_condition(secret),
        cluster=cluster_name(names),
        application=object_name(names),
        sync=text(app, "status", "sync", "status"),
        health=text(app, "status", "health", "status"),
    )
