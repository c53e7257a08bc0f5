"""Community ID flow hashing (v1), the `network.community_id` of ECS.

Spec: https://github.com/corelight/community-id-spec — SHA-1 over seed, the two
addresses and ports ordered so both directions hash alike, base64, `1:` prefix.
Network parsers (netfilter, pfSense, Cisco ASA, Suricata, Zeek) call `community_id`.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import struct
from functools import lru_cache

_PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132, "gre": 47}
# ICMP type -> reply type; a pair of them counts as one two-way "port" pair
_ICMP4 = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
_ICMP6 = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130}


# exactly the dotted quads `ipaddress` accepts: ASCII digits, no leading zero, 0-255
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_STRICT_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}\Z")


def packed_ip(text: str) -> bytes | None:
    """The 4 or 16 bytes of an IP address text, or None: what `ipaddress.ip_address(text)
    .packed` gives, without building an address object for the dotted quads of most flows."""
    if _STRICT_IPV4.match(text) is not None:
        return bytes(map(int, text.split(".")))
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def community_id(transport: str | int, src: str, dst: str, sport: int | None, dport: int | None,
                 seed: int = 0) -> str | None:
    """`1:<base64>` for a flow, or None when an address is not an IP or the transport unknown."""
    proto = transport if isinstance(transport, int) else _PROTOCOLS.get(transport.lower())
    if proto is None:
        return None
    a, b = packed_ip(src), packed_ip(dst)
    if a is None or b is None:
        return None
    if len(a) != len(b):
        return None
    has_ports = proto in (1, 6, 17, 58, 132)
    if has_ports and (sport is None or dport is None):
        return None
    p1, p2 = sport or 0, dport or 0
    one_way = False
    if proto in (1, 58):
        table = _ICMP4 if proto == 1 else _ICMP6
        if p1 in table:
            p2 = table[p1]
        else:
            one_way = True
    if not one_way and (a, p1) > (b, p2):
        a, b, p1, p2 = b, a, p2, p1
    data = struct.pack("!H", seed) + a + b + struct.pack("!BB", proto, 0)
    if has_ports:
        data += struct.pack("!HH", p1 & 0xFFFF, p2 & 0xFFFF)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()
