"""Argo CD registration: the declarative cluster Secret and an Application targeting the vCluster.

Both live in Argo CD's namespace, which a namespaced XR cannot compose into:
each is the manifest of a namespaced provider-kubernetes Object in the XR's
namespace, applied through the platform's provider-kubernetes configuration
(input vclusterEnvironment.argocd.providerConfigRef).

The cluster Secret follows Argo CD v3.5.1's declarative setup
(docs/operator-manual/declarative-setup.md, "Clusters"): label
argocd.argoproj.io/secret-type=cluster, keys name, server and config, a JSON
string whose tlsClientConfig carries caData, certData and keyData (base64 PEM,
as vCluster's Secret vc-<name> holds them). It must be assembled, so vc-<name>
is read as a required resource, and the client key is in the Object's spec:
see docs/kinds/vclusterenvironment.md, "Argo CD and the client key".
Composed once vc-<name> exists; while it is briefly missing the observed
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
from function.observed import SecretDataError, secret_bytes, text
from function.readiness import ready_condition
from function.structs import JSON

# Composition resource names.
CLUSTER_SECRET = "argocd-cluster"
APPLICATION = "argocd-application"

APPLICATION_API = "argoproj.io/v1alpha1"
CLUSTER_LABEL = "argocd.argoproj.io/secret-type"
# vCluster's keys in vc-<name> -> Argo CD's tlsClientConfig fields.
TLS_KEYS = {
    "certificate-authority": "caData",
    "client-certificate": "certData",
    "client-key": "keyData",
}


def cluster_name(names: Names) -> str:
    """The name in Argo CD: unique across namespaces (a namespace has no '/')."""
    return f"{names.namespace}/{names.release}"


def object_name(names: Names) -> str:
    """Name of the Secret and the Application in Argo CD's namespace, unique across namespaces:
    a namespace is a DNS label (no '.'), so <namespace>.<name> cannot collide."""
    return f"vcluster.{names.namespace}.{names.release}"


def _tls_config(kubeconfig: JSON) -> JSON | None:
    """tlsClientConfig from vc-<name>'s data, or None when a key is missing; SecretDataError
    when one is not base64."""
    out: JSON = {}
    for key, field in TLS_KEYS.items():
        if secret_bytes(kubeconfig, key) is None:
            return None
        out[field] = kubeconfig["data"][key]  # Argo CD wants the base64 PEM, as data holds it
    return out


def _cluster_secret(ctx: EnvironmentContext, names: Names, tls: JSON) -> JSON:
    config = json.dumps({"tlsClientConfig": tls}, sort_keys=True, separators=(",", ":"))
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
            "stringData": {"name": cluster_name(names), "server": names.server, "config": config},
        },
        ctx.settings.argocd.providerConfigRef,
    )


def _application(ctx: EnvironmentContext, names: Names, gitops: GitOps) -> JSON:
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
                "project": gitops.project,
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
    warnings = []
    try:
        tls = _tls_config(kubeconfig) if kubeconfig is not None else None
    except SecretDataError as e:
        tls = None
        warnings.append(
            WarningResult(f"{e}; the Argo CD registration waits for it", "InvalidKubeconfig")
        )
    if tls is None:
        if kubeconfig is not None and not warnings:
            warnings.append(
                WarningResult(
                    f"Secret {names.kubeconfig_secret!r} lacks one of the keys "
                    f"{', '.join(TLS_KEYS)}; the Argo CD registration waits for them",
                    reason="WaitingForKubeconfig",
                )
            )
        observed = ctx.observed.get(CLUSTER_SECRET)
        if observed is None:
            return {}, warnings
        # Keep what is registered: the observed Object as composed, key and all.
        registered = kept(observed, "spec")
        return {CLUSTER_SECRET: registered, APPLICATION: _application(ctx, names, gitops)}, warnings
    return {
        CLUSTER_SECRET: _cluster_secret(ctx, names, tls),
        APPLICATION: _application(ctx, names, gitops),
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
