"""Storage class settings, which each chart or CRD spells under its own key."""

from function.structs import JSON


def storage_class(key: str, name: str | None) -> JSON:
    """{key: name} when a storage class is set, else nothing (the cluster's default)."""
    return {key: name} if name else {}
