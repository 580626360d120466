"""When what a ServiceIngress composes is ready.

An HTTPRoute has no Ready condition: it is ready when every Gateway accepted it
and resolved its backends (routestatus). A Gateway says Programmed once its data
plane serves its listeners (Gateway API v1.6.1 GatewayConditionProgrammed).
The Certificate and the AWS resources report Ready; a Usage is ready once it exists.
"""

from function.blocks import usage
from function.kinds.serviceingress.gatewayapi import GATEWAY_GROUP
from function.kinds.serviceingress.routestatus import route_ready
from function.readiness import Readiness, condition_true
from function.structs import JSON


def _programmed(gateway: JSON) -> bool:
    return condition_true(gateway, "Programmed")


READINESS = Readiness.of(
    usage.READINESS,
    {
        (GATEWAY_GROUP, "HTTPRoute"): route_ready,
        (GATEWAY_GROUP, "Gateway"): _programmed,
    },
)
