"""Small helpers to read and write dotted ECS paths in nested event dicts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from guetteur.model import Event

_MISSING = object()


def get(event: Event, path: str, default: Any = None) -> Any:
    """Value at a dotted path (`"source.ip"`), or `default` when any step is missing.

    A key that itself contains dots (`{"winlog": {"event_data": {"a.b": 1}}}`) is not
    split further; ECS documents never need that.
    """
    node: Any = event
    for part in path.split("."):
        if not isinstance(node, dict):
            return default
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return default
    return node


def put(event: Event, path: str, value: Any) -> None:
    """Set the value at a dotted path, creating intermediate objects. `None` values are skipped."""
    if value is None:
        return
    parts = path.split(".")
    node = event
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def flatten(event: Event, prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`. Lists are kept as values."""
    flat: dict[str, Any] = {}
    for key, value in event.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def nest(flat: dict[str, Any]) -> Event:
    """`{"a.b": 1}` -> `{"a": {"b": 1}}`; the inverse of `flatten`."""
    event: Event = {}
    for path, value in flat.items():
        put(event, path, value)
    return event


def iso_utc(ts: float | datetime) -> str:
    """ECS timestamp text: ISO 8601, UTC, millisecond precision, `Z` suffix."""
    if isinstance(ts, datetime):
        moment = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    else:
        moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
