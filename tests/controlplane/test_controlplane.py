"""End to end in a real control plane: etcd, kube-apiserver, kube-controller-manager, an OCI
registry holding the packages, Crossplane core v2.3.4 and its RBAC manager (as the chart's
ServiceAccounts under its RBAC), provider-kubernetes, and this function over mTLS
(harness/controlplane.py). `make e2e`.

The platform is installed from its packages through Crossplane's package manager, as
docs/install.md has a user do it. Driven by the catalogue and examples/: every kind's upstream
CRDs (its catalogue entry's `crds`) and every example XR, each in a namespace of its own,
created by that namespace's tenant. Composed Objects are synced by provider-kubernetes; for
every other provider the test writes the status observed.yaml gives, as it would.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterable
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from function import catalogue
from function.input import SETTINGS_SELECTOR
from function.kinds.kubernetescluster.ccm import RULES as CCM_RULES
from function.model import Rule
from function.structs import api_group
from harness import requests
from harness.cases import Case, find_cases, load_yaml_docs
from harness.controlplane import (
    CORE_SA,
    FUNCTION_SA,
    POLL_INTERVAL_SECONDS,
    REAL_PROVIDERS,
    ControlPlane,
)
from harness.paths import ROOT
from harness.render import expected_error_lines
from harness.validate import RENDER_PSEUDO_GROUPS
from tests.composing import refused
from tests.controlplane import cluster, expected

XRD_API = "apiextensions.crossplane.io/v2"
# Each case is isolated in namespaces of its own (cluster.namespaces); a cluster-scoped
# kind's case has an XR name of its own instead (cluster.xr_name), and what is named after
# the XR (its workspace namespace) follows.
CASES = find_cases(ROOT)
COMPOSING = [c for c in CASES if not c.expects_error]
# Bad at creation: the XRD's validation must refuse them (transition rules need an old
# object: the cases with an observed.yaml, TRANSITIONS).
BAD = [c for c in CASES if c.expects_error and not c.optional("observed.yaml")]
# "spec.parameters.<field> cannot change from <old> to <new>" (or "cannot go from <old>
# down to <new>"): the first line of a transition case's expected-error.txt.
TRANSITION = re.compile(
    r"^(spec\.parameters\.[\w.]+) cannot (?:change|go) from (.+?) (?:down )?to (.+?)(?::|$)",
    re.MULTILINE,
)
SIMULATION_ROUNDS = 12
TRANSITIONS = [c for c in CASES if c.expects_error and c.optional("observed.yaml")]


@pytest.fixture(scope="session")
def run(plane: ControlPlane) -> cluster.FunctionClient:
    return cluster.FunctionClient(plane)


@pytest.fixture(scope="session")
def created(plane: ControlPlane) -> dict[str, dict[str, Any]]:
    """Every composing example applied; per case the XR once it first composed, and its
    Ready condition then (before any provider status is written)."""
    with plane.timed("test: XRs created, first composed"):
        return _create_all(plane)


def _create_all(plane: ControlPlane) -> dict[str, dict[str, Any]]:
    for case in COMPOSING:
        # An example starting from a state a fresh XR does not reach is first created in
        # that state (cluster.EARLIER); _converge_all takes it on to the example's.
        cluster.create_case(plane, case, earlier=cluster.has_earlier_state(case))
    out: dict[str, dict[str, Any]] = {}
    for case in COMPOSING:
        xr = cluster.wait_for(
            f"{case.id}: XR Synced with composed resources",
            lambda case=case: _first_composed(plane, case),
        )
        out[case.id] = {"xr": xr, "ready_before": cluster.condition(xr, "Ready").get("status")}
    return out


def _first_composed(plane: ControlPlane, case: Case) -> dict[str, Any] | None:
    xr = cluster.get_xr(plane, case)
    if cluster.condition(xr, "Synced").get("status") == "True" and cluster.composed(
        plane, xr or {}
    ):
        return xr
    return None


@pytest.fixture(scope="session")
def converged(
    plane: ControlPlane, run: cluster.FunctionClient, created: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Providers simulated from observed.yaml, then every XR agreeing with the function."""
    with plane.timed("test: providers simulated, every XR agreeing"):
        return _converge_all(plane, run, created)


def _converge_all(
    plane: ControlPlane, run: cluster.FunctionClient, created: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    for case in COMPOSING:
        created[case.id]["patched"] = set()
    _converge(plane, run, created, COMPOSING)
    # The examples starting from an earlier state, that state converged: now their own.
    later = [c for c in COMPOSING if cluster.has_earlier_state(c)]
    for case in later:
        cluster.advance(plane, case)
    _converge(plane, run, created, later)
    return created


def _converge(
    plane: ControlPlane,
    run: cluster.FunctionClient,
    created: dict[str, dict[str, Any]],
    cases: list[Case],
) -> None:
    """Providers simulated for the cases, then each XR agreeing with the function."""
    # Objects can appear once others are ready (add-ons after the cluster): rounds over every
    # case until two in a row, a poll interval apart, find nothing new to write.
    quiet = 0
    for _ in range(SIMULATION_ROUNDS):
        new_any = False
        for case in cases:
            state = created[case.id]
            new = cluster.simulate_providers(plane, case, cluster.get_xr(plane, case) or {})
            new_any |= bool(new - state["patched"])
            state["patched"] |= new
        quiet = 0 if new_any else quiet + 1
        if quiet == 2:
            break
        time.sleep(POLL_INTERVAL_SECONDS)
    for case in cases:
        created[case.id]["xr"] = cluster.wait_for(
            f"{case.id}: cluster agrees with the function",
            lambda case=case: cluster.agreement(plane, run, case),
        )


# ---------------------------------------------------------------- installing

PKG_API = "pkg.crossplane.io/v1"


def dependency_name(package: str) -> str:
    """The name Crossplane gives a package it installs as a dependency, written from upstream:
    crossplane v2.3.4 internal/controller/pkg/resolver/reconciler.go NewPackage,
    xpkg.ToDNSLabel(ref.Context().RepositoryStr()) (crossplane-runtime pkg/xpkg/name.go:
    a-z and 0-9 kept, '.', '/', ':' and '-' become '-', at most 63, '-' trimmed). The
    packages here name a registry host holding a '.', so RepositoryStr is the path after it."""
    repository = package.split("/", 1)[1]
    label = "".join(c if c in "abcdefghijklmnopqrstuvwxyz0123456789" else "-" for c in repository)
    return label[:63].strip("-")


def _conditions(obj: dict[str, Any] | None) -> dict[str, str]:
    return {c["type"]: c["status"] for c in ((obj or {}).get("status") or {}).get("conditions", [])}


def test_installed_from_the_registry(plane: ControlPlane) -> None:
    """The Configurations of install/ are Installed and Healthy, pulled from the test's
    registry through the mirror, and own every kind's XRD and Composition."""
    configurations = [d for d in plane.install_docs if d["kind"] == "Configuration"]
    assert sorted(
        d["spec"]["package"].rsplit(":", 1)[0].rsplit("/", 1)[1] for d in configurations
    ) == [
        f"platform-{c}"
        for c in sorted(p.name for p in (ROOT / "install" / "capabilities").iterdir())
    ]
    owners: dict[str, str] = {}
    for doc in configurations:
        name = doc["metadata"]["name"]
        cfg = cluster.wait_for(
            f"Configuration {name} Installed and Healthy",
            lambda name=name: (
                (c := plane.get(PKG_API, "Configuration", name))
                and _conditions(c) == {"Installed": "True", "Healthy": "True"}
                and c
            ),
        )
        (rev,) = [
            r
            for r in plane.list(PKG_API, "ConfigurationRevision")
            if r["metadata"]["labels"]["pkg.crossplane.io/package"] == name
        ]
        status = rev["status"]
        assert status["resolvedImage"].startswith(f"{plane.registry_host}/"), status
        assert {"name": "e2e-registry-mirror", "reason": "RewriteImage"} in status[
            "appliedImageConfigRefs"
        ]
        assert cfg["spec"]["package"] == rev["spec"]["image"]
        for ref in status["objectRefs"]:
            owners[f"{ref['kind']}/{ref['name']}"] = name
    for kind in catalogue.kinds():
        assert f"CompositeResourceDefinition/{kind.api.xrd_name}" in owners, kind.api.kind
        comps = [
            c
            for c in plane.list("apiextensions.crossplane.io/v1", "Composition")
            if c["spec"]["compositeTypeRef"]["kind"] == kind.api.kind
            and f"Composition/{c['metadata']['name']}" in owners
        ]
        assert comps, f"no Composition of {kind.api.kind} from a Configuration"
    # The packages are this checkout's: what make package built from it, not an older build.
    committed = {
        d["metadata"]["name"]: d for p in sorted((ROOT / "compositions").glob("*.yaml"))
        for d in load_yaml_docs(p)
    }  # fmt: skip
    for key in owners:
        kind, _, name = key.partition("/")
        if kind == "Composition":
            have = plane.get("apiextensions.crossplane.io/v1", kind, name) or {}
            problems = cluster.subset_problems(committed[name]["spec"], have.get("spec"))
            assert not problems, f"{name} differs from compositions/ (run make package): {problems}"


def test_function_installed_where_core_dials_it(plane: ControlPlane) -> None:
    """The Function of install/ is the one every installed Composition calls and the name
    Crossplane would give it as the capabilities' dependency; core derived its endpoint from
    the Service it made for it, and the function process serves there."""
    (function,) = [d for d in plane.install_docs if d["kind"] == "Function"]
    name = function["metadata"]["name"]
    for meta in sorted((ROOT / "package" / "configurations").glob("*/crossplane.yaml")):
        for dep in load_yaml_docs(meta)[0]["spec"].get("dependsOn", []):
            if dep.get("kind") == "Function":
                assert dependency_name(dep["package"]) == name, meta
                assert function["spec"]["package"].startswith(f"{dep['package']}:"), meta
    installed = [
        c
        for c in plane.list("apiextensions.crossplane.io/v1", "Composition")
        if any(
            o["kind"] == "ConfigurationRevision" for o in c["metadata"].get("ownerReferences", [])
        )
    ]
    assert installed
    for comp in installed:
        for step in comp["spec"]["pipeline"]:
            assert step["functionRef"]["name"] == name, comp["metadata"]["name"]
    assert _conditions(plane.get(PKG_API, "Function", name)).get("Installed") == "True"
    (rev,) = [
        r
        for r in plane.list(PKG_API, "FunctionRevision")
        if r["metadata"]["labels"]["pkg.crossplane.io/package"] == name
    ]
    assert rev["spec"]["desiredState"] == "Active"
    assert rev["status"]["capabilities"] == ["composition", "operation"]
    services = [
        s
        for s in plane.list("v1", "Service", "crossplane-system")
        if any(o["uid"] == rev["metadata"]["uid"] for o in s["metadata"].get("ownerReferences", []))
    ]
    (service,) = services
    (port,) = [p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc"]
    endpoint = f"dns:///{service['metadata']['name']}.{service['metadata']['namespace']}:{port}"
    assert rev["status"]["endpoint"] == endpoint
    assert plane.function is not None
    assert plane.function.port == port


def test_every_kind_served(plane: ControlPlane) -> None:
    """Each kind's XRD is Established, so the API server serves the kind (its CRD's schema)."""
    for kind in catalogue.kinds():
        cluster.wait_for(
            f"XRD {kind.api.xrd_name} Established",
            lambda kind=kind: (
                cluster.condition(
                    plane.get(XRD_API, "CompositeResourceDefinition", kind.api.xrd_name),
                    "Established",
                ).get("status")
                == "True"
            ),
        )
        crd = plane.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", kind.api.xrd_name)
        assert crd is not None, kind.api.kind
        assert crd["spec"]["scope"] == kind.api.scope, kind.api.kind


# ---------------------------------------------------------------- composing


@pytest.mark.parametrize("case", COMPOSING, ids=[c.id for c in COMPOSING])
def test_composed_objects_owned_by_xr(
    case: Case, plane: ControlPlane, created: dict[str, dict[str, Any]]
) -> None:
    """What the function composed exists, in the XR's namespace, with the XR as controller."""
    xr = cluster.get_xr(plane, case)
    assert xr is not None
    objs = cluster.composed(plane, xr)
    refs = xr["spec"]["crossplane"]["resourceRefs"]
    assert len(objs) == len(refs), f"resourceRefs {refs} but found {sorted(objs)}"
    for name, obj in objs.items():
        owners = [o for o in obj["metadata"].get("ownerReferences") or [] if o.get("controller")]
        assert owners == [
            {
                "apiVersion": xr["apiVersion"],
                "kind": xr["kind"],
                "name": xr["metadata"]["name"],
                "uid": xr["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ], f"{name}: controller owner {owners}"
        if xr["metadata"].get("namespace"):
            assert obj["metadata"]["namespace"] == xr["metadata"]["namespace"], name
        assert obj["metadata"]["labels"]["crossplane.io/composite"] == xr["metadata"]["name"]
    if not case.optional("observed.yaml") and case.expected.is_file():
        # A fresh XR composes what its render composes (expected.yaml).
        expected = {
            (d["metadata"].get("annotations") or {}).get(cluster.RESOURCE_NAME)
            for d in case.optional_docs("expected.yaml")[1:]
            # The CLI's own render.crossplane.io results are not composed objects.
            if api_group(str(d.get("apiVersion", ""))) not in RENDER_PSEUDO_GROUPS
        }
        assert _without_hash(objs) == _without_hash(expected)


def _without_hash(names: Iterable[str]) -> set[str]:
    """Resource names less a content hash suffix: the content (so the hash) holds the
    namespace, and each case here has a namespace of its own."""
    return {re.sub(r"-[0-9a-f]{8}$", "", n) for n in names}


@pytest.mark.parametrize("case", COMPOSING, ids=[c.id for c in COMPOSING])
def test_cluster_holds_what_the_function_returns(
    case: Case,
    plane: ControlPlane,
    run: cluster.FunctionClient,
    converged: dict[str, dict[str, Any]],
) -> None:
    """Server-side applied desired state, XR status and conditions are the function's answer
    for what the API server holds; Ready is Crossplane's reading of the function's readiness."""
    # Polled, not read once: the real provider keeps writing its Objects' status after the
    # run converged (retries of what it cannot reach), and core follows each change.
    xr = cluster.wait_for(
        f"{case.id}: cluster agrees with the function",
        lambda: cluster.agreement(plane, run, case),
    )
    cluster.PROVIDERS_SEEN[case.id] = cluster.providers(plane, xr)


@pytest.mark.parametrize("case", COMPOSING, ids=[c.id for c in COMPOSING])
def test_ready_follows_observed_readiness(
    case: Case, plane: ControlPlane, converged: dict[str, dict[str, Any]]
) -> None:
    """An example whose render is Ready became Ready only once its providers' status was
    written; every other one is not Ready."""
    state = converged[case.id]
    expected_xr = case.optional_docs("expected.yaml")[0]
    want = cluster.condition(expected_xr, "Ready").get("status")
    xr = cluster.get_xr(plane, case)
    observed_names = set(requests.observed_resources(case))
    reproduced = {
        n for n, d in requests.observed_resources(case).items() if d.get("status")
    } <= state["patched"]
    have = cluster.condition(xr, "Ready").get("status")
    objs = cluster.composed(plane, xr or {})
    if want == "True" and reproduced:
        assert have == "True", f"Ready is {cluster.condition(xr, 'Ready')}"
        if state["patched"]:
            assert state["ready_before"] != "True", "Ready before any provider status was written"
    elif not observed_names and have == "True" and want != "True":
        # The render is of the first reconcile, when nothing composed exists yet; here they
        # do. What it waited for must then exist (an object whose kind has no status to
        # wait on, a Kubeflow Profile, is ready once it exists).
        waiting = _unready(expected_xr)
        assert waiting, f"render not Ready but names nothing unready: {expected_xr['status']}"
        assert waiting <= set(objs), f"Ready, but {sorted(waiting - set(objs))} not composed"
    elif reproduced or not observed_names:
        assert have == want, f"Ready is {cluster.condition(xr, 'Ready')}, the render says {want}"
    else:
        # Some observed status was not written: a real provider's. Then the XR is Ready only
        # if the render is and every object of the real provider is.
        real = {
            n: o for n, o in objs.items() if o["apiVersion"].rpartition("/")[0] in REAL_PROVIDERS
        }
        unwritten = {
            n for n, d in requests.observed_resources(case).items() if d.get("status")
        } - state["patched"]
        unexplained = unwritten - set(real)
        assert not unexplained, f"observed statuses not written: {unexplained}"
        real_ready = all(
            cluster.condition(o, "Ready").get("status") == "True" for o in real.values()
        )
        assert have != "True" or (want == "True" and real_ready), (
            f"Ready is {cluster.condition(xr, 'Ready')}; render {want}, real provider's "
            f"objects ready: {real_ready}"
        )


def _unready(xr: dict[str, Any]) -> set[str]:
    """The resources a Ready=False condition names (Crossplane's "Unready resources: a, b")."""
    message = cluster.condition(xr, "Ready").get("message", "")
    _, _, names = message.partition("Unready resources: ")
    return {n.strip() for n in names.split(",") if n.strip()}


@pytest.mark.parametrize("case", COMPOSING, ids=[c.id for c in COMPOSING])
def test_cluster_holds_the_example(
    case: Case, plane: ControlPlane, converged: dict[str, dict[str, Any]]
) -> None:
    """The cluster holds what the example's expected.yaml (the crossplane CLI's render,
    written apart from this run) says: the same composed objects with the same content, and
    the XR's status (expected.problems says what is left out and why)."""
    cluster.wait_for(
        f"{case.id}: cluster holds expected.yaml",
        lambda: (
            cluster.Mismatch("; ".join(p))
            if (p := expected.problems(plane, case, cluster.get_xr(plane, case) or {}))
            else True
        ),
        timeout=10,
    )


def test_steady_once_converged(plane: ControlPlane, converged: dict[str, dict[str, Any]]) -> None:
    """Once every XR agrees, core's polls change nothing it composed: over three of its poll
    intervals (the harness's --poll-interval; the chart's default is 1m, each poll here is a
    full reconcile as one there is, only sooner) no composed object is written again.
    The simulated providers write nothing after convergence; provider-kubernetes keeps
    writing its Objects' status, so for those the generation (spec) is compared."""
    xrs = [x for c in COMPOSING if (x := cluster.get_xr(plane, c))]
    before = cluster.versions(plane, xrs)
    assert before, "nothing composed"
    time.sleep(3 * POLL_INTERVAL_SECONDS + 1)
    after = cluster.versions(plane, xrs)
    changed = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
    assert not changed, f"written again over three poll intervals: {changed}"


# ---------------------------------------------------------------- tenants


def test_tenant_refused_in_another_namespace(
    plane: ControlPlane, created: dict[str, dict[str, Any]]
) -> None:
    """A team's tenant, who created its XR in its own namespace, may not create one in
    another team's namespace: crossplane-edit is bound in its namespace only."""
    namespaced = [c for c in COMPOSING if cluster.namespace(c)]
    mine, theirs = (
        namespaced[0],
        next(c for c in namespaced if cluster.namespace(c) != cluster.namespace(namespaced[0])),
    )
    doc = cluster.xr_doc(mine)
    doc["metadata"]["namespace"] = cluster.namespace(theirs)
    refused = cluster.refusal(
        lambda: plane.create(doc, user=cluster.tenant(cluster.namespace(mine)))
    )
    assert refused is not None, "created in another team's namespace"
    assert refused.status == 403, refused
    assert created[mine.id]["xr"]["metadata"]["namespace"] == cluster.namespace(mine)


# ---------------------------------------------------------------- the real provider

MANAGED_FINALIZER = "finalizer.managedresource.crossplane.io"


def test_real_provider_serves_its_kinds(
    plane: ControlPlane, converged: dict[str, dict[str, Any]]
) -> None:
    """provider-kubernetes writes every composed Object's status itself (the test writes none
    of them); an Object it synced carries its finalizer and what it applied is in the
    cluster. Objects into a virtual cluster are not synced: the kubeconfig vCluster would
    write is, with no vCluster here, the example's placeholder."""
    applied = []
    for case in COMPOSING:
        objs = cluster.composed(plane, cluster.get_xr(plane, case) or {})
        for name, obj in objs.items():
            if (
                obj["apiVersion"].rpartition("/")[0] not in REAL_PROVIDERS
                or obj["kind"] != "Object"
            ):
                continue
            assert name not in converged[case.id]["patched"], f"{case.id}: {name} simulated"
            meta = obj["metadata"]
            live = cluster.wait_for(
                f"{case.id}: {name} Synced by the provider",
                lambda meta=meta, obj=obj: cluster.condition(
                    plane.get(obj["apiVersion"], "Object", meta["name"], meta["namespace"]),
                    "Synced",
                ),
            )
            if live["status"] != "True":
                continue
            now = plane.get(obj["apiVersion"], "Object", meta["name"], meta["namespace"]) or {}
            assert MANAGED_FINALIZER in now["metadata"].get("finalizers", []), name
            manifest = now["spec"]["forProvider"]["manifest"]
            target = manifest["metadata"]
            assert plane.get(
                manifest["apiVersion"], manifest["kind"], target["name"], target.get("namespace")
            ), f"{case.id}: {name} Synced but {manifest['kind']} {target['name']} not applied"
            applied.append(f"{case.id}/{name}")
    assert applied, "provider-kubernetes synced no Object"


# ---------------------------------------------------------------- admission


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_bad_xr_refused_at_admission(case: Case, plane: ControlPlane) -> None:
    """The XRD refuses a bad XR; each cross-field rule it breaks carries the function's words.

    An XR that passes admission (a problem only the function can see) must instead end
    Synced=False with the function's message."""
    broken = _broken_rules(case)
    refused = cluster.refusal(lambda: cluster.create_case(plane, case, create=True))
    if refused is not None:
        assert refused.status == 422, refused
        # The Status's own message: its JSON escapes <, > and & (\u003c ...).
        body = str(json.loads(refused.body).get("message", ""))
        for rule in broken:
            assert rule.message in body, f"rule {rule.field}: {rule.message!r} not in {body}"
        return
    xr = cluster.wait_for(
        f"{case.id}: Synced=False",
        lambda: (
            (x := cluster.get_xr(plane, case))
            and cluster.condition(x, "Synced").get("status") == "False"
            and x
        ),
    )
    message = cluster.condition(xr, "Synced").get("message", "")
    # The render's message names the example's namespaces and EnvironmentConfig; here the
    # case has its own of each.
    settings = f"{SETTINGS_SELECTOR.kind} {SETTINGS_SELECTOR.name}:"
    lines = []
    for line in expected_error_lines(case):
        ln = cluster.rename_text(line, case).replace(
            settings, f"{SETTINGS_SELECTOR.kind} {cluster.composition_name(case)}:"
        )
        for original, own in cluster.namespaces(case).items():
            ln = (
                ln.replace(f"{original}/", f"{own}/")
                .replace(f"'{original}'", f"'{own}'")
                .replace(f"namespace {original} ", f"namespace {own} ")
                .replace(f"namespace {original}'s ", f"namespace {own}'s ")
            )
        lines.append(_holders(ln))
    missing = [ln for ln in lines if ln not in _holders(message)]
    for kind, spaces in HOLDERS.findall(message):
        for ns in spaces.split(", "):
            assert plane.list(xr["apiVersion"], kind, ns), f"{kind} holder in {ns}: none there"
    assert not missing, f"Synced message {message!r} lacks {missing}"


# A host is one for the whole cluster: the namespaces holding it here are the cases that
# asked for it before (several), not the example's one other team.
HOLDERS = re.compile(r"held by a (\w+) of namespace ([^']+?), which asked for it first")


def _holders(text: str) -> str:
    """text with the namespaces named as a host's holders left out."""
    return HOLDERS.sub(r"held by a \1 of namespace …, which asked for it first", text)


def test_some_rule_checked_at_admission() -> None:
    """Some bad example breaks a cross-field rule (else the check of its message is vacuous)."""
    assert any(_broken_rules(case) for case in BAD)


def _transition(case: Case) -> tuple[str, Any, Any]:
    """(field path, old value, new value) of a transition case's expected-error.txt."""
    found = TRANSITION.search(case.expected_error.read_text())
    assert found, f"{case.id}: expected-error.txt names no refused transition"
    field, old, new = (cluster.rename_text(g, case) for g in found.groups())
    return field, yaml.safe_load(old), yaml.safe_load(new)


def _transition_messages(plane: ControlPlane, case: Case, field: str) -> list[str]:
    """The messages of the transition rules (oldSelf) on the field and the objects holding
    it, as the CRD the API server serves has them."""
    kind = cluster.kind_of(case)
    crd = plane.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", kind.api.xrd_name)
    assert crd is not None, kind.api.xrd_name
    (version,) = [v for v in crd["spec"]["versions"] if v["storage"]]
    node = version["schema"]["openAPIV3Schema"]
    out = []
    for part in field.split("."):
        node = node["properties"][part]
        out += [
            v["message"]
            for v in node.get("x-kubernetes-validations") or []
            if "oldSelf" in v["rule"]
        ]
    return out


def _at(doc: dict[str, Any], field: str) -> Any:
    for part in field.split("."):
        doc = doc[part]
    return doc


def _set(doc: dict[str, Any], field: str, value: Any) -> None:
    *parents, last = field.split(".")
    for part in parents:
        doc = doc[part]
    doc[last] = value


@pytest.mark.parametrize("case", TRANSITIONS, ids=[c.id for c in TRANSITIONS])
def test_refused_transition_at_update(case: Case, plane: ControlPlane) -> None:
    """The XR created with the old value (what observed.yaml composed from), then changed
    by its tenant to the example's: the API server refuses the update by the XRD's
    transition rule, naming the field and the rule's message."""
    field, old, new = _transition(case)
    changed = cluster.xr_doc(case)
    assert _at(changed, field) == new, f"{case.id}: xr.yaml's {field} is not {new!r}"
    first = copy.deepcopy(changed)
    _set(first, field, old)
    cluster.create_case(plane, case, xr=first)
    messages = _transition_messages(plane, case, field)
    assert messages, f"{case.id}: no transition rule on {field} in the served CRD"
    try:
        refusal = cluster.refusal(lambda: plane.apply(changed, user=cluster.case_tenant(case)))
        assert refusal is not None, f"{case.id}: {field} {old!r} -> {new!r} accepted"
        assert refusal.status == 422, refusal
        body = str(json.loads(refusal.body).get("message", ""))
        assert field in body, body
        assert any(m in body for m in messages), f"none of {messages} in {body}"
        assert _at(cluster.get_xr(plane, case) or {}, field) == old
    finally:
        plane.delete(first, user=cluster.case_tenant(case))


def _broken_rules(case: Case) -> list[Rule]:
    """The kind's cross-field rules the function finds broken in the case's XR."""
    kind = cluster.kind_of(case)
    problems = refused(kind.api.parameters, cluster.xr_doc(case)["spec"].get("parameters"))
    if problems is None:  # bad for the composer or the input, not the schema
        return []
    return [r for r in kind.api.parameters.rules if any(r.message in p for p in problems)]


# ---------------------------------------------------------------- updating


def _update_candidates(kind_name: str) -> list[Case]:
    """The kind's cases that share settings, so one's parameters fit another's XR: those
    without settings of their own, else the largest group with the same input.yaml and
    the same example namespace (tenancy rules are per namespace)."""
    groups: dict[str, list[Case]] = {}
    for c in COMPOSING:
        if c.kind == kind_name and not cluster.settings_config(c):
            key = json.dumps([c.optional_docs("input.yaml"), cluster.xr_doc_namespace(c)])
            groups.setdefault("" if not c.optional("input.yaml") else key, []).append(c)
    if len(groups.get("", [])) > 1:
        return groups[""]
    return max(groups.values(), key=len, default=[])


UPDATABLE = sorted({c.kind for c in COMPOSING if len(_update_candidates(c.kind)) > 1})


def _specs(plane: ControlPlane, xr: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {k: v for k, v in obj.items() if k not in ("metadata", "status")}
        for name, obj in cluster.composed(plane, xr).items()
    }


@pytest.mark.parametrize("kind_name", UPDATABLE)
def test_update_rolls_through(
    kind_name: str,
    plane: ControlPlane,
    run: cluster.FunctionClient,
    converged: dict[str, dict[str, Any]],
) -> None:
    """Another example's parameters applied to a live XR: what it composes changes to the
    function's answer for the new parameters. Changes a transition rule refuses (422) are
    passed over for the next example."""
    candidates = _update_candidates(kind_name)
    refused = []
    for base in candidates:
        before = _specs(plane, cluster.get_xr(plane, base) or {})
        for other in (c for c in candidates if c is not base):
            doc = cluster.xr_doc(base)
            doc["spec"]["parameters"] = cluster.xr_doc(other)["spec"]["parameters"]
            refusal = cluster.refusal(lambda doc=doc: plane.apply(doc, user=cluster.tenant_of(doc)))
            if refusal is not None:
                assert refusal.status == 422, refusal
                refused.append(f"{other.id} onto {base.id}")
                continue
            xr = cluster.wait_for(
                f"{base.id} with {other.id}'s parameters: cluster agrees with the function",
                lambda base=base: cluster.agreement(plane, run, base),
            )
            if _specs(plane, xr) != before:
                return
    pytest.fail(f"no update changed what an XR composes (refused: {refused})")


# ---------------------------------------------------------------- operations

OPS_API = "ops.crossplane.io/v1alpha1"
REMOVE_EXPIRED = "function-platform-remove-expired"


def _run_cron_operation(plane: ControlPlane, name: str) -> dict[str, Any]:
    """An Operation of the installed CronOperation's template, as its schedule starts one
    (crossplane v2.3.4 internal/controller/ops/cronoperation), run by core to its end."""
    cron = plane.get(OPS_API, "CronOperation", name)
    assert cron is not None, f"CronOperation {name} not installed"
    op_name = f"{name}-e2e-{int(time.time())}"
    plane.create(
        {
            "apiVersion": OPS_API,
            "kind": "Operation",
            "metadata": {"name": op_name},
            "spec": cron["spec"]["operationTemplate"]["spec"],
        }
    )
    return cluster.wait_for(  # type: ignore[no-any-return]
        f"Operation {op_name} ran",
        lambda: (
            (op := plane.get(OPS_API, "Operation", op_name))
            and cluster.condition(op, "Succeeded").get("status") in ("True", "False")
            and op
        ),
    )


def _case(case_id: str) -> Case:
    (case,) = [c for c in COMPOSING if c.id == case_id]
    return case


def test_remove_expired_deletes_an_expired_preview(
    plane: ControlPlane, converged: dict[str, dict[str, Any]]
) -> None:
    """A preview XR past its lifetime (ttl 5s, status.expiresAt passed) is deleted by the
    remove-expired Operation: core runs the function, which deletes it through the API
    server as its own ServiceAccount. The other XRs (production; a preview with a week
    left) stay."""
    preview = _case("postgresqlinstance/preview")
    doc = cluster.xr_doc(preview)
    doc["metadata"] = {"name": "expiring-database", "namespace": doc["metadata"]["namespace"]}
    doc["spec"]["parameters"]["ttl"] = "5s"
    ns = doc["metadata"]["namespace"]
    plane.apply(doc, user=cluster.tenant(ns))

    def expired() -> bool:
        """Past status.expiresAt (what the Operation decides on, with the spec), or gone
        already: the CronOperation's own schedule (every 10 minutes) may come first."""
        xr = plane.get(doc["apiVersion"], doc["kind"], "expiring-database", ns)
        if xr is None:
            return True
        at = (xr.get("status") or {}).get("expiresAt")
        return bool(at) and time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) > at

    cluster.wait_for("expiring-database: status.expiresAt passed", expired)
    op = _run_cron_operation(plane, REMOVE_EXPIRED)
    assert cluster.condition(op, "Succeeded").get("status") == "True", op.get("status")
    cluster.wait_for(
        "expiring-database deleted by the Operation",
        lambda: plane.get(doc["apiVersion"], doc["kind"], "expiring-database", ns) is None,
    )
    for kept in ("postgresqlinstance/preview", "postgresqlinstance/production"):
        assert cluster.get_xr(plane, _case(kept)), f"{kept} deleted"


def test_policy_refuses_the_function_deleting_production(
    plane: ControlPlane, converged: dict[str, dict[str, Any]]
) -> None:
    """Whatever the function decides, the API server refuses its ServiceAccount's delete of
    a production XR: install/components/remove-expired's ValidatingAdmissionPolicy, which
    the real API server evaluates (the account's role would allow the delete)."""
    xr = cluster.get_xr(plane, _case("postgresqlinstance/production"))
    assert xr is not None
    policy = plane.get(
        "admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", REMOVE_EXPIRED
    )
    assert policy is not None, "ValidatingAdmissionPolicy not installed"
    (message,) = [v["message"] for v in policy["spec"]["validations"]]
    account = plane.service_account_user(FUNCTION_SA)
    assert cluster.allowed(plane, account, "delete", xr, xr["metadata"]["namespace"])
    refusal = cluster.refusal(lambda: plane.delete(xr, user=account))
    assert refusal is not None, "the function's account deleted a production XR"
    assert message in str(refusal.body), refusal.body
    assert cluster.get_xr(plane, _case("postgresqlinstance/production"))


# ---------------------------------------------------------------- deleting


def _used(
    plane: ControlPlane, usage: dict[str, Any], objs: dict[str, dict[str, Any]], end: str
) -> str:
    """The composition resource name of a Usage's `of` or `by` object."""
    ref = usage["spec"][end]
    name = (ref.get("resourceRef") or {}).get("name")
    labels = (ref.get("resourceSelector") or {}).get("matchLabels") or {}
    for res_name, obj in objs.items():
        if obj["apiVersion"] != ref["apiVersion"] or obj["kind"] != ref["kind"]:
            continue
        if name == obj["metadata"]["name"] or (
            not name and labels.items() <= (obj["metadata"].get("labels") or {}).items()
        ):
            return res_name
    raise AssertionError(f"Usage {usage['metadata']['name']}: no composed {end} object")


def _exists(plane: ControlPlane, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The object as the API server holds it now, or None when it is gone."""
    meta = obj["metadata"]
    return plane.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))


def _with_usages(plane: ControlPlane) -> list[Case]:
    out = []
    for case in COMPOSING:
        objs = cluster.composed(plane, cluster.get_xr(plane, case) or {})
        if any(
            o["kind"] == "Usage" and o["apiVersion"].startswith("protection.crossplane.io/")
            for o in objs.values()
        ):
            out.append(case)
    return out


def _usage_pairs(plane: ControlPlane, objs: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(user, used) composition resource names, one per composed Usage."""
    usages = [
        o
        for o in objs.values()
        if o["kind"] == "Usage" and o["apiVersion"].startswith("protection.crossplane.io/")
    ]
    return [(_used(plane, u, objs, "by"), _used(plane, u, objs, "of")) for u in usages]


def test_usage_refuses_early_delete(
    plane: ControlPlane, converged: dict[str, dict[str, Any]]
) -> None:
    """An object a Usage names is labelled in use, and deleting it directly is refused by the
    Usage webhook while the object using it exists."""
    cases = _with_usages(plane)
    assert cases, "no example composes a Usage once converged"
    for case in cases[:1]:
        objs = cluster.composed(plane, cluster.get_xr(plane, case) or {})
        for by, of in _usage_pairs(plane, objs):
            cluster.wait_for(
                f"{of} labelled in use",
                lambda of=of, objs=objs: (
                    ((_exists(plane, objs[of]) or {}).get("metadata", {}).get("labels") or {}).get(
                        "crossplane.io/in-use"
                    )
                    == "true"
                ),
            )
            with pytest.raises(ApiException) as refused:
                plane.delete(objs[of])
            assert "in-use by" in str(refused.value.body), (
                f"deleting {of} (used by {by}): {refused.value}"
            )
            assert _exists(plane, objs[of]), f"{of} deleted while {by} uses it"


def test_a_role_binding_is_not_updated_once_its_role_is_gone(
    plane: ControlPlane, converged: dict[str, dict[str, Any]]
) -> None:
    """Why a Usage keeps a composed Role while a protected RoleBinding of it exists
    (function/blocks/usage.py): Crossplane releases a used object by updating its labels, and
    the API server refuses Crossplane that update of a RoleBinding once its Role is gone."""
    namespace = "e2e-role-binding"
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    plane.apply(ns)
    meta = {"name": "ccm", "namespace": namespace}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta}
    plane.apply(role | {"rules": list(CCM_RULES)})
    binding = plane.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ccm"},
            "subjects": [{"kind": "ServiceAccount", "name": "ccm", "namespace": namespace}],
        }
    )
    as_crossplane = plane.resource(
        binding["apiVersion"], binding["kind"], plane.service_account_user(CORE_SA)
    )

    def label(value: str) -> None:
        as_crossplane.patch(
            body={"metadata": {"labels": {"crossplane.io/in-use": value}}},
            name="ccm",
            namespace=namespace,
            content_type="application/merge-patch+json",
        )

    label("true")
    plane.delete(role)
    with pytest.raises(ApiException) as refused:
        label("false")
    # The Role's NotFound, answered for the RoleBinding, which is still there.
    assert refused.value.status == 404, refused.value.body
    assert plane.get(binding["apiVersion"], binding["kind"], "ccm", namespace) is not None
    plane.delete(ns)


def _present(plane: ControlPlane, objs: Iterable[dict[str, Any]]) -> set[str]:
    """The uids of those objects the API server still holds: one list per kind."""
    kinds = {(o["apiVersion"], o["kind"]) for o in objs}
    return {
        item["metadata"]["uid"] for api, kind in sorted(kinds) for item in plane.list(api, kind)
    }


def test_delete_every_xr(plane: ControlPlane, converged: dict[str, dict[str, Any]]) -> None:
    """Every XR deleted by its tenant: the garbage collector removes everything composed,
    every used object outlives the objects using it (the Usage webhook refuses the early
    delete; replayDeletion retries it), and an object the real provider holds a finalizer
    on goes only once the provider removed what it applied."""
    with plane.timed("test: every XR deleted"):
        _delete_every_xr(plane)


def _delete_every_xr(plane: ControlPlane) -> None:
    xrs = {c.id: cluster.get_xr(plane, c) for c in COMPOSING}
    objs = {
        f"{case_id}/{name}": obj
        for case_id, xr in xrs.items()
        if xr
        for name, obj in cluster.composed(plane, xr).items()
    }
    order = [
        (f"{case_id}/{by}", f"{case_id}/{of}")
        for case_id, xr in xrs.items()
        if xr
        for by, of in _usage_pairs(plane, cluster.composed(plane, xr))
    ]
    assert order, "no Usage among the composed objects"
    finalized = {
        key: obj["spec"]["forProvider"]["manifest"]
        for key, obj in objs.items()
        if MANAGED_FINALIZER
        in ((_exists(plane, obj) or {}).get("metadata", {}).get("finalizers") or [])
    }
    assert finalized, "no object carries the real provider's finalizer"
    for xr in xrs.values():
        if xr:
            plane.delete(xr, user=cluster.tenant_of(xr))
    gone: dict[str, float] = {}
    start = time.monotonic()
    # Each object is stamped with the start of the sweep that first found it gone: two
    # objects gone in one sweep are simultaneous as far as the test can tell.
    while len(gone) < len(objs) and time.monotonic() - start < cluster.CONVERGE_SECONDS * 2:
        sweep = time.monotonic() - start
        present = _present(plane, objs.values())
        for key, obj in objs.items():
            if key not in gone and obj["metadata"]["uid"] not in present:
                gone[key] = sweep
        time.sleep(0.5)
    assert set(gone) == set(objs), f"not deleted: {sorted(set(objs) - set(gone))}\n{plane.logs(10)}"
    assert not [c.id for c in COMPOSING if cluster.get_xr(plane, c)], "XRs left"
    for by, of in order:
        assert gone[of] >= gone[by], (
            f"{of} deleted at {gone[of]:.1f}s, before {by} at {gone[by]:.1f}s which uses it"
        )
    for key, manifest in finalized.items():
        meta = manifest["metadata"]
        assert (
            plane.get(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace"))
            is None
        ), f"{key} gone, but the {manifest['kind']} it applied is still there"
