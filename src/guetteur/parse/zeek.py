"""Zeek logs: TSV (the default writer: `#separator`, `#fields`, `#types` header lines,
one record per tab-separated line) and JSON (`LogAscii::use_json`, one object per line,
`id.orig_h` or `id_orig_h` spelling, optional `@stream`/`_path` naming the log).

TSV is stateful: the header tells what the columns are. The latest header seen is
remembered per (source, peer) — the lines of one file arrive in order in one parser
worker — so a data line is decoded with its own file's columns. Header lines become
small `zeek_header` events (the registry never drops a record).

ECS as Elastic's zeek integration fills it for conn, dns, http, ssl, files, notice;
other logs (kerberos, smb, x509, weird...) keep the five-tuple and their fields under
`zeek.<log>`. `event.dataset` is `zeek.<log>` as Elastic names it (`zeek.conn`,
`zeek.dns`...): the log is the TSV `#path` header, the JSON `_path`/`@stream`/`path`, else
guessed from the fields present; a name that is not a plain log name
(`[a-z0-9_]`, at most 48 characters) becomes `unknown`. Header lines keep the parser's
dataset (`zeek_tsv`): they are not records of the log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from guetteur.model import Event, RawRecord
from guetteur.parse.address import flow_endpoints
from guetteur.parse.base import Parser
from guetteur.parse.community_id import community_id
from guetteur.parse.timefmt import epoch, iso


class _Header:
    __slots__ = ("separator", "set_separator", "empty", "unset", "path", "fields", "types")

    def __init__(self) -> None:
        self.separator = "\t"
        self.set_separator = ","
        self.empty = "(empty)"
        self.unset = "-"
        self.path = ""
        self.fields: list[str] = []
        self.types: list[str] = []


# (source, peer) -> header; bounded so a flood of peers cannot grow it without end
_HEADERS: dict[tuple[str, str], _Header] = {}
_MAX_STREAMS = 4096
_FIELD_COUNTS: set[int] = set()


def reset_state() -> None:
    """Forget every remembered header (tests)."""
    _HEADERS.clear()
    _FIELD_COUNTS.clear()


def _key(record: RawRecord) -> tuple[str, str]:
    return (record.source, record.peer or "")


def _header_line(text: str, record: RawRecord) -> Event | None:
    key = _key(record)
    header = _HEADERS.get(key)
    if header is None or text.startswith("#separator"):
        if len(_HEADERS) >= _MAX_STREAMS:
            _HEADERS.pop(next(iter(_HEADERS)))
        header = _HEADERS[key] = _Header()
    if text.startswith("#separator"):
        value = text[len("#separator"):].strip()
        if value.startswith("\\x"):
            try:
                value = value.encode().decode("unicode_escape")
            except UnicodeError:  # a cut escape ("\x"): not a header this parser reads
                return None
        header.separator = value or "\t"
    else:
        name, _, value = text[1:].partition(header.separator)
        if name == "set_separator":
            header.set_separator = value
        elif name == "empty_field":
            header.empty = value
        elif name == "unset_field":
            header.unset = value
        elif name == "path":
            header.path = value
        elif name == "fields":
            header.fields = value.split(header.separator)
            _FIELD_COUNTS.add(len(header.fields))
        elif name == "types":
            header.types = value.split(header.separator)
        elif name not in ("open", "close"):
            return None
    return {"event": {"kind": "event", "category": ["network"], "type": ["info"]},
            "tags": ["zeek_header"], "zeek": {"log": header.path} if header.path else {}}


def _tsv_value(raw: str, kind: str, header: _Header) -> Any:
    if raw == header.unset:
        return None
    if raw == header.empty:
        return [] if kind.startswith(("set", "vector")) else ""
    if kind.startswith(("set", "vector")):
        inner = kind[kind.find("[") + 1:-1]
        return [_tsv_value(part, inner, header) for part in raw.split(header.set_separator)]
    if kind in ("count", "port", "int"):
        try:
            return int(raw)
        except ValueError:
            return raw
    if kind in ("interval", "double", "time"):
        try:
            return float(raw)
        except ValueError:
            return raw
    if kind == "bool":
        return raw == "T"
    return raw


def parse_tsv(text: str, record: RawRecord) -> Event | None:
    if text.startswith("#"):
        return _header_line(text, record)
    header = _HEADERS.get(_key(record))
    if header is None or not header.fields:
        return None
    values = text.split(header.separator)
    if len(values) != len(header.fields):
        return None
    types = header.types if len(header.types) == len(values) else ["string"] * len(values)
    obj = {name: _tsv_value(raw, kind, header) for name, raw, kind in zip(header.fields, values, types, strict=True)}
    obj = {k: v for k, v in obj.items() if v is not None}
    return to_ecs(obj, header.path or _guess_log(obj))


# ---- JSON ---------------------------------------------------------------------------------------

def _guess_log(obj: dict[str, Any]) -> str:
    if "conn_state" in obj or ("history" in obj and "orig_bytes" in obj):
        return "conn"
    if "qtype_name" in obj or ("query" in obj and "rcode" in obj):
        return "dns"
    if "method" in obj or "request_body_len" in obj or ("status_code" in obj and "trans_depth" in obj):
        return "http"
    if "cipher" in obj or ("server_name" in obj and "version" in obj):
        return "ssl"
    if "note" in obj:
        return "notice"
    if "fuid" in obj and ("mime_type" in obj or "seen_bytes" in obj):
        return "files"
    if "request_type" in obj and "client" in obj:
        return "kerberos"
    if "certificate.subject" in obj or "certificate" in obj:
        return "x509"
    return "unknown"


def _splunk_raw(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The Zeek record inside a Splunk search export (`{"result": {"_raw": "..."}}`)."""
    result = obj.get("result")
    raw = result.get("_raw") if isinstance(result, dict) else None
    if not isinstance(raw, str) or not raw.startswith("{"):
        return None
    from guetteur.parse import decode_json_object  # the registry's bounded decoder

    inner = decode_json_object(raw)
    return inner if inner is not None and "ts" in inner else None


def parse_zeek_json(obj: dict[str, Any], text: str, record: RawRecord) -> Event | None:
    if "ts" not in obj and (inner := _splunk_raw(obj)) is not None:
        obj = inner
    if "ts" not in obj:
        return None
    if "id_orig_h" in obj:  # underscore spelling (RockNSM / Kafka exports)
        obj = {(k.replace("_", ".", 1) if k.startswith("id_") else k): v for k, v in obj.items()}
    log = obj.get("@stream") or obj.get("_path") or obj.get("path")
    return to_ecs(obj, log if isinstance(log, str) else _guess_log(obj))


# ---- ECS ----------------------------------------------------------------------------------------

_META = frozenset(("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "@stream", "@system",
                   "@proc", "_path", "path", "_write_ts"))


def _time(value: Any) -> str | None:
    if isinstance(value, (int, float)):
        return epoch(value)
    if isinstance(value, str):
        try:
            return epoch(float(value))
        except ValueError:
            return iso(value)
    return None


_LOG_NAME = re.compile(r"[a-z0-9_]{1,48}")
_LOG_NAMES: dict[str, str] = {}  # raw name -> checked name (a handful of logs per sensor)


def log_name(raw: str) -> str:
    """The Zeek log name `raw` as a dataset suffix: lower case `[a-z0-9_]`, else `unknown`."""
    name = _LOG_NAMES.get(raw)
    if name is None:
        lowered = raw.strip().lower()
        name = lowered if _LOG_NAME.fullmatch(lowered) else "unknown"
        if len(_LOG_NAMES) < 256:  # hostile JSON cannot grow the cache
            _LOG_NAMES[raw] = name
    return name


def _conn(obj: dict[str, Any], event: Event, meta: dict[str, Any], network: dict[str, Any],
          source: dict[str, Any], destination: dict[str, Any], users: list[str]) -> None:
    """conn.log: service, duration, bytes and packets per side, direction."""
    meta["type"] = ["connection", "start"]
    if isinstance(obj.get("service"), str):
        network["protocol"] = obj["service"].split(",")[0]
    if isinstance(obj.get("duration"), (int, float)):
        meta["duration"] = int(obj["duration"] * 1_000_000_000)
    for side, node in (("orig", source), ("resp", destination)):
        if isinstance(obj.get(side + "_ip_bytes"), int):
            node["bytes"] = obj[side + "_ip_bytes"]
        if isinstance(obj.get(side + "_pkts"), int):
            node["packets"] = obj[side + "_pkts"]
    if "bytes" in source and "bytes" in destination:
        network["bytes"] = source["bytes"] + destination["bytes"]
    if "packets" in source and "packets" in destination:
        network["packets"] = source["packets"] + destination["packets"]
    if obj.get("local_orig") is True and obj.get("local_resp") is True:
        network["direction"] = "internal"
    elif obj.get("local_orig") is True:
        network["direction"] = "outbound"
    elif obj.get("local_resp") is True:
        network["direction"] = "inbound"


def _dns(obj: dict[str, Any], event: Event, meta: dict[str, Any], network: dict[str, Any],
         source: dict[str, Any], destination: dict[str, Any], users: list[str]) -> None:
    """dns.log: question, answers, response code."""
    network["protocol"] = "dns"
    dns: dict[str, Any] = {}
    if obj.get("trans_id") is not None:
        dns["id"] = str(obj["trans_id"])
    question: dict[str, Any] = {}
    if obj.get("query"):
        question["name"] = obj["query"]
    if obj.get("qtype_name"):
        question["type"] = obj["qtype_name"]
    if obj.get("qclass_name"):
        question["class"] = obj["qclass_name"]
    if question:
        dns["question"] = question
    if obj.get("rcode_name"):
        dns["response_code"] = obj["rcode_name"]
    answers = obj.get("answers")
    if isinstance(answers, list) and answers:
        dns["answers"] = [{"data": a} for a in answers]
        dns["resolved_ip"] = [a for a in answers if isinstance(a, str) and (a.count(".") == 3 or ":" in a)
                              and a.replace(".", "").replace(":", "").isalnum()]
        if not dns["resolved_ip"]:
            del dns["resolved_ip"]
    dns["type"] = "answer" if obj.get("rcode_name") or answers else "query"
    event["dns"] = dns
    meta["outcome"] = "success" if obj.get("rcode_name") in ("NOERROR", None) else "failure"


def _http(obj: dict[str, Any], event: Event, meta: dict[str, Any], network: dict[str, Any],
          source: dict[str, Any], destination: dict[str, Any], users: list[str]) -> None:
    """http.log: request, response, URL, user agent."""
    meta["category"] = ["network", "web"]
    http: dict[str, Any] = {}
    request: dict[str, Any] = {}
    response: dict[str, Any] = {}
    if obj.get("method"):
        request["method"] = obj["method"]
        meta["action"] = obj["method"]
    if isinstance(obj.get("request_body_len"), int):
        request["body"] = {"bytes": obj["request_body_len"]}
    if obj.get("referrer"):
        request["referrer"] = obj["referrer"]
    status = obj.get("status_code")
    if isinstance(status, int):
        response["status_code"] = status
        meta["outcome"] = "success" if status < 400 else "failure"
    if isinstance(obj.get("response_body_len"), int):
        response["body"] = {"bytes": obj["response_body_len"]}
    if request:
        http["request"] = request
    if response:
        http["response"] = response
    if obj.get("version"):
        http["version"] = obj["version"]
    event["http"] = http
    url: dict[str, Any] = {}
    if obj.get("host"):
        url["domain"] = obj["host"]
    if isinstance(obj.get("uri"), str):
        url["original"] = obj["uri"]
        path, _, query = obj["uri"].partition("?")
        url["path"] = path
        if query:
            url["query"] = query
    if obj.get("username"):
        url["username"] = obj["username"]
        event["user"] = {"name": obj["username"]}
        users.append(obj["username"])
    if url:
        event["url"] = url
    if obj.get("user_agent"):
        event["user_agent"] = {"original": obj["user_agent"]}


def _ssl(obj: dict[str, Any], event: Event, meta: dict[str, Any], network: dict[str, Any],
         source: dict[str, Any], destination: dict[str, Any], users: list[str]) -> None:
    """ssl.log: TLS version, cipher, server name and certificate names, JA3/JA3S."""
    network["protocol"] = "tls"
    tls: dict[str, Any] = {}
    version = obj.get("version")
    if isinstance(version, str):
        if version.startswith("TLSv"):
            tls["version_protocol"] = "tls"
            number = version[4:]
            tls["version"] = number if "." in number else f"{number[0]}.{number[1:]}" if number else number
        elif version.startswith("SSLv"):
            tls["version_protocol"] = "ssl"
            tls["version"] = version[4:]
    if obj.get("cipher"):
        tls["cipher"] = obj["cipher"]
    if obj.get("curve"):
        tls["curve"] = obj["curve"]
    if isinstance(obj.get("established"), bool):
        tls["established"] = obj["established"]
    if isinstance(obj.get("resumed"), bool):
        tls["resumed"] = obj["resumed"]
    if obj.get("server_name"):
        tls["client"] = {"server_name": obj["server_name"]}
        destination["domain"] = obj["server_name"]
    server: dict[str, Any] = {}
    if obj.get("subject"):
        server["subject"] = obj["subject"]
    if obj.get("issuer"):
        server["issuer"] = obj["issuer"]
    if obj.get("ja3s"):
        server["ja3s"] = obj["ja3s"]
    if obj.get("ja3"):
        tls.setdefault("client", {})["ja3"] = obj["ja3"]
    if server:
        tls["server"] = server
    event["tls"] = tls


def _files(obj: dict[str, Any], event: Event, meta: dict[str, Any], network: dict[str, Any],
           source: dict[str, Any], destination: dict[str, Any], users: list[str]) -> None:
    """files.log: file name, type, size, hashes; host sets instead of the five-tuple."""
    meta["category"] = ["file"]
    meta["type"] = ["info"]
    file: dict[str, Any] = {}
    if obj.get("filename"):
        file["name"] = obj["filename"]
    if obj.get("mime_type"):
        file["mime_type"] = obj["mime_type"]
    if isinstance(obj.get("total_bytes"), int):
        file["size"] = obj["total_bytes"]
    hashes = {k: obj[k] for k in ("md5", "sha1", "sha256") if obj.get(k)}
    if hashes:
        file["hash"] = hashes
    if file:
        event["file"] = file
    # files.log has host sets instead of the five-tuple
    for key, node in (("tx_hosts", source), ("rx_hosts", destination)):
        hosts = obj.get(key)
        if isinstance(hosts, list) and hosts and isinstance(hosts[0], str):
            node.update(address=hosts[0], ip=hosts[0])
        elif isinstance(hosts, str):
            node.update(address=hosts, ip=hosts)
    fuid = obj.get("fuid")
    if isinstance(fuid, str):
        meta["id"] = fuid


def _notice(obj: dict[str, Any], event: Event, meta: dict[str, Any], network: dict[str, Any],
            source: dict[str, Any], destination: dict[str, Any], users: list[str]) -> None:
    """notice.log: an alert named by its note."""
    meta["kind"] = "alert"
    meta["category"] = ["intrusion_detection"]
    meta["type"] = ["info"]
    rule: dict[str, Any] = {}
    if obj.get("note"):
        rule["name"] = obj["note"]
    if obj.get("msg"):
        rule["description"] = obj["msg"]
        event["message"] = obj["msg"]
    if rule:
        event["rule"] = rule
    for key, node in (("src", source), ("dst", destination)):
        if isinstance(obj.get(key), str) and "ip" not in node:
            node.update(address=obj[key], ip=obj[key])
    if isinstance(obj.get("p"), int) and "port" not in destination:
        destination["port"] = obj["p"]


_LogHandler = Callable[[dict[str, Any], Event, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], list[str]],
                       None]
# what each log adds beyond the five-tuple (a log without a handler keeps its fields under zeek.<log>)
_LOG_HANDLERS: dict[str, _LogHandler] = {
    "conn": _conn, "dns": _dns, "http": _http, "ssl": _ssl, "files": _files, "notice": _notice,
}


def to_ecs(obj: dict[str, Any], log: str) -> Event:
    """ECS event from one decoded Zeek record of log `log` (conn, dns, http...);
    `event.dataset` is `zeek.<log>`."""
    log = log_name(log)
    meta: dict[str, Any] = {"kind": "event", "category": ["network"], "type": ["connection", "protocol", "info"],
                            "dataset": "zeek." + log}
    event: Event = {"event": meta}
    if (stamp := _time(obj.get("ts"))) is not None:
        event["@timestamp"] = stamp
    uid = obj.get("uid")
    if isinstance(uid, str):
        meta["id"] = uid
    src, dst = obj.get("id.orig_h"), obj.get("id.resp_h")
    sport, dport = obj.get("id.orig_p"), obj.get("id.resp_p")
    source, destination = flow_endpoints(src, sport, dst, dport)
    network: dict[str, Any] = {}
    proto = obj.get("proto")
    if isinstance(proto, str):
        network["transport"] = proto
    elif log in ("http", "ssl", "smtp", "ftp", "ssh", "smb_files", "smb_mapping"):
        network["transport"] = "tcp"
    elif log == "dns":
        network["transport"] = "udp"
    if isinstance(src, str) and isinstance(dst, str) and network.get("transport"):
        cid = community_id(network["transport"], src, dst, sport if isinstance(sport, int) else None,
                           dport if isinstance(dport, int) else None)
        if cid is not None:
            network["community_id"] = cid
    rest = {k: v for k, v in obj.items() if k not in _META}
    zeek: dict[str, Any] = {"session_id": uid} if isinstance(uid, str) else {}
    users: list[str] = []
    handler = _LOG_HANDLERS.get(log)
    if handler is not None:
        handler(obj, event, meta, network, source, destination, users)
    if source:
        event["source"] = source
    if destination:
        event["destination"] = destination
    if network:
        event["network"] = network
    ips = [n["ip"] for n in (source, destination) if isinstance(n.get("ip"), str)]
    related: dict[str, Any] = {}
    if ips:
        related["ip"] = list(dict.fromkeys(ips))
    if users:
        related["user"] = users
    if related:
        event["related"] = related
    zeek[log] = rest
    event["zeek"] = zeek
    return event


def _sniff_json(obj: dict[str, Any]) -> bool:
    if "result" in obj and "ts" not in obj:
        return _splunk_raw(obj) is not None
    return "ts" in obj and ("uid" in obj or "fuid" in obj or "id.orig_h" in obj or "id_orig_h" in obj
                            or "@stream" in obj or "_path" in obj)


def _sniff_tsv(text: str) -> bool:
    if text.startswith(("#separator", "#fields", "#types", "#path", "#set_separator", "#empty_field",
                        "#unset_field", "#open", "#close")):
        return True
    return bool(_FIELD_COUNTS) and "\t" in text and text.count("\t") + 1 in _FIELD_COUNTS


PARSERS = [
    Parser("zeek", "network", "json", parse_zeek_json, sniff=_sniff_json, priority=40),
    Parser("zeek_tsv", "network", "line", parse_tsv, sniff=_sniff_tsv, priority=40),
]
