"""Syslog envelopes: RFC 5424, RFC 3164 (with or without PRI), and ISO-timestamped files.

`parse_envelope` splits a line into a base event and the MSG part; the registry then
hands MSG to the parser registered for the program (sshd, sudo, kernel...) and keeps the
base event as a generic syslog event when none claims it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from guetteur import ecs
from guetteur.model import Event, RawRecord
from guetteur.parse import severity
from guetteur.parse.base import Parser
from guetteur.parse.context import CONTEXT

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}

_PRI = re.compile(r"<(\d{1,3})>")
_RFC5424 = re.compile(
    r"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) "
    r"(-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (.*))?$",
    re.DOTALL,
)
_BSD_TIME = re.compile(
    r"([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:\s+(\d{4}))?\s+"
)
_ISO_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)\s+"
)
_HOST_TAG = re.compile(
    r"(?:(\S+)\s+)?([^\s\[\]:]{1,128})(?:\[([^\]]{0,64})\])?:\s?(.*)$", re.DOTALL
)
_HOST_ONLY = re.compile(r"(\S+)\s+(.*)$", re.DOTALL)


def parse_iso(text: str) -> datetime | None:
    """ISO 8601 / RFC 3339 text to an aware datetime (zone-less text uses the configured zone)."""
    value = text.replace(",", ".").replace(" ", "T", 1)
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if "." in value:  # Python takes at most 6 fractional digits
        head, _, frac = value.partition(".")
        digits = re.match(r"\d*", frac)
        assert digits is not None
        value = f"{head}.{digits.group()[:6]}{frac[len(digits.group()):]}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=CONTEXT.tz)


def bsd_time(month: str, day: str, hms: tuple[str, str, str], received: float, year: str | None = None,
             fraction: str | None = None) -> datetime | None:
    """A year-less `Mmm dd hh:mm:ss` in the configured zone. The year is the one that puts
    the moment closest before reception (a December line read in January is last year's)."""
    mon = _MONTHS.get(month.lower())
    if mon is None:
        return None
    micro = int((fraction or "0").ljust(6, "0")[:6])
    ref = datetime.fromtimestamp(received, CONTEXT.tz)
    try:
        if year is not None:
            return datetime(int(year), mon, int(day), int(hms[0]), int(hms[1]), int(hms[2]), micro, CONTEXT.tz)
        moment = datetime(ref.year, mon, int(day), int(hms[0]), int(hms[1]), int(hms[2]), micro, CONTEXT.tz)
        if moment - ref > timedelta(days=2):
            moment = moment.replace(year=ref.year - 1)
        elif ref - moment > timedelta(days=363):
            moment = moment.replace(year=ref.year + 1)
        return moment
    except ValueError:  # Feb 29 in a non-leap year, hour 25...
        return None


def _pri(event: Event, pri: int) -> None:
    facility, sev = divmod(pri, 8)
    level, code = severity.from_code(sev)
    syslog = event.setdefault("log", {}).setdefault("syslog", {})
    syslog["priority"] = pri
    syslog["facility"] = {"code": facility, "name": FACILITIES[facility] if facility < len(FACILITIES) else str(facility)}
    syslog["severity"] = {"code": sev, "name": level}
    event["log"]["level"] = level
    event.setdefault("event", {})["severity"] = code


def _rfc5424(rest: str, event: Event) -> tuple[Event, str, str | None] | None:
    m = _RFC5424.match(rest)
    if m is None:
        return None
    _version, ts, host, app, procid, msgid, sdata, msg = m.groups()
    if ts != "-":
        moment = parse_iso(ts)
        if moment is None:
            return None
        event["@timestamp"] = ecs.iso_utc(moment)
    syslog = event.setdefault("log", {}).setdefault("syslog", {})
    syslog["version"] = _version
    if host != "-":
        ecs.put(event, "host.hostname", host)
        ecs.put(event, "host.name", host)
    if app != "-":
        ecs.put(event, "process.name", app)
        syslog["appname"] = app
    if procid != "-":
        syslog["procid"] = procid
        if procid.isdigit():
            ecs.put(event, "process.pid", int(procid))
    if msgid != "-":
        syslog["msgid"] = msgid
    if sdata != "-":
        syslog["structured_data"] = _structured_data(sdata)
    msg = (msg or "").removeprefix("\ufeff")
    event["message"] = msg
    return event, msg, app.lower() if app != "-" else None


_SD_ELEMENT = re.compile(r"\[([^\s\]=\"]+)((?:\s+[^\s\]=\"]+=\"(?:[^\"\\]|\\.)*\")*)\s*\]")
_SD_PARAM = re.compile(r"([^\s\]=\"]+)=\"((?:[^\"\\]|\\.)*)\"")


def _structured_data(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for element in _SD_ELEMENT.finditer(text):
        params = {k: re.sub(r"\\(.)", r"\1", v) for k, v in _SD_PARAM.findall(element.group(2))}
        out[element.group(1)] = params
    return out


def _bsd(rest: str, event: Event, record: RawRecord) -> tuple[Event, str, str | None] | None:
    m = _BSD_TIME.match(rest)
    if m is not None:
        month, day, hh, mi, ss, frac, year = m.groups()
        moment = bsd_time(month, day, (hh, mi, ss), record.received, year, frac)
    else:
        m = _ISO_TIME.match(rest)
        if m is None:
            return None
        moment = parse_iso(m.group(1))
    if moment is None:
        return None
    event["@timestamp"] = ecs.iso_utc(moment)
    tail = rest[m.end():]
    tagged = _HOST_TAG.match(tail)
    program: str | None = None
    if tagged is not None:
        host, tag, pid, msg = tagged.groups()
        if host is None and " " in tail.split(":", 1)[0]:
            tagged = None
    if tagged is not None:
        ecs.put(event, "host.hostname", host)
        ecs.put(event, "host.name", host)
        ecs.put(event, "process.name", tag)
        if pid is not None and pid.isdigit():
            ecs.put(event, "process.pid", int(pid))
        program = tag.lower()
    else:
        plain = _HOST_ONLY.match(tail)
        if plain is None:
            return None
        host, msg = plain.groups()
        ecs.put(event, "host.hostname", host)
        ecs.put(event, "host.name", host)
    event["message"] = msg
    return event, msg, program


def parse_envelope(text: str, record: RawRecord) -> tuple[Event, str, str | None] | None:
    """(base event, MSG, lower-case program or None) for a syslog line, else None."""
    event: Event = {}
    rest = text
    m = _PRI.match(text)
    if m is not None:
        pri = int(m.group(1))
        if pri > 191:
            return None
        _pri(event, pri)
        rest = text[m.end():]
        if rest[:1].isdigit() and (found := _rfc5424(rest, event)) is not None:
            return found
    return _bsd(rest, event, record)


def parse_generic(text: str, record: RawRecord) -> Event | None:
    """A syslog line no program parser claimed: the envelope's fields and the message."""
    found = parse_envelope(text, record)
    return None if found is None else found[0]


PARSERS = [Parser("syslog", "linux", "line", parse_generic, priority=900)]
