"""Web server error logs: Apache 2.2 and 2.4 (`[time] [module:level] [pid N:tid T]
[client ip:port] message`, time optional) and nginx (`yyyy/mm/dd hh:mm:ss [level]
pid#tid: *cid message, client: ..., server: ..., request: "...", host: "..."`).

ECS (as Elastic's apache/nginx error pipelines): `log.level`, `event.severity`,
`event.category: ["web"]`, `event.type: ["error"]` (or `["info"]` below warning),
`process.pid`, `process.thread.id`, `source.*` (client), `message`, `file.path`
("File does not exist: ..."), `http.request.referrer`, `apache.error.module`,
`nginx.error.connection_id`; nginx's `client/server/request/host` details become
`source.*`, `http.request.method`, `url.original`, `url.domain`. Times carry no zone:
the configured zone applies.
"""

from __future__ import annotations

import re

from guetteur.model import Event, RawRecord
from guetteur.parse import severity, timefmt
from guetteur.parse.address import add_related, endpoint
from guetteur.parse.base import Parser, take_envelope

_APACHE = re.compile(
    r"(?:\[([A-Za-z]{3} [A-Za-z]{3} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4})\] )?"
    r"\[(?:([^:\]\s]*):)?([A-Za-z]+\d?)\]"
    r"(?: \[pid (\d+)(?::tid (\d+))?\])?"
    r"(?: ([\w.-]+\(\d+\)):)?"
    r"(?: \[client ([^\]]+)\])?"
    r" ?(.*)$",
    re.DOTALL,
)
_NGINX = re.compile(
    r"(\d{4})/(\d{2})/(\d{2}) (\d{2}:\d{2}:\d{2}) \[(\w+)\] (\d+)[#:](\d+):?(?: \*(\d+))? ?(.*)$", re.DOTALL
)
_NGINX_DETAIL = re.compile(r", (client|server|request|upstream|host|referrer): (\"(?:[^\"\\]|\\.)*\"|[^,]*)")
_FILE_NOT_EXIST = re.compile(r"File does not exist: ([^,]+)")
_REFERER = re.compile(r", referer: (\S+)\s*$")
_REQUEST = re.compile(r"([A-Z]{1,20}) (\S+)(?: HTTP/(\d(?:\.\d)?))?$")


def _level(event: Event, word: str) -> None:
    found = severity.from_level(word)
    level = found[0] if found is not None else word.lower()
    event["log"] = {"level": level}
    if found is not None:
        event["event"]["severity"] = found[1]
        event["event"]["type"] = ["error"] if found[1] <= 4 else ["info"]
    else:
        event["event"]["type"] = ["error"]


def _client(event: Event, text: str) -> None:
    address, port = text, None
    if text.count(":") == 1 or (text.count(":") > 1 and "." in text.rsplit(":", 1)[0] and "]" not in text):
        head, _, tail = text.rpartition(":")
        if tail.isdigit():
            address, port = head, tail
    elif text.startswith("[") and "]:" in text:
        head, _, tail = text.rpartition(":")
        address, port = head.strip("[]"), tail
    elif text.count(":") > 2:
        # "[client ::1:54321]": an IPv6 address followed by a port
        head, _, tail = text.rpartition(":")
        if tail.isdigit() and endpoint(head) is not None and "ip" in (endpoint(head) or {}):
            address, port = head, tail
    src = endpoint(address, port)
    if src is not None:
        event["source"] = src
        add_related(event, "ip", src.get("ip"))


def parse_apache_error(text: str, record: RawRecord) -> Event | None:
    m = _APACHE.match(text)
    if m is None:
        return None
    stamp, module, level, pid, tid, srcfile, client, message = m.groups()
    if srcfile:  # "mod_rewrite.c(470): [client ...] ...": Elastic keeps it all in the message
        message = text[m.start(6):]
    event: Event = {"event": {"category": ["web"]}, "message": message}
    if stamp:
        ts = timefmt.ctime(stamp)
        if ts is None:
            return None
        event["@timestamp"] = ts
    _level(event, level)
    if module is not None:
        event["apache"] = {"error": {"module": module}} if module else {"error": {}}
    if pid:
        event["process"] = {"pid": int(pid)}
        if tid:
            event["process"]["thread"] = {"id": int(tid)}
    if client:
        _client(event, client)
    f = _FILE_NOT_EXIST.search(message)
    if f is not None:
        event["file"] = {"path": f.group(1).strip()}
    r = _REFERER.search(message)
    if r is not None:
        event["http"] = {"request": {"referrer": r.group(1)}}
    return event


def parse_nginx_error(text: str, record: RawRecord) -> Event | None:
    m = _NGINX.match(text)
    if m is None:
        return None
    year, month, day, hms, level, pid, tid, cid, message = m.groups()
    ts = timefmt.iso(f"{year}-{month}-{day}T{hms}")
    if ts is None:
        return None
    event: Event = {"@timestamp": ts, "event": {"category": ["web"]}, "message": message,
                    "process": {"pid": int(pid), "thread": {"id": int(tid)}}}
    _level(event, level)
    if cid:
        event["nginx"] = {"error": {"connection_id": int(cid)}}
    first_line = message.split("\n", 1)[0]
    for key, raw in _NGINX_DETAIL.findall(first_line):
        value = raw[1:-1] if raw.startswith('"') else raw
        if key == "client":
            _client(event, value)
        elif key == "server" and value and value != "_":
            event.setdefault("nginx", {}).setdefault("error", {})["server"] = value
        elif key == "request":
            r = _REQUEST.match(value)
            if r is not None:
                http = event.setdefault("http", {})
                http["request"] = {"method": r.group(1)}
                if r.group(3):
                    http["version"] = r.group(3)
                event.setdefault("url", {})["original"] = r.group(2)
                event["url"]["path"] = r.group(2).split("?", 1)[0]
        elif key == "host":
            event.setdefault("url", {})["domain"] = value.split(":", 1)[0]
        elif key == "referrer":
            event.setdefault("http", {}).setdefault("request", {})["referrer"] = value
        elif key == "upstream":
            event.setdefault("nginx", {}).setdefault("error", {})["upstream"] = value
    return event


def sniff_apache_error(text: str) -> bool:
    return text.startswith("[") and _APACHE.match(text) is not None and "] [" in text[:64] or (
        text.startswith("[") and text[1:6].isalpha() and "]" in text[:12])


def sniff_nginx_error(text: str) -> bool:
    return text[4:5] == "/" and text[7:8] == "/" and text[:4].isdigit()


def parse_syslog(message: str, record: RawRecord, base: Event) -> Event | None:
    event = parse_nginx_error(message, record) or parse_apache_error(message, record)
    if event is None:
        return None
    return take_envelope(event, base, ("host",), missing=("@timestamp",))


PARSERS = [
    Parser("apache_error", "web", "line", parse_apache_error, sniff=sniff_apache_error, priority=45),
    Parser("nginx_error", "web", "line", parse_nginx_error, sniff=sniff_nginx_error, priority=45),
    Parser("web_error_syslog", "web", "syslog", parse_syslog,
           programs=("nginx", "apache", "apache2", "httpd", "nginx-error", "apache-error"), priority=45),
]
