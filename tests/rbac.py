"""What Crossplane core may do with its aggregated ClusterRole: its own chart's rules (the
chart at the pinned core version, through helm template), each
XRD's role from Crossplane's RBAC manager and install/crossplane-rbac.yaml, as the
control-plane e2e binds it (harness/controlplane.py).

Independent of the catalogue's declarations: a required kind's plural comes from the
upstream CRDs and the XRDs, core kinds' from the Kubernetes API.
"""

import functools
from pathlib import Path
from typing import Any

import yaml

from function import catalogue
from harness.controlplane import crossplane_chart_rbac
from harness.paths import shared_dir

ROOT = Path(__file__).resolve().parents[1]
READ = {"get", "list", "watch"}
AGGREGATE_TO_CROSSPLANE = "rbac.crossplane.io/aggregate-to-crossplane"
# Plurals of the core and Crossplane kinds a function may require (Kubernetes v1 API
# discovery; Crossplane's apiextensions group, which its own ClusterRole covers).
_BUILT_IN = {
    ("", "Secret"): "secrets",
    ("", "Namespace"): "namespaces",
    ("", "ConfigMap"): "configmaps",
    ("apps", "Deployment"): "deployments",
    ("apiextensions.crossplane.io", "EnvironmentConfig"): "environmentconfigs",
}


def xrd_rules(xrd: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules of the ClusterRole Crossplane's RBAC manager makes for an XRD so core may
    serve its XRs, aggregated into core's (crossplane v2.3.4
    internal/controller/rbac/definition/roles.go, RenderClusterRoles, the "system" role);
    make e2e runs the RBAC manager itself."""
    group, plural = xrd["spec"]["group"], xrd["spec"]["names"]["plural"]
    return [
        {"apiGroups": [group], "resources": [plural, f"{plural}/status"], "verbs": ["*"]},
        {"apiGroups": [group], "resources": [f"{plural}/finalizers"], "verbs": ["update"]},
    ]


@functools.cache
def rules() -> list[dict[str, Any]]:
    """Crossplane core's rules once the XRDs' roles and install/crossplane-rbac.yaml are
    aggregated."""
    generated = yaml.safe_load((ROOT / "install/crossplane-rbac.yaml").read_text())
    xrds = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "xrds").glob("*.yaml"))]
    per_xrd = [r for xrd in xrds for r in xrd_rules(xrd)]
    # Core's own: what the chart aggregates into its ClusterRole `crossplane`.
    chart = [
        rule
        for doc in crossplane_chart_rbac(ROOT)
        if doc["kind"] == "ClusterRole"
        and (doc["metadata"].get("labels") or {}).get(AGGREGATE_TO_CROSSPLANE) == "true"
        for rule in doc.get("rules") or []
    ]
    return [*chart, *per_xrd, *generated["rules"]]


def may_fetch(api_version: str, kind: str) -> bool:
    """Whether core may fetch a required resource of this kind (plural unknown: no)."""
    group = api_version.rpartition("/")[0]
    plural = plurals().get((group, kind))
    return plural is not None and may_read(group, plural)


def may_read(group: str, plural: str) -> bool:
    """Whether core may get, list and watch group/plural."""
    return any(
        (group in rule["apiGroups"] or "*" in rule["apiGroups"])
        and (plural in rule["resources"] or "*" in rule["resources"])
        and ("*" in rule["verbs"] or set(rule["verbs"]) >= READ)
        for rule in rules()
    )


@functools.cache
def plurals() -> dict[tuple[str, str], str]:
    """(group, kind) -> plural of every CRD the catalogue declares and every XRD."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out = dict(_BUILT_IN)
    files = [shared_dir(ROOT) / f for k in catalogue.kinds() for f in k.crds]
    files += sorted((ROOT / "xrds").glob("*.yaml"))
    for path in files:
        for doc in yaml.load_all(path.read_text(), Loader=loader):
            if doc and doc.get("kind") in (
                "CustomResourceDefinition",
                "CompositeResourceDefinition",
            ):
                names = doc["spec"]["names"]
                out[(doc["spec"]["group"], names["kind"])] = names["plural"]
    return out
