"""Platform services (PostgreSQLInstance, RedisInstance XRs) made reachable inside the vCluster.

vCluster's open-source way to bring a host Service into the virtual cluster is
networking.replicateServices.fromHost (custom-resource sync is a Pro feature):
the host Service <svc> in <ns> appears in the vCluster as <ns>/<svc>, so the
host name in the instance's connection Secret (<svc>.<ns>.svc) resolves the
same inside and outside (vCluster creates the namespace inside when it is
missing: loft-sh/vcluster v0.8.0 release notes, "Service Mapping", the origin
of fromHost). The XRs are read as required resources from the XR's
own namespace only, so a team reaches only its own instances.

Each instance's connection Secret (its status.connectionSecret, in the XR's
namespace) is copied into the vCluster under the same namespace and name with
sync.fromHost.secrets.mappings.byName (vcluster v0.36.1 chart/values.yaml; the
chart's ClusterRole then lets vCluster read it, templates/_rbac.tpl). The host
namespace of every mapping is the XR's own, whatever an instance's status says,
so no other team's Secret can be named.

An instance's endpoint is in its status only while it is ready; what was
replicated is recorded on the vCluster release (an annotation) and kept while
the endpoint is briefly gone, so a Helm upgrade of the database does not
delete the Service inside the vCluster.
"""

import json
import re
from dataclasses import dataclass

from function.catalogue import ENTRIES
from function.context import SECRET, RequiredKind, Selector, WarningResult
from function.formats import DNS_1123_SUBDOMAIN
from function.kinds.vclusterenvironment.model import ServiceKind, ServiceRef
from function.kinds.vclusterenvironment.settings import EnvironmentContext
from function.observed import digits, json_text, text
from function.refusal import Refusal
from function.settings import literal_values
from function.structs import JSON

# The apiVersion of each kind of service, from the catalogue: kinds never import each other.
API_VERSIONS = {e.kind: e.api_version for e in ENTRIES if e.kind in literal_values(ServiceKind)}
# What the composer fetches: the services' XRs (plural: the XRD's, the kind lower-cased
# plus "s") and the vCluster's kubeconfig Secret.
REQUIRES = (
    SECRET,
    *(RequiredKind(v, k, f"{k.lower()}s") for k, v in sorted(API_VERSIONS.items())),
)
# On the composed vCluster release: {"<kind>/<name>": "<host>:<port>"} of what it replicates.
RECORD_ANNOTATION = "platform.example.org/replicated-services"
# On the composed vCluster release: {"<kind>/<name>": "<secret>"} of the Secrets it copies in.
SECRETS_ANNOTATION = "platform.example.org/replicated-secrets"
_SECRET_NAME = re.compile(DNS_1123_SUBDOMAIN)
# A Service of the host cluster: <service>.<namespace>.svc[.cluster.local]
_SERVICE_HOST = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?$"
)


@dataclass(frozen=True)
class Replicated:
    """A host Service replicated into the vCluster, from an XR's endpoint host:port."""

    kind: str
    name: str
    host: str
    port: int
    # The instance's connection Secret in the XR's namespace, once its status names one.
    secret: str | None = None

    @property
    def service(self) -> str:
        return host_service(self.host)[0]

    @property
    def namespace(self) -> str:
        return host_service(self.host)[1]

    @property
    def record_key(self) -> str:
        return f"{self.kind}/{self.name}"


def host_service(host: str) -> tuple[str, str]:
    """(service, namespace) of a cluster Service host name; ValueError for any other host."""
    found = _SERVICE_HOST.fullmatch(host)
    if found is None:
        raise ValueError(host)
    return found.group(1), found.group(3)


def _parse_endpoint(endpoint: str | None) -> tuple[str, int] | None:
    """host and port of an endpoint host:port whose host is a cluster Service, else None."""
    host, _, port_text = (endpoint or "").rpartition(":")
    port = digits(port_text, max_digits=5)
    if port is None or not 0 < port < 65536:
        return None
    try:
        host_service(host)
    except ValueError:
        return None
    return host, port


def requirement_key(ref: ServiceRef) -> str:
    return f"service-{ref.kind.lower()}-{ref.name}"


def recorded(release: JSON | None) -> dict[str, str]:
    """What the observed vCluster release replicates, from its annotation."""
    found = json_text(release, "metadata", "annotations", RECORD_ANNOTATION)
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _secret_name(name: str | None) -> str | None:
    """A Secret name (DNS-1123 subdomain of at most 253 characters), else None."""
    return name if name is not None and len(name) <= 253 and _SECRET_NAME.fullmatch(name) else None


def recorded_secrets(release: JSON | None) -> dict[str, str]:
    """The connection Secrets the observed vCluster release copies in, from its annotation."""
    found = json_text(release, "metadata", "annotations", SECRETS_ANNOTATION)
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def record_secrets(services: list[Replicated]) -> str:
    """The annotation value recording the services' Secrets, deterministic."""
    return json.dumps(
        {s.record_key: s.secret for s in services if s.secret is not None},
        sort_keys=True,
        separators=(",", ":"),
    )


def secret_mappings(services: list[Replicated], namespace: str) -> dict[str, str]:
    """sync.fromHost.secrets.mappings.byName: each Secret of the XR's namespace to the same
    namespace and name inside the vCluster."""
    return {
        f"{namespace}/{s.secret}": f"{namespace}/{s.secret}"
        for s in sorted(services, key=lambda s: s.record_key)
        if s.secret is not None
    }


def record(services: list[Replicated]) -> str:
    """The annotation value recording services, deterministic."""
    return json.dumps(
        {s.record_key: f"{s.host}:{s.port}" for s in services},
        sort_keys=True,
        separators=(",", ":"),
    )


def requirements(ctx: EnvironmentContext) -> dict[str, Selector]:
    """The XRs of spec.parameters.services, each fetched from the XR's namespace."""
    return {
        requirement_key(ref): Selector(
            API_VERSIONS[ref.kind], ref.kind, name=ref.name, namespace=ctx.xr.namespace
        )
        for ref in ctx.params.services
    }


def replicated_services(
    ctx: EnvironmentContext, observed_release: JSON | None
) -> tuple[list[Replicated], list[WarningResult]]:
    """The services to replicate, and warnings for those still waiting for an endpoint.

    It reads what Crossplane fetched for requirements(ctx). A named XR that Crossplane
    looked for and did not find is an error (FATAL), all of them named at once.
    """
    before = recorded(observed_release)
    before_secrets = recorded_secrets(observed_release)
    out: list[Replicated] = []
    warnings: list[WarningResult] = []
    missing: list[str] = []
    for index, ref in enumerate(ctx.params.services):
        key = requirement_key(ref)
        xr = ctx.found(key)
        if xr is None and ctx.fetched(key):
            missing.append(
                f"spec.parameters.services[{index}]: {ref.kind} {ref.name!r} does not exist in "
                f"namespace {ctx.xr.namespace!r}"
            )
            continue
        found = _parse_endpoint(text(xr, "status", "endpoint"))
        if found is None:
            found = _parse_endpoint(before.get(f"{ref.kind}/{ref.name}"))
        if found is None:
            if xr is not None:
                warnings.append(
                    WarningResult(
                        f"{ref.kind} {ref.name!r} has no endpoint yet; it is replicated into the "
                        "vCluster once it is ready",
                        reason="WaitingForService",
                    )
                )
            continue
        secret = _secret_name(text(xr, "status", "connectionSecret")) or _secret_name(
            before_secrets.get(f"{ref.kind}/{ref.name}")
        )
        out.append(Replicated(ref.kind, ref.name, *found, secret=secret))
    if missing:
        raise Refusal("; ".join(missing))
    return sorted(set(out), key=lambda s: s.record_key), warnings
