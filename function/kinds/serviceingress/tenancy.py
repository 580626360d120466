"""What an XR's namespace may name: its hosts and its certificate's issuer.

On the shared Gateway any namespace may attach any hostname under the listener, and
Gateway API merges the rules of every HTTPRoute naming one hostname (gateway-api v1.6.1
apis/v1/httproute_types.go, HTTPRouteSpec.Hostnames and the rule precedence of
HTTPRouteRule), so a host outside the namespace's tenancy rules would take another
team's traffic; a dedicated Gateway's Certificate would get a trusted certificate for
it. The platform's tenancy settings (function/tenancy.py) say what each namespace may use.
"""

from function.kinds.serviceingress.settings import IngressContext
from function.settings import SETTINGS_WHERE
from function.tenancy import host_allowed, rules_for, rules_path

ISSUER_FIELD = "spec.parameters.tls.issuerRef"


def tenancy_problems(ctx: IngressContext) -> list[str]:
    """Each host and the issuer the XR names that its namespace may not use."""
    namespace = ctx.xr.namespace
    rules = rules_for(ctx.platform.tenancy, namespace)
    where = rules_path(ctx.platform.tenancy, namespace)
    problems = []
    outside = [
        f"spec.parameters.hosts[{i}] {h!r}"
        for i, h in enumerate(ctx.params.hosts)
        if not host_allowed(rules.hosts, h)
    ]
    if outside:
        allowed = ", ".join(rules.hosts) or "none"
        problems.append(
            f"{', '.join(outside)}: not a host namespace {namespace} may use (it may use: "
            f"{allowed}); a platform engineer allows more in {where}.hosts of {SETTINGS_WHERE}"
        )
    issuer = ctx.params.tls.issuerRef
    own = ctx.settings.gatewayAPI.issuerRef
    allowed_issuers = {(own.kind, own.name)} | {(i.kind, i.name) for i in rules.issuers}
    if issuer is not None and (issuer.kind, issuer.name) not in allowed_issuers:
        listed = [f"{i.kind} {i.name}" for i in rules.issuers]
        allowed = ", ".join([f"{own.kind} {own.name} (the platform's)", *listed])
        problems.append(
            f"{ISSUER_FIELD} {issuer.kind} {issuer.name!r}: not an issuer namespace {namespace} "
            f"may name (it may name: {allowed}); a platform engineer allows more in "
            f"{where}.issuers of {SETTINGS_WHERE}"
        )
    return problems
