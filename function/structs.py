"""Conversion between protobuf Structs and plain Python data.

The SDK's struct_to_dict/dict_to_struct go through json_format: slow (about
0.7 ms a resource each way) and every number comes back as a float. These
walk the Struct directly and give integral numbers back as ints, so a
replica count read from the request is still an int when it is compared,
formatted or validated.

Crossplane sends the same XR and observed resources on every reconcile, and the
function then composes the same desired resources, so both directions are cached
per content in a byte-bounded LRU: a Struct seen before comes back as a fresh
dict from its marshal serialization (C code, several times faster than the walk), a
dict seen before as a Struct parsed from its cached serialization, and a call's whole
desired state as one State parsed into the response (merge_state). Every call gets its
own objects, so nothing is shared between calls or threads.

A Struct's fields are a protobuf map, whose order is not defined: with the upb
runtime it differs from one process to the next. The dicts come back with their
keys sorted, so whatever follows their order (pydantic's errors, the FATAL
listing them) is the same in every replica.
"""

import hashlib
import marshal
import pickle
from collections.abc import Callable, Sequence
from typing import Any

from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import struct_pb2

from function import wire
from function.lru import ByteLRU

JSON = dict[str, Any]

# Large enough for every resource of a few hundred XRs; bounded by the memory the entries
# hold (function/lru.py), so a huge object cannot grow the process (it is converted, just
# not kept).
CACHE_BYTES = 8 * 1024 * 1024
_MAX_ENTRY_BYTES = 64 * 1024

# SHA-256 of a serialized Struct -> marshalled dict. The digest, as the response cache keys a
# request (function/response_cache.py): an observed object's serialization is kilobytes,
# and as the key it would hold as much of the budget as its dict.
_DICTS = ByteLRU(CACHE_BYTES // 2, _MAX_ENTRY_BYTES)
# content key of a dict -> serialized Struct; composed resources are kept whole in _STATES,
# and here for the State of a call that changed one of them.
_STRUCTS = ByteLRU(CACHE_BYTES // 4, _MAX_ENTRY_BYTES)
_STATES = ByteLRU(CACHE_BYTES // 4, _MAX_ENTRY_BYTES)  # content key (resources, composite) -> State
# An object's dict is kept under its digest with this byte first, apart from the Struct's
# to_dict under the digest alone (a key one byte longer).
_OBJECT = b"o"
_UNREAD_METADATA = "managedFields"
# marshal's newest format: its references to objects met before make it about three
# times faster than pickle on a composed state.
_MARSHAL = 4


def content_key(value: Any) -> bytes:
    """Bytes equal only for equal values, telling apart every value a Struct tells apart
    (True vs 1, "1" vs 1): value's marshal serialization, which loads back to an equal
    value. Two equal values shared differently may get different keys, a cache miss and
    never a wrong answer. A value marshal cannot write (a str or int subclass: an enum)
    is keyed by its pickle, under another first byte."""
    try:
        return b"m" + marshal.dumps(value, _MARSHAL)
    except ValueError:
        return b"p" + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _value(v: struct_pb2.Value) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        return v.string_value
    if kind == "struct_value":
        return _fields(v.struct_value)
    if kind == "number_value":
        n = v.number_value
        return int(n) if n.is_integer() else n
    if kind == "bool_value":
        return v.bool_value
    if kind == "list_value":
        return [_value(x) for x in v.list_value.values]
    return None


def _fields(s: struct_pb2.Struct, leave_out: str = "") -> JSON:
    # Sorted keys, each looked up: about a third faster than sorting the map's items.
    fields = s.fields
    return {k: _value(fields[k]) for k in sorted(fields) if k != leave_out}


def _object(s: struct_pb2.Struct) -> JSON:
    fields = s.fields
    out: JSON = {}
    for k in sorted(fields):
        v = fields[k]
        if k == "metadata" and v.WhichOneof("kind") == "struct_value":
            out[k] = _fields(v.struct_value, _UNREAD_METADATA)
        else:
            out[k] = _value(v)
    return out


def _converted(
    s: struct_pb2.Struct, convert: Callable[[struct_pb2.Struct], JSON], tag: bytes
) -> JSON:
    serialized = s.SerializeToString()
    if len(serialized) > _MAX_ENTRY_BYTES:  # its dict would pass the entry bound: never kept
        return convert(s)
    key = tag + hashlib.sha256(serialized).digest()
    cached = _DICTS.get(key)
    if cached is not None:
        out: JSON = marshal.loads(cached)
        return out
    out = convert(s)
    _DICTS.put(key, marshal.dumps(out, _MARSHAL))  # plain values only: never refused
    return out


def to_dict(s: struct_pb2.Struct) -> JSON:
    """Return the Struct as a dict (a new one on every call), with integral numbers as ints."""
    return _converted(s, _fields, b"")


def object_dict(s: struct_pb2.Struct) -> JSON:
    """An object the API server returned (the XR, a composed or a required resource) as a
    dict, as to_dict, without metadata.managedFields.

    Server-side apply's record of which manager set which field: the API server returns it
    with every object, and Crossplane applies composed resources and the XR's status with
    server-side apply, so it is often half an observed object's bytes (in a control plane
    composing RedisInstances: 58% of the XR's, 49% of the Release's). No composer reads it,
    and the conversion of a changed object costs by the field."""
    return _converted(s, _object, _OBJECT)


def _serialized(d: JSON) -> bytes:
    key = content_key(d)
    cached = _STRUCTS.get(key) if len(key) <= _MAX_ENTRY_BYTES else None
    if cached is None:
        s = struct_pb2.Struct()
        s.update(d)  # protobuf's native update, no JSON round trip
        cached = s.SerializeToString()
        _STRUCTS.put(key, cached)
    return cached


def to_struct(d: JSON) -> struct_pb2.Struct:
    """Return the dict as a Struct."""
    return wire.struct_from(_serialized(d))


def merge_into(target: struct_pb2.Struct, d: JSON) -> None:
    """Set d's top-level keys in target (as target.update(d)), parsed straight into it."""
    wire.merge_struct(target, _serialized(d))


# A desired resource: its name, its object and its readiness.
Named = tuple[str, JSON, fnv1.Ready]


def _merge_each(target: fnv1.State, resources: Sequence[Named], composite: JSON) -> None:
    for name, d, ready in resources:
        composed = target.resources[name]
        merge_into(composed.resource, d)
        composed.ready = ready
    merge_into(target.composite.resource, composite)


def _state(resources: Sequence[Named], composite: JSON) -> bytes:
    state = fnv1.State()
    _merge_each(state, resources, composite)
    out: bytes = state.SerializeToString()
    return out


def merge_state(target: fnv1.State, resources: Sequence[Named], composite: JSON) -> None:
    """Set each resource, with its readiness, in target's resources, and composite's top-level
    keys in target's composite resource (as merge_into each).

    Parsed into target from one serialization of them all, kept by their content_key like
    a Struct's: one parse instead of one per resource. Parsing a map entry replaces the entry
    already there (protobuf's map merge), while merge_into keeps the keys it does not set:
    where target holds one of these resources already (an earlier pipeline step's), each is
    merged on its own."""
    if any(name in target.resources for name, _, _ in resources):
        _merge_each(target, resources, composite)
        return
    key = content_key((resources, composite))
    if len(key) > _MAX_ENTRY_BYTES:  # never kept: serializing it to parse it back is waste
        _merge_each(target, resources, composite)
        return
    cached = _STATES.get(key)
    if cached is None:
        cached = _state(resources, composite)
        _STATES.put(key, cached)
    wire.merge_message(target, cached)


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
