"""Suricata: EVE JSON (`eve.json`, one object per line, `event_type` alert / flow / dns /
http / tls / fileinfo / anomaly / stats...) and the classic `fast.log` alert line.

ECS as Elastic's suricata integration fills it; the EVE object itself (minus the
five-tuple and timestamp, which become ECS) is kept under `suricata.eve`.
"""

from __future__ import annotations

import re
from typing import Any

from guetteur.model import Event, RawRecord
from guetteur.parse.address import flow_endpoints
from guetteur.parse.base import Parser
from guetteur.parse.community_id import community_id
from guetteur.parse.timefmt import iso

_MOVED = frozenset(("timestamp", "src_ip", "src_port", "dest_ip", "dest_port", "proto"))
_DN_KEYS = {"CN": "common_name", "C": "country", "O": "organization", "OU": "organizational_unit",
            "L": "locality", "ST": "state_or_province"}
_TYPE_BY_EVENT = {
    "dns": ["protocol"], "http": ["protocol"], "tls": ["protocol"], "ssh": ["protocol"], "smb": ["protocol"],
    "fileinfo": ["info"], "anomaly": ["info"], "stats": ["info"],
}


def _dn(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in re.split(r",\s*(?=[A-Za-z]+=)", text):
        key, sep, value = part.partition("=")
        if sep and (name := _DN_KEYS.get(key.strip().upper())):
            out.setdefault(name, []).append(value.strip())
    return out


def _time(text: Any) -> str | None:
    return iso(text) if isinstance(text, str) else None


def _tls(event: Event, tls: dict[str, Any]) -> None:
    out: dict[str, Any] = {}
    server: dict[str, Any] = {}
    version = tls.get("version")
    if isinstance(version, str) and " " in version:
        proto, _, number = version.partition(" ")
        out["version"] = number
        out["version_protocol"] = proto.lower()
    if tls.get("issuerdn"):
        server["issuer"] = tls["issuerdn"]
    if tls.get("subject"):
        server["subject"] = tls["subject"]
    if isinstance(tls.get("fingerprint"), str):
        server["hash"] = {"sha1": tls["fingerprint"].replace(":", "").upper()}
    ja3s = tls.get("ja3s")
    if isinstance(ja3s, dict) and ja3s.get("hash"):
        server["ja3s"] = ja3s["hash"]
    ja3 = tls.get("ja3")
    if isinstance(ja3, dict) and ja3.get("hash"):
        out["client"] = {"ja3": ja3["hash"]}
    if tls.get("sni"):
        out.setdefault("client", {})["server_name"] = tls["sni"]
    x509: dict[str, Any] = {}
    for key, name in (("notbefore", "not_before"), ("notafter", "not_after")):
        if (stamp := _time(tls.get(key))) is not None:
            server[name] = stamp
            x509[name] = stamp
    if isinstance(tls.get("issuerdn"), str) and (issuer := _dn(tls["issuerdn"])):
        x509["issuer"] = issuer
    if isinstance(tls.get("subject"), str) and (subject := _dn(tls["subject"])):
        x509["subject"] = subject
    if isinstance(tls.get("serial"), str):
        x509["serial_number"] = tls["serial"].replace(":", "")
    if x509:
        server["x509"] = x509
    if server:
        out["server"] = server
    if out:
        event["tls"] = out


def _http(event: Event, http: dict[str, Any]) -> None:
    request: dict[str, Any] = {}
    response: dict[str, Any] = {}
    if http.get("http_method"):
        request["method"] = http["http_method"]
    if http.get("http_refer"):
        request["referrer"] = http["http_refer"]
    if isinstance(http.get("status"), int):
        response["status_code"] = http["status"]
    if isinstance(http.get("length"), int):
        response["body"] = {"bytes": http["length"]}
    if http.get("http_content_type"):
        response["mime_type"] = http["http_content_type"]
    out: dict[str, Any] = {}
    if request:
        out["request"] = request
    if response:
        out["response"] = response
    protocol = http.get("protocol")
    if isinstance(protocol, str) and "/" in protocol:
        out["version"] = protocol.split("/", 1)[1]
    if out:
        event["http"] = out
    url: dict[str, Any] = {}
    if http.get("url"):
        url["original"] = http["url"]
        path, _, query = str(http["url"]).partition("?")
        url["path"] = path
        if query:
            url["query"] = query
    if http.get("hostname"):
        url["domain"] = http["hostname"]
    if url:
        event["url"] = url
    if http.get("http_user_agent"):
        event["user_agent"] = {"original": http["http_user_agent"]}


def _dns(event: Event, dns: dict[str, Any]) -> None:
    out: dict[str, Any] = {}
    if dns.get("type"):
        out["type"] = dns["type"]
    if dns.get("id") is not None:
        out["id"] = str(dns["id"])
    question: dict[str, Any] = {}
    queries = dns.get("queries")
    first = queries[0] if isinstance(queries, list) and queries and isinstance(queries[0], dict) else dns
    if first.get("rrname"):
        question["name"] = first["rrname"]
    if first.get("rrtype"):
        question["type"] = first["rrtype"]
    if question:
        out["question"] = question
    if dns.get("rcode"):
        out["response_code"] = dns["rcode"]
    answers = []
    resolved = []
    for answer in dns.get("answers") or ():
        if isinstance(answer, dict):
            answers.append({k: answer[v] for k, v in (("name", "rrname"), ("type", "rrtype"), ("data", "rdata"),
                                                      ("ttl", "ttl")) if v in answer})
            if answer.get("rrtype") in ("A", "AAAA") and answer.get("rdata"):
                resolved.append(answer["rdata"])
    if answers:
        out["answers"] = answers
    if resolved:
        out["resolved_ip"] = resolved
    if out:
        event["dns"] = out


def _flow(event: Event, flow: dict[str, Any]) -> None:
    meta = event["event"]
    if (start := _time(flow.get("start"))) is not None:
        meta["start"] = start
    if (end := _time(flow.get("end"))) is not None:
        meta["end"] = end
    for side, suffix in (("source", "toserver"), ("destination", "toclient")):
        node = event.setdefault(side, {})
        if isinstance(flow.get("pkts_" + suffix), int):
            node["packets"] = flow["pkts_" + suffix]
        if isinstance(flow.get("bytes_" + suffix), int):
            node["bytes"] = flow["bytes_" + suffix]
    network = event.setdefault("network", {})
    packets = [flow.get("pkts_toserver"), flow.get("pkts_toclient")]
    if all(isinstance(p, int) for p in packets):
        network["packets"] = sum(packets)  # type: ignore[arg-type]
    sizes = [flow.get("bytes_toserver"), flow.get("bytes_toclient")]
    if all(isinstance(b, int) for b in sizes):
        network["bytes"] = sum(sizes)  # type: ignore[arg-type]
    if isinstance(flow.get("age"), int):
        meta["duration"] = flow["age"] * 1_000_000_000


def parse_eve(obj: dict[str, Any], text: str, record: RawRecord) -> Event | None:
    kind = obj.get("event_type")
    if not isinstance(kind, str):
        return None
    meta: dict[str, Any] = {"kind": "event", "category": ["network"]}
    event: Event = {"event": meta}
    if (stamp := _time(obj.get("timestamp"))) is not None:
        event["@timestamp"] = stamp
    src, dst = obj.get("src_ip"), obj.get("dest_ip")
    sport, dport = obj.get("src_port"), obj.get("dest_port")
    proto = obj.get("proto")
    source, destination = flow_endpoints(src, sport, dst, dport)
    if source:
        event["source"] = source
    if destination:
        event["destination"] = destination
    network: dict[str, Any] = {}
    if isinstance(proto, str):
        network["transport"] = proto.lower()
        if isinstance(src, str) and isinstance(dst, str):
            icmp = proto.lower().startswith("icmp")
            cid = community_id(proto.lower() if proto.lower() != "ipv6-icmp" else "icmpv6", src, dst,
                               obj.get("icmp_type") if icmp else sport,
                               obj.get("icmp_code") if icmp else dport)
            if cid is not None:
                network["community_id"] = cid
    app = obj.get("app_proto")
    if kind in ("dns", "http", "tls", "ssh", "smb", "ftp", "smtp", "dhcp"):
        network["protocol"] = kind
    elif isinstance(app, str) and app not in ("failed", "unknown"):
        network["protocol"] = app.lower()
    if network:
        event["network"] = network
    if isinstance(src, str) or isinstance(dst, str):
        event["related"] = {"ip": list(dict.fromkeys(ip for ip in (src, dst) if isinstance(ip, str)))}
    if isinstance(obj.get("in_iface"), str):
        event["observer"] = {"ingress": {"interface": {"name": obj["in_iface"]}}}
    if kind == "alert" and isinstance(obj.get("alert"), dict):
        alert = obj["alert"]
        meta["kind"] = "alert"
        meta["category"] = ["network", "intrusion_detection"]
        action = alert.get("action")
        meta["type"] = ["denied"] if action == "blocked" else ["allowed"]
        if action:
            meta["action"] = action
        rule: dict[str, Any] = {}
        if alert.get("signature_id") is not None:
            rule["id"] = str(alert["signature_id"])
        if alert.get("signature"):
            rule["name"] = alert["signature"]
            event["message"] = alert["signature"]
        if alert.get("category"):
            rule["category"] = alert["category"]
        if rule:
            event["rule"] = rule
        if isinstance(alert.get("severity"), int):
            meta["severity"] = alert["severity"]
    elif kind == "flow":
        state = (obj.get("flow") or {}).get("state") if isinstance(obj.get("flow"), dict) else None
        meta["type"] = ["connection", "end" if state == "closed" else "start"]
    elif kind in _TYPE_BY_EVENT:
        meta["type"] = list(_TYPE_BY_EVENT[kind])
        if kind == "fileinfo":
            meta["category"] = ["network", "file"]
    for key, handler in (("tls", _tls), ("http", _http), ("dns", _dns), ("flow", _flow)):
        value = obj.get(key)
        if isinstance(value, dict):
            handler(event, value)
    fileinfo = obj.get("fileinfo")
    if isinstance(fileinfo, dict):
        file: dict[str, Any] = {}
        if fileinfo.get("filename"):
            file["path"] = fileinfo["filename"]
            file["name"] = str(fileinfo["filename"]).rsplit("/", 1)[-1]
        if isinstance(fileinfo.get("size"), int):
            file["size"] = fileinfo["size"]
        hashes = {k: fileinfo[k] for k in ("md5", "sha1", "sha256") if fileinfo.get(k)}
        if hashes:
            file["hash"] = hashes
        if file:
            event["file"] = file
    eve = {k: v for k, v in obj.items() if k not in _MOVED}
    if "flow_id" in eve:
        eve["flow_id"] = str(eve["flow_id"])
    event["suricata"] = {"eve": eve}
    return event


_FAST = re.compile(
    r"(\d\d)/(\d\d)/(\d{4})-(\d\d:\d\d:\d\d\.\d+)\s+\[\*\*\]\s+\[(\d+):(\d+):(\d+)\]\s+(.*?)\s+\[\*\*\]"
    r"(?:\s+\[Classification:\s*([^\]]*)\])?(?:\s+\[Priority:\s*(\d+)\])?\s+\{(\w+)\}\s+"
    r"(\S+?)(?::(\d+))?\s+->\s+(\S+?)(?::(\d+))?\s*$"
)


def parse_fast(text: str, record: RawRecord) -> Event | None:
    """`MM/DD/YYYY-hh:mm:ss.us [**] [gid:sid:rev] msg [**] [Classification: c] [Priority: p] {PROTO} a:p -> b:p`."""
    m = _FAST.match(text.strip())
    if m is None:
        return None
    month, day, year, hms, _gid, sid, _rev, msg, cls, prio, proto, src, sport, dst, dport = m.groups()
    event: Event = {
        "event": {"kind": "alert", "category": ["network", "intrusion_detection"], "type": ["allowed"]},
        "rule": {"id": sid, "name": msg},
        "message": msg,
        "network": {"transport": proto.lower()},
        "source": {"address": src, "ip": src},
        "destination": {"address": dst, "ip": dst},
    }
    if (stamp := iso(f"{year}-{month}-{day}T{hms}")) is not None:
        event["@timestamp"] = stamp
    if cls:
        event["rule"]["category"] = cls
    if prio:
        event["event"]["severity"] = int(prio)
    if sport:
        event["source"]["port"] = int(sport)
    if dport:
        event["destination"]["port"] = int(dport)
    return event


def _sniff(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("event_type"), str) and "timestamp" in obj


def _sniff_fast(text: str) -> bool:
    return "[**]" in text


PARSERS = [
    Parser("suricata", "network", "json", parse_eve, sniff=_sniff, priority=40),
    Parser("suricata_fast", "network", "line", parse_fast, sniff=_sniff_fast, priority=40),
]
