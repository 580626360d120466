"""Struct conversion keeps integers integers and round-trips."""

import enum

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import json_format

from function import wire
from function.lru import ByteLRU
from function.structs import (
    content_key,
    merge_into,
    merge_state,
    object_dict,
    to_dict,
    to_struct,
)


def test_round_trip_keeps_types() -> None:
    data = {"a": 3, "b": 2.5, "c": "x", "d": True, "e": None, "f": [1, {"g": 0}], "h": {}}
    got = to_dict(to_struct(data))
    assert got == data
    assert isinstance(got["a"], int)
    assert isinstance(got["f"][0], int)


def test_each_call_gets_its_own_objects_from_the_cache() -> None:
    data = {"spec": {"replicas": 3, "items": [{"a": 1}]}}
    s = to_struct(data)
    first = to_dict(s)
    first["spec"]["items"][0]["a"] = 99  # a caller changing what it got
    second = to_dict(s)  # from the cache now
    assert second == data
    assert second is not first
    assert isinstance(second["spec"]["replicas"], int)
    again = to_struct(data)
    again.fields["spec"].struct_value.fields["replicas"].number_value = 5
    assert to_struct(data) == s


def test_values_a_struct_tells_apart_are_not_confused_by_the_cache() -> None:
    for value in (True, 1, "1", 1.5, None, [], {}):
        assert to_dict(to_struct({"v": value})) == {"v": value}
    assert to_dict(to_struct({"v": True}))["v"] is True


# An object as the API server returns it: server-side apply's managedFields in its metadata.
APPLIED = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "s",
        "labels": {"a": "b"},
        "managedFields": [{"manager": "crossplane", "fieldsV1": {"f:data": {}}}],
    },
    "spec": {"managedFields": "a field of the object's own"},
    "data": {"port": "NjM3OQ=="},
}


def test_object_dict_leaves_out_only_metadata_managed_fields() -> None:
    s = to_struct(APPLIED)
    got = object_dict(s)
    # The SDK's own conversion (json_format) is the oracle, numbers aside.
    want = json_format.MessageToDict(s)
    del want["metadata"]["managedFields"]
    assert got == want
    assert list(got) == sorted(got)
    assert list(got["metadata"]) == ["labels", "name"]


def test_object_dict_and_to_dict_of_one_struct_are_kept_apart() -> None:
    s = to_struct(APPLIED)
    assert "managedFields" not in object_dict(s)["metadata"]
    assert to_dict(s) == APPLIED, "to_dict after object_dict: not the object's cached dict"
    assert "managedFields" not in object_dict(s)["metadata"], "and the other way round"


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ("a string", "metadata of another shape is kept as it is, for validation to judge"),
        (None, "null metadata"),
        ({"managedFields": []}, "metadata holding only managedFields becomes empty"),
    ],
)
def test_object_dict_of_odd_metadata(metadata: object, reason: str) -> None:
    got = object_dict(to_struct({"kind": "Secret", "metadata": metadata}))
    want = {} if isinstance(metadata, dict) else metadata
    assert got == {"kind": "Secret", "metadata": want}, reason


class Tier(enum.StrEnum):
    DEV = "dev"


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        (True, 1, "a bool and an int are equal in Python, not in a Struct"),
        (1, 1.0, "an int and a float: the Struct keeps 1 and 1.0 apart once read back"),
        ("1", 1, "a string and a number"),
        ({"a": [1, 2]}, {"a": [2, 1]}, "a list's order"),
        ({"a": None}, {"a": False}, "null and false"),
        ([("r", {"x": 1}, 1)], [("r", {"x": 1}, 2)], "a resource's readiness"),
    ],
)
def test_content_keys_of_values_a_struct_tells_apart_differ(
    a: object, b: object, reason: str
) -> None:
    assert content_key(a) != content_key(b), reason


def test_a_value_marshal_cannot_write_is_keyed_by_its_pickle() -> None:
    keyed = content_key({"tier": Tier.DEV})
    assert keyed.startswith(b"p"), "an enum member is a str subclass, which marshal refuses"
    assert keyed == content_key({"tier": Tier.DEV})
    assert keyed != content_key({"tier": "dev"})
    assert to_dict(to_struct({"tier": Tier.DEV})) == {"tier": "dev"}


def test_merge_into_sets_top_level_keys_like_update() -> None:
    target = to_struct({"keep": 1, "status": {"old": True}})
    merge_into(target, {"status": {"phase": "Ready"}})
    assert to_dict(target) == {"keep": 1, "status": {"phase": "Ready"}}


def test_the_cache_stays_within_its_byte_budget() -> None:
    cache = ByteLRU(budget=1000)
    for i in range(100):
        cache.put(f"key-{i:03d}".encode(), b"x" * 50)
    assert cache.size <= 1000
    assert cache.get(b"key-099") == b"x" * 50  # the newest are kept
    assert cache.get(b"key-000") is None  # the oldest went first
    cache.put(b"huge", b"x" * 5000)  # bigger than the budget: converted, never kept
    assert cache.get(b"huge") is None


def _resource(state: fnv1.State, name: str) -> tuple[dict[str, object], int, dict[str, bytes]]:
    r = state.resources[name]
    return json_format.MessageToDict(r.resource), r.ready, dict(r.connection_details)


def test_merge_state_sets_each_resource_with_its_readiness_and_the_composite() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "stringData": {"port": "6379"}}
    release = {"kind": "Release", "spec": {"forProvider": {"values": {"replicas": 2}}}}
    for _ in range(2):  # composed, then from the cache
        target = fnv1.State()
        target.composite.resource.update({"spec": {"a": 1}, "status": {"old": True}})
        merge_state(
            target,
            [("a", secret, fnv1.READY_TRUE), ("b", release, fnv1.READY_FALSE)],
            {"status": {"phase": "Provisioning"}},
        )
        assert sorted(target.resources) == ["a", "b"]
        assert _resource(target, "a") == (secret, fnv1.READY_TRUE, {})
        assert _resource(target, "b") == (release, fnv1.READY_FALSE, {})
        # The composite's top-level keys set, the others kept, as Struct.update does.
        assert json_format.MessageToDict(target.composite.resource) == {
            "spec": {"a": 1},
            "status": {"phase": "Provisioning"},
        }


def test_merge_state_keeps_what_an_earlier_step_set_on_the_same_resource() -> None:
    target = fnv1.State()
    earlier = target.resources["a"]
    earlier.resource.update({"kind": "Secret", "metadata": {"labels": {"x": "y"}}})
    earlier.connection_details["url"] = b"https://example.org"
    target.resources["other"].resource.update({"kind": "ConfigMap"})
    merge_state(target, [("a", {"kind": "Secret", "data": {"k": "dg=="}}, fnv1.READY_TRUE)], {})
    assert _resource(target, "a") == (
        {"kind": "Secret", "metadata": {"labels": {"x": "y"}}, "data": {"k": "dg=="}},
        fnv1.READY_TRUE,
        {"url": b"https://example.org"},
    )
    assert json_format.MessageToDict(target.resources["other"].resource) == {"kind": "ConfigMap"}


def test_merge_state_takes_resources_nested_past_protobufs_default_depth() -> None:
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(40):  # 40 JSON levels: 120 message levels below the Struct
        deep = {"d": deep}
    target = fnv1.State()
    merge_state(target, [("deep", {"spec": deep}, fnv1.READY_TRUE)], {"status": {}})
    with wire.lifted():
        assert to_dict(target.resources["deep"].resource) == {"spec": deep}
