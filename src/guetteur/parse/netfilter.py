"""Linux netfilter log lines (iptables/ip6tables `LOG`, nftables `log`, UFW, Ubiquiti EdgeOS):
`[prefix]IN=eth0 OUT= MAC=... SRC=1.2.3.4 DST=... PROTO=TCP SPT=... DPT=... SYN ...`.

The kernel writes them through syslog under the program `kernel`; the rule's log
prefix (UFW's `[UFW BLOCK]`, EdgeOS's `[RULESET-NUMBER-A|D|R]`, anything a user set)
comes first and names the rule. ECS as Elastic's iptables integration fills it,
with the raw header fields under `iptables.*`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from guetteur.model import Event, RawRecord
from guetteur.parse.base import Parser
from guetteur.parse.community_id import community_id

_KV_START = re.compile(r"(?:^|\s|\])(?:IN|OUT|MAC|SRC|DST|LEN|TTL|PROTO|ID)=")
_UPTIME = re.compile(r"^\s*\[\s*\d+\.\d+\]\s*")
_UBIQUITI = re.compile(r"^\[([^\]\s]+?)-(\d+|default)-([ADR])\]$")
_TCP_FLAGS = frozenset(("CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"))
_FRAGMENT_FLAGS = frozenset(("CE", "DF", "MF"))
# (field, iptables.* name, number base), in the order the event lists them
_HEADER_INTS = (
    ("LEN", "length", 10), ("TTL", "ttl", 10), ("ID", "id", 10), ("HOPLIMIT", "hop_limit", 10),
    ("FLOWLBL", "flow_label", 10), ("TOS", "tos", 16), ("PREC", "precedence_bits", 16), ("TC", "tc", 10),
)
_DENY_WORDS = re.compile("BLOCK|DROP|DENY|REJECT|DENIED")
_ALLOW_WORDS = re.compile("ALLOW|ACCEPT|PERMIT|PASS")


def _int(text: str | None, base: int = 10) -> int | None:
    if not text:
        return None
    try:
        return int(text, base)
    except ValueError:
        return None


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
    if _DENY_WORDS.search(upper) is not None:
        meta.setdefault("action", "drop" if "DROP" in upper else "block" if "BLOCK" in upper else "deny")
        meta["type"] = ["denied", "connection"]
    elif _ALLOW_WORDS.search(upper) is not None:
        meta.setdefault("action", "accept")
        meta["type"] = ["allowed", "connection"]
    else:
        meta["type"] = ["connection"]


def _tokens(body: str) -> tuple[dict[str, str], list[str], list[str]]:
    """KEY=value fields (first one wins; the LEN= after PROTO= is the UDP length, PLEN),
    the TCP flags (after PROTO=) and the IP fragment flags (before it)."""
    fields: dict[str, str] = {}
    flags: list[str] = []
    fragment: list[str] = []
    seen_proto = False
    for token in body.split():
        key, sep, value = token.partition("=")
        if sep:
            if key == "PROTO":
                seen_proto = True
            elif key == "LEN" and seen_proto:
                key = "PLEN"
            if key not in fields:
                fields[key] = value
        elif seen_proto:
            if token in _TCP_FLAGS:
                flags.append(token)
        elif token in _FRAGMENT_FLAGS:
            fragment.append(token)
    return fields, flags, fragment


def _tcp(fields: dict[str, str], flags: list[str], table: dict[str, Any]) -> tuple[int | None, int | None] | None:
    tcp: dict[str, Any] = {}
    if flags:
        tcp["flags"] = flags
    for key, name, base in (("RES", "reserved_bits", 16), ("WINDOW", "window", 10), ("SEQ", "seq", 10),
                            ("ACK", "ack", 10)):
        if key in fields and (number := _int(fields[key], base)) is not None:
            tcp[name] = number
    if tcp:
        table["tcp"] = tcp
    return None


def _udp(fields: dict[str, str], flags: list[str], table: dict[str, Any]) -> tuple[int | None, int | None] | None:
    if "PLEN" in fields and (length := _int(fields["PLEN"])) is not None:
        table["udp"] = {"length": length}
    return None


def _icmp(fields: dict[str, str], flags: list[str], table: dict[str, Any]) -> tuple[int | None, int | None] | None:
    """ICMP type and code stand for the ports in the community id."""
    icmp: dict[str, Any] = {}
    for key, name in (("TYPE", "type"), ("CODE", "code"), ("ID", "id"), ("SEQ", "seq")):
        if key in fields and (number := _int(fields[key])) is not None:
            icmp[name] = number
    if icmp:
        table["icmp"] = icmp
    return icmp.get("type"), icmp.get("code")


# iptables.<transport> by PROTO= (lower case); any other "icmp..." protocol is read as ICMP
_TRANSPORTS: dict[str, Callable[[dict[str, str], list[str], dict[str, Any]], tuple[int | None, int | None] | None]] = {
    "tcp": _tcp, "udp": _udp,
}


def _header(fields: dict[str, str], fragment: list[str], table: dict[str, Any]) -> None:
    """iptables.* from the IP header fields."""
    if "IN" in fields:
        table["input_device"] = fields["IN"]
    if "OUT" in fields:
        table["output_device"] = fields["OUT"]
    for key, name, base in _HEADER_INTS:
        if key in fields and (number := _int(fields[key], base)) is not None:
            table[name] = number
    if fragment:
        table["fragment_flags"] = fragment


def _macs(mac: str | None, source: dict[str, Any], destination: dict[str, Any], table: dict[str, Any]) -> None:
    """MAC= is destination (6 bytes), source (6 bytes), ether type (2 bytes)."""
    if not mac:
        return
    parts = mac.split(":")
    if len(parts) >= 14:
        destination["mac"] = "-".join(parts[0:6]).upper()
        source["mac"] = "-".join(parts[6:12]).upper()
        if len(parts[12]) == 2 and len(parts[13]) == 2:
            # not hex (a mangled line): no ether type, the rest of the event stands
            if (ether := _int(parts[12] + parts[13], 16)) is not None:
                table["ether_type"] = ether


def parse_netfilter_message(message: str, base: Event) -> Event | None:
    """ECS event from a kernel netfilter message (after the syslog envelope)."""
    if "PROTO=" not in message and "SRC=" not in message:
        return None
    m = _KV_START.search(message)
    if m is None:
        return None
    start = m.start() if message[m.start()] not in " ]" else m.start() + 1
    head = message[:start]
    if head.startswith("kernel:"):
        head = head[7:]
    if head:
        head = _UPTIME.sub("", head)
    event = base
    meta = event.get("event")
    if meta is None:
        meta = event["event"] = {}
    meta["kind"] = "event"
    meta["category"] = ["network"]
    fields, flags, fragment = _tokens(message[start:])
    table: dict[str, Any] = {}
    _header(fields, fragment, table)
    source: dict[str, Any] = {}
    destination: dict[str, Any] = {}
    _macs(fields.get("MAC"), source, destination, table)
    src, dst = fields.get("SRC"), fields.get("DST")
    if src:
        source["ip"] = src
    if dst:
        destination["ip"] = dst
    transport = fields.get("PROTO", "").lower()
    sport, dport = _int(fields.get("SPT")), _int(fields.get("DPT"))
    if sport is not None:
        source["port"] = sport
    if dport is not None:
        destination["port"] = dport
    network: dict[str, Any] = {}
    if transport:
        network["transport"] = "ipv6-icmp" if transport == "icmpv6" else transport
    if src or dst:
        network["type"] = "ipv6" if ":" in (src or dst or "") else "ipv4"
    handler = _TRANSPORTS.get(transport) or (_icmp if transport.startswith("icmp") else None)
    if handler is not None and (ports := handler(fields, flags, table)) is not None:
        sport, dport = ports
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
    if src or dst:
        related = event.get("related")
        if related is None:
            related = event["related"] = {}
        related["ip"] = [src, dst] if src and dst and src != dst else [src or dst]
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
