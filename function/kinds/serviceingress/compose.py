"""ServiceIngress: route a Service's traffic through Gateway API or AWS API Gateway.

The class picks the composer; both report the URLs, whether the routes are
accepted (and why not) and, with a certificate of the XR's own, whether it is ready.
First, the hosts and issuer must be the namespace's to use and not held by another XR.
"""

from function.context import Desired
from function.kinds.serviceingress.awsapigateway import compose_aws
from function.kinds.serviceingress.gatewayapi import compose_gateway_api
from function.kinds.serviceingress.model import AWS
from function.kinds.serviceingress.ownership import held_problems, require_ingresses
from function.kinds.serviceingress.settings import IngressContext
from function.kinds.serviceingress.tenancy import tenancy_problems
from function.refusal import Refusal


def compose(ctx: IngressContext) -> Desired:
    """Compose the ingress of the XR's class, once its hosts and issuer are its own."""
    problems = [*tenancy_problems(ctx), *held_problems(ctx)]
    if problems:
        raise Refusal(problems)
    if ctx.params.ingress_class == AWS:
        return compose_aws(ctx)  # no hosts: nothing to hold
    return require_ingresses(compose_gateway_api(ctx))
