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
from guetteur.parse.windows_ecs import build_fields, provider_guid_text, to_text, windows_time

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


# Text of the numbers Windows writes most (event ids, levels, tasks, opcodes, small EventData
# values): one shared string each instead of a new `str(n)` per record.
_NUMBERS = {n: str(n) for n in range(8192)}
_number = _NUMBERS.get

_MASKS: dict[str, int | None] = {}  # System/Keywords text -> mask; a log holds a handful


def _mask(text: str) -> int | None:
    try:
        mask: int | None = int(text, 16)
    except ValueError:
        mask = None
    if len(_MASKS) < 4096:
        _MASKS[text] = mask
    return mask


def _build_from_json(sys: dict[str, Any], event_data: dict[str, str], user_data: dict[str, Any] | None) -> Event:
    """The ECS event of an EVTX JSON record whose `System` object is `sys`.

    Written for speed (this runs once per imported record): each System fact goes from the
    JSON straight into a local variable and on to `build_fields`, with no intermediate
    `WinSystem` dict. The shapes the `evtx` library renders (numbers as JSON numbers,
    attributes under `#attributes`) take the direct branch; anything else goes through
    `_text`/`_attr`, with the result the XML reader would give."""
    get = sys.get
    node = get("EventID")
    event_id = (_number(node) or str(node)) if type(node) is int else _text(node)
    provider = provider_guid = None
    node = get("Provider")
    if isinstance(node, dict) and isinstance(attrs := node.get("#attributes"), dict):
        if (name := attrs.get("Name")) is not None:
            provider = str(name)
        if (guid := attrs.get("Guid")) is not None:
            provider_guid = provider_guid_text(str(guid))
    channel = get("Channel")
    if channel is not None and type(channel) is not str:
        channel = _text(channel)
    computer = get("Computer")
    if computer is not None and type(computer) is not str:
        computer = _text(computer)
    if (record_id := get("EventRecordID")) is not None:
        record_id = str(record_id) if type(record_id) is int else _text(record_id)
    when = None
    node = get("TimeCreated")
    if isinstance(node, dict) and isinstance(attrs := node.get("#attributes"), dict) \
            and (stamp := attrs.get("SystemTime")) is not None:
        when = windows_time(str(stamp))
    if (level := get("Level")) is not None:
        level = (_number(level) or str(level)) if type(level) is int else _text(level)
    if (task := get("Task")) is not None:
        task = (_number(task) or str(task)) if type(task) is int else _text(task)
    if (opcode := get("Opcode")) is not None:
        opcode = (_number(opcode) or str(opcode)) if type(opcode) is int else _text(opcode)
    keywords = get("Keywords")
    if isinstance(keywords, str):
        keywords = _MASKS.get(keywords) if keywords in _MASKS else _mask(keywords)
    else:
        keywords = None
    version = get("Version")
    if not isinstance(version, int):
        version = None
    pid = tid = None
    node = get("Execution")
    if isinstance(node, dict) and isinstance(attrs := node.get("#attributes"), dict):
        if not isinstance(pid := attrs.get("ProcessID"), int):
            pid = None
        if not isinstance(tid := attrs.get("ThreadID"), int):
            tid = None
    user_sid = activity_id = None
    if (node := get("Security")) is not None and (sid := _attr(node, "UserID")) is not None:
        user_sid = str(sid)
    if (node := get("Correlation")) is not None and (activity := _attr(node, "ActivityID")) is not None:
        activity_id = str(activity)
    return build_fields(event_id, channel or "", provider or "", provider_guid, computer, record_id, activity_id,
                        version, when, pid, tid, user_sid, level, opcode, task, keywords, event_data, user_data)


def event_data_from_json(data: Any) -> dict[str, str]:
    """EventData name -> text. Unnamed `<Data>` values become param1..N (as Winlogbeat names them).

    The usual shape (named fields, no `Data`/`#text`/`#attributes` key) is converted in
    place: the decoded object belongs to this parse and a copy would cost a dict per record."""
    if not isinstance(data, dict):
        return {}
    if "Data" not in data and "#text" not in data and "#attributes" not in data:
        for key, value in data.items():
            if type(value) is not str:
                data[key] = (_number(value) or str(value)) if type(value) is int else to_text(value)
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
    user_data = root.get("UserData")
    return _build_from_json(sys, event_data_from_json(root.get("EventData")),
                            None if user_data is None else user_data_from_json(user_data))


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
