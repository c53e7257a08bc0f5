"""Python `logging` text output of our applications (the medical API) and their servers.

Formats read:
- `2026-04-06 16:21:41,594 - WARNING - message`            (asctime - levelname - message)
- `2026-04-06 16:21:41,594 - app.api - WARNING - message`  (asctime - name - levelname - message)
- `2026-04-06 16:21:41,594 WARNING app.api: message` / `... [WARNING] app.api: message`
- uvicorn's own lines `INFO:     Started server process [1234]` (its access lines are
  `web_access.parse_uvicorn`), basicConfig's `WARNING:app.api:message`
- gunicorn's error log `[2026-04-06 16:21:41 +0200] [1234] [INFO] Starting gunicorn 21.2.0`

ECS: `@timestamp` (configured zone when the text has none), `log.level`,
`event.severity`, `log.logger`, `process.pid`, `message` (tracebacks that follow on
the next lines stay in it: collect/multiline.py joins them to their line), and for a
traceback `error.stack_trace` (chained tracebacks included) with `error.type` and
`error.message` from the exception raised last (`ValueError: bad value`).

Facts named in the message text itself (its first 4 KiB, before any traceback) are
copied out, the message staying whole: `user.name` from `for user alice`, `by user
alice`, `user=alice`, `username: alice`, `user 'alice'`, `user alice logged in`; `source.ip` from an address
after `from`, `ip`, `client`, `addr`, `remote`, `src`, `peer` (checked to be an IP);
the patient id of the medical API from `patient_id=42`, `patient id: 42` or
`/patients/42/...` into `json.patient_id` (an integer, where the API's JSON audit log
puts it, so one search and one rule field cover both).

A message reporting a login outcome ("login failed", "authentication failed", "invalid
password", "logged in", "login successful"...) is an authentication event:
`event.category: [authentication]`, `event.type: [start]`, `event.outcome` failure or
success, `event.action` `login-failed` or `logged-in`, so the authentication rules and
searches of every other source cover application logins too.
"""

from __future__ import annotations

import re

from guetteur.model import Event, RawRecord
from guetteur.parse import severity, timefmt
from guetteur.parse.address import add_related, ip_text
from guetteur.parse.base import Parser

_LEVELS = r"(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL|NOTSET|TRACE|EXCEPTION)"
_TS = r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[,.]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
_DASHED = re.compile(_TS + r" - (?:([^\s]+) - )?" + _LEVELS + r" - (.*)$", re.DOTALL)
_SPACED = re.compile(_TS + r" \[?" + _LEVELS + r"\]? +(?:\[?([\w.\-]+)\]?:? )?(.*)$", re.DOTALL)
_GUNICORN = re.compile(
    r"\[(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?: [+-]\d{4})?)\] \[(\d+)\] \[([A-Z]+)\] (.*)$", re.DOTALL
)
_UVICORN_SERVER = re.compile(_LEVELS + r":\s+(.*)$", re.DOTALL)
_BASIC = re.compile(_LEVELS + r":([\w.\-]+):(.*)$", re.DOTALL)


# "for user alice", "by user alice", "user=alice", "username: alice", "user 'alice'"
_USER = re.compile(
    r"""(?:\b(?:for|by) (?:user|account) +['"]?|\b(?:user(?:name)?|login|account)(?:_name)? *[=:] *['"]?"""
    r"""|\buser +(?=['"])['"]|\buser +(?=[\w.@+\-]{1,64} +(?:logged|signed) in\b))([\w.@+\-]{1,64})""",
    re.IGNORECASE,
)
_IP = re.compile(
    r"""\b(?:from|ip|client(?:_ip)?|addr(?:ess)?|remote(?:_addr)?|src(?:_ip)?|peer)\b *[=:]? *['"\[(]?"""
    r"((?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]{2,45})",
    re.IGNORECASE,
)
_PATIENT = re.compile(r"\bpatient[_ ]?id *[=: ] *#?(\d{1,18})\b|/patients/(\d{1,18})\b", re.IGNORECASE)
_TRACEBACK = "Traceback (most recent call last):"
_EXCEPTION_NAME = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*")
_SCAN = 4096  # bytes of message searched: the facts are in the first line, not in a dump
_LOGIN_FAILED = re.compile(
    r"\b(?:log ?in|logon|sign ?in|authentication|auth) (?:failed|failure|denied|refused|rejected)\b"
    r"|\bfailed (?:to )?(?:log ?in|logon|sign ?in|authenticat\w*)\b"
    r"|\b(?:invalid|bad|wrong|incorrect) (?:password|credentials|username or password|login)\b"
)
# one of these is in every message the two patterns match: most messages skip the regexes
_LOGIN_WORDS = ("log in", "login", "logon", "logged in", "sign", "auth", "password", "credentials")
_LOGGED_IN = re.compile(
    r"\b(?:log ?in|logon|sign ?in|authentication) (?:succeeded|successful|ok|accepted)\b"
    r"|\bsuccessful(?:ly)? (?:log ?in|logon|sign ?in|authenticat\w*)\b|\b(?:logged|signed) in\b"
)


def _message_facts(event: Event, message: str) -> None:
    """Copy the user, client address and patient id a message names into ECS fields."""
    head = message[:_SCAN].partition("Traceback (most recent call last):")[0]
    lower = head.lower()
    if "user" in lower or "login" in lower or "account" in lower:
        m = _USER.search(head)
        if m is not None:
            name = m.group(1).rstrip(".-")
            if name:
                event["user"] = {"name": name}
                add_related(event, "user", name)
    # an address needs dots (IPv4) or two colons (IPv6): most messages skip the regex
    if "." in head or head.count(":") > 1:
        for m in _IP.finditer(head):
            ip = ip_text(m.group(1).rstrip("."))
            if ip is not None:
                event["source"] = {"address": ip, "ip": ip}
                add_related(event, "ip", ip)
                break
    if "patient" in lower:
        p = _PATIENT.search(head)
        if p is not None:
            event["json"] = {"patient_id": int(p.group(1) or p.group(2))}
    if any(word in lower for word in _LOGIN_WORDS):
        outcome = "failure" if _LOGIN_FAILED.search(lower) else "success" if _LOGGED_IN.search(lower) else None
        if outcome is not None:
            meta = event["event"]
            meta["category"] = ["authentication"]
            meta["type"] = ["start", *meta.get("type", ())]
            meta["outcome"] = outcome
            meta["action"] = "login-failed" if outcome == "failure" else "logged-in"


def _event(ts: str | None, level: str, logger: str | None, message: str) -> Event:
    event: Event = {"message": message, "event": {}}
    if ts is not None:
        event["@timestamp"] = ts
    found = severity.from_level(level)
    log: dict = {"level": found[0] if found is not None else level.lower()}
    if found is not None:
        event["event"]["severity"] = found[1]
        if found[1] <= 3:
            event["event"]["type"] = ["error"]
    if logger:
        log["logger"] = logger
    event["log"] = log
    _message_facts(event, message)
    if "\nTraceback (most recent call last):" in message or message.startswith("Traceback"):
        event["error"] = _error(message)
    return event


def _error(message: str) -> dict[str, str]:
    """`error.stack_trace` (from the first `Traceback` line to the end: chained tracebacks
    included), `error.type` and `error.message` from its last line, the exception raised
    (`ValueError: bad`, `KeyboardInterrupt`); none of the two when the trace was cut before it."""
    start = message.find(_TRACEBACK)
    trace = message[start:].rstrip()
    error = {"stack_trace": trace}
    last = trace[trace.rfind("\n") + 1:]
    if last[:1].isspace():  # a frame or a source line: the trace was cut before its exception
        return error
    name, colon, text = last.partition(":")
    if _EXCEPTION_NAME.fullmatch(name) is not None and (colon or name[:1].isupper()):
        error["type"] = name
        if colon:
            error["message"] = text.strip()
    return error


def parse_python(text: str, record: RawRecord) -> Event | None:
    first = text[:1]
    if first.isdigit():
        m = _DASHED.match(text)
        if m is not None:
            ts, logger, level, message = m.groups()
            stamp = timefmt.iso(ts)
            return None if stamp is None else _event(stamp, level, logger, message)
        m = _SPACED.match(text)
        if m is not None:
            ts, level, logger, message = m.groups()
            stamp = timefmt.iso(ts)
            return None if stamp is None else _event(stamp, level, logger, message)
        return None
    if first == "[":
        m = _GUNICORN.match(text)
        if m is not None:
            ts, pid, level, message = m.groups()
            stamp = timefmt.iso(ts)
            if stamp is None:
                return None
            event = _event(stamp, level, "gunicorn.error", message)
            event["process"] = {"pid": int(pid), "name": "gunicorn"}
            return event
        return None
    m = _BASIC.match(text)
    if m is not None and " " not in m.group(2):
        level, logger, message = m.groups()
        return _event(None, level, logger, message)
    m = _UVICORN_SERVER.match(text)
    if m is not None:
        level, message = m.groups()
        return _event(None, level, "uvicorn.error", message)
    return None


def sniff_python(text: str) -> bool:
    if text[:1].isdigit():
        return text[4:5] == "-" and (" - " in text[19:40] or _SPACED.match(text) is not None)
    if text[:1] == "[":
        return text[1:5].isdigit() and "] [" in text[:40]
    return text[:3] in ("DEB", "INF", "WAR", "ERR", "CRI", "FAT") and ":" in text[:12]


PARSERS = [Parser("python_logging", "application", "line", parse_python, sniff=sniff_python, priority=60)]
