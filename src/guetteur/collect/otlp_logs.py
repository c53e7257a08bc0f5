"""OpenTelemetry logs (OTLP/HTTP, `POST /v1/logs`): an `ExportLogsServiceRequest` to ECS documents.

Both encodings of the request are read into the same nested dict (JSON as sent, checked
against the schema; protobuf read field by field into the JSON mapping's shape, trace and span
ids as hex), and each log record becomes one ECS document:

- `@timestamp`: `timeUnixNano`, else `observedTimeUnixNano`;
- `log.level` and `event.severity`: `severityText`, else `severityNumber` (1-4 trace,
  5-8 debug, 9-12 info, 13-16 warn, 17-20 error, 21-24 fatal);
- `message`: the body (text; any other value as its JSON text);
- resource and record attributes: ECS names kept where they are ECS (`service.name`,
  `host.name`, `user.id`...; semantic-convention names with an ECS twin renamed:
  `exception.*` -> `error.*`, `code.function` -> `log.origin.function`...); any other under
  `labels` (dots made `_`, values as text);
- `trace.id`, `span.id`, the scope's name as `log.logger`; `data_stream.dataset` from the
  `data_stream.dataset` or `event.dataset` attribute, else `generic.otel` (as the Collector's
  Elasticsearch exporter does).

The documents then go through `parse/shipper_document.py`: a record with nothing but a body
(the Collector's `filelog` receiver without operators) has its line parsed by our parsers.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from guetteur import ecs
from guetteur.errors import GuetteurError
from guetteur.parse import severity
from guetteur.parse.json_lines import ECS_OBJECTS, expand_dotted

DEFAULT_DATASET = "generic.otel"
# semantic-convention names -> ECS (the rest of an ECS-prefixed name is kept as is)
_RENAMED = {
    "exception.type": "error.type", "exception.message": "error.message",
    "exception.stacktrace": "error.stack_trace", "code.function": "log.origin.function",
    "code.filepath": "log.origin.file.name", "code.lineno": "log.origin.file.line",
    "code.function.name": "log.origin.function", "code.file.path": "log.origin.file.name",
    "code.line.number": "log.origin.file.line", "log.file.path": "log.file.path",
    "log.file.name": "log.file.name", "log.iostream": "labels.log_iostream",
    "net.peer.ip": "source.ip", "client.address": "client.address", "enduser.id": "user.id",
    "thread.id": "process.thread.id", "thread.name": "process.thread.name",
    "deployment.environment": "service.environment", "deployment.environment.name": "service.environment",
}
# ECS field sets an attribute may write into directly (not `event`: `event.original`,
# `event.kind`... are ours to set; `event.action`, `event.outcome` are allowed below)
_ECS_PREFIXES = ECS_OBJECTS - {"event", "labels", "data_stream", "ecs", "agent", "log"}
_EVENT_FIELDS = frozenset({"event.action", "event.outcome", "event.category", "event.type", "event.code",
                           "event.dataset", "event.module", "event.provider", "event.reason"})
_SEVERITY_WORDS = ((4, "debug"), (8, "debug"), (12, "info"), (16, "warn"), (20, "error"), (24, "fatal"))


class OtlpError(GuetteurError):
    """The request body is not a valid OTLP logs request."""


def decode_protobuf(body: bytes) -> dict[str, Any]:
    """The request as a dict (the JSON mapping), from its protobuf encoding."""
    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise OtlpError(f"not an OTLP logs request (protobuf): {exc}") from None
    return {"resourceLogs": [
        {"resource": {"attributes": _pb_attributes(resource_logs.resource.attributes)},
         "scopeLogs": [{"scope": {"name": scope_logs.scope.name},
                        "logRecords": [_pb_record(record) for record in scope_logs.log_records]}
                       for scope_logs in resource_logs.scope_logs]}
        for resource_logs in request.resource_logs]}


# The protobuf request read field by field into the JSON mapping's shape (only the fields the
# mapping reads): `json_format.MessageToDict` does the same generically at several times the CPU.

def _pb_record(record: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"timeUnixNano": record.time_unix_nano,
                             "observedTimeUnixNano": record.observed_time_unix_nano,
                             "severityNumber": record.severity_number, "severityText": record.severity_text,
                             "attributes": _pb_attributes(record.attributes)}
    if record.HasField("body"):
        found["body"] = _pb_value(record.body)
    if record.trace_id:
        found["traceId"] = record.trace_id.hex()
    if record.span_id:
        found["spanId"] = record.span_id.hex()
    return found


def _pb_attributes(values: Any) -> list[dict[str, Any]]:
    return [{"key": item.key, "value": _pb_value(item.value)} for item in values]


def _pb_value(value: Any) -> dict[str, Any]:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return {"stringValue": value.string_value}
    if kind == "bool_value":
        return {"boolValue": value.bool_value}
    if kind == "int_value":
        return {"intValue": value.int_value}
    if kind == "double_value":
        return {"doubleValue": value.double_value}
    if kind == "array_value":
        return {"arrayValue": {"values": [_pb_value(v) for v in value.array_value.values]}}
    if kind == "kvlist_value":
        return {"kvlistValue": {"values": _pb_attributes(value.kvlist_value.values)}}
    if kind == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode("ascii")}
    return {}


def decode_json(body: bytes) -> dict[str, Any]:
    """The request as a dict, from its JSON encoding (checked against the protobuf schema)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise OtlpError(f"not an OTLP logs request (JSON): {exc}") from None
    if not isinstance(data, dict):
        raise OtlpError("not an OTLP logs request (JSON): the body is not an object")
    checked = _without_ids(data)
    try:  # the schema check: unknown fields and wrong types are refused
        json_format.ParseDict(checked, ExportLogsServiceRequest(), ignore_unknown_fields=False)
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise OtlpError(f"not an OTLP logs request (JSON): {exc}") from None
    for record in _records_of(data):
        for key in ("traceId", "spanId"):
            value = record.get(key)
            if value is not None and (not isinstance(value, str) or not _is_hex(value)):
                raise OtlpError(f"{key} must be hex text")
    return data


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def _without_ids(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of `data` without trace/span ids (hex in OTLP JSON, base64 for `ParseDict`)."""
    copied: dict[str, Any] = orjson.loads(orjson.dumps(data))
    for record in _records_of(copied):
        record.pop("traceId", None)
        record.pop("spanId", None)
    return copied


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _records_of(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource_logs in _list(data.get("resourceLogs")):
        if isinstance(resource_logs, dict):
            for scope_logs in _list(resource_logs.get("scopeLogs")):
                if isinstance(scope_logs, dict):
                    yield from (r for r in _list(scope_logs.get("logRecords")) if isinstance(r, dict))


def any_value(value: Any) -> Any:
    """An OTLP `AnyValue` (its JSON mapping) as a plain value."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "doubleValue" in value:
        return value["doubleValue"]
    if "arrayValue" in value:
        return [any_value(v) for v in _list((value["arrayValue"] or {}).get("values"))]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values"))
    if "bytesValue" in value:
        return value["bytesValue"]  # base64 text already
    return None


def attributes(values: Any) -> dict[str, Any]:
    """A `KeyValue` list as a dict."""
    found: dict[str, Any] = {}
    for item in _list(values):
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            found[item["key"]] = any_value(item.get("value"))
    return found


def _place(document: dict[str, Any], labels: dict[str, str], name: str, value: Any) -> None:
    """One attribute: into its ECS field when it has one, else into `labels`."""
    if value is None:
        return
    target = _RENAMED.get(name, name)
    prefix = target.split(".", 1)[0]
    if target.startswith("labels."):
        labels[target[7:]] = value if isinstance(value, str) else orjson.dumps(value).decode()
    elif "." in target and (prefix in _ECS_PREFIXES or target in _EVENT_FIELDS or prefix == "log"):
        document[target] = value
    else:
        labels[name.replace(".", "_")] = value if isinstance(value, str) else orjson.dumps(value).decode()


def _nanos_iso(value: Any) -> str | None:
    try:
        nanos = int(value)
    except (TypeError, ValueError):
        return None
    if nanos <= 0:
        return None
    return ecs.iso_utc(nanos / 1e9)


def _level(record: dict[str, Any]) -> tuple[str, int] | None:
    text = record.get("severityText")
    if isinstance(text, str) and text and (found := severity.from_level(text)) is not None:
        return found
    number = record.get("severityNumber")
    if isinstance(number, str):  # enum names in the JSON mapping of protobuf
        number = number.removeprefix("SEVERITY_NUMBER_")
        word = number.split("_")[0].rstrip("0123456789").lower()
        return severity.from_level(word)
    if isinstance(number, int) and number > 0:
        for top, word in _SEVERITY_WORDS:
            if number <= top:
                return severity.from_level(word)
    return None


def documents(data: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The ECS documents of a decoded request, one per log record, in order, and how many
    records were rejected: an empty record (no body, no attributes, no severity) says nothing."""
    found: list[dict[str, Any]] = []
    rejected = 0
    for resource_logs in _list(data.get("resourceLogs")):
        if not isinstance(resource_logs, dict):
            continue
        resource = attributes((resource_logs.get("resource") or {}).get("attributes"))
        for scope_logs in _list(resource_logs.get("scopeLogs")):
            if not isinstance(scope_logs, dict):
                continue
            scope = scope_logs.get("scope") or {}
            for record in _list(scope_logs.get("logRecords")):
                if not isinstance(record, dict) or not any(record.get(k) for k in _CONTENT):
                    rejected += 1
                    continue
                found.append(document(record, resource, scope if isinstance(scope, dict) else {}))
    return found, rejected


_CONTENT = ("body", "attributes", "severityText", "severityNumber")


def document(record: dict[str, Any], resource: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    """One log record as an ECS document (see the module docstring)."""
    flat: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for name, value in resource.items():
        _place(flat, labels, name, value)
    own = attributes(record.get("attributes"))
    for name, value in own.items():
        _place(flat, labels, name, value)
    dataset = own.get("data_stream.dataset") or own.get("event.dataset") or resource.get("data_stream.dataset")
    flat.pop("event.dataset", None)
    labels.pop("data_stream_dataset", None)
    stamp = _nanos_iso(record.get("timeUnixNano")) or _nanos_iso(record.get("observedTimeUnixNano"))
    if stamp is not None:
        flat["@timestamp"] = stamp
    level = _level(record)
    if level is not None:
        flat["log.level"], flat["event.severity"] = level
    body = any_value(record.get("body"))
    if isinstance(body, str):
        flat["message"] = body
    elif body is not None:
        flat["message"] = orjson.dumps(body).decode()
    if record.get("traceId"):
        flat["trace.id"] = record["traceId"]
    if record.get("spanId"):
        flat["span.id"] = record["spanId"]
    if isinstance(scope.get("name"), str) and scope["name"]:
        flat["log.logger"] = scope["name"]
    if labels:
        flat["labels"] = labels
    flat["data_stream"] = {"type": "logs", "dataset": dataset if isinstance(dataset, str) and dataset
                           else DEFAULT_DATASET, "namespace": "default"}
    return expand_dotted(flat)


def check_body_type(content_type: str) -> str:
    """`protobuf` or `json` for an OTLP/HTTP content type; OtlpError for any other."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-protobuf":
        return "protobuf"
    if media == "application/json":
        return "json"
    raise OtlpError(f"Content-Type {media or '(none)'!r} is not OTLP: send application/x-protobuf or "
                    "application/json")


def decode(kind: str, body: bytes) -> tuple[list[dict[str, Any]], int]:
    """The ECS documents of a request body of `kind` (`check_body_type`) and the number of
    records rejected (`documents`). OtlpError when the body is not a logs request. CPU-bound:
    call it in a thread."""
    data = decode_protobuf(body) if kind == "protobuf" else decode_json(body)
    return documents(data)
