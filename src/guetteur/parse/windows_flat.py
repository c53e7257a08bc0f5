"""Windows events flattened to one JSON object: NXLog `im_msvistalog` / Logstash exports
(OTRF Security-Datasets) and Azure Log Analytics tables (`SecurityEvent`,
`WindowsEvent`, and `Syslog` rows carrying a Sysmon-for-Linux `<Event>` XML).

NXLog puts the record's own fields (`EventID`, `Channel`, `Hostname`, `SourceName`,
`TimeCreated`...) beside the EventData fields at the top level; the fields listed in
`windows_fields.FLAT_METADATA` are the record's, every other key is EventData and is
kept under `winlog.event_data` with its name.
"""

from __future__ import annotations

from typing import Any

import orjson

from guetteur.model import Event, RawRecord
from guetteur.parse import windows_fields as F
from guetteur.parse.base import Parser
from guetteur.parse.windows_ecs import WinSystem, build, to_text, windows_time
from guetteur.parse.windows_xml import event_data_from_xml, parse_event_xml


def _time(obj: dict[str, Any]) -> str | None:
    for key in ("TimeCreated", "@timestamp", "TimeGenerated"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            # NXLog's TimeCreated without zone is the collector's rendering of SystemTime (UTC)
            stamp = windows_time(value)
            if stamp is not None:
                return stamp
    utc = obj.get("UtcTime")
    if isinstance(utc, str):
        return windows_time(utc)
    return None


def parse_flat(obj: dict[str, Any], text: str, record: RawRecord) -> Event | None:
    if obj.get("Type") == "Syslog":
        inner = obj.get("SyslogMessage")
        if isinstance(inner, str) and inner.lstrip().startswith("<Event"):
            return parse_event_xml(inner)
        return None
    event_id = obj.get("EventID")
    if event_id is None or isinstance(event_id, (dict, list)):
        return None
    sys: WinSystem = {"event_id": to_text(event_id)}
    provider = obj.get("SourceName") or obj.get("EventSourceName") or obj.get("Provider")
    if isinstance(provider, str):
        sys["provider"] = provider
    for key, field in (("Channel", "channel"), ("ProviderGuid", "provider_guid"), ("RecordNumber", "record_id"),
                       ("Task", "task"), ("OpcodeValue", "opcode"), ("ActivityID", "activity_id"),
                       ("UserID", "user_sid")):
        value = obj.get(key)
        if value is not None and not isinstance(value, (dict, list)):
            sys[field] = to_text(value)  # type: ignore[literal-required]
    computer = obj.get("Hostname") or obj.get("Computer")
    if isinstance(computer, str):
        sys["computer"] = computer
    level = obj.get("Level", obj.get("EventLevel"))
    if level is not None and not isinstance(level, (dict, list)):
        sys["level"] = to_text(level)
    keywords = obj.get("Keywords")
    if isinstance(keywords, int):
        sys["keywords"] = keywords & 0xFFFFFFFFFFFFFFFF
    elif isinstance(keywords, str):
        try:
            sys["keywords"] = int(keywords, 16) if keywords.startswith("0x") else int(keywords) & 0xFFFFFFFFFFFFFFFF
        except ValueError:
            pass
    if isinstance(obj.get("Version"), int):
        sys["version"] = obj["Version"]
    if isinstance(obj.get("ExecutionProcessID"), int):
        sys["pid"] = obj["ExecutionProcessID"]
    if isinstance(obj.get("ThreadID"), int):
        sys["tid"] = obj["ThreadID"]
    if (stamp := _time(obj)) is not None:
        sys["time"] = stamp

    event_data: dict[str, str] = {}
    embedded = obj.get("EventData")
    if isinstance(embedded, str) and embedded:
        if embedded.lstrip().startswith("<"):
            event_data = event_data_from_xml(embedded)
        else:
            try:
                decoded = orjson.loads(embedded)
            except orjson.JSONDecodeError:
                decoded = None
            if isinstance(decoded, dict):
                event_data = {str(k): to_text(v) for k, v in decoded.items()}
    table = obj.get("Type")
    azure = isinstance(table, str) and table in F.AZURE_TYPES  # any JSON value may sit there
    for key, value in obj.items():
        if key in F.FLAT_METADATA or key in event_data or (key == "Type" and azure):
            continue
        if isinstance(value, dict):
            continue
        event_data[key] = to_text(value)
    message = obj.get("Message")
    return build(sys, event_data, None, message if isinstance(message, str) else None)


def _sniff(obj: dict[str, Any]) -> bool:
    if "EventID" in obj:
        return "Channel" in obj or "SourceName" in obj or "EventSourceName" in obj
    return obj.get("Type") == "Syslog" and str(obj.get("SyslogMessage", ""))[:6] == "<Event"


PARSERS = [Parser("windows_flat", "windows", "json", parse_flat, sniff=_sniff, priority=30)]
