"""ServiceIngress: route a Service's traffic through Gateway API or AWS API Gateway.

The class picks the composer; both report the URLs, whether the routes are
accepted (and why not) and, with a certificate of the XR's own, whether it is ready.
"""

from function.context import Desired
from function.kinds.serviceingress.awsapigateway import compose_aws
from function.kinds.serviceingress.gatewayapi import compose_gateway_api
from function.kinds.serviceingress.model import AWS
from function.kinds.serviceingress.settings import IngressContext


def compose(ctx: IngressContext) -> Desired:
    """Compose the ingress of the XR's class."""
    if ctx.params.ingress_class == AWS:
        return compose_aws(ctx)
    return compose_gateway_api(ctx)
