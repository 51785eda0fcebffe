"""OTLP protobuf flattened by ClickHouse itself: the fast path for traces and logs.

ClickHouse reads a batch of Export*ServiceRequest messages (length-delimited `Protobuf`
format, schema passed inline with `format_schema_source='string'`) and one INSERT ... SELECT
with ARRAY JOIN turns them into exporter-schema rows. The work runs in C++, outside Python's
GIL, at several times the speed of flattening in Python.

The schema below is OTLP's own, trimmed to the fields kokanee stores, with nested attribute
values one level deep (an array or map of scalars, which is what instrumentation emits);
values nested deeper are stored as ''. Item validity is `kokanee.ingest.validate`'s, so the
items counted as accepted in the response are exactly the rows inserted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

PROTO_SCHEMA = """
syntax = "proto3";
message Leaf {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    bytes array_value = 5; bytes kvlist_value = 6; bytes bytes_value = 7;
  }
}
message LeafKeyValue { string key = 1; Leaf value = 2; }
message ArrayValue { repeated Leaf values = 1; }
message KeyValueList { repeated LeafKeyValue values = 1; }
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4; }
message Status { string message = 2; int32 code = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; string name = 5;
  int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; repeated Event events = 11; repeated Link links = 13; Status status = 15;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message LogRecord {
  fixed64 time_unix_nano = 1; int32 severity_number = 2; string severity_text = 3; AnyValue body = 5;
  repeated KeyValue attributes = 6; fixed32 flags = 8; bytes trace_id = 9; bytes span_id = 10;
  fixed64 observed_time_unix_nano = 11; string event_name = 12;
}
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; string schema_url = 3; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; string schema_url = 3; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
"""

_LEAF = (
    "string_value String, bool_value Bool, int_value Int64, double_value Float64, bytes_value String, "
    "value Enum8('none' = 0, 's' = 1, 'b' = 2, 'i' = 3, 'd' = 4, 'a' = 5, 'kv' = 6, 'by' = 7)"
)
_ANY = (
    f"Tuple(string_value String, bool_value Bool, int_value Int64, double_value Float64, bytes_value String, "
    f"array_value Tuple(values Array(Tuple({_LEAF}))), "
    f"kvlist_value Tuple(values Array(Tuple(key String, value Tuple({_LEAF})))), "
    f"value Enum8('none' = 0, 's' = 1, 'b' = 2, 'i' = 3, 'd' = 4, 'a' = 5, 'kv' = 6, 'by' = 7))"
)
_KV = f"Array(Tuple(key String, value {_ANY}))"
_SCOPE = f"scope Tuple(name String, version String, attributes {_KV})"

_STRUCTURES = {
    "traces": (
        f"resource_spans Array(Tuple(resource Tuple(attributes {_KV}), schema_url String, "
        f"scope_spans Array(Tuple({_SCOPE}, schema_url String, spans Array(Tuple("
        "trace_id String, span_id String, trace_state String, parent_span_id String, name String, kind Int32, "
        f"start_time_unix_nano UInt64, end_time_unix_nano UInt64, attributes {_KV}, "
        f"events Array(Tuple(time_unix_nano UInt64, name String, attributes {_KV})), "
        f"links Array(Tuple(trace_id String, span_id String, trace_state String, attributes {_KV})), "
        "status Tuple(message String, code Int32)))))))"
    ),
    "logs": (
        f"resource_logs Array(Tuple(resource Tuple(attributes {_KV}), schema_url String, "
        f"scope_logs Array(Tuple({_SCOPE}, schema_url String, log_records Array(Tuple("
        f"time_unix_nano UInt64, severity_number Int32, severity_text String, body {_ANY}, attributes {_KV}, "
        "flags UInt32, trace_id String, span_id String, observed_time_unix_nano UInt64, event_name String))))))"
    ),
}

_MESSAGES = {"traces": "ExportTraceServiceRequest", "logs": "ExportLogsServiceRequest"}
NATIVE_SIGNALS = frozenset(_STRUCTURES)

# DateTime64(9) holds Int64 nanoseconds: the last instant is in 2262.
_MAX_NS = "9223372036854775807"


def _double(x: str) -> str:
    """Go's strconv.FormatFloat(x, 'f', -1, 64), as pcommon renders doubles: shortest round-trip
    digits, never an exponent. ClickHouse's toString is shortest round-trip with exponents, so
    the exponent form is expanded by moving the decimal point."""
    digits = "replaceAll(m, '.', '')"
    point = "(if(position(m, '.') > 0, position(m, '.') - 1, length(m)) + e)"
    expand = f"""concat(if(neg, '-', ''), multiIf(
        {point} <= 0, concat('0.', repeat('0', toUInt64(-{point})), {digits}),
        {point} >= length({digits}), concat({digits}, repeat('0', toUInt64({point} - length({digits})))),
        concat(left({digits}, {point}), '.', substring({digits}, {point} + 1))))"""
    unsigned = f"if(startsWith(toString({x}), '-'), substring(toString({x}), 2), toString({x}))"
    return f"""multiIf(
        isNaN({x}), 'NaN',
        isInfinite({x}), if({x} > 0, '+Inf', '-Inf'),
        position(toString({x}), 'e') = 0, toString({x}),
        arrayMap((neg, m, e) -> {expand},
            [{x} < 0],
            [splitByChar('e', {unsigned})[1]],
            [toInt32(splitByChar('e', {unsigned})[2])])[1])"""


def _json_leaf(v: str) -> str:
    """A scalar as JSON, the way pcommon's AsString renders slices and maps (Go's encoding/json:
    HTML-safe escapes, map keys sorted)."""
    return f"""multiIf(
        {v}.value = 's', replaceAll(replaceAll(replaceAll(toJSONString({v}.string_value), '<', '\\\\u003c'),
            '>', '\\\\u003e'), '&', '\\\\u0026'),
        {v}.value = 'i', toString({v}.int_value),
        {v}.value = 'd', toString({v}.double_value),
        {v}.value = 'b', if({v}.bool_value, 'true', 'false'),
        {v}.value = 'by', concat('"', base64Encode({v}.bytes_value), '"'),
        'null')"""


def _value(v: str) -> str:
    """An AnyValue as the string the exporter stores (pcommon Value.AsString)."""
    return f"""multiIf(
        {v}.value = 's', {v}.string_value,
        {v}.value = 'i', toString({v}.int_value),
        {v}.value = 'd', {_double(v + ".double_value")},
        {v}.value = 'b', if({v}.bool_value, 'true', 'false'),
        {v}.value = 'by', base64Encode({v}.bytes_value),
        {v}.value = 'a', concat('[', arrayStringConcat(arrayMap(x -> {_json_leaf("x")}, {v}.array_value.values), ','), ']'),
        {v}.value = 'kv', concat('{{', arrayStringConcat(arrayMap(x -> concat(toJSONString(x.key), ':',
            {_json_leaf("x.value")}), arraySort(x -> x.key, {v}.kvlist_value.values)), ','), '}}'),
        '')"""


def _attrs(a: str, value: Callable[[str], str] = _value) -> str:
    return f"mapFromArrays(arrayMap(kv -> kv.key, {a}), arrayMap(kv -> {value('kv.value')}, {a}))"


# The embedded insert calls these SQL functions instead of spelling the rendering out at each use.
# ClickHouse parses an insert's text every time (~30 ms of CPU for the 17.8k characters of the spans
# insert, an eighth of an insert's fixed cost: docs/performance-history.md), a function's body once,
# when it is created; the query it expands into is the same. A server keeps the inline text (its
# parse is its own CPU, and creating functions there is a privilege a writer need not have).
def _called_value(v: str) -> str:
    return f"kokanee_otlp_value({v})"


def _called_attrs(a: str) -> str:
    return f"kokanee_otlp_attributes({a})"


FUNCTIONS = {
    "kokanee_otlp_value": f"v -> {_value('v')}",
    "kokanee_otlp_attributes": f"a -> {_attrs('a', _called_value)}",
}


def create_functions() -> list[str]:
    """Statements that (re)define `FUNCTIONS`, so a store always has this version's rendering."""
    return [f"CREATE OR REPLACE FUNCTION {name} AS {body}" for name, body in FUNCTIONS.items()]


def _ns(expr: str) -> str:
    return f"fromUnixTimestamp64Nano(toInt64({expr}))"


def _selects(attrs: Callable[[str], str], value: Callable[[str], str]) -> dict[str, str]:
    """Each signal's flattening SELECT, attributes and values rendered by `attrs` and `value`."""
    return {
        "traces": f"""
    SELECT
        {_ns("s.start_time_unix_nano")} AS Timestamp,
        lower(hex(s.trace_id)) AS TraceId, lower(hex(s.span_id)) AS SpanId, lower(hex(s.parent_span_id)) AS ParentSpanId,
        s.trace_state AS TraceState, s.name AS SpanName,
        ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'][least(greatest(s.kind, 0), 5) + 1] AS SpanKind,
        ResourceAttributes['service.name'] AS ServiceName,
        {attrs("rs.resource.attributes")} AS ResourceAttributes,
        ss.scope.name AS ScopeName, ss.scope.version AS ScopeVersion,
        {attrs("s.attributes")} AS SpanAttributes,
        s.end_time_unix_nano - s.start_time_unix_nano AS Duration,
        ['Unset', 'Ok', 'Error'][least(greatest(s.status.code, 0), 2) + 1] AS StatusCode,
        s.status.message AS StatusMessage,
        arrayMap(e -> {_ns("e.time_unix_nano")}, s.events) AS `Events.Timestamp`,
        arrayMap(e -> e.name, s.events) AS `Events.Name`,
        arrayMap(e -> {attrs("e.attributes")}, s.events) AS `Events.Attributes`,
        arrayMap(l -> lower(hex(l.trace_id)), s.links) AS `Links.TraceId`,
        arrayMap(l -> lower(hex(l.span_id)), s.links) AS `Links.SpanId`,
        arrayMap(l -> l.trace_state, s.links) AS `Links.TraceState`,
        arrayMap(l -> {attrs("l.attributes")}, s.links) AS `Links.Attributes`
    FROM {{source}}
    ARRAY JOIN resource_spans AS rs ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS s
    WHERE length(s.trace_id) = 16 AND s.trace_id != repeat('\\0', 16)
      AND length(s.span_id) = 8 AND s.span_id != repeat('\\0', 8)
      AND length(s.parent_span_id) IN (0, 8)
      AND s.start_time_unix_nano > 0 AND s.end_time_unix_nano >= s.start_time_unix_nano
      AND s.end_time_unix_nano <= {_MAX_NS}
      AND arrayAll(e -> e.time_unix_nano <= {_MAX_NS}, s.events)
    """,
        "logs": f"""
    SELECT
        {_ns("if(r.time_unix_nano > 0, r.time_unix_nano, r.observed_time_unix_nano)")} AS Timestamp,
        lower(hex(r.trace_id)) AS TraceId, lower(hex(r.span_id)) AS SpanId,
        bitAnd(r.flags, 255) AS TraceFlags,
        r.severity_text AS SeverityText, toUInt8(least(greatest(r.severity_number, 0), 255)) AS SeverityNumber,
        ResourceAttributes['service.name'] AS ServiceName,
        {value("r.body")} AS Body,
        rl.schema_url AS ResourceSchemaUrl,
        {attrs("rl.resource.attributes")} AS ResourceAttributes,
        sl.schema_url AS ScopeSchemaUrl, sl.scope.name AS ScopeName, sl.scope.version AS ScopeVersion,
        {attrs("sl.scope.attributes")} AS ScopeAttributes,
        {attrs("r.attributes")} AS LogAttributes,
        r.event_name AS EventName
    FROM {{source}}
    ARRAY JOIN resource_logs AS rl ARRAY JOIN rl.scope_logs AS sl ARRAY JOIN sl.log_records AS r
    WHERE length(r.trace_id) IN (0, 16) AND length(r.span_id) IN (0, 8)
      AND if(r.time_unix_nano > 0, r.time_unix_nano, r.observed_time_unix_nano) <= {_MAX_NS}
    """,
    }


_SELECT = _selects(_attrs, _value)  # a server's: the rendering inline
_SELECT_EMBEDDED = _selects(_called_attrs, _called_value)  # chDB's: through FUNCTIONS


_COLUMNS = {
    "traces": (
        "Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName, "
        "ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage, "
        "`Events.Timestamp`, `Events.Name`, `Events.Attributes`, `Links.TraceId`, `Links.SpanId`, "
        "`Links.TraceState`, `Links.Attributes`"
    ),
    "logs": (
        "Timestamp, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, ServiceName, Body, "
        "ResourceSchemaUrl, ResourceAttributes, ScopeSchemaUrl, ScopeName, ScopeVersion, ScopeAttributes, "
        "LogAttributes, EventName"
    ),
}
TABLES = {"traces": "otel_traces", "logs": "otel_logs"}


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def format_settings(signal: str) -> dict[str, str | int]:
    return {
        "format_schema_source": "string",
        "format_schema": PROTO_SCHEMA,
        "format_schema_message_name": _MESSAGES[signal],
        "input_format_protobuf_oneof_presence": 1,
        # Maps and arrays render as Go's encoding/json does, which leaves '/' alone.
        "output_format_json_escape_forward_slashes": 0,
    }


def insert_from_file(signal: str, path: str, settings: Mapping[str, str | int] | None = None) -> str:
    """INSERT ... SELECT reading a length-delimited batch from a file (the embedded engine).

    `settings` are written into the statement: passed beside it, clickhouse-connect's chDB
    backend reads, SETs and restores each one as a query of its own (~25 ms of CPU an insert).
    """
    source = f"file({_quote(path)}, 'Protobuf', {_quote(_STRUCTURES[signal])})"
    select = _SELECT_EMBEDDED[signal].replace("{source}", source)
    clause = f" SETTINGS {_settings_clause(settings)}" if settings else ""
    return f"INSERT INTO {TABLES[signal]} ({_COLUMNS[signal]}){clause} {select}"


def _settings_clause(settings: Mapping[str, str | int]) -> str:
    for name in settings:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a setting name: {name!r}")
    return ", ".join(f"{k} = {int(v) if isinstance(v, int) else _quote(v)}" for k, v in settings.items())


def insert_from_input(signal: str) -> str:
    """INSERT ... SELECT reading the batch from the request body (a ClickHouse server)."""
    source = f"input({_quote(_STRUCTURES[signal])})"
    select = _SELECT[signal].replace("{source}", source)
    return f"INSERT INTO {TABLES[signal]} ({_COLUMNS[signal]}) {select} FORMAT Protobuf"


def length_delimited(payloads: list[bytes]) -> bytes:
    """Messages framed the way ClickHouse's `Protobuf` format reads them: varint length, bytes."""
    out = bytearray()
    for payload in payloads:
        n = len(payload)
        while n > 0x7F:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
        out += payload
    return bytes(out)
