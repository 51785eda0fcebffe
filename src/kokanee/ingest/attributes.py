"""Attribute values as the exporter stores them: pcommon `Value.AsString`, and Map columns.

Attributes reach the decoders as serialized KeyValue bytes (see `wire`); `AttrCache` turns each
distinct one into a (key, string value) pair once per request, since most attribute pairs
(`http.method=GET`, `service.name=cart`) repeat across the spans of a request.
"""

from __future__ import annotations

import base64
import gc
import json
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf.message import DecodeError as ProtoDecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from kokanee.ingest.types import DecodeError

MAP_TYPE = pa.map_(pa.string(), pa.string())


def format_double(x: float) -> str:
    """Go's strconv.FormatFloat(x, 'f', -1, 64): shortest round-trip digits, never an exponent."""
    text = repr(x)
    if "e" not in text and "n" not in text:  # plain digits already (inf/nan contain an 'n')
        return text[:-2] if text.endswith(".0") else text
    if math.isfinite(x):
        text = format(Decimal(text), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    if math.isnan(x):
        return "NaN"
    return "+Inf" if x > 0 else "-Inf"


def _json_double(x: float) -> str:
    # encoding/json: 'f' format, except exponent form outside [1e-6, 1e21) with "e-07" cut to "e-7".
    if not math.isfinite(x):
        raise ValueError("json: unsupported value")
    ax = abs(x)
    if ax != 0 and (ax < 1e-6 or ax >= 1e21):
        text = repr(x)
        mantissa, _, exponent = text.partition("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        return f"{mantissa}e{sign}{digits}"
    return format_double(x)


def _json_string(s: str) -> str:
    # Go escapes HTML-significant characters and line separators; Python does not.
    text = json.dumps(s, ensure_ascii=False)
    if any(c in s for c in "<>&\u2028\u2029"):
        for c, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(c, esc)
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text


def _json_value(v: AnyValue) -> str:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return _json_string(v.string_value)
    if kind == "int_value":
        return str(v.int_value)
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "double_value":
        return _json_double(v.double_value)
    if kind == "bytes_value":
        return _json_string(base64.b64encode(v.bytes_value).decode("ascii"))
    if kind == "array_value":
        return "[" + ",".join(_json_value(x) for x in v.array_value.values) + "]"
    if kind == "kvlist_value":
        # AsRaw builds a Go map: the last duplicate wins and json.Marshal sorts the keys.
        items = {kv.key: kv.value for kv in v.kvlist_value.values}
        return "{" + ",".join(f"{_json_string(k)}:{_json_value(items[k])}" for k in sorted(items)) + "}"
    return "null"


def any_value_to_str(v: AnyValue) -> str:
    """pcommon Value.AsString: ints decimal, bools true/false, bytes base64, arrays/maps JSON."""
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return str(v.int_value)
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "double_value":
        return format_double(v.double_value)
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    if kind is None:
        return ""
    try:
        return _json_value(v)
    except ValueError:
        return ""  # json.Marshal fails on NaN/Inf and pcommon then returns ""


def _short_string_pair(raw: bytes) -> tuple[str, str] | None:
    """Read `{key: k, value: {string_value: v}}` with k, v under 128 bytes straight off the wire
    (one-byte lengths); most unique attributes (urls, ids) are that, and upb is 3x slower."""
    n = len(raw)
    if n < 6 or raw[0] != 0x0A or raw[1] > 127:
        return None
    p = raw[1] + 2
    if p + 4 > n or raw[p] != 0x12 or raw[p + 2] != 0x0A:
        return None
    if raw[p + 1] != n - p - 2 or raw[p + 3] != n - p - 4 or n - p - 2 > 127:
        return None
    try:
        return raw[2:p].decode(), raw[p + 4 :].decode()
    except UnicodeDecodeError:
        return None  # upb raises the parse error


class AttrCache(dict[bytes, int]):
    """Serialized KeyValue → index of its (key, value string) pair, memoized for one request.

    Lookups go through the dict's C `__getitem__` (e.g. ``idx.extend(map(cache.__getitem__,
    span.attributes))``), so an attribute seen before costs no Python bytecode; only a new one
    reaches `__missing__`. Map columns are then built by `take` from the unique pairs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pair_keys: list[str] = []
        self.pair_values: list[str] = []

    def __missing__(self, raw: bytes) -> int:
        pair = _short_string_pair(raw)
        if pair is None:
            try:
                kv = KeyValue.FromString(raw)
            except ProtoDecodeError as exc:
                raise DecodeError(f"malformed attribute in protobuf request: {exc}") from exc
            pair = (kv.key, any_value_to_str(kv.value))
        index = len(self.pair_keys)
        self.pair_keys.append(pair[0])
        self.pair_values.append(pair[1])
        self[raw] = index
        return index

    def value_of(self, raws: Iterable[bytes], key: str) -> str:
        """The string value of `key` in one attribute list ('' if absent), e.g. service.name."""
        result = ""
        for raw in raws:
            index = self[raw]
            if self.pair_keys[index] == key:
                result = self.pair_values[index]
        return result

    def map_array(self, offsets: list[int], pairs: list[int]) -> pa.Array:
        """A Map(String, String) column from pair indices and per-row offsets (len rows+1)."""
        take = pa.array(pairs, pa.int32())
        return pa.MapArray.from_arrays(
            pa.array(offsets, pa.int32()),
            pa.array(self.pair_keys, pa.string()).take(take),
            pa.array(self.pair_values, pa.string()).take(take),
        )


def map_array(offsets: list[int], keys: list[str], values: list[str]) -> pa.Array:
    """A Map(String, String) column from flattened keys/values and per-row offsets (len rows+1)."""
    return pa.MapArray.from_arrays(
        pa.array(offsets, pa.int32()), pa.array(keys, pa.string()), pa.array(values, pa.string())
    )


def lists_array(offsets: list[int], items: pa.Array) -> pa.Array:
    """An Array(T) column (or a Nested sub-column) from flattened items and per-row offsets."""
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), items)


def hex_ids(ids: list[bytes]) -> pa.Array:
    """Lowercase hex strings of ids, hexed in one call instead of one `.hex()` per row."""
    binary = pa.array(ids, pa.binary())
    if len(binary) == 0:
        return pa.array([], pa.string())
    as_ints = pa.Array.from_buffers(pa.int32(), len(binary) + 1, [None, binary.buffers()[1]])
    doubled = pc.multiply(as_ints, pa.scalar(2, pa.int32()))
    data = binary.buffers()[2]
    hexed = pa.py_buffer((data.to_pybytes() if data is not None else b"").hex().encode("ascii"))
    return pa.Array.from_buffers(pa.string(), len(binary), [None, doubled.buffers()[1], hexed])


@contextmanager
def paused_gc() -> Iterator[None]:
    """Keep the cyclic GC out of a decode: it allocates no cycles, and the collector's passes
    over the many small objects it creates cost ~40% of decode time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
