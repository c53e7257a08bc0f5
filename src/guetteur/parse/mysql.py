"""MySQL and MariaDB server logs: the error log (MySQL 5.7 / 8.0 with `[MY-010926]
[Server]` tags, MariaDB `2021-11-09  5:13:11 8 [Warning]`, old `211109  5:13:11`), and
the general query log (`<time>\\t<thread> <Command>\\t<argument>`).

ECS: `event.category: ["database"]`, `log.level`, `event.severity`, `mysql.thread_id`,
`event.code` (`MY-xxxxxx`), `mysql.subsystem`, `message`; `Access denied for user
'u'@'h' (using password: YES)` becomes an authentication failure (`event.category:
["authentication", "database"]`, `event.action: "database_login"`, `event.outcome:
"failure"`, `user.name`, `source.*`); general log `Connect` lines are logins
(`user@host on db`), `Query` lines carry `mysql.query`.
"""

from __future__ import annotations

import re

from guetteur.model import Event, RawRecord
from guetteur.parse import severity, timefmt
from guetteur.parse.address import add_related, endpoint
from guetteur.parse.base import Parser, take_envelope

_ERROR = re.compile(
    r"(\d{4}-\d{2}-\d{2}[T ] ?\d{1,2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?|\d{6} {1,2}\d{1,2}:\d{2}:\d{2})"
    r"(?:\s+(\d+))? \[(\w+)\](?: \[(MY-\d+)\])?(?: \[(\w+)\])? (.*)$",
    re.DOTALL,
)
_GENERAL = re.compile(
    r"(?:(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?|\d{6} {1,2}\d{1,2}:\d{2}:\d{2})\s+)?\s*(\d+) "
    r"(Connect|Query|Quit|Init DB|Prepare|Execute|Close stmt|Field List|Statistics|Connect Out|Change user|"
    r"Reset stmt|Long Data|Binlog Dump|Ping|Kill|Shutdown|Refresh|Debug|Processlist|Sleep)\t?(.*)$",
    re.DOTALL,
)
_DENIED = re.compile(r"Access denied for user '([^']*)'@'([^']*)'(?: \(using password: (YES|NO)\))?")
_CONNECT = re.compile(r"(\S+?)@(\S+) on (\S*)(?: using (\S+))?")


def _time(text: str) -> str | None:
    if text[6:7] == " " and text[:6].isdigit():  # 211109  5:13:11 (YYMMDD)
        date, _, hms = text.partition(" ")
        text = f"20{date[:2]}-{date[2:4]}-{date[4:6]} {hms.strip()}"
    date, sep, hms = text.replace("T", " ", 1).partition(" ")
    hms = hms.strip()
    if len(hms.split(":", 1)[0]) == 1:  # MariaDB pads the hour with a space
        hms = "0" + hms
    return timefmt.iso(f"{date} {hms}")


def _denied(event: Event, message: str) -> bool:
    m = _DENIED.search(message)
    if m is None:
        return False
    user, host, password = m.groups()
    ev = event["event"]
    ev["category"] = ["authentication", "database"]
    ev["type"] = ["info"]
    ev["action"] = "database_login"
    ev["outcome"] = "failure"
    event["user"] = {"name": user}
    add_related(event, "user", user)
    src = endpoint(host)
    if src is not None:
        event["source"] = src
        add_related(event, "ip", src.get("ip"))
    if password:
        event.setdefault("mysql", {})["using_password"] = password == "YES"
    return True


def parse_error(text: str, record: RawRecord) -> Event | None:
    m = _ERROR.match(text)
    if m is None:
        return None
    ts, thread, level, code, subsystem, message = m.groups()
    stamp = _time(ts)
    if stamp is None:
        return None
    found = severity.from_level(level)
    if found is None:
        return None
    event: Event = {"@timestamp": stamp, "message": message, "event": {"category": ["database"], "type": ["info"]},
                    "log": {"level": found[0]}}
    event["event"]["severity"] = found[1]
    if found[1] <= 3:
        event["event"]["type"] = ["error"]
    if thread:
        event["mysql"] = {"thread_id": int(thread)}
    if code:
        event["event"]["code"] = code
    if subsystem:
        event.setdefault("mysql", {})["subsystem"] = subsystem
    _denied(event, message)
    return event


def parse_general(text: str, record: RawRecord) -> Event | None:
    m = _GENERAL.match(text)
    if m is None:
        return None
    ts, thread, command, argument = m.groups()
    event: Event = {"message": f"{command}\t{argument}".rstrip(), "event": {"category": ["database"], "type": ["info"]},
                    "mysql": {"thread_id": int(thread), "command": command}}
    if ts:
        stamp = _time(ts)
        if stamp is None:
            return None
        event["@timestamp"] = stamp
    argument = argument.strip()
    if command == "Connect":
        if _denied(event, argument):
            return event
        c = _CONNECT.match(argument)
        if c is not None:
            user, host, database, via = c.groups()
            ev = event["event"]
            ev["category"] = ["authentication", "database"]
            ev["type"] = ["start"]
            ev["action"] = "database_login"
            ev["outcome"] = "success"
            event["user"] = {"name": user}
            src = endpoint(host)
            if src is not None:
                event["source"] = src
            if database:
                event["mysql"]["database"] = database
            if via:
                event["mysql"]["connection_type"] = via
    elif command in ("Query", "Execute", "Prepare"):
        event["mysql"]["query"] = argument
        event["event"]["type"] = ["access"]
        event["event"]["action"] = "query"
    elif command == "Quit":
        event["event"]["category"] = ["session", "database"]
        event["event"]["type"] = ["end"]
    return event


def parse_mysql(text: str, record: RawRecord) -> Event | None:
    return parse_error(text, record) or parse_general(text, record)


def sniff_mysql(text: str) -> bool:
    return (" [" in text[:48] and _ERROR.match(text) is not None) or (
        "\t" in text[:64] and _GENERAL.match(text) is not None)


def parse_syslog(message: str, record: RawRecord, base: Event) -> Event | None:
    event = parse_mysql(message, record)
    if event is None:
        # mysqld via syslog often drops its own time: "[Warning] Access denied for user ..."
        if "Access denied for user" not in message:
            return None
        event = {"message": message, "event": {"category": ["database"], "type": ["info"]}}
        _denied(event, message)
    return take_envelope(event, base, ("host", "process"), missing=("@timestamp",))


PARSERS = [
    Parser("mysql", "database", "line", parse_mysql, sniff=sniff_mysql, priority=50),
    Parser("mariadb", "database", "line", parse_mysql),
    Parser("mysql_syslog", "database", "syslog", parse_syslog,
           programs=("mysql", "mysqld", "mariadb", "mariadbd", "mysqld_safe"), priority=50),
]
