"""The filters of `GET /api/v1/events` (host=, user=, source_ip=...) as a KQL query, so reading
events goes through the one compiler that serves the search bar and `guetteur search`."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import UTC, datetime

from guetteur.errors import QueryError
from guetteur.search.compile import Compiled, compile_query
from guetteur.search.fields import BASE_FIELDS
from guetteur.search.values import SMALLINT

# filter name -> ECS field
FILTER_FIELDS: dict[str, str] = {
    "host": "host.name",
    "user": "user.name",
    "source_ip": "source.ip",
    "destination_ip": "destination.ip",
    "category": "event.category",
    "action": "event.action",
    "outcome": "event.outcome",
    "severity": "event.severity",
    "source_type": "event.dataset",
}
_ADDRESSES = ("source_ip", "destination_ip")


def quoted(value: str) -> str:
    """`value` as a KQL quoted string: exact, every character literal (`*` included)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _term(key: str, value: str) -> str:
    field = FILTER_FIELDS.get(key)
    if field is None:
        raise QueryError(f"unknown filter {key!r} (known: {', '.join(FILTER_FIELDS)})")
    if key == "severity":
        try:
            level = int(value)
        except ValueError:
            raise QueryError(f"severity: not an integer: {value!r}") from None
        if level not in SMALLINT:
            raise QueryError(f"severity out of range: {level}")
        return f"{field}:{level}"
    if key in _ADDRESSES:
        text = value.strip()
        try:
            text = str(ipaddress.ip_network(text, strict=False)) if "/" in text else str(ipaddress.ip_address(text))
        except ValueError:
            raise QueryError(f"{key}: not an IP address or network: {text!r}") from None
        return f"{field}:{quoted(text)}"
    return f"{field}:{quoted(value)}"


def filters_query(filters: Mapping[str, str]) -> str:
    """The KQL query of exact-match filters, ANDed; QueryError for an unknown filter or a bad value."""
    return " and ".join(_term(key, str(value)) for key, value in filters.items())


def compile_filters(filters: Mapping[str, str], now: datetime | None = None) -> Compiled:
    """The SQL condition of the filters (the empty query matches everything)."""
    return compile_query(filters_query(filters), known=BASE_FIELDS, now=now or datetime.now(UTC))
