"""Linux netfilter log lines (iptables/ip6tables `LOG`, nftables `log`, UFW, Ubiquiti EdgeOS):
`[prefix]IN=eth0 OUT= MAC=... SRC=1.2.3.4 DST=... PROTO=TCP SPT=... DPT=... SYN ...`.

The kernel writes them through syslog under the program `kernel`; the rule's log
prefix (UFW's `[UFW BLOCK]`, EdgeOS's `[RULESET-NUMBER-A|D|R]`, anything a user set)
comes first and names the rule. ECS as Elastic's iptables integration fills it,
with the raw header fields under `iptables.*`.
"""

from __future__ import annotations

import re
from typing import Any

from guetteur.model import Event, RawRecord
from guetteur.parse.base import Parser
from guetteur.parse.community_id import community_id

_KV_START = re.compile(r"(?:^|\s|\])(?:IN|OUT|MAC|SRC|DST|LEN|TTL|PROTO|ID)=")
_UPTIME = re.compile(r"^\s*\[\s*\d+\.\d+\]\s*")
_UBIQUITI = re.compile(r"^\[([^\]\s]+?)-(\d+|default)-([ADR])\]$")
_TCP_FLAGS = frozenset(("CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"))
_FRAGMENT_FLAGS = frozenset(("CE", "DF", "MF"))
_INT_FIELDS = {
    "LEN": "length", "TTL": "ttl", "ID": "id", "HOPLIMIT": "hop_limit", "FLOWLBL": "flow_label",
}
_DENY_WORDS = ("BLOCK", "DROP", "DENY", "REJECT", "DENIED")
_ALLOW_WORDS = ("ALLOW", "ACCEPT", "PERMIT", "PASS")


def _int(text: str | None, base: int = 10) -> int | None:
    if not text:
        return None
    try:
        return int(text, base)
    except ValueError:
        return None


def _mac(text: str) -> str:
    return "-".join(text.split(":")).upper()


def _prefix_rule(prefix: str, event: Event, table: dict[str, Any]) -> None:
    """rule.* / event.action from the log prefix."""
    prefix = prefix.strip()
    if not prefix:
        return
    meta = event["event"]
    ubiquiti = _UBIQUITI.match(prefix)
    if ubiquiti is not None:
        rule_set, number, letter = ubiquiti.groups()
        event["rule"] = {"id": number, "name": rule_set}
        ubi: dict[str, str] = {"rule_number": number, "rule_set": rule_set}
        if "-" in rule_set:
            inbound, _, outbound = rule_set.partition("-")
            ubi["input_zone"] = inbound
            ubi["output_zone"] = outbound
            event["observer"] = {"ingress": {"zone": inbound}, "egress": {"zone": outbound}}
        table["ubiquiti"] = ubi
        action = {"A": "accept", "D": "drop", "R": "reject"}[letter]
        meta["action"] = action
        meta["type"] = ["allowed" if letter == "A" else "denied", "connection"]
        return
    name = prefix.strip("[] :")
    if not name:
        return
    event["rule"] = {"name": name}
    upper = name.upper()
    if upper.startswith("UFW "):
        meta["action"] = upper[4:].lower().replace(" ", "-")
    if any(word in upper for word in _DENY_WORDS):
        meta.setdefault("action", "drop" if "DROP" in upper else "block" if "BLOCK" in upper else "deny")
        meta["type"] = ["denied", "connection"]
    elif any(word in upper for word in _ALLOW_WORDS):
        meta.setdefault("action", "accept")
        meta["type"] = ["allowed", "connection"]
    else:
        meta["type"] = ["connection"]


def parse_netfilter_message(message: str, base: Event) -> Event | None:
    """ECS event from a kernel netfilter message (after the syslog envelope)."""
    if "PROTO=" not in message and "SRC=" not in message:
        return None
    m = _KV_START.search(message)
    if m is None:
        return None
    start = m.start() if message[m.start()] not in " ]" else m.start() + 1
    head = message[:start]
    body = message[start:]
    if head.startswith("kernel:"):
        head = head[7:]
    head = _UPTIME.sub("", head)
    event = base
    meta = event.setdefault("event", {})
    meta["kind"] = "event"
    meta["category"] = ["network"]
    table: dict[str, Any] = {}
    fields: dict[str, str] = {}
    flags: list[str] = []
    fragment: list[str] = []
    seen_proto = False
    for token in body.split():
        key, sep, value = token.partition("=")
        if sep:
            if key == "PROTO":
                seen_proto = True
            if key == "LEN" and seen_proto:
                key = "PLEN"  # the second LEN= is the UDP length
            fields.setdefault(key, value)
        elif token in _TCP_FLAGS and seen_proto:
            flags.append(token)
        elif token in _FRAGMENT_FLAGS and not seen_proto:
            fragment.append(token)
    if "IN" in fields:
        table["input_device"] = fields["IN"]
    if "OUT" in fields:
        table["output_device"] = fields["OUT"]
    for key, name in _INT_FIELDS.items():
        if (number := _int(fields.get(key))) is not None:
            table[name] = number
    if (tos := _int(fields.get("TOS"), 16)) is not None:
        table["tos"] = tos
    if (prec := _int(fields.get("PREC"), 16)) is not None:
        table["precedence_bits"] = prec
    if (tc := _int(fields.get("TC"))) is not None:
        table["tc"] = tc
    if fragment:
        table["fragment_flags"] = fragment
    source: dict[str, Any] = {}
    destination: dict[str, Any] = {}
    mac = fields.get("MAC")
    if mac:
        parts = mac.split(":")
        if len(parts) >= 14:
            destination["mac"] = _mac(":".join(parts[0:6]))
            source["mac"] = _mac(":".join(parts[6:12]))
            table["ether_type"] = int(parts[12] + parts[13], 16) if all(
                len(p) == 2 for p in parts[12:14]) else None
            if table["ether_type"] is None:
                del table["ether_type"]
    src, dst = fields.get("SRC"), fields.get("DST")
    if src:
        source["ip"] = src
    if dst:
        destination["ip"] = dst
    proto = fields.get("PROTO", "")
    transport = proto.lower()
    sport, dport = _int(fields.get("SPT")), _int(fields.get("DPT"))
    if sport is not None:
        source["port"] = sport
    if dport is not None:
        destination["port"] = dport
    network: dict[str, Any] = {}
    if transport:
        network["transport"] = "icmp" if transport == "icmpv6" else transport
        if transport == "icmpv6":
            network["transport"] = "ipv6-icmp"
    if src or dst:
        network["type"] = "ipv6" if ":" in (src or dst or "") else "ipv4"
    if transport == "tcp":
        tcp: dict[str, Any] = {}
        if flags:
            tcp["flags"] = flags
        if (res := _int(fields.get("RES"), 16)) is not None:
            tcp["reserved_bits"] = res
        if (window := _int(fields.get("WINDOW"))) is not None:
            tcp["window"] = window
        if (seq := _int(fields.get("SEQ"))) is not None:
            tcp["seq"] = seq
        if (ack := _int(fields.get("ACK"))) is not None:
            tcp["ack"] = ack
        if tcp:
            table["tcp"] = tcp
    elif transport == "udp":
        if (length := _int(fields.get("PLEN"))) is not None:
            table["udp"] = {"length": length}
    elif transport.startswith("icmp"):
        icmp: dict[str, Any] = {}
        for key, name in (("TYPE", "type"), ("CODE", "code"), ("ID", "id"), ("SEQ", "seq")):
            if (number := _int(fields.get(key))) is not None:
                icmp[name] = number
        if icmp:
            table["icmp"] = icmp
        sport, dport = icmp.get("type"), icmp.get("code")
    if src and dst and transport:
        cid = community_id(transport, src, dst, sport, dport)
        if cid is not None:
            network["community_id"] = cid
    if source:
        event["source"] = source
    if destination:
        event["destination"] = destination
    if network:
        event["network"] = network
    related = [ip for ip in (src, dst) if ip]
    if related:
        event.setdefault("related", {})["ip"] = list(dict.fromkeys(related))
    _prefix_rule(head, event, table)
    if table:
        event["iptables"] = table
    host = (event.get("host") or {}).get("name")
    if host:
        event["observer"] = {**event.get("observer", {}), "name": host}
    return event


def parse_kernel(message: str, record: RawRecord, base: Event) -> Event | None:
    return parse_netfilter_message(message, base)


def _sniff(message: str) -> bool:
    return "PROTO=" in message and ("SRC=" in message or "SPT=" in message)


PARSERS = [Parser("netfilter", "network", "syslog", parse_kernel, sniff=_sniff,
                  programs=("kernel",), priority=40)]
