"""Windows events as XML text: `<Event xmlns=...><System>...</System><EventData>...`.

What `wevtutil qe /f:xml`, Event Viewer's "Copy as XML", Windows Event Forwarding
and crowdsec's `wineventlog` produce. The reader is a tolerant scanner, not a
validating XML parser: copies from Event Viewer's details pane carry `- ` before
tags, forwarded records may be cut; whatever System/EventData fields are there are
kept. Entities (`&amp;`, `&#10;`...) are decoded.
"""

from __future__ import annotations

import html
import re
from typing import Any

from guetteur.model import Event, RawRecord
from guetteur.parse.base import Parser
from guetteur.parse.windows_ecs import WinSystem, build, windows_time

_TAG = r"(?:\w+:)?"
_SYSTEM = re.compile(r"<" + _TAG + r"System\b[^>]*>(.*?)</" + _TAG + r"System>", re.DOTALL)
_ELEMENT = re.compile(r"<(\w+)\b([^>]*?)(?:/>|>(.*?)</\1>)", re.DOTALL)
_ATTR = re.compile(r"(\w+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_EVENT_DATA = re.compile(r"<" + _TAG + r"EventData\b[^>]*?(?:/>|>(.*?)</" + _TAG + r"EventData>)", re.DOTALL)
_DATA = re.compile(r"<Data\b([^>]*?)(?:/>|>(.*?)</Data>)", re.DOTALL)
_NAME = re.compile(r"Name\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_USER_DATA = re.compile(r"<UserData\b[^>]*>\s*(?:-\s*)?<(\w+)\b[^>]*>(.*?)</\1>", re.DOTALL)
_RENDERING = re.compile(r"<RenderingInfo\b[^>]*>.*?<Message>(.*?)</Message>", re.DOTALL)


def _unescape(text: str) -> str:
    return html.unescape(text) if "&" in text else text


def _attrs(text: str) -> dict[str, str]:
    return {m.group(1): _unescape(m.group(2) if m.group(2) is not None else m.group(3) or "")
            for m in _ATTR.finditer(text)}


def system_from_xml(body: str) -> WinSystem:
    out: WinSystem = {"event_id": ""}
    for m in _ELEMENT.finditer(body):
        tag, attr_text, inner = m.group(1), m.group(2), m.group(3)
        value = _unescape(inner.strip()) if inner else ""
        if tag == "EventID":
            out["event_id"] = value
        elif tag == "Provider":
            attrs = _attrs(attr_text)
            name = attrs.get("Name") or attrs.get("EventSourceName")
            if name:
                out["provider"] = name
            if attrs.get("Guid"):
                out["provider_guid"] = attrs["Guid"]
        elif tag == "Channel":
            out["channel"] = value
        elif tag == "Computer":
            out["computer"] = value
        elif tag == "EventRecordID":
            out["record_id"] = value
        elif tag == "TimeCreated":
            when = _attrs(attr_text).get("SystemTime")
            if when and (stamp := windows_time(when)) is not None:
                out["time"] = stamp
        elif tag == "Level":
            out["level"] = value
        elif tag == "Task":
            out["task"] = value
        elif tag == "Opcode":
            out["opcode"] = value
        elif tag == "Keywords":
            try:
                out["keywords"] = int(value, 16)
            except ValueError:
                pass
        elif tag == "Version" and value.isdigit():
            out["version"] = int(value)
        elif tag == "Execution":
            attrs = _attrs(attr_text)
            if attrs.get("ProcessID", "").isdigit():
                out["pid"] = int(attrs["ProcessID"])
            if attrs.get("ThreadID", "").isdigit():
                out["tid"] = int(attrs["ThreadID"])
        elif tag == "Security":
            sid = _attrs(attr_text).get("UserID")
            if sid:
                out["user_sid"] = sid
        elif tag == "Correlation":
            activity = _attrs(attr_text).get("ActivityID")
            if activity:
                out["activity_id"] = activity
    return out


def event_data_from_xml(body: str) -> dict[str, str]:
    """`<Data Name="X">v</Data>` -> {"X": "v"}; unnamed data -> param1..N."""
    out: dict[str, str] = {}
    unnamed = 0
    for m in _DATA.finditer(body):
        name_match = _NAME.search(m.group(1))
        value = _unescape(m.group(2)) if m.group(2) else ""
        if name_match is not None:
            out[name_match.group(1) if name_match.group(1) is not None else name_match.group(2)] = value
        else:
            unnamed += 1
            out[f"param{unnamed}"] = value
    binary = re.search(r"<Binary>(.*?)</Binary>", body, re.DOTALL)
    if binary is not None:
        out["Binary"] = binary.group(1).strip()
    return out


def user_data_from_xml(name: str, body: str) -> dict[str, Any]:
    out: dict[str, Any] = {"xml_name": name}
    for m in _ELEMENT.finditer(body):
        out[m.group(1)] = _unescape(m.group(3).strip()) if m.group(3) else ""
    return out


def parse_event_xml(text: str) -> Event | None:
    """ECS event from one `<Event>` XML document (or a fragment holding its System)."""
    system = _SYSTEM.search(text)
    if system is None:
        return None
    sys = system_from_xml(system.group(1))
    if not sys.get("event_id"):
        return None
    tail = text[system.end():]
    data_match = _EVENT_DATA.search(tail)
    event_data = event_data_from_xml(data_match.group(1) or "") if data_match is not None else {}
    user_match = _USER_DATA.search(tail)
    user_data = user_data_from_xml(user_match.group(1), user_match.group(2)) if user_match else None
    rendering = _RENDERING.search(tail)
    message = _unescape(rendering.group(1).strip()) if rendering else None
    return build(sys, event_data, user_data, message)


def parse_xml_record(text: str, record: RawRecord) -> Event | None:
    if "<System" not in text:
        return None
    return parse_event_xml(text)


def _sniff(text: str) -> bool:
    head = text[:300]
    return "<Event" in head and "<System" in text


PARSERS = [Parser("windows_xml", "windows", "line", parse_xml_record, sniff=_sniff, priority=20)]
