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


_GUIDS: dict[str, str] = {}  # provider GUID as rendered -> Winlogbeat's `{lower-case}` form; few per host


def _guid(guid: str) -> str:
    found = _GUIDS.get(guid)
    if found is None:
        found = guid if guid.startswith("{") else "{" + guid.lower() + "}"
        if len(_GUIDS) < 4096:
            _GUIDS[guid] = found
    return found


def system_from_json(sys: dict[str, Any]) -> WinSystem:
    """The `WinSystem` of an EVTX JSON `System` object.

    Written for speed (this runs once per imported record): the shapes the `evtx` library
    renders (numbers as JSON numbers, attributes under `#attributes`) take the direct
    branch, anything else goes through `_text`/`_attr` with the same result."""
    get = sys.get
    node = get("EventID")
    out: WinSystem = {"event_id": str(node) if type(node) is int else _text(node)}
    provider = get("Provider")
    if isinstance(provider, dict) and isinstance(attrs := provider.get("#attributes"), dict):
        if (name := attrs.get("Name")) is not None:
            out["provider"] = str(name)
        if (guid := attrs.get("Guid")) is not None:
            out["provider_guid"] = _guid(str(guid))
    if (node := get("Channel")) is not None:
        out["channel"] = node if type(node) is str else _text(node)
    if (node := get("Computer")) is not None:
        out["computer"] = node if type(node) is str else _text(node)
    if (node := get("EventRecordID")) is not None:
        out["record_id"] = str(node) if type(node) is int else _text(node)
    node = get("TimeCreated")
    if isinstance(node, dict) and isinstance(attrs := node.get("#attributes"), dict) \
            and (when := attrs.get("SystemTime")) is not None:
        stamp = windows_time(str(when))
        if stamp is not None:
            out["time"] = stamp
    if (node := get("Level")) is not None:
        out["level"] = str(node) if type(node) is int else _text(node)
    if (node := get("Task")) is not None:
        out["task"] = str(node) if type(node) is int else _text(node)
    if (node := get("Opcode")) is not None:
        out["opcode"] = str(node) if type(node) is int else _text(node)
    keywords = get("Keywords")
    if isinstance(keywords, str):
        try:
            out["keywords"] = int(keywords, 16)
        except ValueError:
            pass
    version = get("Version")
    if isinstance(version, int):
        out["version"] = version
    node = get("Execution")
    if isinstance(node, dict) and isinstance(attrs := node.get("#attributes"), dict):
        if isinstance(pid := attrs.get("ProcessID"), int):
            out["pid"] = pid
        if isinstance(tid := attrs.get("ThreadID"), int):
            out["tid"] = tid
    node = get("Security")
    if node is not None and (sid := _attr(node, "UserID")) is not None:
        out["user_sid"] = str(sid)
    node = get("Correlation")
    if node is not None and (activity := _attr(node, "ActivityID")) is not None:
        out["activity_id"] = str(activity)
    return out


def event_data_from_json(data: Any) -> dict[str, str]:
    """EventData name -> text. Unnamed `<Data>` values become param1..N (as Winlogbeat names them).

    The usual shape (named fields, no `Data`/`#text`/`#attributes` key) is converted in
    place: the decoded object belongs to this parse and a copy would cost a dict per record."""
    if not isinstance(data, dict):
        return {}
    if "Data" not in data and "#text" not in data and "#attributes" not in data:
        for key, value in data.items():
            if type(value) is not str:
                data[key] = str(value) if type(value) is int else to_text(value)
        return data
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
