"""What each team's namespace may name: hosts, issuers, its Argo CD project, its bucket prefix.

Many teams share one cluster, each in its own namespace, and an XR names things that
live outside that namespace (a hostname on the shared Gateway, a ClusterIssuer, an
Argo CD project, an S3 bucket). Whatever a team names is checked against the rules
the platform gives its namespace here; the defaults allow nothing that could reach
another team, so a platform that configures nothing refuses rather than shares.

The rules of a namespace are the first tenant listing it, else ``default``; in every
string "{namespace}" stands for the namespace the rules are applied to.
"""

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field

from function.formats import DNS_1123_LABEL, DNS_1123_SUBDOMAIN
from function.hostname import HOSTNAME_PATTERN
from function.settings import SettingsModel

NAMESPACE_PLACEHOLDER = "{namespace}"
# A host rule: a hostname, or *.<domain> for every host below domain; either may hold
# {namespace} (e.g. *.{namespace}.apps.example.org).
_HOST_RULE = HOSTNAME_PATTERN.replace("[a-z0-9]", r"(\{namespace\}|[a-z0-9])")
_TEMPLATED_LABEL = r"^(\{namespace\}|[a-z0-9])([-a-z0-9]*(\{namespace\}|[a-z0-9]))?$"
_BUCKET_PREFIX = r"^(\{namespace\}|[a-z0-9])(\{namespace\}|[-.a-z0-9])*$"
HostRule = Annotated[str, Field(min_length=1, max_length=253, pattern=_HOST_RULE)]
NamespaceName = Annotated[str, Field(max_length=63, pattern=DNS_1123_LABEL)]


class AllowedIssuer(SettingsModel):
    """A cert-manager issuer a namespace may name."""

    kind: Literal["ClusterIssuer", "Issuer"] = Field(
        default="ClusterIssuer", description="ClusterIssuer, or Issuer (in the XR's namespace)."
    )
    name: str = Field(pattern=DNS_1123_SUBDOMAIN, max_length=253, description="Name of the issuer.")


class TenantRules(SettingsModel):
    """What XRs in a namespace may name; {namespace} stands for that namespace."""

    hosts: list[HostRule] = Field(
        default_factory=list,
        description="Hosts the namespace may route and certify: a hostname, or *.<domain> for "
        "every host below domain (e.g. *.{namespace}.apps.example.org). Empty: none.",
    )
    issuers: list[AllowedIssuer] = Field(
        default_factory=list,
        description="cert-manager issuers the namespace may name for its certificates, beside "
        "the platform's own issuer. Empty: the platform's only.",
    )
    argocdProject: str | None = Field(
        default=None,
        pattern=_TEMPLATED_LABEL,
        description="Argo CD AppProject the namespace's environments are registered in (e.g. "
        "{namespace}); unset: the namespace gets no Argo CD registration.",
    )
    bucketPrefix: str = Field(
        default="{namespace}-",
        pattern=_BUCKET_PREFIX,
        max_length=40,
        description="Prefix of every bucket the namespace's XRs name or are given, so one "
        "team's bucket names never reach another's.",
    )


class Tenant(TenantRules):
    """The rules of the namespaces listed."""

    namespaces: list[NamespaceName] = Field(
        min_length=1, description="Namespaces these rules are for."
    )


class Tenancy(SettingsModel):
    """Per-namespace rules for what an XR may name outside its namespace."""

    default: TenantRules = Field(
        default_factory=TenantRules,
        description="The rules of every namespace no tenant lists.",
    )
    tenants: list[Tenant] = Field(
        default_factory=list, description="Rules of given namespaces; the first listing one wins."
    )


def _fill(text: str, namespace: str) -> str:
    return text.replace(NAMESPACE_PLACEHOLDER, namespace)


def rules_for(tenancy: Tenancy, namespace: str) -> TenantRules:
    """The rules of namespace, with {namespace} filled in.

    Filled in, a rule may exceed the bounds its template was checked against (a
    63-character namespace in a 40-character prefix), so the result is not validated
    again: what it allows is judged where it is used.
    """
    rules: TenantRules = next(
        (t for t in tenancy.tenants if namespace in t.namespaces), tenancy.default
    )
    return TenantRules.model_construct(
        hosts=[_fill(h, namespace) for h in rules.hosts],
        issuers=rules.issuers,
        argocdProject=_fill(rules.argocdProject, namespace) if rules.argocdProject else None,
        bucketPrefix=_fill(rules.bucketPrefix, namespace),
    )


def rules_path(tenancy: Tenancy, namespace: str) -> str:
    """Where the rules of namespace are set: tenancy.tenants[i] or tenancy.default."""
    for i, tenant in enumerate(tenancy.tenants):
        if namespace in tenant.namespaces:
            return f"tenancy.tenants[{i}]"
    return "tenancy.default"


def hosts_overlap(a: str, b: str) -> bool:
    """Whether some request host is matched by both hostnames (either may be *.<domain>)."""
    return a == b or host_allowed([a], b) or host_allowed([b], a)


def host_allowed(allowed: Sequence[str], host: str) -> bool:
    """Whether host (itself possibly *.<domain>) is within one of the allowed host rules.

    *.<domain> allows every host ending in .<domain>, wildcards included, as Gateway API
    matches a wildcard hostname against one or more leading labels (gateway-api v1.6.1
    apis/v1/httproute_types.go, HTTPRouteSpec.Hostnames: *.example.com matches
    test.example.com and foo.test.example.com, not example.com).
    """
    for rule in allowed:
        if rule.startswith("*."):
            if host.endswith(rule[1:]) and host != rule[2:]:
                return True
        elif host == rule:
            return True
    return False
