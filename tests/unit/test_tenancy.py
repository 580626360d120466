"""The tenancy rules: which namespace's rules apply, and which hosts they allow."""

import pytest
from pydantic import ValidationError

from function.tenancy import Tenancy, TenantRules, host_allowed, rules_for

SETTINGS = {
    "default": {"hosts": ["*.{namespace}.apps.example.org"], "argocdProject": "{namespace}"},
    "tenants": [
        {"namespaces": ["shop", "shop-staging"], "hosts": ["shop.example.com"]},
        {"namespaces": ["shop"], "hosts": ["never.example.com"]},
    ],
}


@pytest.mark.parametrize(
    ("namespace", "hosts", "project", "prefix", "reason"),
    [
        ("orders", ["*.orders.apps.example.org"], "orders", "orders-", "default, filled in"),
        ("shop", ["shop.example.com"], None, "shop-", "the first tenant listing it wins"),
        ("shop-staging", ["shop.example.com"], None, "shop-staging-", "any listed namespace"),
    ],
)
def test_rules_for(
    namespace: str, hosts: list[str], project: str | None, prefix: str, reason: str
) -> None:
    rules = rules_for(Tenancy.model_validate(SETTINGS), namespace)
    got = (rules.hosts, rules.argocdProject, rules.bucketPrefix)
    assert got == (hosts, project, prefix), reason


def test_defaults_allow_nothing_outside_the_namespace() -> None:
    rules = rules_for(Tenancy(), "orders")
    assert rules == TenantRules(hosts=[], issuers=[], argocdProject=None, bucketPrefix="orders-")


@pytest.mark.parametrize(
    ("allowed", "host", "want", "reason"),
    [
        (["*.a.example.org"], "x.a.example.org", True, "one label below the wildcard"),
        (["*.a.example.org"], "y.x.a.example.org", True, "a wildcard matches several labels"),
        (["*.a.example.org"], "*.x.a.example.org", True, "a wildcard host inside it"),
        (["*.a.example.org"], "*.a.example.org", True, "the wildcard itself"),
        (["*.a.example.org"], "a.example.org", False, "not the domain itself"),
        (["*.a.example.org"], "xa.example.org", False, "a suffix that is not a label"),
        (["*.a.example.org"], "*.example.org", False, "a wider wildcard"),
        (["a.example.org"], "a.example.org", True, "an exact host"),
        (["a.example.org"], "b.a.example.org", False, "an exact host allows nothing below"),
        ([], "a.example.org", False, "nothing allowed"),
    ],
)
def test_host_allowed(allowed: list[str], host: str, want: bool, reason: str) -> None:
    assert host_allowed(allowed, host) is want, reason


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"default": {"hosts": ["https://a.example.org"]}}, "a host rule with a scheme"),
        ({"default": {"hosts": ["a.*.example.org"]}}, "a wildcard not leading"),
        ({"default": {"bucketPrefix": "Team_"}}, "a bucket prefix S3 refuses"),
        ({"default": {"argocdProject": "a/b"}}, "a project that is not a name"),
        ({"tenants": [{"namespaces": [], "hosts": []}]}, "a tenant of no namespace"),
        ({"tenants": [{"namespaces": ["Shop"]}]}, "a namespace that is not a DNS label"),
    ],
)
def test_invalid_tenancy(settings: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError):
        Tenancy.model_validate(settings)
