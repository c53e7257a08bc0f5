"""Field names of a query -> what they are: kind (keyword, text, ip, date) and promoted column.

Every field is a keyword field except `message` (text), `@timestamp` (date), and `ip` and
`*.ip` (addresses). A field with a column of its own in `events` is read from that column,
and from the `jsonb` document only when the column is NULL (an array, or a value the column
could not hold); every other field is read from the document.
Field names with `*` expand over the known fields (those seen in recent events).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from guetteur.search.kql import KqlError, Text

Kind = Literal["keyword", "text", "ip", "date"]
MAX_FIELD_LENGTH = 256
MAX_SEGMENTS = 32
MAX_EXPANSION = 100

# field -> (column, column type); `ts` always holds a value (the write time when @timestamp
# did not parse), so `@timestamp` never reads the document.
PROMOTED: dict[str, tuple[str, str]] = {
    "@timestamp": ("ts", "timestamptz"),
    "host.name": ("host", "text"),
    "user.name": ("user_name", "text"),
    "source.ip": ("source_ip", "inet"),
    "destination.ip": ("destination_ip", "inet"),
    "event.action": ("action", "text"),
    "event.outcome": ("outcome", "text"),
    "event.dataset": ("source_type", "text"),
    "event.severity": ("severity", "smallint"),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: Kind
    column: str | None
    column_type: str | None

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.name.split("."))


def kind_of(name: str) -> Kind:
    if name == "message":
        return "text"
    if name == "@timestamp":
        return "date"
    if name == "ip" or name.endswith(".ip"):
        return "ip"
    return "keyword"


def spec(name: str) -> FieldSpec:
    column, column_type = PROMOTED.get(name, (None, None))
    return FieldSpec(name, kind_of(name), column, column_type)


def _pattern(field: Text) -> re.Pattern[str]:
    return re.compile("".join(".*" if p is None else re.escape(p) for p in field.parts), re.DOTALL)


def resolve(field: Text, known: Iterable[str]) -> list[FieldSpec]:
    """The fields `field` names: itself, or the known fields its wildcards match (sorted,
    at most `MAX_EXPANSION`). Raises KqlError for a name no document can hold."""
    if not field.wildcard:
        name = field.plain
        if not name or len(name) > MAX_FIELD_LENGTH or name.count(".") >= MAX_SEGMENTS:
            raise KqlError(f"invalid field name {name[:40]!r}", field.position)
        return [spec(name)]
    pattern = _pattern(field)
    names = sorted({n for n in known if pattern.fullmatch(n)})
    return [spec(n) for n in names[:MAX_EXPANSION]]


# Fields every Guetteur event may carry, known even before any event of them is stored.
BASE_FIELDS = (
    "@timestamp", "message", "host.name", "host.hostname", "host.ip", "user.name", "source.ip", "source.port",
    "destination.ip", "destination.port", "event.action", "event.outcome", "event.dataset", "event.severity",
    "event.category", "event.type", "event.kind", "event.module", "event.id", "process.name", "process.pid",
    "log.level", "tags", "related.ip", "related.user", "rule.name", "url.path", "http.response.status_code",
)
