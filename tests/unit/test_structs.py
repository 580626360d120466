"""Struct conversion keeps integers integers and round-trips."""

from function.structs import to_dict, to_struct


def test_round_trip_keeps_types() -> None:
    data = {"a": 3, "b": 2.5, "c": "x", "d": True, "e": None, "f": [1, {"g": 0}], "h": {}}
    got = to_dict(to_struct(data))
    assert got == data
    assert isinstance(got["a"], int)
    assert isinstance(got["f"][0], int)
