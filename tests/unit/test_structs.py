"""Struct conversion keeps integers integers and round-trips."""

from function.lru import ByteLRU
from function.structs import merge_into, to_dict, to_struct


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
