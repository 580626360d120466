"""install/, generated: what a package cannot carry, for `kubectl apply -k` (docs/install.md).

- `packages()` (install/packages.yaml, in the base): the function's DeploymentRuntimeConfig,
  an ImageConfig giving that runtime config to any Function of the function's repository,
  the Function, and the umbrella Configuration, in that order.
- `capability()` (install/capabilities/<capability>/): a kustomize Component installing one
  capability's Configuration instead of the umbrella.
- `remove_expired()`, `vault_gc()` (install/components/): the optional Operations; the
  monitoring component is generate/monitoring.py.

Every package object is named as Crossplane's dependency resolution names it
(generate/release.py), so a Composition's functionRef finds the Function whichever of the
two created it.
"""

from __future__ import annotations

from typing import Any

from function import catalogue
from function.expiry import reaper
from function.vault import operation
from generate.configuration import CATALOGUE, Capability
from generate.crossplane import (
    CREDENTIALS_NAMESPACE,
    credentials,
    function_input_object,
    settings_required_resource,
)
from generate.release import FUNCTION, Release

JSON = dict[str, Any]
# The DeploymentRuntimeConfig and the service account it gives the function's pods: a fixed
# name (Crossplane's default is the package revision's, which changes on every upgrade), so
# the remove-expired component can bind it and Vault's Kubernetes auth can name it.
RUNTIME_CONFIG = SERVICE_ACCOUNT = FUNCTION
# The image's user (Dockerfile USER, hack/build-image.sh): the pod runs as it.
IMAGE_USER = 65532
METRICS_PORT = 8080

PACKAGES_ABOUT = """\
The function's runtime, the Function and the Configuration: the packages of the base
(install/kustomization.yaml, which keeps this order). Push the packages first (docs/install.md).

Names: Crossplane names a package it installs as a dependency after the package's
repository path without the registry (generate/release.py). The Function here carries that
name, so it is the very object the Configuration's dependency resolves to, whichever is
created first, and the Compositions' functionRef finds it.

Runtime: the DeploymentRuntimeConfig comes before the Function that references it. The
ImageConfig gives the same runtime config to any Function of the function's repository,
also one created by dependency resolution, which has no runtimeConfigRef of its own
(crossplane-runtime pkg/xpkg/config.go RuntimeConfigFor; crossplane
internal/controller/pkg/runtime/reconciler.go applies it over the Function's reference).

Crossplane gives every function pod its TLS: it creates the function's CA-signed server
certificate in a Secret, mounts it at /tls/server and sets TLS_SERVER_CERTS_DIR (crossplane
internal/controller/pkg/runtime), and the image's command serves mTLS from there. Nothing here
may turn that off (no --insecure).

The pod: metrics on port 8080 (METRICS_PORT is the --metrics-port flag; without it there are
none), a named container port for the monitoring component to scrape. The container must be
called package-runtime: Crossplane starts from this template and adds its own gRPC port to
that container (internal/controller/pkg/runtime/runtime_override_options.go,
DeploymentRuntimeWithAdditionalPorts). Its securityContext is the whole restricted Pod
Security Standard: Crossplane sets its default container securityContext (runAsUser 2000,
allowPrivilegeEscalation false, privileged false, runAsNonRoot; runtime.go Deployment,
DeploymentRuntimeWithOptionalSecurityContext) only when the template sets none, so a partial
one here would drop the rest. The pod's securityContext is set too, as the image's user, so
Crossplane's default pod one (runAsUser 2000) does not apply either.
"""

CAPABILITY_ABOUT = """\
A kustomize Component: install this capability's Configuration instead of the umbrella
{umbrella}. List several to install several (docs/install.md).
"""

REMOVE_EXPIRED_ABOUT = """\
Removal of XRs past their lifetime (status.expiresAt; preview environments): an optional
kustomize Component (docs/install.md).
An Operation cannot delete by returning desired state: at Crossplane v2.3.4 the operation
reconciler only server-side-applies what its functions return
(internal/controller/ops/operation/reconciler.go). So this CronOperation runs the function
(input operation: remove-expired) with every XR of an expiring kind as required resources,
and the function deletes the expired ones through the Kubernetes API as its own service
account (function/expiry/reaper.py), which install/packages.yaml names and this file binds
to `delete` on those kinds only. The ValidatingAdmissionPolicy refuses any delete by that
account of an XR that has no status.expiresAt or is in production, whatever the function
decides. Needs Crossplane's Operations feature (--enable-operations).
Shapes: ops.crossplane.io/v1alpha1 CronOperation (../shared/crds/crossplane/
ops.crossplane.io_cronoperations.yaml), rbac.authorization.k8s.io/v1, and
admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy (GA since Kubernetes 1.30).
"""

VAULT_GC_ABOUT = """\
Garbage collection of Vault entries whose XR is gone (docs/vault.md, "Cleanup"): an optional
kustomize Component (docs/install.md), only with Vault; needs Crossplane's Operations feature
(--enable-operations).
Deleting an XR does not run the composition pipeline, so this CronOperation runs the function
with the operation capability every 15 minutes, hands it every live XR that can have Vault
entries as required resources, and the function deletes the KV entries under the tenants'
subtrees whose owner tag (custom_metadata owner-uid) names none of them (function/vault/gc.py).
Shape per Crossplane v2.3's ops.crossplane.io/v1alpha1 CronOperation CRD
(../shared/crds/crossplane/ops.crossplane.io_cronoperations.yaml).
"""


def restricted(user: int) -> JSON:
    """A container securityContext of the restricted Pod Security Standard, as user."""
    return {
        "runAsNonRoot": True,
        "runAsUser": user,
        "runAsGroup": user,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def runtime_config() -> JSON:
    """How the function's pods run."""
    container = {
        "name": "package-runtime",
        "env": [{"name": "METRICS_PORT", "value": str(METRICS_PORT)}],
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        # Peak RSS of one server under load is about 71 MiB (bench/results.md).
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": restricted(IMAGE_USER),
        # A Vault CA bundle from the input is written to the temp dir (function/vault/client.py):
        # the only path the function writes.
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod = {
        "runAsNonRoot": True,
        "runAsUser": IMAGE_USER,
        "runAsGroup": IMAGE_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "apiVersion": "pkg.crossplane.io/v1beta1",
        "kind": "DeploymentRuntimeConfig",
        "metadata": {"name": RUNTIME_CONFIG},
        "spec": {
            "serviceAccountTemplate": {"metadata": {"name": SERVICE_ACCOUNT}},
            "deploymentTemplate": {
                "spec": {
                    # Stateless: each reconcile is one RunFunction call; two replicas keep
                    # compositions going while a node drains.
                    "replicas": 2,
                    "selector": {},
                    "template": {
                        "spec": {
                            "securityContext": pod,
                            "containers": [container],
                            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                        }
                    },
                }
            },
        },
    }


def image_config(release: Release) -> JSON:
    """The runtime config for every Function of the function's repository, by tag or digest."""
    source = release.source(FUNCTION)
    return {
        "apiVersion": "pkg.crossplane.io/v1beta1",
        "kind": "ImageConfig",
        "metadata": {"name": FUNCTION},
        "spec": {
            "matchImages": [
                {"type": "Prefix", "prefix": f"{source}:"},
                {"type": "Prefix", "prefix": f"{source}@"},
            ],
            "runtime": {"configRef": {"name": RUNTIME_CONFIG}},
        },
    }


def package_object(kind: str, release: Release, repo: str) -> JSON:
    """A pkg.crossplane.io/v1 package at this release, named as Crossplane names it."""
    return {
        "apiVersion": "pkg.crossplane.io/v1",
        "kind": kind,
        "metadata": {"name": release.name(repo)},
        "spec": {"package": release.reference(repo)},
    }


def packages(release: Release) -> list[JSON]:
    """install/packages.yaml: runtime first, then the Function, then the Configuration."""
    function = package_object("Function", release, FUNCTION)
    function["spec"]["runtimeConfigRef"] = {"name": RUNTIME_CONFIG}
    return [
        runtime_config(),
        image_config(release),
        function,
        package_object("Configuration", release, CATALOGUE),
    ]


def capability(release: Release, part: Capability) -> tuple[JSON, JSON]:
    """(kustomization.yaml, configuration.yaml) of a capability's Component."""
    umbrella = release.name(CATALOGUE)
    drop = (
        "$patch: delete\n"
        "apiVersion: pkg.crossplane.io/v1\n"
        "kind: Configuration\n"
        f"metadata:\n  name: {umbrella}\n"
    )
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "resources": ["configuration.yaml"],
        # A patch with a target applies to whatever matches, none included: several
        # capability components may each drop the umbrella.
        "patches": [{"target": {"kind": "Configuration", "name": umbrella}, "patch": drop}],
    }
    return kustomization, package_object("Configuration", release, part.repository)


def _required(requirements: dict[str, str]) -> list[JSON]:
    """requiredResources: the platform settings' EnvironmentConfig, then every XR of each
    kind under its requirementName."""
    by_kind = {k.api.kind: k.api for k in catalogue.kinds()}
    return [settings_required_resource()] + [
        {
            "requirementName": name,
            "apiVersion": by_kind[kind].api_version,
            "kind": kind,
            "matchLabels": {},
        }
        for name, kind in requirements.items()
    ]


def _cron_operation(name: str, schedule: str, step: JSON) -> JSON:
    return {
        "apiVersion": "ops.crossplane.io/v1alpha1",
        "kind": "CronOperation",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "successfulHistoryLimit": 1,
            "failedHistoryLimit": 3,
            "operationTemplate": {"spec": {"mode": "Pipeline", "pipeline": [step]}},
        },
    }


def remove_expired(release: Release) -> list[JSON]:
    """The remove-expired component's objects."""
    name = f"{FUNCTION}-remove-expired"
    role = f"{FUNCTION}:remove-expired"
    kinds = {plural: kind.api.kind for plural, kind in reaper.EXPIRING.items()}
    groups = sorted({kind.api.group for kind in reaper.EXPIRING.values()})
    plurals = sorted(reaper.EXPIRING)
    user = f"system:serviceaccount:{CREDENTIALS_NAMESPACE}:{SERVICE_ACCOUNT}"
    step = {
        "step": "remove-expired",
        "functionRef": {"name": release.function_name},
        "input": function_input_object({"operation": "remove-expired"}),
        "requirements": {"requiredResources": _required(kinds)},
    }
    return [
        _cron_operation(name, "*/10 * * * *", step),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role},
            "rules": [{"apiGroups": groups, "resources": plurals, "verbs": ["delete"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": role},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": SERVICE_ACCOUNT,
                    "namespace": CREDENTIALS_NAMESPACE,
                }
            ],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": groups,
                            "apiVersions": ["*"],
                            "operations": ["DELETE"],
                            "resources": plurals,
                        }
                    ]
                },
                "matchConditions": [
                    {
                        "name": "by-the-function",
                        "expression": f'request.userInfo.username == "{user}"',
                    }
                ],
                "validations": [
                    {
                        "expression": "has(oldObject.status) && has(oldObject.status.expiresAt) &&"
                        ' oldObject.spec.parameters.environment != "production"',
                        "message": "the function may delete only XRs with a lifetime "
                        "(status.expiresAt), never production ones",
                    }
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {"policyName": name, "validationActions": ["Deny"]},
        },
    ]


def vault_gc(release: Release) -> JSON:
    """The vault-gc component's CronOperation."""
    step = {
        "step": "vault-gc",
        "functionRef": {"name": release.function_name},
        "input": function_input_object({}),
        "credentials": credentials(),
        "requirements": {"requiredResources": _required(operation.REQUIREMENTS)},
    }
    return _cron_operation(f"{FUNCTION}-vault-gc", "*/15 * * * *", step)


def component(*resources: str) -> JSON:
    """A kustomize Component's kustomization.yaml adding these files."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "resources": list(resources),
    }
