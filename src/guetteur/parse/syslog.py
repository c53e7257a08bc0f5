"""Syslog envelopes: RFC 5424, RFC 3164 (with or without PRI, with or without host),
and ISO-timestamped files (rsyslog's high-precision format, macOS unified log).

`parse_envelope` splits a line into a base event and the MSG part; the registry then
hands MSG to the parser registered for the program (sshd, sudo, kernel...) and keeps the
base event as a generic syslog event when none claims it.

The base event holds `@timestamp`, `host.hostname`/`host.name`, `process.name`/`pid`,
`message` and, when the line has a PRI, `log.syslog.*`, `log.level`, `event.severity`.
Year-less timestamps are read in the configured zone with the year inferred from the
reception time (see `timefmt.bsd`). This is the hot path of the Linux family: one
precompiled regex per envelope shape, memoised time conversion, dict literals.
"""

from __future__ import annotations

import re

from guetteur.model import Event, RawRecord
from guetteur.parse import severity, timefmt
from guetteur.parse.base import Parser

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)

# host and TAG[pid]: shared tail of both RFC 3164 shapes. A TAG starts with a letter (so
# "16:21:00" in a CSV line is no program) and may hold spaces only before "[pid]"
# ("Google Chrome[85294]:"). The optional " (...)" after the pid is macOS launchd's
# "com.apple.xpc.launchd[1] (com.apple.quicklook[21498]):".
# The possessive quantifiers (`++`, `{0,127}+`) and the guard of the second TAG form only cut
# backtracking that can never succeed (a shorter run is followed by a character of the run,
# which none of the following items accepts; the "[" of "[pid]" is the first "[", "]", ":" or
# newline after the TAG's first character): the same lines match with the same groups, and a
# line that is not syslog ("2026-04-06 16:21:00,123 - WARNING - ...") fails in a few steps
# instead of a few hundred (tests/parse/test_syslog.py compares both forms).
_TAIL = (
    r"(?:([^\s\",;]++) ++)?([A-Za-z_./(][^\s\[\]:]{0,127}+"
    r"|[A-Za-z_](?=[^\[\]:\n]{0,63}+\[\d)[^\[\]:\n]{0,62}[^\s\[\]:](?=\[\d))(?:\[(\d{0,20})\])?"
    r"(?: \([^)\n]{0,256}\))?: ?(.*)"
)
_BSD_LINE = re.compile(
    r"(?:<(\d{1,3})>)?(?:(\d{4}) )?([A-Za-z]{3}) +(\d{1,2}) (\d{1,2}:\d{2}:\d{2})(?:\.(\d{1,6}))?"
    r"(?: (\d{4}))? +" + _TAIL,
    re.DOTALL,
)
_ISO_LINE = re.compile(
    r"(?:<(\d{1,3})>)?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?) +"
    + _TAIL,
    re.DOTALL,
)
# No TAG (e.g. "Feb  5 13:07:52 host --- last message repeated 2 times ---").
_BSD_NOTAG = re.compile(
    r"(?:<(\d{1,3})>)?(?:(\d{4}) )?([A-Za-z]{3}) +(\d{1,2}) (\d{1,2}:\d{2}:\d{2})(?:\.(\d{1,6}))?"
    r"(?: (\d{4}))? +(\S+) +(.*)",
    re.DOTALL,
)
_ISO_NOTAG = re.compile(
    r"(?:<(\d{1,3})>)?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?) +"
    r"(\S+) +(.*)",
    re.DOTALL,
)
_RFC5424 = re.compile(
    r"<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) "
    r"(-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (.*))?$",
    re.DOTALL,
)
_SD_ELEMENT = re.compile(r"\[([^\s\]=\"]+)((?:\s+[^\s\]=\"]+=\"(?:[^\"\\]|\\.)*\")*)\s*\]")
_SD_PARAM = re.compile(r"([^\s\]=\"]+)=\"((?:[^\"\\]|\\.)*)\"")
_SD_UNESCAPE = re.compile(r"\\(.)")


def _pri_parts(pri: int) -> tuple[int, str, int, str, int]:
    facility, sev = divmod(pri, 8)
    level, code = severity.from_code(sev)
    return facility, FACILITIES[facility] if facility < len(FACILITIES) else str(facility), sev, level, code


# every PRI an envelope accepts (0-191), decoded once
_PRI = tuple(_pri_parts(pri) for pri in range(192))


def _syslog_pri(event: Event, pri: int) -> None:
    """Fill `log.syslog.priority/facility/severity`, `log.level`, `event.severity`."""
    facility, name, sev, level, code = _PRI[pri] if 0 <= pri < 192 else _pri_parts(pri)
    event["log"] = {
        "level": level,
        "syslog": {
            "priority": pri,
            "facility": {"code": facility, "name": name},
            "severity": {"code": sev, "name": level},
        },
    }
    event["event"] = {"severity": code}


def _structured_data(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for element in _SD_ELEMENT.finditer(text):
        out[element.group(1)] = {k: _SD_UNESCAPE.sub(r"\1", v) for k, v in _SD_PARAM.findall(element.group(2))}
    return out


def _rfc5424(text: str) -> tuple[Event, str, str | None] | None:
    m = _RFC5424.match(text)
    if m is None:
        return None
    pri, version, ts, host, app, procid, msgid, sdata, msg = m.groups()
    if int(pri) > 191:
        return None
    event: Event = {}
    _syslog_pri(event, int(pri))
    if ts != "-":
        stamp = timefmt.iso(ts)
        if stamp is None:
            return None
        event["@timestamp"] = stamp
    syslog = event["log"]["syslog"]
    syslog["version"] = version
    if host != "-":
        event["host"] = {"hostname": host, "name": host}
    process: dict = {}
    if app != "-":
        process["name"] = app
        syslog["appname"] = app
    if procid != "-":
        syslog["procid"] = procid
        if procid.isdigit() and len(procid) < 19:
            process["pid"] = int(procid)
    if process:
        event["process"] = process
    if msgid != "-":
        syslog["msgid"] = msgid
    if sdata != "-":
        syslog["structured_data"] = _structured_data(sdata)
    msg = (msg or "").removeprefix("\ufeff")
    event["message"] = msg
    return event, msg, app.lower() if app != "-" else None


def _finish(event: Event, pri: str | None, host: str | None, tag: str | None, pid: str | None,
            msg: str) -> tuple[Event, str, str | None]:
    if pri is not None:
        _syslog_pri(event, int(pri))
    if host is not None:
        event["host"] = {"hostname": host, "name": host}
    if msg.startswith("[ID ") and "] " in msg[:64]:  # Solaris: "[ID 800047 auth.notice] "
        msg = msg[msg.index("] ") + 2:]
    event["message"] = msg
    if tag is None:
        return event, msg, None
    if pid:
        event["process"] = {"name": tag, "pid": int(pid)} if len(pid) < 19 else {"name": tag}
    else:
        event["process"] = {"name": tag}
    return event, msg, tag.lower()


def parse_envelope(text: str, record: RawRecord) -> tuple[Event, str, str | None] | None:
    """(base event, MSG, lower-case program or None) for a syslog line, else None. Never raises."""
    if text[:1] == "<":
        gt = text.find(">", 1, 5)
        if gt > 0 and text[gt + 1:gt + 2].isdigit() and (found := _rfc5424(text)) is not None:
            return found
    m = _BSD_LINE.match(text)
    if m is not None:
        pri, year1, month, day, hms, frac, year2, host, tag, pid, msg = m.groups()
        if pri is not None and int(pri) > 191:
            return None
        stamp = timefmt.bsd(month, day, hms, record.received, year1 or year2, frac)
        if stamp is not None:
            return _finish({"@timestamp": stamp}, pri, host, tag, pid, msg)
    m = _ISO_LINE.match(text)
    if m is not None:
        pri, ts, host, tag, pid, msg = m.groups()
        if pri is not None and int(pri) > 191:
            return None
        stamp = timefmt.iso(ts)
        if stamp is not None:
            return _finish({"@timestamp": stamp}, pri, host, tag, pid, msg)
    m = _BSD_NOTAG.match(text)
    if m is not None:
        pri, year1, month, day, hms, frac, year2, host, msg = m.groups()
        if host == "---":  # "Apr 4 03:39:57 --- last message repeated 1 time ---"
            host, msg = None, f"--- {msg}"
        stamp = timefmt.bsd(month, day, hms, record.received, year1 or year2, frac)
        if stamp is not None and (pri is None or int(pri) <= 191):
            return _finish({"@timestamp": stamp}, pri, host, None, None, msg)
        return None
    m = _ISO_NOTAG.match(text)
    if m is not None:
        pri, ts, host, msg = m.groups()
        stamp = timefmt.iso(ts)
        if stamp is not None and (pri is None or int(pri) <= 191):
            return _finish({"@timestamp": stamp}, pri, host, None, None, msg)
    return None


def parse_generic(text: str, record: RawRecord) -> Event | None:
    """A syslog line no program parser claimed: the envelope's fields and the message."""
    found = parse_envelope(text, record)
    return None if found is None else found[0]


PARSERS = [Parser("syslog", "linux", "line", parse_generic, priority=900)]
