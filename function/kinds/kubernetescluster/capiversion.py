"""The oldest Cluster API this kind works with, and refusing an older one where it is seen.

Cluster API before v1.13.0 makes the Cluster the controller of its infrastructure cluster
and control plane (internal/controllers/cluster/cluster_controller_phases.go,
ensureOwnerRefAndLabel: controllerutil.SetControllerReference, up to v1.12.11). Crossplane
already controls both (the XR is their controller), so that call fails and the Cluster
is never provisioned. From v1.13.0 a Cluster without a topology gets a plain owner
reference (kubernetes-sigs/cluster-api#13332). v1beta2, which this kind composes, needs
v1.11 or later anyway.

The version is read from the image tag of Cluster API's controller Deployment (a
required resource, settings clusterAPIController), as clusterctl and the Cluster API
Operator install it (registry.k8s.io/cluster-api/cluster-api-controller:v1.13.0). Not
found, or an image without a version tag (a digest alone): nothing to judge, no check.
An older version is a FATAL: a cluster composed on it can never come up, so nothing
that works is stopped, and nothing is created that would have to be cleaned up.
"""

import re

from function.context import RequiredKind, Selector
from function.kinds.kubernetescluster.settings import ClusterAPIController
from function.observed import objects, text
from function.refusal import Refusal
from function.structs import JSON

MINIMUM = (1, 13, 0)
REQUIREMENT = "cluster-api-controller"  # required resource key
MANAGER = "manager"  # the container of Cluster API's controller Deployment
# Read, never composed: Crossplane is given get/list/watch on it (Kind.requires).
DEPLOYMENT = RequiredKind("apps/v1", "Deployment", "deployments")
# \Z, not $: $ also matches before a final newline, which no image reference ends with.
_TAG = re.compile(r":v?([0-9]+)\.([0-9]+)\.([0-9]+)(?:[-+][^@/:]*)?(?:@sha256:[0-9a-f]{64})?\Z")


def selector(settings: ClusterAPIController) -> Selector:
    """The Deployment to fetch."""
    return DEPLOYMENT.named(settings.name, settings.namespace)


def version(deployment: JSON | None) -> tuple[int, int, int] | None:
    """The version in the manager container's image tag (the first container if none is
    named manager), or None when there is none to read."""
    containers = objects(deployment, "spec", "template", "spec", "containers")
    named = [c for c in containers if text(c, "name") == MANAGER] or containers[:1]
    image = text(named[0], "image") if named else None
    found = _TAG.search(image or "")
    if found is None:
        return None
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def refuse_older(deployment: JSON | None, settings: ClusterAPIController) -> None:
    """A FATAL when the observed Cluster API is older than MINIMUM."""
    found = version(deployment)
    if found is None or found >= MINIMUM:
        return
    shown = ".".join(str(n) for n in found)
    needed = ".".join(str(n) for n in MINIMUM)
    raise Refusal(
        f"Cluster API v{shown} runs in the host cluster (Deployment "
        f"{settings.namespace}/{settings.name}); KubernetesCluster needs v{needed} or later: "
        "before it, Cluster API makes the Cluster the controller of the KubevirtCluster and "
        "KubeadmControlPlane, which Crossplane controls, so the cluster would never be "
        "provisioned. Upgrade Cluster API"
    )
