"""Deletion order between composed resources: Crossplane Usages.

When an XR is deleted Crossplane deletes all it composed at once. Some objects
need another to be deleted cleanly: a Helm release in a workload cluster
needs the ProviderConfig and the kubeconfig Secret that reach that cluster to
uninstall, so the cluster must outlive its add-ons. A Usage blocks deleting
the used resource (of) while the user (by) exists; replayDeletion deletes the
used resource again as soon as the user is gone, so the XR deletion does not
wait for the next poll.

Usages select both sides by a label the block puts on them (the composed
resources' names are Crossplane's to choose) and by controller reference, so
the selection stays inside this XR (function/blocks/managed.py, label_selector).
A Usage is namespaced and selects in its own namespace: it goes where both sides
are (the XR's namespace, or for a cluster-scoped XR the namespace they name).

A RoleBinding a Usage protects keeps the composed Role it binds until it is gone.
To release it, Crossplane's Usage controller updates it to remove its in-use label
(crossplane v2.3.4 internal/controller/protection/usage/reconciler.go), and the API
server checks an update of a RoleBinding against the rules of the Role it binds
unless it changes garbage collection fields only (kubernetes v1.35.4
pkg/registry/rbac/rolebinding/policybased/storage.go, Update): with the Role deleted
first the update fails, the Usage is never released and the RoleBinding stays.

CRD: protection.crossplane.io/v1beta1 Usage (namespaced), Crossplane v2.3.4,
$SHARED/crds/crossplane/protection.crossplane.io_usages.yaml.
"""

from collections.abc import Iterable

from function import readiness
from function.blocks.managed import label_selector
from function.refusal import Refusal
from function.structs import JSON, api_group, dig

USAGE_API = "protection.crossplane.io/v1beta1"
CRDS = ("crds/crossplane/protection.crossplane.io_usages.yaml",)
# A Usage is a guard: it has nothing to become ready for.
READINESS: readiness.Rules = {("protection.crossplane.io", "Usage"): readiness.exists}
PREFIX = "usage"


def _selected(resources: dict[str, JSON], name: str) -> JSON:
    """A reference to the composed resource name, labelled so it can be selected."""
    obj = resources[name]
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "resourceSelector": label_selector(resources, name),
    }


def usage_name(by: str, of: str) -> str:
    """The composition resource name of the Usage that keeps of until by is gone."""
    return f"{PREFIX}-{by}-uses-{of}"


def _bound_roles(resources: dict[str, JSON], name: str) -> list[str]:
    """The resource name of the composed Role the composed RoleBinding name binds, if any."""
    binding = resources.get(name) or {}
    ref = binding.get("roleRef") or {}
    if binding.get("kind") != "RoleBinding" or ref.get("kind") != "Role":
        return []
    namespace = dig(binding, "metadata", "namespace")
    return [
        key
        for key, obj in resources.items()
        if obj.get("kind") == "Role"
        and api_group(str(obj.get("apiVersion"))) == ref.get("apiGroup")
        and dig(obj, "metadata", "name") == ref.get("name")
        and dig(obj, "metadata", "namespace") == namespace
    ]


def deletion_order(resources: dict[str, JSON], uses: Iterable[tuple[str, str]]) -> None:
    """Add a Usage for every (by, of) whose both sides are composed: of is deleted after by.

    A pair whose side is not composed (yet, or any more) gets no Usage; the
    Usage of a pair appears once both exist. A protected RoleBinding's Role gets
    one more: the RoleBinding uses it.
    """
    pairs = set(uses)
    pairs |= {(of, role) for _, of in pairs for role in _bound_roles(resources, of)}
    for by, of in sorted(pairs):
        if by not in resources or of not in resources:
            continue
        # Unset is the XR's namespace (Crossplane fills it in for a namespaced XR).
        of_ns, by_ns = (dig(resources[n], "metadata", "namespace") for n in (of, by))
        if of_ns and by_ns and of_ns != by_ns:
            raise Refusal(f"a Usage cannot order {by} and {of}: not in one namespace")
        namespace = of_ns or by_ns
        usage: JSON = {"apiVersion": USAGE_API, "kind": "Usage"}
        if namespace:
            usage["metadata"] = {"namespace": namespace}
        resources[usage_name(by, of)] = usage | {
            "spec": {
                "of": _selected(resources, of),
                "by": _selected(resources, by),
                "replayDeletion": True,
                "reason": f"{by} needs {of} to be deleted cleanly",
            },
        }
