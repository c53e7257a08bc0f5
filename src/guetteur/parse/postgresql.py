"""PostgreSQL server logs: stderr output with the common `log_line_prefix` variants, and
`csvlog`.

stderr: the prefix is whatever `log_line_prefix` makes it; this parser finds the level
marker (`LOG:  `, `FATAL:  `...) and reads the prefix for what it usually holds:
`%m`/`%t` time (with zone word), `[%p]` pid, `%h` or `%r` client (`1.2.3.4(5432)`),
`%u@%d` user@database, `user=%u,db=%d,app=%a,client=%h`, `[%l-1]` line number. Seen
variants: `%m [%p] `, `%m [%p] %h %u@%d `, `%m:%r:%u@%d:[%p]:`, `%h %m [%p] %u@%d `,
`%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h `.

ECS (as Elastic's postgresql integration): `event.category: ["database"]`,
`event.type`, `log.level`, `event.severity`, `process.pid`, `user.name`,
`postgresql.log.{database,query,sql_state_code,session_id,application_name}`,
`source.*`; plus authentication outcomes: `connection authorized` (success),
`password authentication failed for user`, `no pg_hba.conf entry`, `role ... does
not exist` (failure) get `event.category: ["authentication", "database"]`,
`event.action: "database_login"`, `event.outcome`.
"""

from __future__ import annotations

import csv
import io
import re

from guetteur.model import Event, RawRecord
from guetteur.parse import severity, timefmt
from guetteur.parse.address import add_related, endpoint
from guetteur.parse.base import Parser, take_envelope

# The level marker ("LOG:  "): one of these words after the start of the text, a space, ":"
# or "]", then ": " and an optional second space (see `level_marker`).
_LEVEL_WORDS = frozenset(("LOG", "ERROR", "FATAL", "PANIC", "WARNING", "NOTICE", "INFO", "DEBUG", "DEBUG1", "DEBUG2",
                          "DEBUG3", "DEBUG4", "DEBUG5", "STATEMENT", "DETAIL", "HINT", "CONTEXT", "LOCATION", "QUERY"))
_LEVEL_SIZES = tuple(sorted({len(word) for word in _LEVEL_WORDS}))
# the words `sniff_stderr` accepts (not CONTEXT, LOCATION, QUERY: continuation lines)
_SNIFF_WORDS = _LEVEL_WORDS - {"CONTEXT", "LOCATION", "QUERY"}
_TS = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)(?: ([A-Z]{2,5}|[+-]\d{2}(?::?\d{2})?))?")
_PID = re.compile(r"\[(\d+)\]")
_USER_DB = re.compile(r"(?:^|[\s:\]])([\w.\-$\[\]]*)@([\w.\-$]*)(?=[\s:]|$)")
_KEYED = re.compile(r"(user|db|app|client|host)=([^,\s]*)")
_CLIENT = re.compile(r"(?:^|[\s:])((?:\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F]*:[0-9a-fA-F:]+|\[local\])(?:\((\d+)\))?(?=[\s:]|$)")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_SNIFF = re.compile(r".{0,120}?\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}.{0,200}?\b(?:LOG|ERROR|FATAL|PANIC|WARNING|"
                    r"NOTICE|INFO|DEBUG[1-5]?|STATEMENT|DETAIL|HINT):  ")

# PostgreSQL's own words on our scale: FATAL ends one session (an error), PANIC the server.
_PG_LEVELS = {"FATAL": "error", "PANIC": "critical", "LOG": "info", "STATEMENT": "info", "DETAIL": "info",
              "HINT": "info", "CONTEXT": "info", "QUERY": "info", "LOCATION": "debug"}


def level_marker(text: str, endpos: int) -> tuple[int, int, str, int] | None:
    """The first level marker of `text[:endpos]`: (start, word start, word, end), as the regular
    expression `(?:^|[\\s:\\]])(LOG|ERROR|...|QUERY):  ?` searched with that end would give
    its start, `start(1)`, `group(1)` and `end()`. A marker is found from its ": " (a C-speed
    `str.find`) and the word before it: only one word can end there (words hold no boundary
    character), and an earlier ": " gives an earlier match. The regex walked the prefix
    trying 14 words at each character: 4 µs a line, this is a fifth of it."""
    colon = text.find(": ", 0, endpos)
    while colon >= 0:
        for size in _LEVEL_SIZES:
            start = colon - size
            if start < 0:
                break
            if text[start:colon] in _LEVEL_WORDS:
                before = text[start - 1] if start else ""
                if not start or before == ":" or before == "]" or before.isspace():
                    end = colon + 3 if colon + 2 < endpos and text[colon + 2:colon + 3] == " " else colon + 2
                    return max(start - 1, 0), start, text[start:colon], end
                break  # one word at most ends at this colon
        colon = text.find(": ", colon + 1, endpos)
    return None


def pg_level(word: str) -> tuple[str, int] | None:
    return severity.from_level(_PG_LEVELS.get(word, word))


_PASSWORD_FAILED = re.compile(r"password authentication failed for user \"([^\"]*)\"")
_AUTH_FAILED = re.compile(r"(\w+) authentication failed for user \"([^\"]*)\"")
_NO_HBA = re.compile(r"no pg_hba\.conf entry for host \"([^\"]*)\", user \"([^\"]*)\", database \"([^\"]*)\"")
_NO_ROLE = re.compile(r"role \"([^\"]*)\" does not exist")
_AUTHORIZED = re.compile(r"connection authorized: user=(\S+)(?: database=(\S+))?(?: application_name=(\S+))?")
_RECEIVED = re.compile(r"connection received: host=(\S+)(?: port=(\d+))?")
_DISCONNECT = re.compile(r"disconnection: session time: (\S+) user=(\S+) database=(\S+) host=(\S+)(?: port=(\d+))?")
_STATEMENT = re.compile(r"(?:duration: ([\d.]+) ms\s+)?(?:statement|execute [^:]*): (.*)$", re.DOTALL)
_DURATION = re.compile(r"duration: ([\d.]+) ms")


def _login(event: Event, outcome: str, user: str | None) -> None:
    ev = event["event"]
    ev["category"] = ["authentication", "database"]
    ev["type"] = ["start"] if outcome == "success" else ["info"]
    ev["action"] = "database_login"
    ev["outcome"] = outcome
    if user:
        event["user"] = {"name": user}
        add_related(event, "user", user)


def _message(event: Event, level: str, message: str) -> None:
    """Categorise a PostgreSQL message (shared by stderr and csvlog)."""
    pg = event["postgresql"]["log"]
    ev = event["event"]
    if level in ("FATAL", "PANIC", "ERROR"):
        ev["type"] = ["error"]
    # the substring tests skip regex searches of every message that cannot match them
    m = (_PASSWORD_FAILED.search(message) or _AUTH_FAILED.search(message)
         if 'authentication failed for user "' in message else None)
    if m is not None:
        _login(event, "failure", m.group(m.lastindex or 1))
        return
    m = _NO_HBA.search(message) if 'no pg_hba.conf entry for host "' in message else None
    if m is not None:
        host, user, database = m.groups()
        _login(event, "failure", user)
        pg["database"] = database
        src = endpoint(host)
        if src is not None:
            event["source"] = src
        return
    if level == "FATAL" and '" does not exist' in message:
        m = _NO_ROLE.search(message)
        if m is not None:
            _login(event, "failure", m.group(1))
            return
    if message.startswith("connection authorized"):
        m = _AUTHORIZED.match(message)
        if m is not None:
            _login(event, "success", m.group(1))
            if m.group(2):
                pg["database"] = m.group(2)
            if m.group(3):
                pg["application_name"] = m.group(3)
        return
    if message.startswith("connection received"):
        m = _RECEIVED.match(message)
        if m is not None:
            ev["category"] = ["network", "database"]
            ev["type"] = ["connection", "start"]
            ev["action"] = "connection_received"
            src = endpoint(m.group(1), m.group(2))
            if src is not None:
                event["source"] = src
                add_related(event, "ip", src.get("ip"))
        return
    if message.startswith("disconnection"):
        m = _DISCONNECT.match(message)
        if m is not None:
            ev["category"] = ["session", "database"]
            ev["type"] = ["end"]
            ev["action"] = "disconnection"
            event["user"] = {"name": m.group(2)}
            pg["database"] = m.group(3)
            src = endpoint(m.group(4), m.group(5))
            if src is not None:
                event["source"] = src
        return
    m = _STATEMENT.match(message)
    if m is not None:
        duration, query = m.groups()
        pg["query"] = query
        ev["type"] = ["access"]
        ev["action"] = "query"
        if duration:
            ev["duration"] = int(float(duration) * 1_000_000)
        return
    m = _DURATION.match(message)
    if m is not None:
        ev["duration"] = int(float(m.group(1)) * 1_000_000)


def parse_stderr(text: str, record: RawRecord) -> Event | None:
    marker = level_marker(text, 400)
    if marker is None:
        return None
    _start, word_start, level, end = marker
    prefix = text[:word_start]
    message = text[end:]
    t = _TS.search(prefix)
    if t is None:
        return None
    stamp = timefmt.iso(f"{t.group(1)} {t.group(2)}" if t.group(2) else t.group(1))
    if stamp is None:
        return None
    rest = prefix[:t.start()] + " " + prefix[t.end():]
    event: Event = {"@timestamp": stamp, "message": message, "event": {"category": ["database"], "type": ["info"]},
                    "postgresql": {"log": {}}}
    found = pg_level(level)
    if found is not None:
        event["log"] = {"level": found[0]}
        event["event"]["severity"] = found[1]
    pg = event["postgresql"]["log"]
    pg["error"] = {"severity": level} if level in ("ERROR", "FATAL", "PANIC", "WARNING") else {}
    if not pg["error"]:
        del pg["error"]
    p = _PID.search(rest)
    if p is not None:
        event["process"] = {"pid": int(p.group(1))}
    keyed = dict(_KEYED.findall(rest))
    if keyed:
        if keyed.get("user"):
            event["user"] = {"name": keyed["user"]}
        if keyed.get("db"):
            pg["database"] = keyed["db"]
        if keyed.get("app"):
            pg["application_name"] = keyed["app"]
        client = keyed.get("client") or keyed.get("host")
        if client:
            src = endpoint(client)
            if src is not None:
                event["source"] = src
    else:
        u = _USER_DB.search(rest)
        if u is not None:
            if u.group(1) and u.group(1) != "[unknown]":
                event["user"] = {"name": u.group(1)}
            if u.group(2) and u.group(2) != "[unknown]":
                pg["database"] = u.group(2)
            rest = rest[:u.start()] + " " + rest[u.end():]
        c = _CLIENT.search(rest)
        if c is not None and c.group(1) != "[local]":
            src = endpoint(c.group(1), c.group(2))
            if src is not None:
                event["source"] = src
    if "source" in event:
        add_related(event, "ip", event["source"].get("ip"))
    _message(event, level, message)
    return event


_CSV_COLUMNS = (
    "log_time", "user_name", "database_name", "process_id", "connection_from", "session_id", "session_line_num",
    "command_tag", "session_start_time", "virtual_transaction_id", "transaction_id", "error_severity",
    "sql_state_code", "message", "detail", "hint", "internal_query", "internal_query_pos", "context", "query",
    "query_pos", "location", "application_name", "backend_type", "leader_pid", "query_id",
)
_CSV_SNIFF = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? [A-Z]{2,5},")


def parse_csvlog(text: str, record: RawRecord) -> Event | None:
    if _CSV_SNIFF.match(text) is None:
        return None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        return None
    if len(rows) != 1 or len(rows[0]) < 14:
        return None
    row = dict(zip(_CSV_COLUMNS, rows[0], strict=False))
    stamp = timefmt.iso(row["log_time"])
    if stamp is None:
        return None
    level = row["error_severity"]
    event: Event = {"@timestamp": stamp, "message": row["message"],
                    "event": {"category": ["database"], "type": ["info"]}, "postgresql": {"log": {}}}
    found = pg_level(level)
    if found is not None:
        event["log"] = {"level": found[0]}
        event["event"]["severity"] = found[1]
    pg = event["postgresql"]["log"]
    for key in ("session_id", "command_tag", "sql_state_code", "detail", "hint", "context", "query",
                "application_name", "backend_type", "transaction_id", "virtual_transaction_id"):
        if row.get(key):
            pg[key] = row[key]
    if row.get("database_name"):
        pg["database"] = row["database_name"]
    if row.get("user_name"):
        event["user"] = {"name": row["user_name"]}
    if row.get("process_id", "").isdigit():
        event["process"] = {"pid": int(row["process_id"])}
    if row.get("connection_from"):
        host, _, port = row["connection_from"].rpartition(":") if ":" in row["connection_from"] else (
            row["connection_from"], "", "")
        src = endpoint(host or row["connection_from"], port or None)
        if src is not None and host != "[local]":
            event["source"] = src
    if row.get("sql_state_code"):
        event["error"] = {"code": row["sql_state_code"]} if row["sql_state_code"] != "00000" else {}
        if not event["error"]:
            del event["error"]
    _message(event, level, row["message"])
    return event


_SNIFF_END = 19 + 200 + 9 + 3  # the time, `.{0,200}?`, the longest word, ":  "


def _sniffed_at_start(text: str) -> bool:
    """A witness of `_SNIFF.match(text)` with the time at the start (most lines): a sniffed
    word starting 0 to 200 characters after the time, at a word boundary, then ":  ", and no
    newline before it. False means "not found this way", not "no match"."""
    if _DATE_TIME.match(text) is None:
        return False
    colon = text.find(":  ", 20, _SNIFF_END)
    while colon >= 0:
        for size in _LEVEL_SIZES:
            start = colon - size
            if start < 19:
                break
            if text[start:colon] in _SNIFF_WORDS:
                before = text[start - 1]
                if start <= 219 and not (before.isalnum() or before == "_") and "\n" not in text[:colon]:
                    return True
                break  # one word at most ends at this colon
        colon = text.find(":  ", colon + 1, _SNIFF_END)
    return False


def sniff_stderr(text: str) -> bool:
    head = text[:400]
    return ":  " in head and "-" in head[:140] and (_sniffed_at_start(text) or _SNIFF.match(text) is not None)


def parse_syslog(message: str, record: RawRecord, base: Event) -> Event | None:
    """`postgres[123]: [5-1] user=x,db=y LOG:  ...` (log_destination = syslog)."""
    marker = level_marker(message, 300)
    if marker is None:
        return None
    stamped = f"{base.get('@timestamp', '')} {message}" if _TS.search(message[:marker[0]]) is None else message
    event = parse_stderr(stamped.replace("T", " ", 1).replace("Z ", " UTC ", 1), record)
    if event is None:
        return None
    take_envelope(event, base, ("host",))
    if "process" in base:
        event.setdefault("process", {}).update({k: v for k, v in base["process"].items() if k not in event.get("process", {})})
    return event


PARSERS = [
    Parser("postgresql", "database", "line", parse_stderr, sniff=sniff_stderr, priority=50),
    Parser("postgresql_csv", "database", "line", parse_csvlog, sniff=lambda t: _CSV_SNIFF.match(t) is not None,
           priority=49),
    Parser("postgresql_syslog", "database", "syslog", parse_syslog, programs=("postgres", "postgresql", "postmaster"),
           priority=50),
]
