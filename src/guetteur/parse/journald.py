"""systemd journal export as JSON (`journalctl -o json`, one entry a line).

ECS: `@timestamp` from `__REALTIME_TIMESTAMP` (µs) or `_SOURCE_REALTIME_TIMESTAMP`,
`host.name/hostname` (`_HOSTNAME`), `process.name` (`SYSLOG_IDENTIFIER`, else `_COMM`),
`process.pid`, `process.executable` (`_EXE`), `process.command_line` (`_CMDLINE`),
`user.id` (`_UID`), `group.id` (`_GID`), `log.syslog.priority/facility`, `log.level`,
`event.severity` (`PRIORITY`), `message` (`MESSAGE`; byte arrays are decoded),
`journald.*` keeps every field of the entry (lower-cased, leading `_` removed).
The message then goes through the syslog program parsers (sshd, sudo...), exactly as
the same line read from /var/log/auth.log would.
"""

from __future__ import annotations

from guetteur.model import Event, RawRecord
from guetteur.parse import severity, timefmt
from guetteur.parse.base import Parser


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", errors="replace")
    return None


def parse_journal(obj: dict, text: str, record: RawRecord) -> Event | None:
    message = _text(obj.get("MESSAGE"))
    if message is None and "__REALTIME_TIMESTAMP" not in obj:
        return None
    event: Event = {}
    for key in ("_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP"):
        raw = obj.get(key)
        if isinstance(raw, (str, int)) and str(raw).isdigit():
            stamp = timefmt.epoch(int(raw) / 1_000_000 if len(str(raw)) > 13 else int(raw))
            if stamp is not None:
                event["@timestamp"] = stamp
                break
    host = obj.get("_HOSTNAME")
    if isinstance(host, str):
        event["host"] = {"name": host, "hostname": host}
    process: dict = {}
    name = obj.get("SYSLOG_IDENTIFIER") or obj.get("_COMM")
    if isinstance(name, str):
        process["name"] = name
    for key in ("_PID", "SYSLOG_PID"):
        pid = obj.get(key)
        if isinstance(pid, str) and pid.isdigit() and len(pid) < 12:
            process["pid"] = int(pid)
            break
    if isinstance(obj.get("_EXE"), str):
        process["executable"] = obj["_EXE"]
    if isinstance(obj.get("_CMDLINE"), str):
        process["command_line"] = obj["_CMDLINE"]
    if process:
        event["process"] = process
    if isinstance(obj.get("_UID"), str):
        event["user"] = {"id": obj["_UID"]}
    if isinstance(obj.get("_GID"), str):
        event["group"] = {"id": obj["_GID"]}
    priority = obj.get("PRIORITY")
    if isinstance(priority, str) and priority.isdigit():
        level, code = severity.from_code(int(priority))
        syslog: dict = {"severity": {"code": int(priority), "name": level}}
        facility = obj.get("SYSLOG_FACILITY")
        if isinstance(facility, str) and facility.isdigit():
            syslog["facility"] = {"code": int(facility)}
            syslog["priority"] = int(facility) * 8 + int(priority)
        event["log"] = {"level": level, "syslog": syslog}
        event["event"] = {"severity": code}
    event["journald"] = {k.lstrip("_").lower(): v for k, v in obj.items()}
    if message is None:
        return event
    event["message"] = message
    program = (process.get("name") or "").lower()
    if program:
        from guetteur.parse import dispatch_program

        found = dispatch_program(program, message, record, event)
        if found is not None:
            claimed, parser = found
            claimed.setdefault("event", {}).setdefault("dataset", f"journald.{parser.name}")
            return claimed
    return event


def sniff_journal(obj: dict) -> bool:
    return "__REALTIME_TIMESTAMP" in obj or ("MESSAGE" in obj and ("_BOOT_ID" in obj or "__CURSOR" in obj))


PARSERS = [Parser("journald", "linux", "json", parse_journal, sniff=sniff_journal, priority=20)]
