"""Generic JSON lines (application logs, anything that writes one JSON object a line).

- An object that already looks like ECS (`@timestamp` plus at least one ECS object such
  as `event`, `host`, `log`, `source`...) passes through unchanged, except `@timestamp`
  normalised to UTC `Z` text and top-level dotted ECS keys (`"host.name"`) expanded into
  their objects (ECS allows both spellings; detection reads the nested one).
- Any other object is mapped with `CONTEXT.json_field_map` (configurable: JSON key ->
  ECS field), then a few well-known logger keys (`levelname`, `asctime`, `name`,
  `@t/@l/@m`...); ECS's own keys are ECS too: `@timestamp`, `tags`, a whole ECS object
  (`"labels": {...}`) and dotted keys whose first part is an ECS field set
  (`"event.action": "ssh_login"`) are placed as ECS, objects merged with dotted keys of the
  same set; every other key is kept under the `json` object, so nothing is lost.
- `@timestamp` accepts ISO 8601 text and epoch seconds/milliseconds numbers;
  `log.level` is normalised with `event.severity` (see severity.py).

It is the last JSON parser tried (priority 990): specific JSON formats (journald,
Suricata EVE, Zeek, winlogbeat) come first.
"""

from __future__ import annotations

from collections.abc import Callable
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
    "@timestamp": "@timestamp", "tags": "tags",
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


def _put(event: Event, parts: tuple[str, ...], value: Any) -> bool:
    node = event
    for part in parts[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict):
            return False
        node = nxt
    last = parts[-1]
    if last in node and isinstance(node[last], dict):
        return False
    node[last] = value
    return True


def parse_timestamp(value: Any) -> str | None:
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


# One small handler per kind of target field: (event, extra, key, target parts, value).
# A value a handler cannot place goes to `extra` (kept under `json`), never lost.
_Handler = Callable[[Event, dict, str, tuple[str, ...], Any], None]


def _set_timestamp(event: Event, extra: dict, key: str, parts: tuple[str, ...], value: Any) -> None:
    stamp = parse_timestamp(value)
    if stamp is None:
        extra[key] = value
    else:
        event["@timestamp"] = stamp


def _set_level(event: Event, extra: dict, key: str, parts: tuple[str, ...], value: Any) -> None:
    code: int | None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        level, code = severity.from_number(int(value))
    else:
        found = severity.from_level(str(value))
        if found is None:
            level, code = str(value).lower(), None
        else:
            level, code = found
    _put(event, ("log", "level"), level)
    if code is not None:
        _put(event, ("event", "severity"), code)


def _set_number(event: Event, extra: dict, key: str, parts: tuple[str, ...], value: Any) -> None:
    try:
        _put(event, parts, int(value))
    except (TypeError, ValueError):
        extra[key] = value


def _set_message(event: Event, extra: dict, key: str, parts: tuple[str, ...], value: Any) -> None:
    if not isinstance(value, str) or not _put(event, parts, value):
        extra[key] = value


def _set_object(event: Event, extra: dict, key: str, parts: tuple[str, ...], value: Any) -> None:
    """A whole ECS object (`"host": {...}`): only an object fits there; merged into what
    dotted keys (`"host.ip"`) already placed."""
    if not isinstance(value, dict):
        extra[key] = value
        return
    current = event.get(key)
    if current is None:
        event[key] = value
    elif isinstance(current, dict):
        _merge(current, value)
    else:
        extra[key] = value


def _merge(into: dict, value: dict) -> None:
    """`value`'s keys set in `into`, objects merged key by key (the later value wins)."""
    for name, item in value.items():
        current = into.get(name)
        if isinstance(current, dict) and isinstance(item, dict):
            _merge(current, item)
        else:
            into[name] = item


def expand_dotted(obj: dict) -> dict:
    """`obj` with its top-level dotted ECS keys (`"event.action": x`) placed in their objects
    (`{"event": {"action": x}}`); `obj` itself when it has none. Any other key is unchanged."""
    if not any("." in key and key.split(".", 1)[0] in ECS_OBJECTS for key in obj):
        return obj
    event: dict = {}
    for key, value in obj.items():
        parts = tuple(key.split(".")) if "." in key and key.split(".", 1)[0] in ECS_OBJECTS else (key,)
        node = event
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = node[part] = {} if nxt is None else {"value": nxt}
            node = nxt
        last = parts[-1]
        current = node.get(last)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value)
        elif isinstance(current, dict):
            current["value"] = value  # `"a.b": 1` beside `"a.b.c": 2`: ECS has no such field
        else:
            node[last] = value
    return event


def _set_value(event: Event, extra: dict, key: str, parts: tuple[str, ...], value: Any) -> None:
    if not _put(event, parts, value):
        extra[key] = value


def _target_plan(target: str) -> tuple[_Handler, tuple[str, ...]]:
    if target == "@timestamp":
        return _set_timestamp, (target,)
    if target == "log.level":
        return _set_level, ("log", "level")
    if target.endswith(".port") or target.endswith("status_code") or target.endswith(".pid"):
        return _set_number, tuple(target.split("."))
    if target == "message":
        return _set_message, (target,)
    if target in ECS_OBJECTS:
        return _set_object, (target,)
    return _set_value, tuple(target.split("."))


# memoised per key and per target: both are few in real logs; hostile input with ever new
# keys only stops filling the memo (bounded), it is still parsed
_MEMO_MAX = 4096
_plans: dict[str, tuple[_Handler, tuple[str, ...]]] = {}
_key_targets: dict[str, tuple[str | None, bool]] = {}


def _plan(target: str) -> tuple[_Handler, tuple[str, ...]]:
    plan = _plans.get(target)
    if plan is None:
        plan = _target_plan(target)
        if len(_plans) < _MEMO_MAX:
            _plans[target] = plan
    return plan


def _key_target(key: str) -> tuple[str | None, bool]:
    """(the built-in target of a JSON key, whether the key itself is a dotted ECS name)."""
    found = _key_targets.get(key)
    if found is None:
        found = (_FALLBACK_MAP.get(key), "." in key and key.split(".", 1)[0] in ECS_OBJECTS)
        if len(_key_targets) < _MEMO_MAX:
            _key_targets[key] = found
    return found


def parse_json(obj: dict, text: str, record: RawRecord) -> Event | None:
    if looks_like_ecs(obj):
        event: Event = dict(expand_dotted(obj))
        stamp = parse_timestamp(obj["@timestamp"])
        if stamp is not None:
            event["@timestamp"] = stamp
        return event
    event = {}
    extra: dict = {}
    field_map = CONTEXT.json_field_map  # configurable, so looked up on every key, not memoised
    for key, value in obj.items():
        fallback, dotted = _key_target(key)
        target = field_map.get(key) or fallback
        if isinstance(value, dict) and key in ECS_OBJECTS:
            target = key  # a whole ECS object (`"event": {...}`), whatever the logger-key map says
        elif target is None and dotted and not isinstance(value, dict):
            target = key
        if target is None or value is None or target in event and target in ("@timestamp", "message"):
            extra[key] = value
            continue
        handler, parts = _plan(target)
        handler(event, extra, key, parts, value)
    if extra:
        event["json"] = extra
    if "message" not in event and "msg" in extra and isinstance(extra["msg"], str):
        event["message"] = extra["msg"]
    return event


PARSERS = [Parser("json_lines", "application", "json", parse_json, priority=990)]
