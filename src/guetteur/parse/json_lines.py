"""Generic JSON lines (application logs, anything that writes one JSON object a line).

- An object that already looks like ECS (`@timestamp` plus at least one ECS object such
  as `event`, `host`, `log`, `source`...) passes through unchanged, except `@timestamp`
  normalised to UTC `Z` text.
- Any other object is mapped with `CONTEXT.json_field_map` (configurable: JSON key ->
  ECS field), then a few well-known logger keys (`levelname`, `asctime`, `name`,
  `@t/@l/@m`...); dotted keys whose first part is an ECS field set are placed as ECS;
  every other key is kept under the `json` object, so nothing is lost.
- `@timestamp` accepts ISO 8601 text and epoch seconds/milliseconds numbers;
  `log.level` is normalised with `event.severity` (see severity.py).

It is the last JSON parser tried (priority 990): specific JSON formats (journald,
Suricata EVE, Zeek, winlogbeat) come first.
"""

from __future__ import annotations

from typing import Any

from guetteur.model import Event, RawRecord
from guetteur.parse import severity, timefmt
from guetteur.parse.base import Parser
from guetteur.parse.context import CONTEXT

ECS_OBJECTS = frozenset({
    "agent", "as", "client", "cloud", "container", "data_stream", "destination", "dns", "ecs", "email",
    "error", "event", "file", "group", "host", "http", "log", "network", "observer", "orchestrator",
    "organization", "package", "process", "registry", "related", "rule", "server", "service", "source",
    "threat", "tls", "url", "user", "user_agent", "vulnerability", "winlog", "labels", "trace", "span",
    "transaction",
})
_FALLBACK_MAP = {
    "levelname": "log.level", "loglevel": "log.level", "lvl": "log.level", "@l": "log.level",
    "asctime": "@timestamp", "@t": "@timestamp", "datetime": "@timestamp", "date": "@timestamp",
    "created": "@timestamp", "message": "message", "@m": "message", "@mt": "message",
    "name": "log.logger", "logger_name": "log.logger", "process": "process.pid", "pid": "process.pid",
    "thread": "process.thread.id", "threadName": "process.thread.name", "exc_info": "error.stack_trace",
    "stack_trace": "error.stack_trace", "ip": "source.ip", "remote_addr": "source.ip",
    "method": "http.request.method", "status": "http.response.status_code",
    "status_code": "http.response.status_code", "path": "url.path", "url": "url.original",
    "user_agent": "user_agent.original", "event": "event.action",
}


def _put(event: Event, path: str, value: Any) -> bool:
    node = event
    parts = path.split(".")
    for part in parts[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict):
            return False
        node = nxt
    if parts[-1] in node and isinstance(node[parts[-1]], dict):
        return False
    node[parts[-1]] = value
    return True


def _timestamp(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return timefmt.epoch(value)
    if isinstance(value, str):
        if value.replace(".", "", 1).isdigit():
            return timefmt.epoch(value)
        return timefmt.iso(value)
    return None


def looks_like_ecs(obj: dict) -> bool:
    if "@timestamp" not in obj:
        return False
    return any(isinstance(obj.get(k), dict) for k in ("event", "host", "log", "source", "user", "process",
                                                        "ecs", "agent", "destination", "url", "http"))


def parse_json(obj: dict, text: str, record: RawRecord) -> Event | None:
    if looks_like_ecs(obj):
        event: Event = dict(obj)
        stamp = _timestamp(obj["@timestamp"])
        if stamp is not None:
            event["@timestamp"] = stamp
        return event
    event = {}
    extra: dict = {}
    field_map = CONTEXT.json_field_map
    for key, value in obj.items():
        target = field_map.get(key) or _FALLBACK_MAP.get(key)
        if target is None and "." in key and key.split(".", 1)[0] in ECS_OBJECTS and not isinstance(value, dict):
            target = key
        if target is None or value is None or target in event and target in ("@timestamp", "message"):
            extra[key] = value
            continue
        if target == "@timestamp":
            stamp = _timestamp(value)
            if stamp is None:
                extra[key] = value
                continue
            event["@timestamp"] = stamp
        elif target == "log.level":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                level, code = severity.from_number(int(value))
            else:
                found = severity.from_level(str(value))
                if found is None:
                    level, code = str(value).lower(), None
                else:
                    level, code = found
            _put(event, "log.level", level)
            if code is not None:
                _put(event, "event.severity", code)
        elif target.endswith(".port") or target.endswith("status_code") or target.endswith(".pid"):
            try:
                _put(event, target, int(value))
            except (TypeError, ValueError):
                extra[key] = value
        elif target == "message" and not isinstance(value, str):
            extra[key] = value
        elif target in ECS_OBJECTS and not isinstance(value, dict):
            extra[key] = value
        elif not _put(event, target, value):
            extra[key] = value
    if extra:
        event["json"] = extra
    if "message" not in event and "msg" in extra and isinstance(extra["msg"], str):
        event["message"] = extra["msg"]
    return event


PARSERS = [Parser("json_lines", "application", "json", parse_json, priority=990)]
