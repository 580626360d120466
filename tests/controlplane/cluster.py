"""What the control-plane test does with the cluster, read from the catalogue and the examples.

Each example case gets its own namespace (several cases share an XR name), its required
resources (required.yaml) and, when it has an input.yaml or an EnvironmentConfig, its own
Composition carrying those settings. The function itself is the oracle for what must be in
the cluster: given the XR and composed objects as the API server holds them, its desired
state must already be applied there and its status and conditions written back.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as fngrpc
from kubernetes.client.exceptions import ApiException

from function import catalogue
from function.input import SETTINGS_SELECTOR
from function.kind import AnyKind
from function.structs import to_dict, to_struct
from harness import requests
from harness.cases import (
    JSON,
    Case,
    example_credentials,
    find_cases,
    fold_string_data,
    identity,
    load_yaml_docs,
)
from harness.controlplane import REAL_PROVIDERS, ControlPlane
from harness.paths import shared_dir

RESOURCE_NAME = requests.RESOURCE_NAME
CONVERGE_SECONDS = 120.0
XRD_API = "apiextensions.crossplane.io/v2"
ARGOCD_CRDS = "crds/argo-cd/application-crd.yaml"
RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API = f"{RBAC_GROUP}/v1"


def system_role(xrd: str) -> str:
    """The ClusterRole the RBAC manager makes so core may serve the XRD's XRs (crossplane
    v2.3.4 internal/controller/rbac/definition/roles.go, nameSuffixSystem)."""
    return f"crossplane:composite:{xrd}:aggregate-to-crossplane"


# The edit role of Crossplane's chart (templates/rbac-manager-managed-clusterroles.yaml): it
# aggregates every role labelled rbac.crossplane.io/aggregate-to-edit, among them the edit
# role the RBAC manager makes for each XRD (roles.go nameSuffixEdit).
EDIT_ROLE = "crossplane-edit"


def tenant(ns: str) -> str:
    """The user whose team owns the namespace: creates and changes the XRs there, nothing else."""
    return f"tenant:{ns}"


def tenant_of(xr: JSON) -> str:
    """The tenant who creates and changes the XR: its namespace's, or, for a cluster-scoped
    XR, one of its own."""
    meta = xr["metadata"]
    return tenant(meta["namespace"]) if meta.get("namespace") else f"tenant:{meta['name']}"


def grant_tenant(plane: ControlPlane, ns: str, xr: JSON) -> None:
    """Bind the namespace's tenant to crossplane-edit there, and wait until the API server
    lets them create the XR's kind there. A cluster-scoped XR's tenant is bound, across the
    cluster, to the edit role the RBAC manager makes for that kind alone (roles.go
    nameSuffixEdit), so it may change that kind's XRs and nothing else."""
    if not ns:
        user = tenant_of(xr)
        role = f"crossplane:composite:{plane.resource(xr['apiVersion'], xr['kind']).name}"
        role += f".{xr['apiVersion'].rpartition('/')[0]}:aggregate-to-edit"
        plane.apply(
            {
                "apiVersion": RBAC_API,
                "kind": "ClusterRoleBinding",
                "metadata": {"name": re.sub(r"[^a-z0-9-]", "-", user)},
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
                "subjects": [{"apiGroup": RBAC_GROUP, "kind": "User", "name": user}],
            }
        )
        wait_for(f"{user} may create {xr['kind']}", lambda: allowed(plane, user, "create", xr, ""))
        return
    plane.apply(
        {
            "apiVersion": RBAC_API,
            "kind": "RoleBinding",
            "metadata": {"name": "tenant", "namespace": ns},
            "roleRef": {
                "apiGroup": RBAC_GROUP,
                "kind": "ClusterRole",
                "name": EDIT_ROLE,
            },
            "subjects": [{"apiGroup": RBAC_GROUP, "kind": "User", "name": tenant(ns)}],
        }
    )
    wait_for(
        f"{tenant(ns)} may create {xr['kind']} in {ns}",
        lambda: allowed(plane, tenant(ns), "create", xr, ns),
    )


def allowed(plane: ControlPlane, user: str, verb: str, obj: JSON, ns: str) -> bool:
    """The API server's own answer (SubjectAccessReview) to whether user may verb obj's kind."""
    group = obj["apiVersion"].rpartition("/")[0]
    res = plane.resource(obj["apiVersion"], obj["kind"])
    review = plane.create(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "metadata": {"name": ""},
            "spec": {
                "user": user,
                "resourceAttributes": {
                    "namespace": ns, "verb": verb, "group": group, "resource": res.name,
                },
            },
        }
    )  # fmt: skip
    return bool((review.get("status") or {}).get("allowed"))


def kind_of(case: Case) -> AnyKind:
    """The catalogue entry whose examples folder the case is in."""
    for kind in catalogue.kinds():
        if kind.api.kind.lower() == case.kind:
            return kind
    raise LookupError(f"{case.id}: no catalogue kind for examples/{case.kind}")


def namespace(case: Case) -> str:
    """The case's own stand-in for its XR's namespace ("" for a cluster-scoped kind's case)."""
    return namespaces(case).get(xr_doc_namespace(case), "")


def cluster_scoped(case: Case) -> bool:
    return kind_of(case).api.scope == "Cluster"


def xr_name(case: Case) -> str:
    """The XR's name here: the example's, or, for a cluster-scoped kind (whose examples
    share names), one of the case's own."""
    name = str(load_yaml_docs(case.xr)[0]["metadata"]["name"])
    return f"e2e-{case.name}"[:40].rstrip("-") if cluster_scoped(case) else name


def names(case: Case) -> dict[str, str]:
    """The example's XR name and the case's own, when they differ."""
    original = str(load_yaml_docs(case.xr)[0]["metadata"]["name"])
    return {original: xr_name(case)} if xr_name(case) != original else {}


def case_tenant(case: Case) -> str:
    return tenant_of(xr_doc(case))


def rename_text(text: str, case: Case) -> str:
    """text with the example's XR name, and what is named after it (a workspace
    namespace, `<name>-ml-artifacts`), the case's own."""
    for old, new in names(case).items():
        # Not in an API group (kubeflow.org/v1 of an XR named kubeflow).
        text = re.sub(
            rf"(?<![A-Za-z0-9-]){re.escape(old)}(?![A-Za-z0-9]|\.[a-z0-9.-]*/)", new, text
        )
    return text


def settings_config(case: Case) -> bool:
    """Whether the case's required.yaml holds an EnvironmentConfig with its settings. One
    cluster serves every case, so it is applied under the case's Composition's name and
    only that Composition asks for it."""
    return any(d.get("kind") == SETTINGS_SELECTOR.kind for d in case.optional_docs("required.yaml"))


def own_composition(case: Case) -> bool:
    """Whether the case has settings of its own: an input.yaml, or an EnvironmentConfig."""
    return bool(case.optional("input.yaml")) or settings_config(case)


def composition_name(case: Case) -> str:
    """The kind's Composition, or the case's own when it has settings of its own.

    Kept to 63 characters: core labels each CompositionRevision with the name.
    """
    if not own_composition(case):
        return str(case.composition_doc()["metadata"]["name"])
    return f"{case.kind}-{case.name}"[:63].rstrip("-")


def tenants_in_own_namespace(settings: JSON, case: Case) -> None:
    """The tenancy rules the case's input gives the example's namespaces, given to the
    case's own stand-ins instead (the rules are per namespace)."""
    spaces = namespaces(case)
    for tenant in (settings.get("tenancy") or {}).get("tenants") or []:
        tenant["namespaces"] = [spaces.get(n, n) for n in tenant["namespaces"]]


# Where the platform keeps what every case shares (the shared PostgreSQL server's admin
# Secret): a case's required objects there are applied there.
PLATFORM_NAMESPACE = "crossplane-system"
# Namespaces the cluster has for other reasons (its own, Argo CD's): never a stand-in.
RESERVED_NAMESPACES = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease", "argocd", PLATFORM_NAMESPACE}
)


def namespaces(case: Case) -> dict[str, str]:
    """Each namespace the example names (its XR's, its required objects', those its XR's
    parameters point at: a clone's source) and the case's own stand-in for it, so cases
    sharing a namespace name do not meet. The platform's namespace is kept; a
    cluster-scoped XR names its own instead (rename_text)."""
    return dict(_stand_ins(case.root).get(case.id, {}))


def _named_namespaces(case: Case) -> list[str]:
    """The namespaces the example names, its XR's first."""
    original = xr_doc_namespace(case)
    named = {d["metadata"].get("namespace") for d in case.optional_docs("required.yaml")}
    named |= {d["metadata"].get("namespace") for d in earlier_required(case)}
    named |= set(_namespace_values(load_yaml_docs(case.xr)[0].get("spec")))
    return [original, *sorted(n for n in named - {original, None, PLATFORM_NAMESPACE} if n)]


# Why a stand-in keeps the function's output comparable with the example's expected.yaml:
# the function reads a namespace as a string it copies into what it composes
# (`<name>.<ns>.svc`, `vcluster.<ns>.<name>`, `<ns>/<name>`, `<ns>_<name>`, tenant paths),
# compares with other namespaces (tenancy rules, instances, a clone's allowed namespaces:
# each renamed with it), cuts at a length limit (naming.dns_label, sql_identifier), checks
# by its characters (sql_identifier hashes a name holding '-'), hashes (that suffix, the
# content hash of a template holding the namespace) and sorts (a vCluster's egress per
# namespace: the XR's beside the platform's, platform-data). A stand-in has the original's
# length, its '-' at the same places, a letter where it has a letter and a digit where a
# digit, and its first letter: so every cut falls at the same place, the same names are
# hashed, every pattern matches alike, and it sorts like the original against namespaces
# of another first letter. So the output for the stand-in is the example's with the
# stand-in for the namespace (restored maps it back), but for hash values, which
# expected.HASH masks.
def _stand_ins(root: Path) -> dict[str, dict[str, str]]:
    """Per case id, each namespace its example names and the case's stand-in: unique over
    every case, no namespace an example names or the cluster has, and no word of the
    case's own files (so mapping it back touches only what was derived from it)."""
    if root not in _STAND_INS:
        cases = [c for c in find_cases(root) if not cluster_scoped(c)]
        named = {c.id: _named_namespaces(c) for c in cases}
        taken = set(RESERVED_NAMESPACES) | {n for ns in named.values() for n in ns}
        out: dict[str, dict[str, str]] = {}
        for case in cases:
            text = "\n".join(p.read_text() for p in sorted(case.dir.rglob("*.yaml")))
            out[case.id] = {}
            for original in named[case.id]:
                own = stand_in(original, case.id, taken, text)
                taken.add(own)
                out[case.id][original] = own
        _STAND_INS[root] = out
    return _STAND_INS[root]


_STAND_INS: dict[Path, dict[str, dict[str, str]]] = {}
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"


def stand_in(original: str, salt: str, taken: set[str], text: str) -> str:
    """A namespace of original's shape (stand_ins' comment) drawn from a hash of salt and
    original: not in taken and not a word of text."""
    for attempt in range(10_000):
        drawn = hashlib.shake_256(f"{salt}:{original}:{attempt}".encode()).digest(len(original))
        own = original[0] + "".join(
            _LETTERS[b % 26] if c in _LETTERS else _DIGITS[b % 10] if c in _DIGITS else c
            for c, b in zip(original[1:], drawn[1:], strict=True)
        )
        if own != original and own not in taken and not _word(own).search(text):
            return own
    raise LookupError(f"{salt}: no stand-in left for namespace {original!r}")


def _word(name: str) -> re.Pattern[str]:
    """name as a whole word: not beside another letter or digit."""
    return re.compile(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])")


def restored(value: Any, case: Case) -> Any:
    """value (what the cluster holds) with each of the case's stand-ins, as a word and in
    its SQL spelling ('-' as '_'), the example's namespace again."""
    if isinstance(value, str):
        for original, own in namespaces(case).items():
            for old, new in {(own, original), (own.replace("-", "_"), original.replace("-", "_"))}:
                value = _word(old).sub(new, value)
        return value
    if isinstance(value, dict):
        return {restored(k, case): restored(v, case) for k, v in value.items()}
    if isinstance(value, list):
        return [restored(v, case) for v in value]
    return value


def in_stand_ins(value: Any, case: Case) -> Any:
    """value (a status a controller wrote: an endpoint `<svc>.<ns>.svc:5432`) with each
    namespace the example names, where it stands as a whole name (not the start of a
    longer one: `production` in `production-database` is the XR's name), the case's
    stand-in."""
    if isinstance(value, str):
        for original, own in namespaces(case).items():
            value = re.sub(rf"(?<![a-z0-9-]){re.escape(original)}(?![a-z0-9-])", own, value)
        return value
    if isinstance(value, dict):
        return {k: in_stand_ins(v, case) for k, v in value.items()}
    if isinstance(value, list):
        return [in_stand_ins(v, case) for v in value]
    return value


def _namespace_values(value: Any) -> Iterable[str]:
    """Strings held under a `namespace` key or in a `namespaces` list, anywhere in value."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "namespace" and isinstance(v, str):
                yield v
            elif k == "namespaces" and isinstance(v, list):
                yield from (n for n in v if isinstance(n, str))
            else:
                yield from _namespace_values(v)
    elif isinstance(value, list):
        for v in value:
            yield from _namespace_values(v)


def with_case_name(value: Any, case: Case) -> Any:
    """value with the example's XR name the case's own (rename_text), namespaces kept."""
    return _renamed(value, {}, case)


def renamed(value: Any, case: Case) -> Any:
    """value with every namespace named under a `namespace` key or in a `namespaces` list
    replaced by its stand-in (other strings, an environment called like a namespace, kept),
    and the XR's name the case's own (rename_text)."""
    return _renamed(value, namespaces(case), case)


def _renamed(value: Any, spaces: dict[str, str], case: Case) -> Any:
    if isinstance(value, str):
        return rename_text(value, case)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k == "namespace" and isinstance(v, str):
                out[k] = rename_text(spaces.get(v, v), case)
            elif k == "namespaces" and isinstance(v, list):
                out[k] = [_renamed(spaces.get(n, n), spaces, case) for n in v]
            else:
                out[k] = _renamed(v, spaces, case)
        return out
    if isinstance(value, list):
        return [_renamed(v, spaces, case) for v in value]
    return value


def condition(obj: JSON | None, typ: str) -> JSON:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == typ:
            return dict(c)
    return {}


def wait_for(what: str, check: Callable[[], Any], timeout: float = CONVERGE_SECONDS) -> Any:
    """Poll check() until it returns something truthy; fail with `what` and its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last and not isinstance(last, Mismatch):
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f}s; last: {last}")


class Mismatch(str):
    """A falsy-by-type answer of a check: what still differs."""

    __slots__ = ()


# ---------------------------------------------------------------- installing


def install(plane: ControlPlane, root: Path, cases: Iterable[Case]) -> None:
    """What the packages cannot bring, once they are installed: the upstream CRDs every kind
    declares (the providers' and other controllers'), the examples' credentials and each
    case's own Composition."""
    shared = shared_dir(root)
    crds = sorted({path for kind in catalogue.kinds() for path in kind.crds})
    names = []
    for path in crds:
        for doc in load_yaml_docs(shared / path):
            plane.apply(doc)
            names.append(doc["metadata"]["name"])
    # What Argo CD's installation brings, which the real provider-kubernetes applies the
    # gitops registration into: its Application CRD and its namespace (the settings' default).
    for doc in load_yaml_docs(shared / ARGOCD_CRDS):
        plane.apply(doc)
        names.append(doc["metadata"]["name"])
    plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}})
    plane.wait_established(names)
    xrds = [kind.api.xrd_name for kind in catalogue.kinds()]
    wait_for(
        "every kind's XRD installed by its Configuration",
        lambda: all(plane.get(XRD_API, "CompositeResourceDefinition", n) for n in xrds),
        timeout=180,
    )
    plane.wait_established(xrds)
    # Core may serve an XR only once Crossplane's RBAC manager has made the XRD's role
    # aggregated into core's own (crossplane v2.3.4 internal/controller/rbac/definition).
    wait_for(
        "the RBAC manager's role for every XRD",
        lambda: all(plane.get(RBAC_API, "ClusterRole", system_role(n)) for n in xrds),
    )
    # The Secret install/ generates holds the password key; the examples' also name the
    # Vault address their renders use.
    for doc in example_credentials(root):
        plane.apply(doc)
    for case in cases:
        if own_composition(case):
            doc = case.composition_doc()
            doc["metadata"]["name"] = composition_name(case)
            tenants_in_own_namespace(doc["spec"]["pipeline"][0]["input"]["spec"], case)
            if settings_config(case):  # the step asks for the case's own
                (step,) = doc["spec"]["pipeline"]
                (wanted,) = step["requirements"]["requiredResources"]
                wanted["name"] = composition_name(case)
            plane.apply(doc)


def xr_doc(case: Case) -> JSON:
    """The case's XR in its namespace, without what the API server assigns."""
    xr = load_yaml_docs(case.xr)[0]
    xr["metadata"] = {
        k: v for k, v in xr["metadata"].items() if k not in ("uid", "resourceVersion")
    }
    if namespace(case):
        xr["metadata"]["namespace"] = namespace(case)
    xr["metadata"]["name"] = xr_name(case)
    xr["spec"] = renamed(xr["spec"], case)
    if own_composition(case):
        xr["spec"].setdefault("crossplane", {})["compositionRef"] = {"name": composition_name(case)}
    return xr


def xr_doc_namespace(case: Case) -> str:
    """The namespace the example's xr.yaml names."""
    return str(load_yaml_docs(case.xr)[0]["metadata"].get("namespace", ""))


def create_case(
    plane: ControlPlane,
    case: Case,
    *,
    create: bool = False,
    xr: JSON | None = None,
    earlier: bool = False,
) -> JSON:
    """Namespaces, the tenant, required resources and the XR of a case (`xr`, else the
    case's own); the XR as applied. With `earlier`, the required resources are those of the
    state the example starts from (earlier_required).

    With `create` the XR is POSTed rather than server-side applied: a schema error is then
    the API server's 422 with every message (apply answers 500 for a patch it cannot type).
    A required object owned by something the XR composes is made once that exists
    (made_by_controller).
    """
    ns = namespace(case)
    for own in sorted(namespaces(case).values()):
        plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": own}})
    doc = xr if xr is not None else xr_doc(case)
    grant_tenant(plane, ns, doc)
    later = []
    docs = earlier_required(case) if earlier else case.optional_docs("required.yaml")
    for required in (_required_doc(d, case) for d in docs):
        if _owner(plane, required) is None:
            later.append(required)
        else:
            _apply_required(plane, required)
    # The XR as its tenant: what core does with it, it does with its own rights.
    if create:
        out = plane.create(doc, user=tenant_of(doc))
    else:
        out = plane.apply(doc, user=tenant_of(doc))
    for required in later:
        made_by_controller(plane, required)
    return out


# The directory of an example holding the state it starts from, when a fresh XR cannot
# reach it (docs/contributing.md): its required.yaml, the required resources then.
EARLIER = "before"


def earlier_required(case: Case) -> list[JSON]:
    """The required resources of the state the example starts from ([] without one)."""
    path = case.dir / EARLIER / "required.yaml"
    return load_yaml_docs(path) if path.is_file() else []


def has_earlier_state(case: Case) -> bool:
    return (case.dir / EARLIER).is_dir()


def advance(plane: ControlPlane, case: Case) -> None:
    """From the state the example starts from to its own: the required resources only the
    earlier state has deleted, the example's applied, and its XR."""
    now = {_where(d) for d in case.optional_docs("required.yaml")}
    for doc in earlier_required(case):
        if _where(doc) not in now:
            plane.delete(_required_doc(doc, case))
    create_case(plane, case)


def _where(doc: JSON) -> tuple[str, ...]:
    return (*identity(doc), str(doc["metadata"].get("namespace", "")))


def _required_doc(doc: JSON, case: Case) -> JSON:
    """A required object of the example as the case applies it: in its stand-in namespaces
    (another namespace's objects, a clone's source, too), the settings under the case's
    Composition's name, without what the API server assigns (a required XR's uid, as a
    render sees it)."""
    required: JSON = renamed(doc, case)
    if required.get("kind") == SETTINGS_SELECTOR.kind:
        required["metadata"]["name"] = composition_name(case)
    required["metadata"] = {
        k: v for k, v in required["metadata"].items() if k not in ("uid", "resourceVersion")
    }
    if "status" in required:
        required["status"] = in_stand_ins(doc["status"], case)
        if _is_xr(required):
            # A required XR stands for an instance its own controllers made ready: its
            # status is the example's, so core must not compose it (crossplane v2.3.4
            # internal/controller/apiextensions/composite/reconciler.go, meta.IsPaused:
            # a paused XR is left as it is).
            annotations = required["metadata"].setdefault("annotations", {})
            annotations[PAUSED] = "true"
    return required


PAUSED = "crossplane.io/paused"


def _is_xr(doc: JSON) -> bool:
    return any(
        (k.api.api_version, k.api.kind) == (doc.get("apiVersion"), doc.get("kind"))
        for k in catalogue.kinds()
    )


def _apply_required(plane: ControlPlane, required: JSON) -> None:
    """Apply a required object, then write the status the example gives it, as the
    controller it stands for would."""
    applied = plane.apply(required)
    if required.get("status"):
        plane.patch_status(applied, required["status"])


def _owner(plane: ControlPlane, doc: JSON) -> JSON | None:
    """The controller owner doc names, {} when it names none, None when it does not exist."""
    for ref in doc["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            ns = doc["metadata"].get("namespace")
            return plane.get(ref["apiVersion"], ref["kind"], ref["name"], ns)
    return {}


def made_by_controller(plane: ControlPlane, doc: JSON) -> None:
    """Play the controller that makes doc from its owner: once the XR composed the owner,
    doc is created with the owner's uid. No Kubeflow runs here, so this is how a workspace
    Namespace appears: as kubeflow/dashboard v2.0.0 components/profile-controller/
    controllers/profile_controller.go does for a Profile (creates the Namespace named after
    it, with the Profile as its controller owner: SetControllerReference)."""
    (ref,) = [r for r in doc["metadata"]["ownerReferences"] if r.get("controller")]
    owner = wait_for(
        f"{ref['kind']} {ref['name']} composed, to own {doc['kind']} {doc['metadata']['name']}",
        lambda: _owner(plane, doc),
    )
    ref["uid"] = owner["metadata"]["uid"]
    plane.apply(doc)


def refusal(apply: Callable[[], Any]) -> ApiException | None:
    """The API server's refusal of apply(), or None when it was accepted."""
    try:
        apply()
    except ApiException as e:
        return e
    return None


def get_xr(plane: ControlPlane, case: Case) -> JSON | None:
    xr = xr_doc(case)
    return plane.get(xr["apiVersion"], xr["kind"], xr["metadata"]["name"], namespace(case) or None)


def composed(plane: ControlPlane, xr: JSON) -> dict[str, JSON]:
    """The XR's composed objects (spec.crossplane.resourceRefs), by composition resource name."""
    ns = xr["metadata"].get("namespace")
    out: dict[str, JSON] = {}
    for ref in (xr.get("spec") or {}).get("crossplane", {}).get("resourceRefs") or []:
        # A cluster-scoped XR's refs name each object's namespace.
        obj = plane.get(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace", ns))
        if obj is not None:
            name = (obj["metadata"].get("annotations") or {}).get(RESOURCE_NAME, ref["name"])
            out[name] = obj
    return out


# ---------------------------------------------------------------- the function as oracle


class FunctionClient:
    """RunFunction over mTLS, with the certificate Crossplane core uses."""

    def __init__(self, plane: ControlPlane) -> None:
        assert plane.function is not None
        certs = plane.dir / "core-client"
        creds = grpc.ssl_channel_credentials(
            root_certificates=(certs / "ca.crt").read_bytes(),
            private_key=(certs / "tls.key").read_bytes(),
            certificate_chain=(certs / "tls.crt").read_bytes(),
        )
        # The certificate core issued for the function names its Service, not the address.
        self.channel = grpc.secure_channel(
            plane.function.target,
            creds,
            options=[("grpc.ssl_target_name_override", plane.function_host)],
        )
        self.stub = fngrpc.FunctionRunnerServiceStub(self.channel)

    def __call__(self, req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        rsp: fnv1.RunFunctionResponse = self.stub.RunFunction(req, timeout=30)
        return rsp


def step_of(plane: ControlPlane, case: Case) -> JSON:
    comp = plane.get("apiextensions.crossplane.io/v1", "Composition", composition_name(case))
    assert comp is not None, f"{case.id}: Composition {composition_name(case)} missing"
    step: JSON = comp["spec"]["pipeline"][0]
    return step


def credentials(plane: ControlPlane, step: JSON) -> dict[str, dict[str, bytes]]:
    out: dict[str, dict[str, bytes]] = {}
    for cred in step.get("credentials", []):
        ref = cred["secretRef"]
        secret = plane.get("v1", "Secret", ref["name"], ref["namespace"]) or {}
        out[cred["name"]] = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    return out


def ask(plane: ControlPlane, run: FunctionClient, case: Case, xr: JSON) -> fnv1.RunFunctionResponse:
    """The function's answer for the cluster's state, requirements answered from the cluster:
    the step's own (asked for before it runs, by name) and then the function's."""
    step = step_of(plane, case)
    observed = composed(plane, xr)
    up_front = {
        r["requirementName"]: [_clean(obj)]
        for r in (step.get("requirements") or {}).get("requiredResources", [])
        if (obj := plane.get(r["apiVersion"], r["kind"], r["name"], r.get("namespace")))
    }
    req = requests.build(
        _clean(xr),
        {k: _clean(v) for k, v in observed.items()},
        up_front,
        step.get("input"),
        credentials(plane, step),
    )
    bootstrap = {k: list(v.items) for k, v in req.required_resources.items()}
    asked: fnv1.Requirements | None = None
    # As core does: run again with what the function asks for until it asks for the same
    # (crossplane v2.3.4 internal/xfn/required_resources.go, MaxRequirementsIterations 5).
    for _ in range(MAX_REQUIREMENTS_ITERATIONS + 1):
        rsp = run(req)
        if any(r.severity == fnv1.SEVERITY_FATAL for r in rsp.results):
            return rsp
        if asked is not None and rsp.requirements == asked:
            return rsp
        asked = rsp.requirements
        req.required_resources.clear()
        for key, items in bootstrap.items():
            req.required_resources[key].items.extend(items)
        for key, sel in asked.resources.items():
            req.required_resources[key].SetInParent()
            for obj in _fetch(plane, sel):
                req.required_resources[key].items.add().resource.CopyFrom(to_struct(_clean(obj)))
        req.context.CopyFrom(rsp.context)
    raise AssertionError(f"{step.get('step')}: requirements did not settle")


MAX_REQUIREMENTS_ITERATIONS = 5


def _fetch(plane: ControlPlane, sel: fnv1.ResourceSelector) -> list[JSON]:
    """What core hands the function for one selector: the labelled objects, every object
    of the kind, or the one named (none when it does not exist)."""
    if sel.HasField("match_labels"):
        labels = ",".join(f"{k}={v}" for k, v in sorted(sel.match_labels.labels.items()))
        return plane.list(sel.api_version, sel.kind, sel.namespace or None, labels)
    if sel.WhichOneof("match") is None:
        return plane.list(sel.api_version, sel.kind, sel.namespace or None)
    obj = plane.get(sel.api_version, sel.kind, sel.match_name, sel.namespace or None)
    return [obj] if obj is not None else []


def _clean(obj: JSON) -> JSON:
    """As Crossplane hands objects to a function: plain JSON, no managedFields."""
    out = copy.deepcopy(obj)
    out.get("metadata", {}).pop("managedFields", None)
    return out


def subset_problems(want: Any, have: Any, path: str = "") -> list[str]:
    """Where `have` lacks or differs from what `want` holds (extra fields in have are fine)."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [f"{path or '.'}: want an object, have {have!r}"]
        out = []
        for k, v in want.items():
            out += subset_problems(v, have.get(k), f"{path}.{k}")
        return out
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return [f"{path}: want {want!r}, have {have!r}"]
        return [
            p
            for i, (w, h) in enumerate(zip(want, have, strict=True))
            for p in subset_problems(w, h, f"{path}[{i}]")
        ]
    if want != have and not (isinstance(want, float) and want == have):
        return [f"{path}: want {want!r}, have {have!r}"]
    return []


def as_stored(desired: JSON) -> JSON:
    """A desired object as the API server stores it (Secrets' stringData folded into data)."""
    if desired.get("kind") == "Secret" and desired.get("apiVersion") == "v1":
        return fold_string_data(desired)
    return desired


_CONDITION_STATUS = {
    fnv1.STATUS_CONDITION_TRUE: "True",
    fnv1.STATUS_CONDITION_FALSE: "False",
    fnv1.STATUS_CONDITION_UNKNOWN: "Unknown",
}


def agreement(plane: ControlPlane, run: FunctionClient, case: Case) -> Mismatch | JSON:
    """The XR when the cluster holds what the function answers for it, else what differs."""
    xr = get_xr(plane, case)
    if xr is None:
        return Mismatch("XR not found")
    rsp = ask(plane, run, case, xr)
    fatal = [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    if fatal:
        return Mismatch(f"function answers FATAL: {fatal}")
    have = composed(plane, xr)
    problems = []
    for name, res in rsp.desired.resources.items():
        desired = to_dict(res.resource)
        obj = have.get(name)
        if obj is None:
            problems.append(f"{name}: desired but not in the cluster")
            continue
        want = {k: v for k, v in as_stored(desired).items() if k not in ("metadata", "status")}
        meta = desired.get("metadata") or {}
        want["metadata"] = {k: meta[k] for k in ("labels", "annotations") if k in meta}
        problems += [f"{name}{p}" for p in subset_problems(want, obj)]
    extra = sorted(set(have) - set(rsp.desired.resources))
    if extra:
        problems.append(f"composed but no longer desired: {extra}")
    status = dict(requests.status(rsp))
    problems += [f"XR status{p}" for p in subset_problems(status, xr.get("status") or {})]
    for c in rsp.conditions:
        got = condition(xr, c.type)
        want_c = {"status": _CONDITION_STATUS[c.status], "reason": c.reason}
        if c.HasField("message"):
            want_c["message"] = c.message
        problems += [f"XR condition {c.type}{p}" for p in subset_problems(want_c, got)]
    ready = _ready(rsp)
    if condition(xr, "Ready").get("status") != ("True" if ready else "False"):
        problems.append(f"XR Ready is {condition(xr, 'Ready')}, function says ready={ready}")
    if condition(xr, "Synced").get("status") != "True":
        problems.append(f"XR Synced is {condition(xr, 'Synced')}")
    return Mismatch("; ".join(problems)) if problems else xr


def _ready(rsp: fnv1.RunFunctionResponse) -> bool:
    """Crossplane's rule: the composite's own readiness if set, else every resource's."""
    if rsp.desired.composite.ready != fnv1.READY_UNSPECIFIED:
        return bool(rsp.desired.composite.ready == fnv1.READY_TRUE)
    return all(r.ready == fnv1.READY_TRUE for r in rsp.desired.resources.values())


def provider_of(group: str) -> str:
    """The provider or controller serving an API group: the $SHARED/crds directory of the
    CRD a catalogue kind declares for it ("crossplane" for Crossplane's own kinds), or
    "kubernetes" for a group the API server serves itself (apps, *.k8s.io), whose workload
    controllers and kubelet do not run here."""
    if "." not in group or group.endswith(".k8s.io"):
        return "kubernetes"
    for kind in catalogue.kinds():
        for path in kind.crds:
            if any(d["spec"]["group"] == group for d in _crd_docs(path)):
                return path.split("/")[1]
    return "unknown"


_CRDS: dict[str, list[JSON]] = {}


def _crd_docs(path: str) -> list[JSON]:
    if path not in _CRDS:
        _CRDS[path] = load_yaml_docs(shared_dir() / path)
    return _CRDS[path]


# Per case: which providers ran for real and which were simulated; where the time went.
# Both printed at the end (conftest.py).
PROVIDERS_SEEN: dict[str, dict[str, list[str]]] = {}
TIMINGS: dict[str, float] = {}


def providers(plane: ControlPlane, xr: JSON) -> dict[str, list[str]]:
    """Of what the XR composes, which providers ran for real and which the test stood in for."""
    groups = {obj["apiVersion"].rpartition("/")[0] for obj in composed(plane, xr).values()} - {
        ""
    }  # core kinds (Secrets) need no provider
    real = sorted({REAL_PROVIDERS[g] for g in groups if g in REAL_PROVIDERS})
    simulated = sorted({provider_of(g) for g in groups if g not in REAL_PROVIDERS} - {"crossplane"})
    return {"real": real, "simulated": simulated}


def simulate_providers(plane: ControlPlane, case: Case, xr: JSON) -> set[str]:
    """Write observed.yaml's status onto the composed objects it names, as providers would,
    except for the kinds a real provider serves (REAL_PROVIDERS): those statuses are its own.
    So are the spec fields observed.yaml holds and the composed object lacks: what a
    controller fills in (Cluster API's Cluster controller writes spec.controlPlaneEndpoint,
    cluster-api v1.13 internal/controllers/cluster).

    Returns the names whose status was written.
    """
    patched = set()
    have = composed(plane, xr)
    for name, doc in requests.observed_resources(case).items():
        group = str(doc.get("apiVersion", "")).rpartition("/")[0]
        if name not in have or group in REAL_PROVIDERS:
            continue
        filled = _missing(renamed(doc.get("spec"), case), have[name].get("spec"))
        if filled:
            plane.patch(have[name], {"spec": filled})
        if doc.get("status"):
            status = renamed(doc["status"], case)
            plane.patch_status(have[name], _required_filled(plane, have[name], status))
            patched.add(name)
    return patched


_EMPTY = {"object": {}, "array": [], "string": "", "integer": 0, "number": 0, "boolean": False}


def _required_filled(plane: ControlPlane, obj: JSON, status: JSON) -> JSON:
    """status with the top-level fields its CRD requires and observed.yaml leaves out, empty,
    as the controller writing the whole status would have them (a Notebook's containerState
    before its pod runs). The example gives only what the function reads."""
    group = obj["apiVersion"].rpartition("/")[0]
    if "." not in group:
        return status
    res = plane.resource(obj["apiVersion"], obj["kind"])
    crd = plane.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"{res.name}.{group}")
    version = obj["apiVersion"].rpartition("/")[2]
    for v in (crd or {}).get("spec", {}).get("versions", []):
        if v["name"] == version:
            schema = v["schema"]["openAPIV3Schema"]["properties"].get("status") or {}
            props = schema.get("properties") or {}
            missing = [k for k in schema.get("required") or [] if k not in status]
            return status | {k: _EMPTY.get(props.get(k, {}).get("type", ""), {}) for k in missing}
    return status


def _missing(observed: Any, have: Any) -> Any:
    """What of observed (an object) is not in have at all: keys have lacks, recursively."""
    if not isinstance(observed, dict) or not isinstance(have, dict):
        return None
    out = {}
    for k, v in observed.items():
        if k not in have:
            out[k] = v
        elif (sub := _missing(v, have[k])) is not None and sub != {}:
            out[k] = sub
    return out or None


# ---------------------------------------------------------------- steadiness


def versions(plane: ControlPlane, xrs: Iterable[JSON]) -> dict[str, str]:
    """Per composed object, what changes when anything writes it again: its resourceVersion,
    or, for a real provider's kinds, its generation (the provider keeps writing the status
    of the Objects it cannot reach, which bumps the resourceVersion only)."""
    out = {}
    for xr in xrs:
        for name, obj in composed(plane, xr).items():
            meta = obj["metadata"]
            key = f"{meta.get('namespace', '')}/{meta['name']} ({name})"
            if obj["apiVersion"].rpartition("/")[0] in REAL_PROVIDERS:
                out[key] = f"generation {meta['generation']}"
            else:
                out[key] = f"resourceVersion {meta['resourceVersion']}"
    return out
