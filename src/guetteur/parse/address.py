"""Network addresses in events: `source.*` / `destination.*` / `client.*` from text.

`endpoint(address, port)` builds the ECS object for an address that may be an IP
(`ip` set), a host name (`domain` set) or anything else (only `address`), so the
`ip`-typed column never receives a host name.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

_IPV4 = re.compile(r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$")
_DOMAIN = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$")


@lru_cache(maxsize=16384)
def ip_text(text: str) -> str | None:
    """The canonical text of an IPv4/IPv6 address (`::ffff:1.2.3.4` kept as is), or None."""
    if _IPV4.match(text):
        return text
    if ":" in text and len(text) <= 64:
        candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        try:
            return str(ipaddress.IPv6Address(candidate.split("%", 1)[0]))
        except ValueError:
            return None
    return None


def is_domain(text: str) -> bool:
    return bool(_DOMAIN.match(text)) and not text.replace(".", "").isdigit()


@lru_cache(maxsize=16384)
def _classify(address: str) -> tuple[str, str]:
    ip = ip_text(address)
    if ip is not None:
        return "ip", ip
    if is_domain(address):
        return "domain", address
    return "", ""


def endpoint(address: str | None, port: str | int | None = None) -> dict | None:
    """`{"address", "ip" | "domain", "port"}` for an address text, or None when empty/"-"."""
    if not address or address in ("-", "unknown", "UNKNOWN"):
        return None
    kind, value = _classify(address)
    out: dict = {"address": address, kind: value} if kind else {"address": address}
    if port is not None:
        try:
            number = int(port)
        except (TypeError, ValueError):
            number = -1
        if 0 <= number <= 65535:
            out["port"] = number
    return out


def add_related(event: dict, kind: str, value: str | None) -> None:
    """Append `value` to `related.<kind>` (user, ip, hosts) once."""
    if not value:
        return
    related = event.get("related")
    if related is None:
        event["related"] = {kind: [value]}
        return
    values = related.setdefault(kind, [])
    if value not in values:
        values.append(value)


def flow_endpoints(src: object, sport: object, dst: object, dport: object) -> tuple[dict, dict]:
    """`source` and `destination` objects from a flow record's already-typed fields (JSON
    logs of sensors: Suricata, Zeek): string addresses kept as `address`/`ip`, integer ports.
    Either object may be empty."""
    source: dict = {}
    destination: dict = {}
    if isinstance(src, str):
        source.update(address=src, ip=src)
    if isinstance(dst, str):
        destination.update(address=dst, ip=dst)
    if isinstance(sport, int):
        source["port"] = sport
    if isinstance(dport, int):
        destination["port"] = dport
    return source, destination
