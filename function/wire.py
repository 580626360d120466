"""Messages from the wire, nested as deep as Kubernetes objects are.

Kubernetes stores objects nested as deep as their JSON goes (fields a CRD leaves free,
x-kubernetes-preserve-unknown-fields: Helm values, manifests inside Objects), and
Crossplane sends each as a google.protobuf.Struct: three message levels per JSON level
(Struct, its map entry, Value). protobuf's Python runtime (upb) refuses a message nested
deeper than 100 message levels, about 31 JSON levels, when it parses one; and it parses
more often than it seems (a message passed to a constructor or MergeFrom is serialized
and parsed again). SetAllowOversizeProtos(True) lifts the limit to 65535 levels for the
whole process (python/message.c in protocolbuffers/protobuf: upb_DecodeOptions_MaxDepth(
allow_oversize_protos ? UINT16_MAX : kUpb_WireFormat_DefaultDepthLimit)). The parser
recurses on the C stack, over a hundred bytes a level: 65535 levels overflow a thread's
default 8 MiB stack (here at about 63,000).

So a request is parsed with the default limit first: every request nested less takes
that path. One that fails is parsed again with the limit lifted, on a thread of its own
whose stack holds 65535 levels (its pages go back when the thread ends), and is kept only
if it nests at most MAX_JSON_DEPTH JSON levels, which the Python after it handles (it
recurses once or twice a level, under the interpreter's limit of 1000 frames). Such a
request is then composed `lifted()`. The limit is lifted only by a thread holding _LOCK,
and the first parse of untrusted bytes takes _LOCK too, so it never runs lifted.
"""

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

# JSON levels a request may nest (objects and lists), counted from each Struct's top.
MAX_JSON_DEPTH = 200
# The stack of the thread that decodes past protobuf's default limit: 65535 levels with room
# to spare (8 MiB holds about 63,000). Virtual until used, returned when the thread ends.
_DEEP_STACK_BYTES = 32 * 1024 * 1024

_LOCK = threading.Lock()
_THREAD = threading.local()  # .lifted: this thread holds _LOCK with the limit lifted
M = TypeVar("M", bound=Message)


class TooDeepError(ValueError):
    """The request nests deeper than MAX_JSON_DEPTH."""

    def __init__(self, depth: int, tag: str) -> None:
        super().__init__(
            f"the request nests {depth} JSON levels deep; the function reads at most "
            f"{MAX_JSON_DEPTH}"
        )
        self.depth = depth
        self.tag = tag  # the request's meta.tag, for the answer


def _allow_deep(allow: bool) -> None:
    # Only upb has the switch; under another implementation the limit stays.
    try:
        from google._upb import _message  # noqa: PLC0415 (protobuf's runtime, not its API)
    except ImportError:
        return
    _message.SetAllowOversizeProtos(allow)


def _is_lifted() -> bool:
    return bool(getattr(_THREAD, "lifted", False))


@contextlib.contextmanager
def lifted() -> Iterator[None]:
    """Parse past protobuf's default depth limit here: for a request decode_request took the
    deep way, and for Structs this process built from one."""
    if _is_lifted():
        yield
        return
    with _LOCK:
        _allow_deep(True)
        _THREAD.lifted = True
        try:
            yield
        finally:
            _THREAD.lifted = False
            _allow_deep(False)


@contextlib.contextmanager
def lowered() -> Iterator[None]:
    """Inside lifted(): let go of the lift while waiting on something else (Vault), so other
    requests are parsed meanwhile; lifted again after."""
    if not _is_lifted():
        yield
        return
    _THREAD.lifted = False
    _allow_deep(False)
    _LOCK.release()
    try:
        yield
    finally:
        _LOCK.acquire()
        _allow_deep(True)
        _THREAD.lifted = True


def _is_json(descriptor: Descriptor) -> bool:
    return descriptor.full_name in ("google.protobuf.Struct", "google.protobuf.ListValue")


def json_depth(message: Message) -> int:
    """The deepest nesting of Structs and lists in message, in JSON levels (walked without
    recursion: the message may be nested too deep for it)."""
    deepest = 0
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        node, depth = stack.pop()
        if _is_json(node.DESCRIPTOR):
            depth += 1
            deepest = max(deepest, depth)
        for field, value in node.ListFields():
            if field.type != FieldDescriptor.TYPE_MESSAGE:
                continue
            if field.message_type.GetOptions().map_entry:
                if field.message_type.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                    stack.extend((v, depth) for v in value.values())
            elif field.is_repeated:
                stack.extend((v, depth) for v in value)
            else:
                stack.append((value, depth))
    return deepest


def _on_deep_stack(work: Callable[[], M]) -> M:
    """work() on a new thread whose stack holds protobuf's deepest decode."""
    result: list[M] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as e:  # handed to the caller
            failure.append(e)

    with _LOCK:  # stack_size applies to the threads started after it, process-wide
        previous = threading.stack_size(_DEEP_STACK_BYTES)
        try:
            thread = threading.Thread(target=run, name="deep-decode")
            thread.start()
        finally:
            threading.stack_size(previous)
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def decode_request(data: bytes) -> tuple[fnv1.RunFunctionRequest, bool]:
    """The request in data, and whether it nests past protobuf's default limit (then compose
    it lifted()). DecodeError when data is not a request (or nests past 65535 message
    levels); TooDeepError when it nests deeper than MAX_JSON_DEPTH."""
    assert not _is_lifted(), "untrusted bytes are never parsed lifted"
    try:
        with _LOCK:
            return fnv1.RunFunctionRequest.FromString(data), False
    except DecodeError:
        pass

    def deep() -> fnv1.RunFunctionRequest:
        with lifted():
            req: fnv1.RunFunctionRequest = fnv1.RunFunctionRequest.FromString(data)
        depth = json_depth(req)
        if depth > MAX_JSON_DEPTH:
            raise TooDeepError(depth, req.meta.tag)
        return req

    return _on_deep_stack(deep), True


def struct_from(data: bytes) -> struct_pb2.Struct:
    """A Struct this process serialized (nested no deeper than the Python that built it)."""
    try:
        return struct_pb2.Struct.FromString(data)
    except DecodeError:
        with lifted():
            return struct_pb2.Struct.FromString(data)


def merge_struct(target: struct_pb2.Struct, data: bytes) -> None:
    """target.MergeFromString(data) for a Struct this process serialized. A parse that stops
    at the depth limit may have merged some entries already: merged again lifted, each is
    replaced by itself (a Struct is one map)."""
    merge_message(target, data)


def merge_message(target: Message, data: bytes) -> None:
    """target.MergeFromString(data) for a message this process serialized, of maps and
    singular fields only (a Struct, a State): merged again lifted after a parse that stopped
    at the depth limit, each map entry and field already merged is replaced by itself."""
    try:
        target.MergeFromString(data)
    except DecodeError:
        with lifted():
            target.MergeFromString(data)
