"""Web server access logs: Apache and nginx common/combined formats and their variants
(virtual host first, `X-Forwarded-For` address lists, trailing extra fields), gunicorn's
access log (same shape), Apache's `ssl_request_log`, and uvicorn's access lines
(`INFO:     127.0.0.1:54321 - "GET /api/patients/42 HTTP/1.1" 200 OK`).

ECS (as Elastic's apache/nginx integrations): `source.address/ip/domain` (the first
address of a forwarded list; the whole list in `<server>.access.remote_ip_list`),
`destination.*` and `url.domain` for the virtual host, `user.name`, `http.request.method`,
`url.original/path/query/extension`, `http.version`, `http.response.status_code`,
`http.response.body.bytes`, `http.request.referrer`, `user_agent.original`,
`event.category: ["web"]`, `event.type: ["access"]`, `event.outcome` (status >= 400 is
a failure). "-" placeholders are left out. Only the first line of a multi-line record
is parsed (the whole record stays in `event.original`).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote

from guetteur.model import Event, RawRecord
from guetteur.parse import severity, timefmt
from guetteur.parse.address import add_related, endpoint
from guetteur.parse.base import Parser, take_envelope

_TIME_AND_TAIL = re.compile(
    r"\[(\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}(?:\.\d+)?(?: [+-]\d{4})?)\] "
    r"\"([^\"\\]*(?:\\.[^\"\\]*)*)\" (\d{3}|-) (\d+|-)"
    r"(?: \"([^\"\\]*(?:\\.[^\"\\]*)*)\"(?: \"([^\"\\]*(?:\\.[^\"\\]*)*)\")?)?(.*)$"
)
_SSL_REQUEST = re.compile(
    r"\[(\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?)\] (\S+) (\S+) (\S+) "
    r"\"([^\"\\]*(?:\\.[^\"\\]*)*)\" (\d+|-)\s*$"
)
_UVICORN = re.compile(
    r"(?:(\w+):\s+)?(\[?[0-9A-Fa-f.:]+\]?|\S+):(\d+) - \"([^\"\\]*(?:\\.[^\"\\]*)*)\" (\d{3})(?: (.*))?$"
)
_REQUEST = re.compile(r"([A-Za-z]{1,20}) (\S+)(?: HTTP/(\d(?:\.\d)?))?$")
_SNIFF = re.compile(r"(?:\S+ ){2,8}\[\d{1,2}/[A-Za-z]{3}/\d{4}:")


def _url(event: Event, target: str) -> None:
    url: dict = {"original": target}
    path, _, query = target.partition("?")
    if target.startswith(("http://", "https://")):
        scheme, _, rest = target.partition("://")
        host, slash, remainder = rest.partition("/")
        url["scheme"] = scheme
        url["domain"] = host.rsplit("@", 1)[-1].split(":", 1)[0]
        path, _, query = (slash + remainder).partition("?")
    if path:
        url["path"] = unquote(path, errors="replace") if "%" in path else path
    if query:
        url["query"] = unquote(query, errors="replace") if "%" in query else query
    last = path.rsplit("/", 1)[-1]
    if "." in last:
        ext = last.rsplit(".", 1)[1]
        if ext and len(ext) <= 16 and ext.isalnum():
            url["extension"] = ext.lower()
    event["url"] = url


def _request(event: Event, request: str) -> None:
    m = _REQUEST.match(request)
    if m is None:
        return
    method, target, version = m.groups()
    http = event.setdefault("http", {})
    http["request"] = {"method": method}
    if version:
        http["version"] = version
    _url(event, target)


def _status(event: Event, status: str | None, size: str | None) -> None:
    http = event.setdefault("http", {})
    response: dict = {}
    if status and status != "-":
        code = response["status_code"] = int(status)
        event["event"]["outcome"] = "success" if code < 400 else "failure"
    if size and size != "-":
        response["body"] = {"bytes": int(size)}
    if response:
        http["response"] = response


def _split_clients(head: str) -> tuple[str | None, list[str]]:
    """(virtual host, client address list) from the text before ` ident user [time]`."""
    if " " not in head and '"' not in head and "," not in head and "\t" not in head and head.isprintable():
        return None, [head] if head else []  # one client address: the common case
    tokens = head.split()
    if not tokens:
        return None, []
    vhost = None
    if len(tokens) > 1 and not tokens[0].endswith(",") and not tokens[0].startswith('"'):
        vhost = tokens[0]
        tokens = tokens[1:]
    clients = [t.strip('",') for t in tokens]
    return vhost, [c for c in clients if c]


def _client_address(clients: list[str]) -> str:
    """The client of a forwarded chain: the first public address, else the first one."""
    if len(clients) > 1:
        for client in clients:
            try:
                if ipaddress.ip_address(client).is_global:
                    return client
            except ValueError:
                continue
    return clients[0]


def parse_access(text: str, record: RawRecord, server: str | None = None) -> Event | None:
    line = text.split("\n", 1)[0] if "\n" in text else text
    bracket = line.find(" [")
    m = _TIME_AND_TAIL.match(line, bracket + 1) if bracket > 0 else None
    if m is None:
        m = _TIME_AND_TAIL.search(line)
    if m is None:
        return _parse_ssl_request(line) if line.startswith("[") else None
    head = line[:m.start()].rstrip()
    parts = head.rsplit(" ", 2)
    if len(parts) == 3:
        client_text, ident, user = parts
    elif len(parts) == 2:  # "client user [time]": no ident column
        client_text, user = parts
        ident = "-"
    else:
        return None
    stamp, request, status, size, referrer, agent, _rest = m.groups()
    ts = timefmt.clf(stamp)
    if ts is None:
        return None
    vhost, clients = _split_clients(client_text)
    if not clients:
        return None
    event: Event = {"@timestamp": ts, "event": {"category": ["web"], "type": ["access"]}}
    src = endpoint(_client_address(clients))
    if src is not None:
        event["source"] = src
        add_related(event, "ip", src.get("ip"))
    name = server or "web"
    access: dict = {}
    if len(clients) > 1 or server == "nginx":
        access["remote_ip_list"] = clients
    if vhost:
        host, _, port = vhost.rpartition(":") if vhost.count(":") == 1 else (vhost, "", "")
        dst = endpoint(host, port or None)
        if dst is not None:
            event["destination"] = dst
            add_related(event, "ip", dst.get("ip"))
            if "domain" in dst:
                event.setdefault("url", {})["domain"] = dst["domain"]
    if user != "-":
        event["user"] = {"name": user}
        add_related(event, "user", user)
    if ident != "-":
        access["identity"] = ident
    if access:
        event[name] = {"access": access}
    if request and request != "-":
        url = event.get("url")
        domain = url.get("domain") if url is not None else None
        _request(event, request)
        if domain and "domain" not in event.get("url", ()):
            event.setdefault("url", {})["domain"] = domain
    _status(event, status, size)
    if referrer and referrer != "-":
        event["http"].setdefault("request", {})["referrer"] = referrer
    if agent and agent != "-":
        event["user_agent"] = {"original": agent}
    return event


def _parse_ssl_request(line: str) -> Event | None:
    m = _SSL_REQUEST.match(line)
    if m is None:
        return None
    stamp, client, protocol, cipher, request, size = m.groups()
    ts = timefmt.clf(stamp)
    if ts is None:
        return None
    event: Event = {"@timestamp": ts, "event": {"category": ["web"], "type": ["access"]}}
    src = endpoint(client)
    if src is not None:
        event["source"] = src
    event["apache"] = {"access": {"ssl": {"protocol": protocol, "cipher": cipher}}}
    proto, _, version = protocol.partition("v")
    event["tls"] = {"cipher": cipher, "version": version, "version_protocol": proto.lower()}
    _request(event, request)
    if size != "-":
        event.setdefault("http", {})["response"] = {"body": {"bytes": int(size)}}
    return event


# auto-detection sniffs a line then parses the same string: the sniff's match is kept for it
# (one tuple, replaced whole, so a thread never pairs one line with another's match)
_sniffed: tuple[str | None, re.Match[str] | None] = (None, None)


def parse_uvicorn(text: str, record: RawRecord) -> Event | None:
    """uvicorn's access logger: `INFO:     127.0.0.1:54321 - "GET /x HTTP/1.1" 200 OK`."""
    sniffed = _sniffed
    m = sniffed[1] if sniffed[0] is text else _UVICORN.match(text)
    if m is None:
        return None
    level, client, port, request, status, reason = m.groups()
    event: Event = {"event": {"category": ["web"], "type": ["access"]}}
    src = endpoint(client.strip("[]"), port)
    if src is not None:
        event["source"] = src
        add_related(event, "ip", src.get("ip"))
    _request(event, request)
    _status(event, status, None)
    if reason:
        event["http"]["response"]["status_text"] = reason
    if level:
        found = severity.from_level(level)
        if found is not None:
            event["log"] = {"level": found[0], "logger": "uvicorn.access"}
            event["event"]["severity"] = found[1]
    return event


def _bracket_date_possible(text: str) -> bool:
    """What `_SNIFF` needs and two string scans can tell: " [" then one or two characters and
    "/" (the regex walks up to eight words first: 2 µs on a line that is no access line)."""
    at = text.find(" [")
    while at >= 0:
        if text[at + 3:at + 4] == "/" or text[at + 4:at + 5] == "/":
            return True
        at = text.find(" [", at + 2)
    return False


def sniff_access(text: str) -> bool:
    return (_bracket_date_possible(text) and _SNIFF.match(text) is not None) or (
        text.startswith("[") and "] " in text[:40] and '"' in text)


def sniff_uvicorn(text: str) -> bool:
    if ' - "' not in text[:80]:
        return False
    global _sniffed
    m = _UVICORN.match(text)
    _sniffed = (text, m)
    return m is not None


def parse_nginx(text: str, record: RawRecord) -> Event | None:
    return parse_access(text, record, "nginx")


def parse_apache(text: str, record: RawRecord) -> Event | None:
    return parse_access(text, record, "apache")


def parse_syslog(message: str, record: RawRecord, base: Event) -> Event | None:
    """An access line forwarded by syslog (`nginx[2869]: 1.2.3.4 - - [...] "GET ..."`)."""
    process = base.get("process")
    program = process.get("name", "") if process is not None else ""
    server = "nginx" if program[:5].lower() == "nginx" else "apache"
    event = parse_access(message, record, server)
    return None if event is None else take_envelope(event, base, ("host", "process", "log"))


PARSERS = [
    Parser("web_access", "web", "line", parse_access, sniff=sniff_access, priority=40),
    Parser("apache_access", "web", "line", parse_apache),
    Parser("nginx_access", "web", "line", parse_nginx),
    Parser("gunicorn_access", "application", "line", parse_access),
    Parser("uvicorn_access", "application", "line", parse_uvicorn, sniff=sniff_uvicorn, priority=30),
    Parser("web_access_syslog", "web", "syslog", parse_syslog,
           programs=("nginx", "apache", "apache2", "httpd", "apache-access", "nginx-access"), priority=40),
]
