"""The external data an ONNX file refers to, read from its protobuf structure (no onnx package).

A tensor stored outside the .onnx file lists `StringStringEntryProto` entries in its
`external_data` field: key "location" names the file, "offset" and "length" the bytes in it.
This walks the ModelProto the way protobuf parses it, to every TensorProto wherever a graph
can hold one (initializers, sparse initializers, Constant and other node attributes, subgraphs
of If/Loop/Scan, functions, training graphs), and reads every key and value of every entry:
protobuf keeps the *last* `key` and `value` of an entry, and ONNX Runtime the last entry of a
key, so a scan that stopped at the first could be shown one file while the runtime loads
another. Anything it cannot read as ONNX (a group, a wrong wire type, a truncated field,
nesting over `MAX_DEPTH`, an entry key ONNX Runtime does not know) is a `ValueError`, so the
caller refuses the file rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 100  # protobuf's own default recursion limit
MAX_LOCATION_BYTES = 4096
ENTRY_KEYS = ("location", "offset", "length", "checksum")  # what ONNX Runtime reads; it refuses other keys
_NUMBER = re.compile(r"[0-9]{1,19}")

# Which fields of which message hold messages that can lead to a TensorProto: (message, field) -> message.
_CHILDREN: dict[tuple[str, int], str] = {
    ("model", 7): "graph", ("model", 20): "training", ("model", 25): "function",
    ("graph", 1): "node", ("graph", 5): "tensor", ("graph", 15): "sparse",
    ("node", 5): "attribute",
    ("attribute", 5): "tensor", ("attribute", 6): "graph", ("attribute", 10): "tensor", ("attribute", 11): "graph",
    ("attribute", 22): "sparse", ("attribute", 23): "sparse",
    ("function", 7): "node", ("function", 11): "attribute",
    ("training", 1): "graph", ("training", 2): "graph",
    ("sparse", 1): "tensor", ("sparse", 2): "tensor",
    ("tensor", 13): "entry",
}


@dataclass(frozen=True)
class ExternalData:
    """One tensor's reference to a file: its location, and the offset and length given (None: not given)."""

    location: str
    offset: int | None = None
    length: int | None = None


def _varint(data: bytes | memoryview, at: int, end: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(at, min(at + 10, end)):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    raise ValueError("is not an ONNX file genmedia can read (a truncated or overlong number)")


def _fields(data: bytes | memoryview, start: int, end: int) -> Iterator[tuple[int, int, tuple[int, int]]]:
    """(field number, wire type, (start, end) of its value's bytes) for each field; the bytes of a
    length-delimited field (wire type 2) are its contents."""
    at = start
    while at < end:
        tag, at = _varint(data, at, end)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ValueError("is not an ONNX file genmedia can read (field number 0)")
        if wire == 0:
            begin = at
            _, at = _varint(data, at, end)
            yield number, wire, (begin, at)
        elif wire == 1 or wire == 5:
            at += 8 if wire == 1 else 4
            if at > end:
                raise ValueError("is not an ONNX file genmedia can read (a truncated field)")
            yield number, wire, (at - (8 if wire == 1 else 4), at)
        elif wire == 2:
            length, at = _varint(data, at, end)
            if at + length > end:
                raise ValueError("is not an ONNX file genmedia can read (a field runs past its message)")
            yield number, wire, (at, at + length)
            at += length
        else:  # 3, 4: groups (long deprecated, never in ONNX); 6, 7: not protobuf
            raise ValueError(f"is not an ONNX file genmedia can read (wire type {wire})")


def _entry(data: bytes | memoryview, start: int, end: int) -> tuple[str, str]:
    """An entry's key and value as protobuf sets them: the last of each."""
    key = value = ""
    for number, wire, span in _fields(data, start, end):
        if number not in (1, 2) or wire != 2:
            raise ValueError("has an external data entry genmedia cannot read")
        if span[1] - span[0] > MAX_LOCATION_BYTES:
            raise ValueError(f"has an external data entry over {MAX_LOCATION_BYTES} bytes")
        text = bytes(data[span[0]:span[1]]).decode("utf-8")  # UnicodeDecodeError is a ValueError
        if number == 1:
            key = text
        else:
            value = text
    return key, value


def _tensor_references(entries: list[tuple[str, str]]) -> list[ExternalData]:
    """What one tensor's entries refer to: every location any entry names (ONNX Runtime reads the last,
    and protobuf merges a tensor given twice, so all are checked), each with the offset and length."""
    for key, value in entries:
        if key not in ENTRY_KEYS:
            raise ValueError(f"has an external data entry with key {key!r}, which ONNX Runtime does not read")
        if key in ("offset", "length") and not _NUMBER.fullmatch(value):
            raise ValueError(f"has an external data {key} {value!r} that is not a whole number of bytes")
    numbers = {key: int(value) for key, value in entries if key in ("offset", "length")}  # the last of each
    return [ExternalData(value, numbers.get("offset"), numbers.get("length"))
            for key, value in entries if key == "location"]


def external_data(data: bytes | memoryview) -> list[ExternalData]:
    """Every external data reference in the ONNX file `data` (see the module docstring); `ValueError`
    (a phrase after the file's name: 'is not an ONNX file ...') where it cannot tell."""
    view = memoryview(data)
    found: list[ExternalData] = []
    stack = [("model", 0, len(view), 0)]
    while stack:
        kind, start, end, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"is not an ONNX file genmedia can read (messages nested over {MAX_DEPTH} deep)")
        entries: list[tuple[str, str]] = []
        for number, wire, span in _fields(view, start, end):
            child = _CHILDREN.get((kind, number))
            if child is None:
                continue
            if wire != 2:
                raise ValueError(f"is not an ONNX file genmedia can read (field {number} of a {kind} is not a message)")
            if child == "entry":
                entries.append(_entry(view, *span))
            else:
                stack.append((child, span[0], span[1], depth + 1))
        if entries:
            found += _tensor_references(entries)
    return found


@dataclass(frozen=True)
class Node:
    """One node of a graph: its operator and the names of its inputs."""

    op_type: str
    inputs: tuple[str, ...]


def _text(data: memoryview, span: tuple[int, int]) -> str:
    return bytes(data[span[0]:span[1]]).decode("utf-8")


def _float_tensor(data: memoryview, start: int, end: int) -> tuple[str, Any]:
    """A TensorProto's name and its values as a float32 array (raw or packed float data)."""
    import numpy as np

    dims: list[int] = []
    name, kind, raw, floats = "", 1, None, None
    for number, wire, span in _fields(data, start, end):
        if number == 1 and wire == 0:
            dims.append(_varint(data, span[0], span[1])[0])
        elif number == 1 and wire == 2:
            at = span[0]
            while at < span[1]:
                value, at = _varint(data, at, span[1])
                dims.append(value)
        elif number == 2 and wire == 0:
            kind = _varint(data, span[0], span[1])[0]
        elif number == 8 and wire == 2:
            name = _text(data, span)
        elif number == 9 and wire == 2:
            raw = bytes(data[span[0]:span[1]])
        elif number == 4 and wire == 2:
            floats = bytes(data[span[0]:span[1]])
    if kind != 1:
        raise ValueError(f"has weight {name!r} that is not float32")
    values = np.frombuffer(raw if raw is not None else floats or b"", dtype="<f4")
    if values.size != int(np.prod(dims)):
        raise ValueError(f"has weight {name!r} whose data does not fill its shape {dims}")
    return name, values.reshape(dims).astype(np.float32)


def graph_weights(data: bytes | memoryview) -> tuple[dict[str, Any], list[Node]]:
    """The main graph's initializers (float32 arrays by name) and its nodes, read from the ONNX file
    `data` without the onnx package, for code that computes with a model's weights outside ONNX Runtime
    (the melody encoder's refinement). `ValueError` where it cannot read them."""
    view = memoryview(data)
    weights: dict[str, Any] = {}
    nodes: list[Node] = []
    for number, wire, graph in _fields(view, 0, len(view)):
        if number != 7 or wire != 2:
            continue
        for field, kind, span in _fields(view, *graph):
            if field == 5 and kind == 2:
                name, values = _float_tensor(view, *span)
                weights[name] = values
            elif field == 1 and kind == 2:
                op, inputs = "", []
                for f, w, s in _fields(view, *span):
                    if f == 1 and w == 2:
                        inputs.append(_text(view, s))
                    elif f == 4 and w == 2:
                        op = _text(view, s)
                nodes.append(Node(op, tuple(inputs)))
    return weights, nodes
