"""The ServiceIngress section of the function input: the shared Gateway, issuers, AWS wiring."""

from pydantic import Field

from function.context import Context
from function.formats import DNS_1123_LABEL, DNS_1123_SUBDOMAIN
from function.hostname import HOSTNAME_PATTERN
from function.kinds.serviceingress.model import IssuerRef, ServiceIngressParameters
from function.model import section
from function.settings import ProviderConfigRef, SettingsModel


class GatewayRef(SettingsModel):
    """A Gateway of the cluster, by name and namespace."""

    name: str = Field(
        default="platform", pattern=DNS_1123_SUBDOMAIN, max_length=253, description="Gateway name."
    )
    namespace: str = Field(
        default="gateway-system",
        pattern=DNS_1123_LABEL,
        max_length=63,
        description="Gateway namespace.",
    )


class SharedGateway(GatewayRef):
    """The platform's Gateway that routes attach to by default.

    Its listeners terminate TLS with the platform's certificate (typically a
    wildcard for hostname), and must allow routes from the XRs' namespaces
    (allowedRoutes.namespaces). The function does not change it.
    """

    httpListener: str = Field(
        default="http",
        pattern=DNS_1123_SUBDOMAIN,
        max_length=253,
        description="Listener (sectionName) for routes with TLS off.",
    )
    httpsListener: str | None = Field(
        default="https",
        pattern=DNS_1123_SUBDOMAIN,
        max_length=253,
        description="Listener (sectionName) terminating TLS, for routes with TLS on; "
        "unset: the shared Gateway has none, so TLS needs a dedicated gateway.",
    )
    hostname: str | None = Field(
        default=None,
        pattern=HOSTNAME_PATTERN,
        description="The listeners' hostname (e.g. *.apps.example.org); hosts outside it are "
        "refused, since the Gateway would not accept the route. Unset: any host.",
    )


class DedicatedGateway(SettingsModel):
    """A Gateway of its own for an XR with gateway: dedicated."""

    gatewayClassName: str = Field(
        default="platform",
        pattern=DNS_1123_SUBDOMAIN,
        max_length=253,
        description="GatewayClass of dedicated Gateways.",
    )


class GatewayAPI(SettingsModel):
    """class: gateway-api."""

    sharedGateway: SharedGateway = section(SharedGateway, "Shared Gateway.")
    dedicated: DedicatedGateway = section(DedicatedGateway, "Dedicated Gateways.")
    issuerRef: IssuerRef = Field(
        default=IssuerRef(kind="ClusterIssuer", name="platform"),
        description="cert-manager issuer of dedicated gateways' certificates, unless the XR "
        "names one.",
    )


class Throttling(SettingsModel):
    """The $default stage's route throttling (defaultRouteSettings)."""

    burstLimit: int = Field(default=100, ge=0, le=5000, description="Burst of requests.")
    rateLimit: float = Field(default=50, ge=0, le=10000, description="Requests per second.")


class ClusterGateway(GatewayRef):
    """The Gateway in the cluster that the load balancer listener forwards to.

    Each integration rewrites the Host header to a name of its backend (under
    backendDomain); an HTTPRoute composed in the XR's namespace attaches to this
    listener with that host and sends the requests to the backend Service. The
    listener must allow routes from the XRs' namespaces and accept the backend hosts.
    """

    listener: str = Field(
        default="http",
        pattern=DNS_1123_SUBDOMAIN,
        max_length=253,
        description="Listener (sectionName) the load balancer's traffic arrives on.",
    )


class AWSAPIGateway(SettingsModel):
    """class: aws-apigateway. region, the VPC link and the listener have no default: an XR of
    this class gets a FATAL naming what is missing."""

    region: str | None = Field(default=None, description="AWS region of every resource.")
    vpcLinkId: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="ID of the platform's VPC link (HTTP API, in region) every integration goes "
        "through. AWS allows 10 such links per account and region and a link serves any number "
        "of APIs, so the platform creates one (its subnets and security groups cannot change "
        "afterwards) instead of one per XR.",
    )
    integrationUri: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:elasticloadbalancing:",
        description="ARN of the internal load balancer listener the VPC link reaches, which "
        "forwards to clusterGateway.",
    )
    clusterGateway: ClusterGateway = section(ClusterGateway, "Where the listener forwards to.")
    backendDomain: str = Field(
        default="apigateway.internal",
        pattern=DNS_1123_SUBDOMAIN,
        max_length=125,
        description="Suffix of the Host each integration sends, <service>-<port>.<namespace>."
        "<backendDomain>, which the XR's HTTPRoutes match on clusterGateway; it need not "
        "resolve in DNS. No other route on that listener may use hosts under it.",
    )
    throttling: Throttling = section(Throttling, "Stage throttling.")
    providerConfigRef: ProviderConfigRef = Field(
        default=ProviderConfigRef(name="default"), description="provider-aws configuration."
    )


class ServiceIngressSettings(SettingsModel):
    """Exposing Services: Gateway API (shared or dedicated Gateway, cert-manager) or AWS."""

    gatewayAPI: GatewayAPI = section(GatewayAPI)
    aws: AWSAPIGateway = section(AWSAPIGateway, "AWS API Gateway.")


IngressContext = Context[ServiceIngressParameters, ServiceIngressSettings]
