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
from collections.abc import Iterator
from typing import Any

from guetteur.model import Event, RawRecord
from guetteur.parse.base import Parser
from guetteur.parse.windows_ecs import WinSystem, build, provider_guid_text, windows_time

_OPEN = re.compile(r"<(\w+)([^<>]*)>")
_ATTR = re.compile(r"(\w+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_NAME = re.compile(r"Name\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def _elements(body: str) -> Iterator[tuple[str, str, str | None]]:
    """(tag, attribute text, inner text or None) of each element at any depth, in order.

    One regex scan from tag to tag, `str.find` for each end tag: an element whose end tag
    is missing (a cut record) ends the scan, so hostile input cannot make it quadratic."""
    find = body.find
    for m in _OPEN.finditer(body):
        tag, attrs = m.groups()
        if attrs[-1:] == "/":
            yield tag, attrs[:-1], None
            continue
        end = m.end()
        close = find("</" + tag + ">", end)
        if close < 0:
            yield tag, attrs, None
            return
        yield tag, attrs, body[end:close]  # children are visited too (callers pick the tags they want)


def _section(text: str, tag: str, start: int = 0) -> tuple[str, int] | None:
    """Inner text of the first `<tag ...>...</tag>` (or up to the end when cut), and its end."""
    pos = text.find("<" + tag, start)
    if pos < 0:
        return None
    opened = text.find(">", pos)
    if opened < 0:
        return None
    if text[opened - 1] == "/":
        return "", opened + 1
    close = text.find(f"</{tag}>", opened)
    if close < 0:
        return text[opened + 1:], len(text)
    return text[opened + 1:close], close + len(tag) + 3


def _unescape(text: str) -> str:
    return html.unescape(text) if "&" in text else text


def _attrs(text: str) -> dict[str, str]:
    return {m.group(1): _unescape(m.group(2) if m.group(2) is not None else m.group(3) or "")
            for m in _ATTR.finditer(text)}


def system_from_xml(body: str) -> WinSystem:
    out: WinSystem = {"event_id": ""}
    for tag, attr_text, inner in _elements(body):
        value = _unescape(inner.strip()) if inner and "<" not in inner else ""
        if tag == "EventID":
            out["event_id"] = value
        elif tag == "Provider":
            attrs = _attrs(attr_text)
            name = attrs.get("Name") or attrs.get("EventSourceName")
            if name:
                out["provider"] = name
            if attrs.get("Guid"):
                out["provider_guid"] = provider_guid_text(attrs["Guid"])
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
    for tag, attrs, inner in _elements(body):
        if tag != "Data":
            continue
        name_match = _NAME.search(attrs)
        value = _unescape(inner) if inner else ""
        if name_match is not None:
            out[name_match.group(1) if name_match.group(1) is not None else name_match.group(2)] = value
        else:
            unnamed += 1
            out[f"param{unnamed}"] = value
    binary = _section(body, "Binary")
    if binary is not None and binary[0]:
        out["Binary"] = binary[0].strip()
    return out


def user_data_from_xml(name: str, body: str) -> dict[str, Any]:
    out: dict[str, Any] = {"xml_name": name}
    for tag, _attrs, inner in _elements(body):
        if inner is None or "<" not in inner:
            out[tag] = _unescape(inner.strip()) if inner else ""
    return out


def parse_event_xml(text: str) -> Event | None:
    """ECS event from one `<Event>` XML document (or a fragment holding its System)."""
    system = _section(text, "System")
    if system is None:
        return None
    sys = system_from_xml(system[0])
    if not sys.get("event_id"):
        return None
    tail = text[system[1]:]
    data = _section(tail, "EventData")
    event_data = event_data_from_xml(data[0]) if data is not None else {}
    user_data = None
    user = _section(tail, "UserData")
    if user is not None:
        child = _OPEN.search(user[0])
        if child is not None:
            inner = _section(user[0], child.group(1))
            user_data = user_data_from_xml(child.group(1), inner[0] if inner else "")
    rendering = _section(tail, "Message")
    message = _unescape(rendering[0].strip()) if rendering else None
    return build(sys, event_data, user_data, message)


def parse_xml_record(text: str, record: RawRecord) -> Event | None:
    if "<System" not in text:
        return None
    return parse_event_xml(text)


def _sniff(text: str) -> bool:
    head = text[:300]
    return "<Event" in head and "<System" in text


PARSERS = [Parser("windows_xml", "windows", "line", parse_xml_record, sniff=_sniff, priority=20)]
