"""Cisco ASA / FTD / PIX syslog messages: `%ASA-<level>-<id>: <text>`.

Headers vary by device configuration (`Apr 15 2013 09:36:50: %ASA-...`,
`May  5 17:51:17 host : %FTD-...`, RFC 3164 with a program tag, or no header at
all), so the parser finds the `%ASA-` tag itself and reads what precedes it. Messages
decoded field by field (ECS as Elastic's cisco_asa integration fills it):

- connections built / torn down: 302013, 302014, 302015, 302016 (+ ICMP 302020/302021);
- denies: 106001, 106006, 106007, 106010, 106014, 106015, 106023, 106100, 710003;
- AAA and management logins: 113004, 113005, 113015, 611101, 611102, 605004, 605005.

Every other message id still yields an event (`event.code`, severity, the message,
and any `iface:ip/port` pairs found), never `unparsed`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from guetteur.model import Event, RawRecord
from guetteur.parse import severity
from guetteur.parse.base import Parser
from guetteur.parse.community_id import community_id
from guetteur.parse.context import CONTEXT
from guetteur.parse.timefmt import bsd

_TAG = re.compile(r"%(ASA|FTD|PIX|FWSM)-(?:[A-Za-z_]+-)?([0-7])-(\d{6}):?\s*")
_HEADER = re.compile(
    r"^\s*(?:<\d{1,3}>)?(?:(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})(?:\s+(?P<year>\d{4}))?\s+"
    r"(?P<hms>\d\d:\d\d:\d\d)(?:\.\d+)?(?:\s+[A-Z]{3,4})?:?\s*)?(?P<host>[^\s:%]+)?\s*(?::\s*)?"
    r"(?:(?P<tag>[\w-]+)(?:\[(?P<pid>\d+)\])?:\s*)?$"
)
_IANA = {"tcp": "6", "udp": "17", "icmp": "1", "icmp6": "58", "gre": "47", "esp": "50", "sctp": "132"}

# iface:ip/port (mapped_ip/mapped_port)
_EP = r"(?:(?P<{p}if>[^\s:]+):)?(?P<{p}ip>[^\s/()]+)/(?P<{p}port>\d+)"
_MAPPED = r"(?:\s*\((?P<{p}mip>[^\s/()]+)/(?P<{p}mport>\d+)\))?"
_IDENT = r"(?:\((?P<{p}user>[^)]*)\))?"


def _ep(prefix: str) -> str:
    return _EP.format(p=prefix) + _MAPPED.format(p=prefix) + _IDENT.format(p=prefix)


_BUILT = re.compile(
    r"Built (?:(?P<dir>inbound|outbound) )?(?:[a-z]+\s+stub )?(?P<proto>TCP|UDP|SCTP|GRE) connection"
    r"(?: (?P<cid>\d+))? for "
    + _ep("a") + r" to " + _ep("b"))
_TEARDOWN = re.compile(
    r"Teardown (?:[a-z]+\s+stub )?(?P<proto>TCP|UDP|SCTP|GRE) connection(?: (?P<cid>\d+))? for "
    + _ep("a") + r" to " + _ep("b")
    + r"(?: duration (?P<dur>\d+:\d\d:\d\d))?(?: bytes (?P<bytes>\d+))?\s*(?P<reason>.*)$")
_ICMP_CONN = re.compile(
    r"(?P<what>Built|Teardown) (?:(?P<dir>inbound|outbound) )?ICMP connection for faddr (?P<faddr>\S+?)/\d+"
    r"(?:\(\S*\))? gaddr (?P<gaddr>\S+?)/\d+ laddr (?P<laddr>\S+?)/\d+(?:\(\S*\))?"
    r"(?: type (?P<type>\d+) code (?P<code>\d+))?")
_DENY_FROM = re.compile(  # 106001 / 106006 / 106007 / 106015 / 710003 style
    r"(?P<dir>Inbound|inbound|outbound)?\s*(?P<proto>TCP|UDP|tcp|udp|ICMP|icmp)? ?(?:connection denied|access denied"
    r" by ACL|\(no connection\))? ?from " + _ep("a") + r" to " + _ep("b"))
_DENY_SRC = re.compile(  # 106010 / 106014 / 106023
    r"Deny (?:(?P<dir>inbound|outbound) )?(?P<proto>\S+) src (?:(?P<aif>[^\s:]+):)?(?P<aip>[^\s/(]+)(?:/(?P<aport>\d+))?"
    r"(?:\([^)]*\))? dst (?:(?P<bif>[^\s:]+):)?(?P<bip>[^\s/(]+)(?:/(?P<bport>\d+))?(?:\([^)]*\))?"
    r"\s*(?:\(type (?P<type>\d+), code (?P<code>\d+)\))?(?:.*?by access-group \"(?P<rule>[^\"]+)\")?")
_ACL = re.compile(  # 106100
    r"access-list (?P<rule>\S+) (?P<verdict>permitted|denied|est-allowed) (?P<proto>\S+) (?P<aif>[^/\s]+)/"
    r"(?P<aip>[^\s(]+)\((?P<aport>\d+)\)(?:\([^)]*\))? -> (?P<bif>[^/\s]+)/(?P<bip>[^\s(]+)\((?P<bport>\d+)\)")
_LOGIN = re.compile(  # 605004 / 605005
    r"Login (?P<verdict>denied|permitted) from (?P<aip>[^\s/]+)/(?P<aport>\d+) to (?:(?P<bif>[^\s:]+):)?"
    r"(?P<bip>[^\s/]+)/(?P<service>\S+) for user \"(?P<user>[^\"]*)\"")
_MGMT_AUTH = re.compile(r"User authentication (?P<verdict>succeeded|failed): IP address: (?P<ip>[^\s,]+), Uname: "
                        r"(?P<user>.*)$")
_AAA = re.compile(r"AAA user (?P<kind>authentication|authorization) (?P<verdict>Successful|Rejected)\s*:"
                  r"(?:\s*reason = (?P<reason>[^:]*):)?\s*server =\s*(?P<server>[^\s:,]+)\s*[:,]\s*[Uu]ser =\s*"
                  r"(?P<user>[^:,]+?)\s*(?::\s*user IP =\s*(?P<ip>\S+))?\s*$")
_AAA_FAILED = re.compile(  # 113015
    r"AAA user authentication Rejected\s*:\s*reason = (?P<reason>.*?)\s*:\s*local database\s*:\s*user = "
    r"(?P<user>[^:]+?)\s*:\s*user IP = (?P<ip>\S+)")
_GENERIC_FLOW = re.compile(r"\b(?:from|for) " + _ep("a") + r",? to " + _ep("b"))
_TRANSLATION = re.compile(
    r"(?P<what>Built|Teardown) (?:dynamic|static) (?P<proto>TCP|UDP|ICMP) translation from "
    r"(?:(?P<aif>[^\s:]+):)?(?P<aip>[^\s/]+)/(?P<aport>\d+)(?:\([^)]*\))? to "
    r"(?:(?P<bif>[^\s:]+):)?(?P<bip>[^\s/]+)/(?P<bport>\d+)")
_ANY_EP = re.compile(r"(?<![(\w.])(?:(?P<if>[\w.-]+):)?(?P<ip>\d{1,3}(?:\.\d{1,3}){3})/(?P<port>\d+)")


def _duration(text: str) -> int:
    h, m, s = (int(x) for x in text.split(":"))
    return ((h * 60 + m) * 60 + s) * 1_000_000_000


def _endpoint(event: Event, side: str, ip: str | None, port: str | None = None) -> None:
    if not ip:
        return
    node = event.setdefault(side, {})
    node["address"] = ip
    if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]+:[0-9a-fA-F:.]*", ip):
        node["ip"] = ip
    else:
        node["domain"] = ip
    if port is not None and port.isdigit():
        node["port"] = int(port)


def _interfaces(event: Event, ingress: str | None, egress: str | None) -> None:
    asa = event.setdefault("cisco", {}).setdefault("asa", {})
    observer = event.setdefault("observer", {})
    if ingress:
        asa["source_interface"] = ingress
        observer["ingress"] = {"interface": {"name": ingress}}
    if egress:
        asa["destination_interface"] = egress
        observer["egress"] = {"interface": {"name": egress}}


def _transport(event: Event, proto: str | None) -> None:
    if not proto:
        return
    name = proto.lower()
    if name.isdigit():
        return
    network = event.setdefault("network", {})
    network["transport"] = name
    if name in _IANA:
        network["iana_number"] = _IANA[name]


def _flow_id(event: Event, icmp: tuple[int, int] | None = None) -> None:
    network = event.get("network") or {}
    src = (event.get("source") or {}).get("ip")
    dst = (event.get("destination") or {}).get("ip")
    transport = network.get("transport")
    if not (src and dst and transport):
        return
    if icmp is not None:
        cid = community_id(transport, src, dst, icmp[0], icmp[1])
    else:
        cid = community_id(transport, src, dst, (event.get("source") or {}).get("port"),
                           (event.get("destination") or {}).get("port"))
    if cid is not None:
        network["community_id"] = cid


def _classify(event: Event, category: list[str], kind: list[str], action: str, outcome: str | None = None) -> None:
    meta = event["event"]
    meta["category"] = category
    meta["type"] = kind
    meta["action"] = action
    if outcome:
        meta["outcome"] = outcome


def _decode(code: str, text: str, event: Event) -> None:
    """Fill event fields from the message body of id `code`."""
    asa = event.setdefault("cisco", {}).setdefault("asa", {})
    if code in ("302013", "302015", "302022", "302024", "302026"):
        m = _BUILT.search(text)
        if m is None:
            return
        g = m.groupdict()
        # "for" is the outside/foreign side; inbound flows start there
        first, second = ("b", "a") if g["dir"] == "outbound" else ("a", "b")
        _endpoint(event, "source", g[first + "ip"], g[first + "port"])
        _endpoint(event, "destination", g[second + "ip"], g[second + "port"])
        _interfaces(event, g[first + "if"], g[second + "if"])
        for side, p in (("source", first), ("destination", second)):
            if g[p + "mip"]:
                event[side]["nat"] = {"ip": g[p + "mip"]}
                if g[p + "mport"]:
                    event[side]["nat"]["port"] = int(g[p + "mport"])
        if g["cid"]:
            asa["connection_id"] = g["cid"]
        for p, name in (("a", "source"), ("b", "destination")):
            if g[p + "mip"]:
                asa[f"mapped_{name}_ip"] = g[p + "mip"]
                asa[f"mapped_{name}_port"] = int(g[p + "mport"])
        if g["dir"]:
            event.setdefault("network", {})["direction"] = g["dir"]
        _transport(event, g["proto"])  # Elastic keeps action firewall-rule / type info here
    elif code in ("302014", "302016", "302023", "302025", "302027"):
        m = _TEARDOWN.search(text)
        if m is None:
            return
        g = m.groupdict()
        _endpoint(event, "source", g["aip"], g["aport"])
        _endpoint(event, "destination", g["bip"], g["bport"])
        _interfaces(event, g["aif"], g["bif"])
        if g["cid"]:
            asa["connection_id"] = g["cid"]
        for p, name in (("a", "source"), ("b", "destination")):
            if g[p + "mip"]:
                asa[f"mapped_{name}_ip"] = g[p + "mip"]
                asa[f"mapped_{name}_port"] = int(g[p + "mport"])
        _transport(event, g["proto"])
        if g["bytes"]:
            event.setdefault("network", {})["bytes"] = int(g["bytes"])
        if g["reason"]:
            event["event"]["reason"] = g["reason"].strip()
        if g["dur"]:
            duration = _duration(g["dur"])
            meta = event["event"]
            meta["duration"] = duration
            end = event.get("@timestamp")
            if isinstance(end, str):
                meta["end"] = end
                try:
                    start = datetime.fromisoformat(end.replace("Z", "+00:00")) - timedelta(
                        microseconds=duration // 1000)
                    meta["start"] = start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"
                except ValueError:
                    pass
        _classify(event, ["network"], ["connection", "end"], "flow-expiration")
    elif code in ("305011", "305012"):
        m = _TRANSLATION.search(text)
        if m is None:
            return
        g = m.groupdict()
        _endpoint(event, "source", g["aip"], g["aport"])
        _endpoint(event, "destination", g["bip"], g["bport"])
        _interfaces(event, g["aif"], g["bif"])
        _transport(event, g["proto"])
        if g["what"] == "Teardown":
            _classify(event, ["network"], ["connection", "end"], "flow-expiration")
            dur = re.search(r"duration (\d+:\d\d:\d\d)", text)
            if dur is not None:
                event["event"]["duration"] = _duration(dur.group(1))
    elif code in ("302020", "302021"):
        m = _ICMP_CONN.search(text)
        if m is None:
            return
        g = m.groupdict()
        _endpoint(event, "source", g["laddr"])
        _endpoint(event, "destination", g["faddr"])
        if g["gaddr"]:
            event["source"]["nat"] = {"ip": g["gaddr"]}
            asa["mapped_source_ip"] = g["gaddr"]
        icmp = None
        if g["type"]:
            asa["icmp_type"] = int(g["type"])
            asa["icmp_code"] = int(g["code"])
            icmp = (int(g["type"]), int(g["code"]))
        _transport(event, "icmp")
        if g["dir"]:
            event["network"]["direction"] = g["dir"]
        built = g["what"] == "Built"
        _classify(event, ["network"], ["connection", "start" if built else "end"],
                  "flow-creation" if built else "flow-expiration")
        if icmp is not None:
            _flow_id(event, icmp)
        return
    elif code in ("106001", "106006", "106007", "106015", "710003", "110002"):
        m = _DENY_FROM.search(text)
        if m is None:
            return
        g = m.groupdict()
        _endpoint(event, "source", g["aip"], g["aport"])
        _endpoint(event, "destination", g["bip"], g["bport"])
        iface = re.search(r"on interface (\S+)", text)
        _interfaces(event, g["aif"] or (iface.group(1) if iface else None), g["bif"])
        proto_word = re.search(r"\b(TCP|UDP)\b", text)
        _transport(event, g["proto"] or (proto_word.group(1) if proto_word else None))
        if g["dir"]:
            event.setdefault("network", {})["direction"] = g["dir"].lower()
        if code == "110002":
            _classify(event, ["network"], ["connection", "denied"], "firewall-rule", "failure")
            event["event"]["reason"] = "Failed to locate egress interface"
        else:
            _classify(event, ["network"], ["connection", "denied"], "firewall-rule", "success")
    elif code in ("106010", "106014", "106023"):
        m = _DENY_SRC.search(text)
        if m is None:
            return
        g = m.groupdict()
        _endpoint(event, "source", g["aip"], g["aport"])
        _endpoint(event, "destination", g["bip"], g["bport"])
        _interfaces(event, g["aif"], g["bif"])
        _transport(event, g["proto"])
        if g["dir"]:
            event.setdefault("network", {})["direction"] = g["dir"]
        if g["rule"]:
            asa["rule_name"] = g["rule"]
            event["rule"] = {"name": g["rule"]}
        _classify(event, ["network"], ["connection", "denied"], "firewall-rule", "success")
        if g["type"]:
            _flow_id(event, (int(g["type"]), int(g["code"])))
            return
    elif code == "106100":
        m = _ACL.search(text)
        if m is None:
            return
        g = m.groupdict()
        _endpoint(event, "source", g["aip"], g["aport"])
        _endpoint(event, "destination", g["bip"], g["bport"])
        _interfaces(event, g["aif"], g["bif"])
        _transport(event, g["proto"])
        asa["rule_name"] = g["rule"]
        event["rule"] = {"name": g["rule"]}
        allowed = g["verdict"] != "denied"
        _classify(event, ["network"], ["connection", "allowed" if allowed else "denied"], "firewall-rule", "success")
    elif code in ("605004", "605005"):
        m = _LOGIN.search(text)
        if m is None:
            return
        g = m.groupdict()
        _endpoint(event, "source", g["aip"], g["aport"])
        _endpoint(event, "destination", g["bip"])
        _interfaces(event, None, g["bif"])
        event.setdefault("network", {})["protocol"] = g["service"]
        event["source"]["user"] = {"name": g["user"]}
        if g["verdict"] == "denied":
            _classify(event, ["authentication", "network"], ["denied", "info"], "logon-failed", "failure")
        else:
            _classify(event, ["network"], ["connection", "allowed"], "firewall-rule", "success")
        _user(event, g["user"])
    elif code in ("611101", "611102"):
        m = _MGMT_AUTH.search(text)
        if m is None:
            return
        _endpoint(event, "source", m.group("ip"))
        event["server"] = {"user": {"name": m.group("user").strip()}}
        ok = m.group("verdict") == "succeeded"
        _classify(event, ["authentication", "network"], ["allowed" if ok else "denied", "info"],
                  "logged-in" if ok else "logon-failed", "success" if ok else "failure")
        _user(event, m.group("user").strip())
    elif code in ("113004", "113005", "113015"):
        m = (_AAA_FAILED.search(text) if code == "113015" else None) or _AAA.search(text)
        if m is None:
            return
        g = m.groupdict()
        if g.get("server"):
            _endpoint(event, "destination", g["server"])
        if g.get("ip"):
            _endpoint(event, "source", g["ip"])
        event.setdefault("source", {})["user"] = {"name": g["user"].strip()}
        if g.get("kind"):
            asa["aaa_type"] = g["kind"]
        ok = g.get("verdict") == "Successful"
        if g.get("reason"):
            event["event"]["reason"] = g["reason"].strip()
        _classify(event, ["authentication", "network"], ["allowed" if ok else "denied", "info"],
                  "logged-in" if ok else "logon-failed", "success" if ok else "failure")
        _user(event, g["user"].strip())
    elif (m := _GENERIC_FLOW.search(text)) is not None:
        # any other "from|for iface:ip/port (mapped) to iface:ip/port (mapped)" message
        g = m.groupdict()
        _endpoint(event, "source", g["aip"], g["aport"])
        _endpoint(event, "destination", g["bip"], g["bport"])
        _interfaces(event, g["aif"], g["bif"])
        for p, name in (("a", "source"), ("b", "destination")):
            if g[p + "mip"]:
                asa[f"mapped_{name}_ip"] = g[p + "mip"]
                asa[f"mapped_{name}_port"] = int(g[p + "mport"])
            if g[p + "user"]:
                asa[f"{name}_username"] = g[p + "user"]
        proto = re.search(r"\b(TCP|UDP|ICMP|tcp|udp|icmp)\b", text)
        _transport(event, proto.group(1) if proto else None)
    else:
        pairs = list(_ANY_EP.finditer(text))
        if len(pairs) >= 2:
            _endpoint(event, "source", pairs[0].group("ip"), pairs[0].group("port"))
            _endpoint(event, "destination", pairs[1].group("ip"), pairs[1].group("port"))
            _interfaces(event, pairs[0].group("if"), pairs[1].group("if"))
        return
    _flow_id(event)


def _user(event: Event, name: str | None) -> None:
    if name:
        related = event.setdefault("related", {}).setdefault("user", [])
        if name not in related:
            related.append(name)


def parse_asa_text(text: str, base: Event, received: float) -> Event | None:
    """ECS event from a line or syslog MSG holding `%ASA-n-nnnnnn:`."""
    m = _TAG.search(text)
    if m is None:
        return None
    product, level, code = m.groups()
    body = text[m.end():].strip()
    event = base
    meta = event.setdefault("event", {})
    meta["kind"] = "event"
    meta["code"] = code
    meta["action"] = "firewall-rule"
    meta["category"] = ["network"]
    meta["type"] = ["info"]
    meta["timezone"] = getattr(CONTEXT.tz, "key", None) or str(CONTEXT.tz)  # how zone-less times were read
    word, sev = severity.from_code(int(level))
    meta["severity"] = sev
    event.setdefault("log", {})["level"] = word
    header = _HEADER.match(text[: m.start()])
    host = (event.get("host") or {}).get("name")
    if header is not None:
        g = header.groupdict()
        if g["mon"] and "@timestamp" not in event:
            stamp = bsd(g["mon"], g["day"], g["hms"], received, g["year"])
            if stamp is not None:
                event["@timestamp"] = stamp
        if g["host"] and not host:
            host = g["host"]
            event.setdefault("host", {})["hostname"] = host
        if g["tag"] and "process" not in event:
            event["process"] = {"name": g["tag"]}
            if g["pid"]:
                event["process"]["pid"] = int(g["pid"])
    observer: dict[str, Any] = event.setdefault("observer", {})
    observer.update({"vendor": "Cisco", "product": product.lower(), "type": "firewall"})
    if host:
        observer["hostname"] = host
    event["cisco"] = {"asa": {"message_id": code}}
    event["message"] = body
    _decode(code, body, event)
    ips = [n.get("ip") for n in (event.get("source") or {}, event.get("destination") or {}) if n.get("ip")]
    if ips:
        event.setdefault("related", {})["ip"] = list(dict.fromkeys(ips))
    return event


def parse_asa_syslog(message: str, record: RawRecord, base: Event) -> Event | None:
    # ASA headers confuse RFC 3164 readers (`host: %ASA-...` reads as a program named
    # `host`): read the whole line's header here, keep only the envelope's PRI facts.
    kept: Event = {}
    syslog = (base.get("log") or {}).get("syslog")
    if syslog:
        kept["log"] = {"syslog": syslog}
    event = parse_asa_text(record.text(), kept, record.received)
    return event if event is not None else parse_asa_text(message, base, record.received)


def parse_asa_line(text: str, record: RawRecord) -> Event | None:
    return parse_asa_text(text, {}, record.received)


def _sniff(text: str) -> bool:
    return "%ASA-" in text or "%FTD-" in text or "%PIX-" in text or "%FWSM-" in text


PARSERS = [
    Parser("cisco_asa", "network", "syslog", parse_asa_syslog, sniff=_sniff, priority=40),
    Parser("cisco_asa_line", "network", "line", parse_asa_line, sniff=_sniff, priority=40),
]
