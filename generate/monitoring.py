"""The monitoring component (install/components/monitoring/), generated: scrape the function
and Crossplane with the Prometheus Operator, and alert on what matters for this catalogue.

Shapes per monitoring.coreos.com/v1 (../shared/crds/prometheus-operator). The alert rules
are checked and unit-tested with promtool (tests/unit/test_monitoring.py,
tests/monitoring/alerts-test.yaml); each alert's runbook_url is its section of
docs/runbooks.md.
"""

from __future__ import annotations

from typing import Any

from generate.configuration import DOCS
from generate.crossplane import CREDENTIALS_NAMESPACE
from generate.install import METRICS_PORT
from generate.release import FUNCTION, Release

JSON = dict[str, Any]
# kube-prometheus-stack's Prometheus selects ServiceMonitors, PodMonitors and PrometheusRules
# labelled release: <its Helm release> (its values' *SelectorNilUsesHelmValues, true by
# default); docs/install.md shows the patch for another release name.
SELECTOR_LABELS = {"release": "kube-prometheus-stack"}
RUNBOOKS = f"{DOCS}/runbooks.md"

ABOUT = """\
Monitoring with the Prometheus Operator: an optional kustomize Component (docs/install.md).
The ServiceMonitors and the PrometheusRule carry the label kube-prometheus-stack's Prometheus
selects by default (release: kube-prometheus-stack); docs/install.md has the patch for
another. Every alert links its section of docs/runbooks.md.

The function serves metrics only when install/packages.yaml sets its port; Crossplane only
with its chart's metrics.enabled=true (port 8080, named metrics, on pods labelled
app: crossplane). Neither creates a Service for them, so these do. Crossplane labels a
Function's pods with the Function's name (internal/controller/pkg/runtime/runtime.go,
podSelectors).
"""


def _scraped(name: str, selector: dict[str, str]) -> list[JSON]:
    """A metrics Service for the pods selected, and its ServiceMonitor."""
    service = f"{name}-metrics"
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": service,
                "namespace": CREDENTIALS_NAMESPACE,
                "labels": {"app.kubernetes.io/name": service},
            },
            "spec": {
                "selector": selector,
                "ports": [
                    {
                        "name": "metrics",
                        "port": METRICS_PORT,
                        "targetPort": "metrics",
                        "protocol": "TCP",
                    }
                ],
            },
        },
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {
                "name": name,
                "namespace": CREDENTIALS_NAMESPACE,
                "labels": dict(SELECTOR_LABELS),
            },
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": service}},
                "endpoints": [{"port": "metrics", "interval": "30s"}],
            },
        },
    ]


def _alert(
    name: str,
    expr: str,
    severity: str,
    summary: str,
    description: str,
    *,
    for_: str | None = None,
) -> JSON:
    rule: JSON = {"alert": name, "expr": expr}
    if for_ is not None:
        rule["for"] = for_
    rule["labels"] = {"severity": severity}
    rule["annotations"] = {
        "summary": summary,
        "description": description,
        "runbook_url": f"{RUNBOOKS}#{name.lower()}",
    }
    return rule


def function_rules() -> list[JSON]:
    """The function's own alerts (function/metrics.py)."""
    up = f'up{{job="{FUNCTION}-metrics"}}'
    return [
        _alert(
            "FunctionPlatformDown",
            f"{up} == 0 or absent({up})",
            "critical",
            "The function-platform metrics endpoint cannot be scraped",
            "No XR of the catalogue is being composed while the function is down.",
            for_="5m",
        ),
        _alert(
            "CompositeNotReady",
            "max by (kind, namespace, name) "
            '(function_platform_composite_ready{kind!="KubernetesCluster"}) == 0',
            "warning",
            "{{ $labels.kind }} {{ $labels.namespace }}/{{ $labels.name }} has not been Ready "
            "for 15 minutes",
            "kubectl describe {{ $labels.kind }} -n {{ $labels.namespace }} {{ $labels.name }}: "
            "status.phase and the composed resources' conditions say what is waiting.",
            for_="15m",
        ),
        # Cluster API needs VMs booted and joined: clusters get longer.
        _alert(
            "KubernetesClusterNotReady",
            "max by (kind, namespace, name) "
            '(function_platform_composite_ready{kind="KubernetesCluster"}) == 0',
            "warning",
            "KubernetesCluster {{ $labels.namespace }}/{{ $labels.name }} has not been Ready "
            "for 45 minutes",
            "Look at the Cluster API Cluster, its machines and the KubeVirt VMs in "
            "{{ $labels.namespace }}.",
            for_="45m",
        ),
        _alert(
            "FunctionFatalResults",
            "sum by (kind, reason) "
            '(rate(function_platform_fatal_results_total{reason!="InternalError"}[5m])) > 0',
            "warning",
            "{{ $labels.kind }}: FATAL results ({{ $labels.reason }}) for 10 minutes",
            "An XR (or the function input) is invalid or refused and is not being reconciled; "
            "its Synced condition names every bad field.",
            for_="10m",
        ),
        _alert(
            "FunctionInternalError",
            "sum by (kind) "
            '(increase(function_platform_fatal_results_total{reason="InternalError"}[10m])) > 0',
            "critical",
            "{{ $labels.kind }}: the function hit a bug (InternalError)",
            'The function log names the exception and where it was raised (event "internal '
            'error").',
        ),
        # Failing, and not one success for that kind in the same window.
        _alert(
            "VaultOutOfSync",
            "sum by (kind, reason) "
            '(rate(function_platform_vault_sync_total{outcome="failed"}[5m])) > 0 '
            "unless on (kind) sum by (kind) "
            '(rate(function_platform_vault_sync_total{outcome="synced"}[5m])) > 0',
            "warning",
            "{{ $labels.kind }}: no Vault synchronisation has succeeded for 15 minutes "
            "({{ $labels.reason }})",
            "Connection details in Vault may be stale; the XRs show VaultSynced=False with "
            "the cause.",
            for_="15m",
        ),
        _alert(
            "FunctionSlow",
            "histogram_quantile(0.99, sum by (le) "
            "(rate(function_platform_request_duration_seconds_bucket[5m]))) > 1",
            "warning",
            "function-platform p99 latency is {{ $value | humanizeDuration }}",
            "A slow function delays every XR's reconcile; Crossplane gives one XR reconcile "
            "2 minutes in all.",
            for_="10m",
        ),
    ]


def crossplane_rules(release: Release) -> list[JSON]:
    """Crossplane's view: its calls to the function, and Crossplane itself."""
    fn = release.function_name
    up = 'up{job="crossplane-metrics"}'
    return [
        # Crossplane's own count of the calls (internal/xfn/function_runner_metrics.go),
        # labelled with the Function object's name: catches what the function cannot count
        # itself, such as timeouts.
        _alert(
            "CrossplaneFunctionCallsFailing",
            "sum by (function_name, grpc_code) (rate(function_run_function_response_total"
            f'{{function_name="{fn}", grpc_code!="OK"}}[5m])) > 0',
            "critical",
            f"Crossplane's calls to {FUNCTION} fail with {{{{ $labels.grpc_code }}}}",
            "Every XR composed by the function is stuck until the calls succeed again.",
            for_="10m",
        ),
        _alert(
            "CrossplaneDown",
            f"{up} == 0 or absent({up})",
            "critical",
            "Crossplane's metrics endpoint cannot be scraped",
            "Crossplane may be down; nothing is being reconciled.",
            for_="5m",
        ),
    ]


def prometheus_rule(release: Release) -> JSON:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": FUNCTION,
            "namespace": CREDENTIALS_NAMESPACE,
            "labels": dict(SELECTOR_LABELS),
        },
        "spec": {
            "groups": [
                {"name": FUNCTION, "rules": function_rules()},
                {"name": "crossplane", "rules": crossplane_rules(release)},
            ]
        },
    }


def monitoring(release: Release) -> list[JSON]:
    """install/components/monitoring/monitoring.yaml."""
    return [
        *_scraped(FUNCTION, {"pkg.crossplane.io/function": release.function_name}),
        *_scraped("crossplane", {"app": "crossplane"}),
        prometheus_rule(release),
    ]
