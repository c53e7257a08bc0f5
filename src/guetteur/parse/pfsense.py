"""pfSense / OPNsense packet filter log: syslog program `filterlog`, CSV body.

Layout (pfSense "filterlog format"): rule, sub-rule, anchor, tracker, interface,
reason, action, direction, IP version, then the IPv4 header (tos, ecn, ttl, id,
offset, flags, proto id, proto text, length, src, dst) or the IPv6 one (class, flow
label, hop limit, proto text, proto id, length, src, dst), then per protocol: TCP
(sport, dport, data length, flags, seq, ack, window, urg, options), UDP (sport,
dport, data length), ICMP (type, then type-specific fields). ECS as Elastic's
pfsense integration fills it.
"""

from __future__ import annotations

from typing import Any

from guetteur.model import Event, RawRecord
from guetteur.parse.base import Parser
from guetteur.parse.community_id import community_id

_ACTIONS = {"pass": "allowed", "block": "denied", "reject": "denied"}


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def parse_filterlog_message(message: str, base: Event) -> Event | None:
    fields = message.strip().split(",")
    if len(fields) < 9 or fields[8] not in ("4", "6"):
        return None
    rule, _sub, _anchor, tracker, interface, reason, action, direction, version = fields[:9]
    event = base
    meta = event.setdefault("event", {})
    meta.update({"kind": "event", "category": ["network"], "provider": "filterlog"})
    if action:
        meta["action"] = action
    if reason:
        meta["reason"] = reason
    kind = _ACTIONS.get(action)
    meta["type"] = ["connection", kind] if kind else ["connection"]
    if tracker:
        event["rule"] = {"id": tracker}
        if rule:
            event["rule"]["ruleset"] = rule
    pf: dict[str, Any] = {}
    ip: dict[str, Any] = {}
    network: dict[str, Any] = {"type": "ipv4" if version == "4" else "ipv6"}
    if direction in ("in", "out"):
        network["direction"] = "inbound" if direction == "in" else "outbound"
    observer: dict[str, Any] = {"type": "firewall", "vendor": "netgate"}
    if interface:
        observer["ingress" if direction != "out" else "egress"] = {"interface": {"name": interface}}
    host = (event.get("host") or {}).get("name")
    if host:
        observer["name"] = host
    event["observer"] = observer
    rest = fields[9:]
    if version == "4":
        if len(rest) < 11:
            return event
        tos, ecn, ttl, ident, offset, flags, proto_id, proto, length, src, dst = rest[:11]
        ip.update({"tos": tos, "ecn": ecn, "ttl": _int(ttl), "id": _int(ident), "offset": _int(offset),
                   "flags": flags})
        tail = rest[11:]
    else:
        if len(rest) < 8:
            return event
        tos, flow_label, hop_limit, proto, proto_id, length, src, dst = rest[:8]
        ip.update({"tos": tos, "flow_label": flow_label, "flags": hop_limit})
        tail = rest[8:]
    pf["ip"] = {k: v for k, v in ip.items() if v not in (None, "")}
    transport = proto.lower()
    network["transport"] = transport
    if proto_id:
        network["iana_number"] = proto_id
    if (size := _int(length)) is not None:
        network["bytes"] = size
    source: dict[str, Any] = {"address": src, "ip": src}
    destination: dict[str, Any] = {"address": dst, "ip": dst}
    sport = dport = None
    if transport in ("tcp", "udp") and len(tail) >= 2:
        sport, dport = _int(tail[0]), _int(tail[1])
        if sport is not None:
            source["port"] = sport
        if dport is not None:
            destination["port"] = dport
        if transport == "tcp" and len(tail) >= 4:
            tcp: dict[str, Any] = {"flags": tail[3]} if tail[3] else {}
            if len(tail) >= 3 and (n := _int(tail[2])) is not None:
                tcp["length"] = n
            if len(tail) >= 5 and tail[4]:
                tcp["seq"] = tail[4]
            if len(tail) >= 6 and tail[5]:
                tcp["ack"] = tail[5]
            if len(tail) >= 7 and (n := _int(tail[6])) is not None:
                tcp["window"] = n
            if len(tail) >= 9 and tail[8]:
                tcp["options"] = tail[8].split(";")
            pf["tcp"] = tcp
        elif transport == "udp" and len(tail) >= 3 and (n := _int(tail[2])) is not None:
            pf["udp"] = {"length": n}
    elif transport.startswith("icmp") and tail:
        pf["icmp"] = {"type": tail[0]}
        if len(tail) >= 3 and tail[0] in ("request", "reply"):
            pf["icmp"].update({"id": tail[1], "seq": tail[2]})
    elif tail and tail[0].startswith("datalength="):
        if (n := _int(tail[0][11:])) is not None:
            network["packets"] = n  # what Elastic's pipeline stores there
    event["source"] = source
    event["destination"] = destination
    cid = community_id(transport, src, dst, sport, dport) if transport in ("tcp", "udp") else \
        community_id(transport, src, dst, None, None) if transport not in ("icmp", "ipv6-icmp") else None
    if cid is None and transport == "ipv6-icmp":
        cid = community_id(transport, src, dst, None, None)
    if cid is not None:
        network["community_id"] = cid
    event["network"] = network
    event.setdefault("related", {})["ip"] = list(dict.fromkeys(ip for ip in (dst, src) if ip))
    event["pfsense"] = pf
    return event


def parse_filterlog(message: str, record: RawRecord, base: Event) -> Event | None:
    return parse_filterlog_message(message, base)


PARSERS = [Parser("pfsense", "network", "syslog", parse_filterlog, programs=("filterlog",), priority=40)]
