"""class aws-apigateway: how each route's requests reach its own backend Service.

Every integration goes through the platform's VPC link to one load balancer
listener, which forwards to a Gateway in the cluster (settings clusterGateway).
What tells the backends apart is the Host header: each integration overwrites
it (HTTP API parameter mapping, request parameter "overwrite:header.host"; Host
is not among the reserved headers, AWS API Gateway developer guide,
http-api-parameter-mapping "Reserved headers") with a name of its backend,
<service>-<port>.<namespace>.<backendDomain>, and an HTTPRoute in the XR's
namespace matches that name on the cluster Gateway and sends to the Service.
Two XRs' routes with the same path never meet: their hosts differ by namespace
and Service. The path is sent unchanged: the $default stage adds no stage prefix
(http-api-develop-integrations-private: only a named stage is prefixed).
"""

from function.kinds.serviceingress.gatewayapi import GATEWAY_API, GATEWAY_GROUP
from function.kinds.serviceingress.model import Backend
from function.kinds.serviceingress.settings import AWSAPIGateway
from function.naming import dns_label, short_hash
from function.structs import JSON

HOST_HEADER = "overwrite:header.host"
BACKEND_ROUTE_PREFIX = "backend-route-"


def backend_host(backend: Backend, namespace: str, aws: AWSAPIGateway) -> str:
    """The Host an integration sends for this backend: one name per Service port and namespace."""
    return f"{dns_label(backend.service, str(backend.port))}.{namespace}.{aws.backendDomain}"


def backend_route_name(backend: Backend) -> str:
    """The composition resource name of the backend's HTTPRoute."""
    return BACKEND_ROUTE_PREFIX + short_hash(f"{backend.service}:{backend.port}")


def backend_route(backend: Backend, host: str, aws: AWSAPIGateway) -> JSON:
    """An HTTPRoute on the cluster Gateway sending the backend's host to its Service."""
    gateway = aws.clusterGateway
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "spec": {
            "parentRefs": [
                {
                    "group": GATEWAY_GROUP,
                    "kind": "Gateway",
                    "name": gateway.name,
                    "namespace": gateway.namespace,
                    "sectionName": gateway.listener,
                }
            ],
            "hostnames": [host],
            "rules": [{"backendRefs": [{"name": backend.service, "port": backend.port}]}],
        },
    }
