"""How a remote address is written in `RawRecord.peer`."""

from __future__ import annotations

from typing import Any


def format_peer(address: Any) -> str | None:
    """``"203.0.113.5:51234"`` for IPv4, ``"[2001:db8::1]:51234"`` for IPv6 (brackets keep
    the port readable), the raw value for anything else (a Unix socket path), None if unknown."""
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        if isinstance(host, str) and ":" in host:
            return f"[{host}]:{port}"
        return f"{host}:{port}"
    if address:
        return str(address)
    return None
