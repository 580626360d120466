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
from harness.cases import JSON, Case, example_credentials, fold_string_data, load_yaml_docs
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


def grant_tenant(plane: ControlPlane, ns: str, xr: JSON) -> None:
    """Bind the namespace's tenant to crossplane-edit there, and wait until the API server
    lets them create the XR's kind there."""
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
    """A namespace of the case's own: a DNS label."""
    return re.sub(r"[^a-z0-9-]", "-", f"e2e-{case.kind[:24]}-{case.name}")[:63].rstrip("-")


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
    """The tenancy rules the case's input gives the example's namespace, given to the
    namespace of the case's own instead (the rules are per namespace)."""
    original, own = xr_doc_namespace(case), namespace(case)
    for tenant in (settings.get("tenancy") or {}).get("tenants") or []:
        tenant["namespaces"] = [own if n == original else n for n in tenant["namespaces"]]


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
    xr["metadata"]["namespace"] = namespace(case)
    if own_composition(case):
        xr["spec"].setdefault("crossplane", {})["compositionRef"] = {"name": composition_name(case)}
    return xr


def xr_doc_namespace(case: Case) -> str:
    """The namespace the example's xr.yaml names."""
    return str(load_yaml_docs(case.xr)[0]["metadata"].get("namespace", ""))


def create_case(plane: ControlPlane, case: Case, *, create: bool = False) -> JSON:
    """Namespace, its tenant, required resources and the XR of a case; the XR as applied.

    With `create` the XR is POSTed rather than server-side applied: a schema error is then
    the API server's 422 with every message (apply answers 500 for a patch it cannot type).
    """
    ns = namespace(case)
    plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    grant_tenant(plane, ns, xr_doc(case))
    original = xr_doc_namespace(case)
    for doc in case.optional_docs("required.yaml"):
        if doc.get("kind") == SETTINGS_SELECTOR.kind:
            doc["metadata"]["name"] = composition_name(case)
        if doc["metadata"].get("namespace") == original:
            doc["metadata"]["namespace"] = ns
        elif doc["metadata"].get("namespace"):  # another namespace's object (a clone's source)
            other = doc["metadata"]["namespace"]
            plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
        # What the API server assigns (a required XR's uid, as a render sees it) cannot be applied.
        doc["metadata"] = {
            k: v for k, v in doc["metadata"].items() if k not in ("uid", "resourceVersion")
        }
        plane.apply(doc)
    # The XR as the namespace's tenant: what core does with it, it does with its own rights.
    if create:
        return plane.create(xr_doc(case), user=tenant(ns))
    return plane.apply(xr_doc(case), user=tenant(ns))


def refusal(apply: Callable[[], Any]) -> ApiException | None:
    """The API server's refusal of apply(), or None when it was accepted."""
    try:
        apply()
    except ApiException as e:
        return e
    return None


def get_xr(plane: ControlPlane, case: Case) -> JSON | None:
    xr = xr_doc(case)
    return plane.get(xr["apiVersion"], xr["kind"], xr["metadata"]["name"], namespace(case))


def composed(plane: ControlPlane, xr: JSON) -> dict[str, JSON]:
    """The XR's composed objects (spec.crossplane.resourceRefs), by composition resource name."""
    ns = xr["metadata"]["namespace"]
    out: dict[str, JSON] = {}
    for ref in (xr.get("spec") or {}).get("crossplane", {}).get("resourceRefs") or []:
        obj = plane.get(ref["apiVersion"], ref["kind"], ref["name"], ns)
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
    first = run(req)
    for key, sel in first.requirements.resources.items():
        if sel.HasField("match_labels"):  # every object carrying the labels
            labels = ",".join(f"{k}={v}" for k, v in sorted(sel.match_labels.labels.items()))
            found = plane.list(sel.api_version, sel.kind, sel.namespace or None, labels)
            req.required_resources[key].SetInParent()
        elif sel.WhichOneof("match") is None:  # every object of the kind, as Crossplane lists
            found = plane.list(sel.api_version, sel.kind, sel.namespace or None)
            req.required_resources[key].SetInParent()
        else:
            obj = plane.get(sel.api_version, sel.kind, sel.match_name, sel.namespace or None)
            found = [obj] if obj is not None else []
        for obj in found:
            req.required_resources[key].items.add().resource.CopyFrom(to_struct(_clean(obj)))
    return run(req) if first.requirements.resources else first


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

    Returns the names whose status was written.
    """
    patched = set()
    have = composed(plane, xr)
    for name, doc in requests.observed_resources(case).items():
        group = str(doc.get("apiVersion", "")).rpartition("/")[0]
        if doc.get("status") and name in have and group not in REAL_PROVIDERS:
            plane.patch_status(have[name], doc["status"])
            patched.add(name)
    return patched
