"""Names: unique, valid, and stable."""

import re

import pytest

from function.naming import dns_label, sql_identifier


@pytest.mark.parametrize(
    ("parts", "want"),
    [
        (("app", "postgresql"), "app-postgresql"),
        (("x" * 70, "redis"), None),  # too long: cut and hashed
    ],
    ids=["short names are kept as they are", "long names are cut to 63 with a hash"],
)
def test_dns_label(parts: tuple[str, ...], want: str | None) -> None:
    got = dns_label(*parts)
    assert len(got) <= 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", got)
    if want is not None:
        assert got == want


def test_long_names_that_share_a_prefix_stay_distinct() -> None:
    assert dns_label("a" * 70, "one") != dns_label("a" * 70, "two")


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        (("dev", "db"), ("staging", "db"), "same XR name in two namespaces"),
        (("team", "a-b"), ("team", "a_b"), "'-' and '_' are not confused"),
        (("team-a", "b"), ("team", "a-b"), "namespace/name split is not confused"),
    ],
)
def test_sql_identifiers_do_not_collide(
    a: tuple[str, str], b: tuple[str, str], reason: str
) -> None:
    assert sql_identifier(*a) != sql_identifier(*b), reason


def test_sql_identifier_is_safe_and_bounded() -> None:
    got = sql_identifier("My.Namespace", "x" * 100)
    assert re.fullmatch(r"[a-z0-9_]+", got)
    assert len(got) <= 63
    assert sql_identifier("plain", "name") == "plain_name"
