"""Conversion between protobuf Structs and plain Python data.

The SDK's struct_to_dict/dict_to_struct go through json_format: slow (about
0.7 ms a resource each way) and every number comes back as a float. These
walk the Struct directly and give integral numbers back as ints, so a
replica count read from the request is still an int when it is compared,
formatted or validated.
"""

from typing import Any

from google.protobuf import struct_pb2

JSON = dict[str, Any]


def _value(v: struct_pb2.Value) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        return v.string_value
    if kind == "struct_value":
        return {k: _value(x) for k, x in v.struct_value.fields.items()}
    if kind == "number_value":
        n = v.number_value
        return int(n) if n.is_integer() else n
    if kind == "bool_value":
        return v.bool_value
    if kind == "list_value":
        return [_value(x) for x in v.list_value.values]
    return None


def to_dict(s: struct_pb2.Struct) -> JSON:
    """Return the Struct as a dict, with integral numbers as ints."""
    return {k: _value(v) for k, v in s.fields.items()}


def to_struct(d: JSON) -> struct_pb2.Struct:
    """Return the dict as a Struct (protobuf's native update, no JSON round trip)."""
    s = struct_pb2.Struct()
    s.update(d)
    return s


def api_group(api_version: str) -> str:
    """The API group of an apiVersion: "" for core "v1", "apps" for "apps/v1"."""
    return api_version.rpartition("/")[0]


def dig(obj: JSON | None, *path: str) -> Any:
    """The value at path in obj, or None if any step is missing or not an object."""
    node: Any = obj
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node
