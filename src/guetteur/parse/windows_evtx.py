"""Windows events as EVTX JSON: `{"Event": {"System": {...}, "EventData": {...}}}`.

This is what `evtx` (pyevtx-rs, `collect/evtx.py`) and `evtx_dump -o json` emit, and
the shape of SigmaHQ's regression `.json` files. XML attributes sit under
`#attributes`, element text under `#text`; numbers come as JSON numbers and are turned
back into the text the XML held, so `winlog.event_data` keeps Windows' own strings.
"""

from __future__ import annotations

from typing import Any

import orjson

from guetteur.model import Event, RawRecord
from guetteur.parse.base import Parser
from guetteur.parse.windows_ecs import WinSystem, build, to_text, windows_time

MAX_JSON_BYTES = 1_048_576  # as the registry's bound for JSON records


def _attr(node: Any, name: str) -> Any:
    if isinstance(node, dict):
        attrs = node.get("#attributes")
        if isinstance(attrs, dict):
            return attrs.get(name)
    return None


def _text(node: Any) -> str:
    if isinstance(node, dict):
        return to_text(node.get("#text"))
    return to_text(node)


def system_from_json(sys: dict[str, Any]) -> WinSystem:
    """The `WinSystem` of an EVTX JSON `System` object."""
    out: WinSystem = {"event_id": _text(sys.get("EventID"))}
    provider = sys.get("Provider")
    if (name := _attr(provider, "Name")) is not None:
        out["provider"] = str(name)
    if (guid := _attr(provider, "Guid")) is not None:
        guid = str(guid)
        out["provider_guid"] = guid if guid.startswith("{") else "{" + guid.lower() + "}"
    if (channel := sys.get("Channel")) is not None:
        out["channel"] = _text(channel)
    if (computer := sys.get("Computer")) is not None:
        out["computer"] = _text(computer)
    if (record := sys.get("EventRecordID")) is not None:
        out["record_id"] = _text(record)
    if (when := _attr(sys.get("TimeCreated"), "SystemTime")) is not None:
        stamp = windows_time(str(when))
        if stamp is not None:
            out["time"] = stamp
    for key, field in (("Level", "level"), ("Task", "task"), ("Opcode", "opcode")):
        value = sys.get(key)
        if value is not None:
            out[field] = _text(value)  # type: ignore[literal-required]
    keywords = sys.get("Keywords")
    if isinstance(keywords, str):
        try:
            out["keywords"] = int(keywords, 16)
        except ValueError:
            pass
    version = sys.get("Version")
    if isinstance(version, int):
        out["version"] = version
    execution = sys.get("Execution")
    pid = _attr(execution, "ProcessID")
    if isinstance(pid, int):
        out["pid"] = pid
    tid = _attr(execution, "ThreadID")
    if isinstance(tid, int):
        out["tid"] = tid
    if (sid := _attr(sys.get("Security"), "UserID")) is not None:
        out["user_sid"] = str(sid)
    if (activity := _attr(sys.get("Correlation"), "ActivityID")) is not None:
        out["activity_id"] = str(activity)
    return out


def event_data_from_json(data: Any) -> dict[str, str]:
    """EventData name -> text. Unnamed `<Data>` values become param1..N (as Winlogbeat names them)."""
    if not isinstance(data, dict):
        return {}
    out: dict[str, str] = {}
    for key, value in data.items():
        if key == "#attributes":
            continue
        if key == "Data" or key == "#text":
            values = value.get("#text") if isinstance(value, dict) else value
            if not isinstance(values, list):
                values = [values]
            for i, item in enumerate(values, 1):
                out[f"param{i}"] = to_text(item)
            continue
        out[key] = value if isinstance(value, str) else to_text(value)
    return out


def user_data_from_json(data: Any) -> dict[str, Any] | None:
    """The fields of the single child of `<UserData>`, with `xml_name` naming that child."""
    if not isinstance(data, dict):
        return None
    for name, child in data.items():
        if name == "#attributes":
            continue
        out: dict[str, Any] = {"xml_name": name}
        if isinstance(child, dict):
            for key, value in child.items():
                if key != "#attributes":
                    out[key] = to_text(value) if not isinstance(value, dict) else _flatten_user(value)
        return out
    return None


def _flatten_user(value: dict[str, Any], depth: int = 0) -> Any:
    if "#text" in value:
        return to_text(value["#text"])
    if depth > 8:  # UserData is shallow; a deeper object is not Windows' and is cut here
        return ""
    return {k: to_text(v) if not isinstance(v, dict) else _flatten_user(v, depth + 1) for k, v in value.items()
            if k != "#attributes"}


def parse_evtx_json(obj: dict[str, Any], text: str, record: RawRecord) -> Event | None:
    """One EVTX JSON record to ECS; None when `obj` is not that shape."""
    root = obj.get("Event")
    if not isinstance(root, dict):
        return None
    sys = root.get("System")
    if not isinstance(sys, dict) or "EventID" not in sys:
        return None
    return build(system_from_json(sys), event_data_from_json(root.get("EventData")),
                 user_data_from_json(root.get("UserData")))


def parse_evtx_import(text: str, record: RawRecord) -> Event | None:
    """The records `collect/evtx.py` reads (hint `windows_evtx_import`): the same JSON, decoded
    here with orjson alone. The registry's generic depth walk costs a quarter of the time
    on these records and is not needed: orjson refuses nesting deeper than 1024 and this
    module only follows fixed paths (UserData is cut at depth 8)."""
    if len(text) > MAX_JSON_BYTES or not text.startswith("{"):
        return None
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    event = parse_evtx_json(obj, text, record) if isinstance(obj, dict) else None
    if event is not None:
        event["event"]["dataset"] = "windows_evtx"  # one dataset whatever the way in
    return event


def _sniff(obj: dict[str, Any]) -> bool:
    root = obj.get("Event")
    return isinstance(root, dict) and "System" in root


PARSERS = [
    Parser("windows_evtx", "windows", "json", parse_evtx_json, sniff=_sniff, priority=20),
    Parser("windows_evtx_import", "windows", "line", parse_evtx_import),
]
