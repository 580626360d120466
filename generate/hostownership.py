"""install/components/host-ownership: HTTPRoutes a team writes itself keep to its hosts.

The function checks the hosts of the HTTPRoutes a ServiceIngress composes against the
namespace's tenancy rules (function/kinds/serviceingress/tenancy.py). An HTTPRoute a team
creates directly never reaches the function, so this ValidatingAdmissionPolicy applies the
same rules at admission (admissionregistration.k8s.io/v1, GA since Kubernetes 1.30).
"""

from __future__ import annotations

from typing import Any

from function.input import ENVIRONMENT_CONFIG_API
from function.kinds.serviceingress.model import API as SERVICE_INGRESS
from function.settings import SETTINGS_NAME
from function.tenancy import NAMESPACE_PLACEHOLDER
from generate.crossplane import CREDENTIALS_NAMESPACE
from generate.release import FUNCTION

JSON = dict[str, Any]
NAME = f"{FUNCTION}-host-ownership"
# Crossplane core's own ServiceAccount (its Helm chart's default, in the namespace it is
# installed in): the only user whose HTTPRoutes a ServiceIngress's composition may exempt.
CROSSPLANE_USER = f"system:serviceaccount:{CREDENTIALS_NAMESPACE}:crossplane"
COMPOSITE_LABEL = "crossplane.io/composite"

ABOUT = f"""\
Host ownership on Gateway API: an optional kustomize Component (docs/tenancy.md).
A ValidatingAdmissionPolicy on HTTPRoute create and update: every spec.hostnames entry must
be a host the route's namespace may use, by the tenancy rules of the EnvironmentConfig
{SETTINGS_NAME} (data.tenancy: the first tenant listing the namespace, else the default;
{NAMESPACE_PLACEHOLDER} stands for the namespace; *.<domain> takes every host below domain,
as Gateway API matches). A route without hostnames would take every host of its Gateway, so
it is refused too. The EnvironmentConfig is the policy's parameter: a tenancy set only in a
Composition's input is not seen here, and without the EnvironmentConfig every HTTPRoute is
refused (parameterNotFoundAction Deny), as the function refuses every host by default.
Exempt: HTTPRoutes Crossplane ({CROSSPLANE_USER}) writes for a {SERVICE_INGRESS.kind}, which
carry its {COMPOSITE_LABEL} label and a controller reference to the XR: the function has
checked their hosts, and which XR holds a host, which no admission policy can see.
"""

# The namespace's rules: its first tenant's, else the default's; each host rule with the
# namespace filled in (function/tenancy.py rules_for). params is the EnvironmentConfig.
_TENANCY = "has(params.data) && has(params.data.tenancy)"
_VARIABLES = [
    {
        "name": "tenants",
        "expression": f"{_TENANCY} && has(params.data.tenancy.tenants) ? "
        "params.data.tenancy.tenants.filter(t, has(t.namespaces) && "
        "request.namespace in t.namespaces) : []",
    },
    {
        "name": "rules",
        "expression": "variables.tenants.size() > 0 ? "
        "(has(variables.tenants[0].hosts) ? variables.tenants[0].hosts : []) : "
        f"({_TENANCY} && has(params.data.tenancy.default) && "
        "has(params.data.tenancy.default.hosts) ? params.data.tenancy.default.hosts : [])",
    },
    {
        "name": "hosts",
        "expression": f"variables.rules.map(r, string(r).replace('{NAMESPACE_PLACEHOLDER}', "
        "request.namespace))",
    },
]
# function/tenancy.py host_allowed: a rule *.<domain> takes every host ending in .<domain>
# (wildcards included), never the domain itself; any other rule takes itself only.
_ALLOWED = (
    "has(object.spec.hostnames) && object.spec.hostnames.size() > 0 && "
    "object.spec.hostnames.all(h, variables.hosts.exists(r, r == h || "
    "(r.startsWith('*.') && h.endsWith(r.substring(1)) && h != r.substring(2))))"
)
_MESSAGE = (
    "'spec.hostnames: each must be a host namespace ' + request.namespace + ' may use (' + "
    "(variables.hosts.size() > 0 ? variables.hosts.join(', ') : 'none') + "
    f"'), by data.tenancy of EnvironmentConfig {SETTINGS_NAME}; a route without hostnames "
    "would take every host of its Gateway'"
)
_COMPOSED_FOR_AN_INGRESS = (
    f"request.userInfo.username == '{CROSSPLANE_USER}' && has(object.metadata.labels) && "
    f"'{COMPOSITE_LABEL}' in object.metadata.labels && has(object.metadata.ownerReferences) && "
    "object.metadata.ownerReferences.exists(o, has(o.controller) && o.controller && "
    f"o.kind == '{SERVICE_INGRESS.kind}' && o.apiVersion.startsWith('{SERVICE_INGRESS.group}/'))"
)


def host_ownership() -> list[JSON]:
    """The policy and its binding to the EnvironmentConfig holding the platform settings."""
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": NAME},
            "spec": {
                "failurePolicy": "Fail",
                "paramKind": {"apiVersion": ENVIRONMENT_CONFIG_API, "kind": "EnvironmentConfig"},
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": ["gateway.networking.k8s.io"],
                            "apiVersions": ["*"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["httproutes"],
                        }
                    ]
                },
                "matchConditions": [
                    {
                        "name": "not-composed-for-a-service-ingress",
                        "expression": f"!({_COMPOSED_FOR_AN_INGRESS})",
                    }
                ],
                "variables": _VARIABLES,
                "validations": [{"expression": _ALLOWED, "messageExpression": _MESSAGE}],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": NAME},
            "spec": {
                "policyName": NAME,
                "validationActions": ["Deny"],
                "paramRef": {"name": SETTINGS_NAME, "parameterNotFoundAction": "Deny"},
            },
        },
    ]
