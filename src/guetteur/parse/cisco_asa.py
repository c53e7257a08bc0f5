"""Cisco ASA / FTD / PIX syslog messages: `%ASA-<level>-<id>: <text>`.

Headers vary by device configuration (`Apr 15 2013 09:36:50: %ASA-...`,
`May  5 17:51:17 host : %FTD-...`, RFC 3164 with a program tag, `<PRI>` or no header at
all), so the parser finds the `%ASA-` tag itself and reads what precedes it.

Message ids are decoded one by one into the ECS fields Elastic's cisco_asa integration
fills (`event.action/category/type/outcome`, `source.*`, `destination.*`, `network.*`,
`user.*`, `url.*`, `cisco.asa.*`): connections built / torn down (302xxx, 305xxx, 609xxx,
805xxx), denies and ACL hits (106xxx, 313xxx, 710xxx, 338xxx dynamic filter, 434xxx),
AAA / management / VPN logins and sessions (113xxx, 605xxx, 611xxx, 716xxx, 722xxx,
734001, 750xxx, 713xxx, 602xxx), configuration (111xxx, 502103) and more. The id table
is data, in `cisco_asa_catalog`; the two-sided connection messages (302013-302021) are
decoded by hand here because their direction decides which side is the source. Every
other message id still yields an event (`event.code`, severity, the message, and the
first `iface:ip/port ... to iface:ip/port` pair), never `unparsed`.

Each pattern is compiled once with its "plan" (the writer of each named group, in the
pattern's order), so a line costs one dictionary lookup, one or two regex matches and
one pass over its groups.

Deliberate differences from Elastic: `log.level` uses our one severity scale (`info`,
not `informational`); `observer.product` says `ftd` for `%FTD-` lines; 609001 "Built
local-host" is a flow creation (Elastic 2.21 wrote flow-expiration, later fixed);
`network.protocol` is not set to a transport name (110002, 302020, 419002, 434xxx put
`tcp`/`icmp` there), `network.transport` is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from guetteur.model import Event, RawRecord
from guetteur.parse import severity
from guetteur.parse.base import Parser
from guetteur.parse.cisco_asa_catalog import BY_VERDICT, CATEGORIES, MESSAGES, Categorisation
from guetteur.parse.community_id import community_id
from guetteur.parse.context import CONTEXT
from guetteur.parse.timefmt import bsd

_TAG = re.compile(r"%(ASA|FTD|PIX|FWSM)-(?:([A-Za-z_]+)-)?(\d)-(\d{6}):?\s*")
_HEADER = re.compile(
    r"^\s*(?:<(?P<pri>\d{1,3})>)?(?:(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})(?:\s+(?P<year>\d{4}))?\s+"
    r"(?P<hms>\d\d:\d\d:\d\d)(?:\.\d+)?(?:\s+(?:[A-Z]{1,4}T|UTC|GMT)(?=[\s:]))?:?\s*)?(?P<host>[^\s:%]+)?\s*(?::\s*)?"
    r"(?:(?P<tag>[\w-]+)(?:\[(?P<pid>\d+)\])?:\s*)?$"
)
_HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*|[0-9a-fA-F:]+")
_IP = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F]{0,4}:[0-9a-fA-F:.]*")
# Elastic's transport table (ECS network.iana_number is a string)
_IANA = {"icmp": "1", "igmp": "2", "ipv4": "4", "tcp": "6", "egp": "8", "igp": "9", "pup": "12", "udp": "17",
         "rdp": "27", "irtp": "28", "dccp": "33", "idpr": "35", "ipv6": "41", "ipv6-route": "43",
         "ipv6-frag": "44", "rsvp": "46", "gre": "47", "esp": "50", "ipv6-icmp": "58", "ipv6-nonxt": "59",
         "ipv6-opts": "60"}
_TRANSPORT_OF = {number: name for name, number in _IANA.items()}
_ASA_INTS = frozenset({"icmp_type", "icmp_code", "connections_in_use", "connections_most_used",
                       "original_iana_number"})
_Writer = Callable[[Event, dict, str, dict], None]
_Plan = tuple[tuple[str, _Writer], ...]
_TEARDOWN_TAIL = re.compile(r"^(?P<reason>.*?)(?: from (?P<tinit>[^(]*?))?\s*(?:\((?P<tuser>[^)]*)\))?\s*$")


_BUILT = re.compile(
    r"Built (?P<dir>inbound|outbound) (?P<proto>\S+) connection (?P<cid>\d+) for (?P<aif>[^:]{1,64}):(?P<a>\S+)/"
    r"(?P<aport>\d+) \((?P<am>[^/\s]+)/(?P<amport>\d+)\)(?:\((?P<au>[^)]*)\))? to (?P<bif>[^:]{1,64}):(?P<b>\S+)/"
    r"(?P<bport>\d+) \((?P<bm>[^/\s]+)/(?P<bmport>\d+)\)(?:\((?P<bu>[^)]*)\))?(?: \((?P<tuser>[^)]*)\))?")
_TEARDOWN = re.compile(
    r"Teardown (?P<proto>\S+) (?:state-bypass )?connection (?P<cid>\S+) (?:for|from) (?P<sif>[^:]{1,64}):(?P<src>\S+?)/"
    r"(?P<sport>\d+)\s*(?:\(?(?P<suser>[^()\s]+(?:, ?\d+)?)\)? )?to (?P<dif>[^:]{1,64}):(?P<dst>\S+?)/(?P<dport>\d+)\s*"
    r"(?:\(?(?P<duser>[^()\s]+(?:, ?\d+)?)\)? )?duration (?P<dur>\d+:\d\d:\d\d) bytes (?P<bytes>\d+)(?P<tail>.*)$")
_ICMP_CONN = re.compile(
    r"(?P<what>Built|Teardown) (?:(?P<dir>inbound|outbound) )?(?P<proto>ICMP\w*) connection for faddr "
    r"(?P<dst>[^\s/]+)/\d+\s*(?:\((?P<duser>[^)]*)\)\s*)?gaddr (?P<smip>[^\s/]+)/\d+ laddr (?P<src>[^\s/]+)/\d+"
    r"\s*(?:\((?P<suser>[^)]*)\))?\s*(?:type (?P<itype>\d+) code (?P<icode>\d+))?")
_LOGIN = re.compile(  # 605004 / 605005
    r"Login (?P<verdict>denied|permitted) from (?P<src>[^\s/]+)/(?P<sport>\d+) to (?:(?P<dif>[^\s:]+):)?"
    r"(?P<dst>[^\s/]+)/(?P<netproto>\S+) for user \"(?P<uname>[^\"]*)\"")
_MGMT_AUTH = re.compile(r"User authentication (?:succeeded|failed): IP address: (?P<src>[^\s,]+), Uname: "
                        r"(?P<srvuser>.*)$")
_GENERIC_FLOW = re.compile(
    r"\b(?:from|for) (?:(?P<sif>[^\s:]+):)?(?P<src>[^\s/()]+)/(?P<sport>\d+)(?:\s*\((?P<smip>[^\s/()]+)/"
    r"(?P<smport>\d+)\))?(?:\((?P<suser>[^)]*)\))?,? to (?:(?P<dif>[^\s:]+):)?(?P<dst>[^\s/()]+)/(?P<dport>\d+)"
    r"(?:\s*\((?P<dmip>[^\s/()]+)/(?P<dmport>\d+)\))?(?:\((?P<duser>[^)]*)\))?")
_ANY_EP = re.compile(r"(?<![(\w.])(?:(?P<if>[\w.-]+):)?(?P<ip>\d{1,3}(?:\.\d{1,3}){3})/(?P<port>\d+)")
_PROTO_WORD = re.compile(r"\b(TCP|UDP|ICMP|tcp|udp|icmp)\b")
_USER_SGT = re.compile(r"^(?P<user>.*?)(?:,\s*(?P<tag>\d+)(?::(?P<tagname>\w+))?)?$")


# -- field writers ---------------------------------------------------------------------------

def _endpoint(event: Event, side: str, address: str | None, port: str | None = None) -> None:
    if not address:
        return
    node = event.get(side)
    if node is None:
        node = event[side] = {}
    node["address"] = address
    if _IP.fullmatch(address):
        node["ip"] = address
    else:
        node["domain"] = address
    if port is not None and port.isdigit():
        node["port"] = int(port)


def _interfaces(event: Event, asa: dict, ingress: str | None, egress: str | None) -> None:
    if ingress:
        asa["source_interface"] = ingress
        event.setdefault("observer", {})["ingress"] = {"interface": {"name": ingress}}
    if egress:
        asa["destination_interface"] = egress
        event.setdefault("observer", {})["egress"] = {"interface": {"name": egress}}


def _transport(event: Event, proto: str | None) -> None:
    if not proto:
        return
    name = proto.lower()
    if name == "icmpv6":
        name = "ipv6-icmp"
    network = event.setdefault("network", {})
    if name.isdigit():
        name_of = _TRANSPORT_OF.get(name)
        network["iana_number"] = name
        if name_of is not None:
            network["transport"] = name_of
        return
    network["transport"] = name
    number = _IANA.get(name)
    if number is not None:
        network["iana_number"] = number


def _mapped(event: Event, asa: dict, side: str, address: str | None, port: str | None) -> None:
    """cisco.asa.mapped_* always; `<side>.nat.*` only when the firewall translated (Elastic's rule)."""
    node = event.get(side) or {}
    if address:
        if _IP.fullmatch(address):
            asa[f"mapped_{side}_ip"] = address
            if address != node.get("ip"):
                node.setdefault("nat", {})["ip"] = address
        else:
            asa[f"mapped_{side}_host"] = address
    if port and port.isdigit():
        number = int(port)
        asa[f"mapped_{side}_port"] = number
        if number != node.get("port"):
            node.setdefault("nat", {})["port"] = number
    if node and side not in event:
        event[side] = node


def _duration(text: str) -> int | None:
    """`h:mm:ss` or `0h:32m:16s` to nanoseconds."""
    total = 0
    for part in text.split(":"):
        digits = part.rstrip("hms")
        if not digits.isdigit():
            return None
        total = total * 60 + int(digits)
    return total * 1_000_000_000


def _set_duration(event: Event, text: str) -> None:
    duration = _duration(text)
    if duration is None:
        return
    meta = event["event"]
    meta["duration"] = duration
    end = event.get("@timestamp")
    if isinstance(end, str):
        meta["end"] = end
        try:
            start = datetime.fromisoformat(end.replace("Z", "+00:00")) - timedelta(microseconds=duration // 1000)
        except (ValueError, OverflowError):
            return
        meta["start"] = start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"


def _user_name(event: Event, side: str, raw: str) -> None:
    """`[LOCAL\\][domain\\]name[@domain]` into `<side>.user.name/domain` (Elastic's split)."""
    value = raw.strip().strip("'\"")
    if not value:
        return
    if value[:6] == "LOCAL\\":
        value = value[6:]
    domain = None
    if "\\" in value:
        domain, _, value = value.partition("\\")
    if "@" in value and not value.startswith("*"):
        value, _, domain = value.partition("@")
    if not value:
        return
    user = event.setdefault(side, {}).setdefault("user", {})
    if "name" in user:
        return
    user["name"] = value
    if domain:
        user["domain"] = domain


def _cisco_user(event: Event, asa: dict, side: str, raw: str) -> None:
    """A `(user[, sgt[:name]])` annotation: cisco.asa.<side>_username, its group tag, `<side>.user`."""
    m = _USER_SGT.match(raw.strip())
    if m is None:
        return
    user = m.group("user").strip()
    if m.group("tag"):
        asa[f"{side}_user_security_group_tag"] = int(m.group("tag"))
        if m.group("tagname"):
            asa[f"{side}_user_security_group_tag_name"] = m.group("tagname")
    if user and not user.isdigit():
        asa[f"{side}_username"] = user
        _user_name(event, side, user)


def _url(event: Event, text: str) -> None:
    url: dict[str, Any] = {"original": text}
    event["url"] = url
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return
    if parts.scheme:
        url["scheme"] = parts.scheme
    if parts.hostname:
        url["domain"] = parts.hostname
    if port is not None:
        url["port"] = port
    if parts.path or parts.scheme:
        url["path"] = parts.path
        last = parts.path.rsplit("/", 1)[-1]
        if "." in last:
            url["extension"] = last.rsplit(".", 1)[-1]
    if parts.query:
        url["query"] = parts.query
    if parts.fragment:
        url["fragment"] = parts.fragment


def _put(root: Event | dict, path: str, value: Any) -> None:
    *parents, leaf = path.split("__")
    node = root
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _apply(event: Event, asa: dict, g: dict[str, str | None], plan: _Plan) -> None:
    """Write every matched group where its name says (see the pattern table's comment)."""
    for name, write in plan:
        value = g[name]
        if value is not None:
            write(event, asa, value, g)


def _reason(event: Event, asa: dict, value: str, g: dict) -> None:
    text = (value + (g.get("reason2") or "")).strip()
    if text:
        event["event"]["reason"] = text


def _rule(event: Event, asa: dict, value: str, g: dict) -> None:
    asa["rule_name"] = value
    event["rule"] = {"name": value}


def _itype(event: Event, asa: dict, value: str, g: dict) -> None:
    if value.isdigit():
        asa["icmp_type"] = int(value)


def _icode(event: Event, asa: dict, value: str, g: dict) -> None:
    if value.isdigit():
        asa["icmp_code"] = int(value)


def _network_int(key: str, side: str = "network") -> _Writer:
    def write(event: Event, asa: dict, value: str, g: dict) -> None:
        if value.isdigit():
            event.setdefault(side, {})[key] = int(value)
    return write


def _dynamic_listed(event: Event, asa: dict, value: str, g: dict) -> None:
    # the resolved name of the listed side, unless the list entry is an address or a net
    listed = value.strip()
    if listed and "/" not in listed and not _IP.fullmatch(listed):
        side = g.get("side") or "destination"
        event.setdefault(side, {})["domain"] = listed
        event.setdefault("server", {})["domain"] = listed


def _account(event: Event, asa: dict, value: str, g: dict) -> None:
    # 313005 `(domain\group\user)` / `(domain\user)` annotation of the ICMP error's sender
    parts = value.split("\\")
    user = event.setdefault("source", {}).setdefault("user", {})
    user["name"] = parts[-1]
    if len(parts) > 1:
        user["domain"] = parts[0]
    if len(parts) > 2:
        user["group"] = {"name": parts[1]}


def _tls(event: Event, asa: dict, value: str, g: dict) -> None:
    protocol, _, version = value.partition("v")
    tls: dict[str, str] = {"version_protocol": protocol.lower()}
    if version:
        tls["version"] = version
    event["tls"] = tls


def _connection_type(event: Event, asa: dict, value: str, g: dict) -> None:
    # 607001 "Via UDP": a transport, or RTP/RTCP: an application protocol
    asa["connection_type"] = value
    for word in value.split():
        if word in ("UDP", "TCP"):
            _transport(event, word)
        elif word in ("RTP", "RTCP"):
            event.setdefault("network", {})["protocol"] = word.lower()


def _mapped_port_only(side: str) -> _Writer:
    def write(event: Event, asa: dict, value: str, g: dict) -> None:
        if g.get(side[0] + "mip") is None:  # with an address the address writer did both
            _mapped(event, asa, side, None, value)
    return write


_WRITERS: dict[str, _Writer] = {
    "src": lambda e, a, v, g: _endpoint(e, "source", v, g.get("sport")),
    "dst": lambda e, a, v, g: _endpoint(e, "destination", v, g.get("dport")),
    "sif": lambda e, a, v, g: _interfaces(e, a, v, None),
    "dif": lambda e, a, v, g: _interfaces(e, a, None, v),
    "smip": lambda e, a, v, g: _mapped(e, a, "source", v, g.get("smport")),
    "dmip": lambda e, a, v, g: _mapped(e, a, "destination", v, g.get("dmport")),
    "smport": _mapped_port_only("source"),
    "dmport": _mapped_port_only("destination"),
    "proto": lambda e, a, v, g: _transport(e, v),
    "iana": lambda e, a, v, g: _transport(e, v),
    "dir": lambda e, a, v, g: e.setdefault("network", {}).__setitem__("direction", v.lower()),
    "netproto": lambda e, a, v, g: e.setdefault("network", {}).__setitem__("protocol", v.lower()),
    "nettype": lambda e, a, v, g: e.setdefault("network", {}).__setitem__("type", v.lower()),
    "cid": lambda e, a, v, g: a.__setitem__("connection_id", v),
    "dur": lambda e, a, v, g: _set_duration(e, v),
    "bytes": _network_int("bytes"),
    "sbytes": _network_int("bytes", "source"),
    "dbytes": _network_int("bytes", "destination"),
    "reason": _reason,
    "rule": _rule,
    "itype": _itype,
    "icode": _icode,
    "suser": lambda e, a, v, g: _cisco_user(e, a, "source", v),
    "duser": lambda e, a, v, g: _cisco_user(e, a, "destination", v),
    "tuser": lambda e, a, v, g: a.__setitem__("termination_user", v),
    "tinit": lambda e, a, v, g: a.__setitem__("termination_initiator", v),
    "uname": lambda e, a, v, g: _user_name(e, "source", v),
    "ugroup": lambda e, a, v, g: e.setdefault("source", {}).setdefault("user", {}).setdefault("group", {})
    .__setitem__("name", v),
    "user": lambda e, a, v, g: e.setdefault("user", {}).__setitem__("name", v.strip("'\"")),
    "srvuser": lambda e, a, v, g: e.setdefault("server", {}).setdefault("user", {}).__setitem__("name", v.strip()),
    "url": lambda e, a, v, g: _url(e, v),
    "listed": _dynamic_listed,
    "account": _account,
    "tls": _tls,
    "dap": lambda e, a, v, g: a.__setitem__("dap_records", re.split(r",\s+", v.strip())),
    "a_connection_type": _connection_type,
}
# read by another group's writer, or only a classification input
_COMPANIONS = frozenset({"sport", "dport", "reason2", "side", "verdict", "tail"})


def _cisco_field(name: str) -> _Writer:
    key = name[2:].rstrip("2")  # `a_x2`: an alternative's twin group (regex names are unique)
    as_int = key in _ASA_INTS

    def write(event: Event, asa: dict, value: str, g: dict) -> None:
        _put(asa, key, int(value) if as_int and value.isdigit() else value)
    return write


def _ecs_field(name: str) -> _Writer:
    path = name[2:]
    return lambda event, asa, value, g: _put(event, path, value)


def _plan(pattern: re.Pattern[str], extra: tuple[str, ...] = ()) -> _Plan:
    """The writers of a pattern's groups, in the pattern's order (addresses before their NAT)."""
    steps: list[tuple[str, _Writer]] = []
    for name in (*pattern.groupindex, *extra):
        if name in _COMPANIONS:
            continue
        writer = _WRITERS.get(name)
        if writer is None and name[:2] == "a_":
            writer = _cisco_field(name)
        elif writer is None and name[:2] == "x_":
            writer = _ecs_field(name)
        if writer is None:
            raise ValueError(f"group {name!r} of {pattern.pattern!r} has no writer")
        steps.append((name, writer))
    return tuple(steps)


_RULES: dict[str, tuple[tuple[tuple[re.Pattern[str], _Plan], ...], dict[str, str] | None]] = {}
for _codes, _patterns, _constants in MESSAGES:
    _compiled = tuple((p, _plan(p, tuple(_constants or ()))) for p in map(re.compile, _patterns))
    for _code in _codes.split():
        _RULES[_code] = (_compiled, _constants)
_TEARDOWN_PLAN = _plan(_TEARDOWN, tuple(_TEARDOWN_TAIL.groupindex))
_LOGIN_PLAN = _plan(_LOGIN)
_MGMT_AUTH_PLAN = _plan(_MGMT_AUTH)
_GENERIC_FLOW_PLAN = _plan(_GENERIC_FLOW, ("proto",))


def _classify(event: Event, cat: Categorisation) -> None:
    meta = event["event"]
    meta["action"], category, kind, outcome = cat
    meta["category"] = list(category)
    meta["type"] = list(kind)
    if outcome:
        meta["outcome"] = outcome


# -- the connection messages, decoded by hand (two-sided, direction-dependent) -------------------

def _built(event: Event, asa: dict, text: str) -> bool:
    m = _BUILT.search(text)
    if m is None:
        return False
    g = m.groupdict()
    # outbound: the "for" side is the foreign one, the connection started inside (Cisco's doc)
    src, dst = ("b", "a") if g["dir"] == "outbound" else ("a", "b")
    _endpoint(event, "source", g[src], g[src + "port"])
    _endpoint(event, "destination", g[dst], g[dst + "port"])
    _interfaces(event, asa, g[src + "if"], g[dst + "if"])
    _mapped(event, asa, "source", g[src + "m"], g[src + "mport"])
    _mapped(event, asa, "destination", g[dst + "m"], g[dst + "mport"])
    asa["connection_id"] = g["cid"]
    event.setdefault("network", {})["direction"] = g["dir"]
    _transport(event, g["proto"])
    if g[src + "u"]:
        _cisco_user(event, asa, "source", g[src + "u"])
    if g[dst + "u"]:
        _cisco_user(event, asa, "destination", g[dst + "u"])
    if g["tuser"]:
        asa["termination_user"] = g["tuser"]
    return True


def _teardown(event: Event, asa: dict, text: str) -> bool:
    m = _TEARDOWN.search(text)
    if m is None:
        return False
    g = m.groupdict()
    tail = _TEARDOWN_TAIL.match(g.pop("tail").strip())
    if tail is not None:
        g.update(tail.groupdict())
    else:
        g.update(dict.fromkeys(_TEARDOWN_TAIL.groupindex))
    _apply(event, asa, g, _TEARDOWN_PLAN)
    return True


def _split_iface(token: str) -> tuple[str | None, str]:
    """`iface:address` or a bare address (an IPv6 address has colons too)."""
    if ":" not in token or _IP.fullmatch(token):
        return None, token
    iface, _, address = token.partition(":")
    return iface, address


def _icmp(event: Event, asa: dict, text: str) -> bool:
    m = _ICMP_CONN.search(text)
    if m is None:
        return False
    g = m.groupdict()
    source_if, source = _split_iface(g["src"])
    destination_if, destination = _split_iface(g["dst"])
    _endpoint(event, "source", source)
    _endpoint(event, "destination", destination)
    _interfaces(event, asa, source_if, destination_if)
    _mapped(event, asa, "source", _split_iface(g["smip"])[1], None)
    _transport(event, g["proto"])
    if g["dir"]:
        event["network"]["direction"] = g["dir"]
    if g["duser"]:
        _cisco_user(event, asa, "destination", g["duser"])
    if g["suser"]:
        # Elastic reads the laddr annotation whole as the source user name
        asa["source_username"] = g["suser"]
        _user_name(event, "source", g["suser"])
    if g["itype"]:
        asa["icmp_type"] = int(g["itype"])
        asa["icmp_code"] = int(g["icode"])
    return True


def _decode(code: str, text: str, event: Event, asa: dict) -> None:
    """Fill event fields from the message body of id `code`."""
    rule = _RULES.get(code)
    decoded = False
    verdict: str | None = None
    if code in ("302013", "302015"):
        decoded = _built(event, asa, text)
    elif code in ("302014", "302016", "302018", "302036", "302304", "302306"):
        decoded = _teardown(event, asa, text)
    elif code in ("302020", "302021"):
        decoded = _icmp(event, asa, text)
    elif code in ("605004", "605005"):
        m = _LOGIN.search(text)
        if m is not None:
            _apply(event, asa, m.groupdict(), _LOGIN_PLAN)
            decoded = True
    elif code in ("611101", "611102"):
        m = _MGMT_AUTH.search(text)
        if m is not None:
            _apply(event, asa, m.groupdict(), _MGMT_AUTH_PLAN)
            decoded = True
    elif rule is not None:
        for pattern, plan in rule[0]:
            m = pattern.search(text)
            if m is not None:
                g = m.groupdict()
                if rule[1]:
                    g.update(rule[1])
                _apply(event, asa, g, plan)
                verdict = g.get("verdict")
                decoded = True
                break
    if not decoded:
        _fallback(event, asa, text)
    cat = BY_VERDICT.get(verdict.lower()) if verdict else None
    if cat is None:
        cat = CATEGORIES.get(code)
    if cat is not None:
        _classify(event, cat)


def _fallback(event: Event, asa: dict, text: str) -> None:
    """Ids not decoded one by one: the first `from|for iface:ip/port ... to iface:ip/port` pair."""
    m = _GENERIC_FLOW.search(text)
    if m is not None:
        g = m.groupdict()
        proto = _PROTO_WORD.search(text)
        g["proto"] = proto.group(1) if proto else None
        _apply(event, asa, g, _GENERIC_FLOW_PLAN)
        return
    pairs = list(_ANY_EP.finditer(text))
    if len(pairs) >= 2:
        _endpoint(event, "source", pairs[0].group("ip"), pairs[0].group("port"))
        _endpoint(event, "destination", pairs[1].group("ip"), pairs[1].group("port"))
        _interfaces(event, asa, pairs[0].group("if"), pairs[1].group("if"))


def _flow_id(event: Event, asa: dict, source: dict, destination: dict) -> None:
    network = event.get("network")
    transport = network.get("transport") if network else None
    src, dst = source.get("ip"), destination.get("ip")
    if not (src and dst and transport):
        return
    if "icmp" in transport:
        if "icmp_type" not in asa:
            return
        cid = community_id(transport, src, dst, asa["icmp_type"], asa.get("icmp_code", 0))
    else:
        cid = community_id(transport, src, dst, source.get("port"), destination.get("port"))
    if cid is not None:
        network["community_id"] = cid  # type: ignore[index]


def _related(event: Event, source: dict, destination: dict) -> None:
    """related.ip / related.user, and user.name from the target account when unset (as Elastic)."""
    ips: list[str] = []
    users: list[str] = []
    for node in (source, destination):
        if node:
            if "ip" in node:
                ips.append(node["ip"])
            if "nat" in node and "ip" in node["nat"]:
                ips.append(node["nat"]["ip"])
            if "user" in node and "name" in node["user"]:
                users.append(node["user"]["name"])
    if destination and "user" in destination and "name" in destination["user"]:
        user = event.setdefault("user", {})
        user.setdefault("name", destination["user"]["name"])
    if "user" in event and "name" in event["user"]:
        users.append(event["user"]["name"])
    if "server" in event and "name" in event["server"].get("user", ()):
        users.append(event["server"]["user"]["name"])
    related: dict[str, list[str]] = {}
    if ips:
        related["ip"] = list(dict.fromkeys(ips))
    if users:
        users = [u for u in users if u and u.strip("*")]  # `*****`: a masked name
        if users:
            related["user"] = list(dict.fromkeys(users))
    if related:
        event["related"] = related


def parse_asa_text(text: str, base: Event, received: float) -> Event | None:
    """ECS event from a line or syslog MSG holding `%ASA-n-nnnnnn:`."""
    m = _TAG.search(text)
    if m is None:
        return None
    product, suffix, level, code = m.groups()
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
        if g["pri"] and "syslog" not in event["log"]:
            pri = int(g["pri"])
            if pri < 192:
                event["log"]["syslog"] = {"priority": pri, "facility": {"code": pri >> 3},
                                          "severity": {"code": pri & 7}}
        if g["mon"] and "@timestamp" not in event:
            stamp = bsd(g["mon"], g["day"], g["hms"], received, g["year"])
            if stamp is not None:
                event["@timestamp"] = stamp
        name = g["host"]
        if name and not host:
            if _HOSTNAME.fullmatch(name):
                host = name
                event.setdefault("host", {})["hostname"] = host
            elif "process" not in event and not g["tag"]:
                event["process"] = {"name": name}  # `<IP>:` and other non-host words: Elastic's reading
        if g["tag"] and "process" not in event:
            event["process"] = {"name": g["tag"]}
            if g["pid"]:
                event["process"]["pid"] = int(g["pid"])
    observer: dict[str, Any] = event.setdefault("observer", {})
    observer.update({"vendor": "Cisco", "product": product.lower(), "type": "firewall"})
    if host:
        observer["hostname"] = host
    asa: dict[str, Any] = {"message_id": code}
    if suffix:
        asa["suffix"] = suffix
    event["cisco"] = {"asa": asa}
    event["message"] = body
    _decode(code, body, event, asa)
    source, destination = event.get("source") or {}, event.get("destination") or {}
    _flow_id(event, asa, source, destination)
    _related(event, source, destination)
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
    # every line no other parser claimed gets here: one scan for "%" rejects most of them
    return "%" in text and ("%ASA-" in text or "%FTD-" in text or "%PIX-" in text or "%FWSM-" in text)


PARSERS = [
    Parser("cisco_asa", "network", "syslog", parse_asa_syslog, sniff=_sniff, priority=40),
    Parser("cisco_asa_line", "network", "line", parse_asa_line, sniff=_sniff, priority=40),
]
