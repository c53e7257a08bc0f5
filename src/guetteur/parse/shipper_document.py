"""Documents that log shippers send to Elasticsearch (`_bulk`) or to an OTLP endpoint.

Filebeat, Winlogbeat, Elastic Agent, Fluent Bit, Vector and Logstash send JSON documents,
usually ECS already; `collect/otlp_logs.py` maps OpenTelemetry log records to the same shape.
The `_bulk` and OTLP routes hand each document over with the hint `shipper_document` and, in
`record.meta`, the index it was sent to (`index`) and an optional parser hint for its raw
line (`message_hint`). A document is one of:

- *a raw line in an envelope*: a `message` (Fluent Bit: `log`) string and nothing parsed
  around it, only what a shipper adds (`agent`, `host`, `log.file.path`, `input`,
  `data_stream`, `event.dataset`, `labels`, `fields`...): a Filebeat `log`/`filestream`
  input, a Filebeat module or an Elastic Agent integration (which leave parsing to
  Elasticsearch's ingest pipelines). Our parsers read the line (hint first, then
  auto-detection) and the envelope is merged around their event: what the line says wins
  (its time, host, user...), the shipper's metadata fills the rest, `event.original` is the
  line, `event.dataset` the parser's (detection routes by it). A line no parser knows keeps
  the envelope and is tagged `unparsed`.
- *a Winlogbeat / Elastic Agent Windows event* (`winlog.event_id`): mapped by the Winlogbeat
  parser (it plays the part of Elasticsearch's pipeline), the envelope merged around it.
- *anything else*: kept as sent, ECS (dotted keys expanded, `@timestamp` normalised) or
  mapped like any JSON line (`json_lines`).

`event.dataset`, when no parser of ours set it: `data_stream.dataset`, else the document's
own `event.dataset`, else the index name (`logs-nginx.access-default` -> `nginx.access`,
`filebeat-9.1.0` -> `filebeat`).
"""

from __future__ import annotations

import re
from typing import Any

from guetteur.model import Event, RawRecord
from guetteur.parse.base import Parser
from guetteur.parse.json_lines import ECS_OBJECTS, expand_dotted, parse_json, parse_timestamp
from guetteur.parse.winlogbeat import parse_winlogbeat

NAME = "shipper_document"

# What shippers put around a raw line; anything else in the document is parsed content.
_ENVELOPE_KEYS = frozenset({
    "@timestamp", "message", "agent", "ecs", "host", "input", "log", "cloud", "container", "data_stream",
    "event", "fields", "tags", "labels", "fileset", "service", "orchestrator", "kubernetes", "stream",
    "beat", "prospector", "offset", "timestamp", "source_type", "file", "docker", "time", "elastic_agent",
})
_ENVELOPE_EVENT_KEYS = frozenset({"dataset", "module", "timezone", "created", "ingested", "agent_id_status",
                                  "original", "kind"})
_ENVELOPE_LOG_KEYS = frozenset({"file", "offset", "flags", "source", "logger"})
_DATA_STREAM_INDEX = re.compile(r"^(?:logs|metrics|traces|synthetics)-(.+)-[^-]+$")
_INDEX_SUFFIX = re.compile(r"(?:-\d+\.\d+\.\d+.*|-\d{4}\.\d{2}\.\d{2}.*|-\d{6,})$")


def raw_line(obj: dict[str, Any]) -> str | None:
    """The raw line a shipper wrapped in `obj`, or None when `obj` holds parsed content."""
    line = obj.get("message")
    if not isinstance(line, str):
        line = obj.get("log")
        if not isinstance(line, str):
            return None
    for key, value in obj.items():
        if key not in _ENVELOPE_KEYS:
            return None
        if key == "event" and (not isinstance(value, dict) or not _ENVELOPE_EVENT_KEYS.issuperset(value)):
            return None
        if key == "log" and isinstance(value, dict) and not _ENVELOPE_LOG_KEYS.issuperset(value):
            return None
    return line


def dataset_of(obj: dict[str, Any], index: str | None) -> str | None:
    """The dataset a shipper declared: `data_stream.dataset`, `event.dataset`, else from the index."""
    stream = obj.get("data_stream")
    if isinstance(stream, dict) and isinstance(stream.get("dataset"), str) and stream["dataset"]:
        return str(stream["dataset"])
    meta = obj.get("event")
    if isinstance(meta, dict) and isinstance(meta.get("dataset"), str) and meta["dataset"]:
        return str(meta["dataset"])
    if not index:
        return None
    found = _DATA_STREAM_INDEX.match(index)
    if found is not None:
        return found.group(1)
    return _INDEX_SUFFIX.sub("", index) or index


def _merge_missing(into: dict[str, Any], envelope: dict[str, Any]) -> None:
    """`envelope`'s values where `into` has none (objects merged key by key: `into` wins)."""
    for key, value in envelope.items():
        current = into.get(key)
        if current is None:
            into[key] = value
        elif isinstance(current, dict) and isinstance(value, dict):
            _merge_missing(current, value)


def _envelope(obj: dict[str, Any], line_key: str) -> dict[str, Any]:
    """The shipper's metadata around a raw line, as ECS: non-ECS keys under `json`."""
    envelope: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        if key == line_key or key == "@timestamp":
            continue
        if key == "host" and isinstance(value, str):  # Vector, Logstash: the host name
            envelope["host"] = {"name": value}
        elif key == "log" and not isinstance(value, dict) or key == "event" and not isinstance(value, dict):
            extra[key] = value
        elif key in ECS_OBJECTS or key == "tags":
            envelope[key] = value
        else:
            extra[key] = value
    if extra:
        envelope["json"] = extra
    return envelope


def _parse_line(obj: dict[str, Any], line: str, record: RawRecord, hint: str | None) -> Event:
    from guetteur.parse import parse_message  # the registry imports this module

    line_key = "message" if isinstance(obj.get("message"), str) else "log"
    envelope = _envelope(expand_dotted(obj), line_key)
    parsed, parser = parse_message(line, record, hint)
    if parsed is None:
        event: Event = {"message": line, **envelope}
        event["tags"] = [*event["tags"], "unparsed"] if isinstance(event.get("tags"), list) else ["unparsed"]
    else:
        event = parsed
        _merge_missing(event, envelope)
    meta = event.get("event")
    if not isinstance(meta, dict):
        meta = event["event"] = {}
    meta["original"] = line
    if parser is not None:
        meta["module"] = parser.family
        meta["dataset"] = parser.name
    if not isinstance(event.get("@timestamp"), str):
        stamp = parse_timestamp(obj.get("@timestamp") or obj.get("timestamp"))
        if stamp is not None:
            event["@timestamp"] = stamp
    return event


def parse_shipper_document(obj: dict[str, Any], text: str, record: RawRecord) -> Event | None:
    meta = record.meta or {}
    index = meta.get("index")
    hint = meta.get("message_hint")
    line = raw_line(obj)
    winlog = obj.get("winlog")
    if line is not None:
        event = _parse_line(obj, line, record, hint if isinstance(hint, str) else None)
    elif isinstance(winlog, dict) and winlog.get("event_id") is not None:
        found = parse_winlogbeat(obj, text, record)
        if found is None:
            return None
        event = found
        _merge_missing(event, {k: v for k, v in expand_dotted(obj).items() if k in ECS_OBJECTS and k != "winlog"})
    else:
        found = parse_json(obj, text, record)
        if found is None:
            return None
        event = found
    dataset = dataset_of(obj, index if isinstance(index, str) else None)
    event_meta = event.get("event")
    if isinstance(event_meta, dict) and dataset and "dataset" not in event_meta:
        event_meta["dataset"] = dataset
        if "module" not in event_meta and "." in dataset:
            event_meta["module"] = dataset.split(".", 1)[0]
    return event


def _hint_only(obj: dict[str, Any]) -> bool:
    return False  # never auto-detected: only the `_bulk` and OTLP routes name it


PARSERS = [Parser(NAME, "application", "json", parse_shipper_document, sniff=_hint_only, priority=995)]
