"""ServiceIngress: a Service exposed through Gateway API or AWS API Gateway, with TLS and status."""

from function.blocks import usage
from function.kind import Kind
from function.kinds.serviceingress import awsapigateway, gatewayapi, ownership
from function.kinds.serviceingress import compose as composer
from function.kinds.serviceingress.model import API, ServiceIngressParameters
from function.kinds.serviceingress.readiness import READINESS
from function.kinds.serviceingress.settings import ServiceIngressSettings

KIND = Kind[ServiceIngressParameters, ServiceIngressSettings](
    api=API,
    input_field="serviceIngress",
    settings=ServiceIngressSettings,
    compose=composer.compose,
    readiness=READINESS,
    crds=gatewayapi.CRDS + awsapigateway.CRDS + usage.CRDS,
    builtins=(),
    requires=(ownership.INGRESS_KIND,),
)
