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
the next lines stay in it), `error.stack_trace` for a traceback.
"""

from __future__ import annotations

import re

from guetteur.model import Event, RawRecord
from guetteur.parse import severity, timefmt
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
    if "\nTraceback (most recent call last):" in message or message.startswith("Traceback"):
        head, _, trace = message.partition("Traceback (most recent call last):")
        event["error"] = {"stack_trace": "Traceback (most recent call last):" + trace}
        last = trace.rstrip().rsplit("\n", 1)[-1].strip()
        if ":" in last:
            event["error"]["type"], _, event["error"]["message"] = (p.strip() for p in last.partition(":"))
    return event


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
