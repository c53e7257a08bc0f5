"""What the API and the CLI share around a search: the time window, the known fields, the
compiled query. So `guetteur search` and `GET /api/v1/search` give the same results."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from guetteur.errors import QueryError
from guetteur.search.compile import Compiled, compile_query
from guetteur.search.fields import BASE_FIELDS
from guetteur.search.kql import KqlError, Text
from guetteur.search.values import date_interval
from guetteur.store.search import SearchLimits, TimeRange, field_stats, has_word_index

DEFAULT_SPAN = timedelta(minutes=15)  # Kibana's "last 15 minutes"
KNOWN_FIELDS_SECONDS = 60.0


def parse_time(text: str, now: datetime, *, end: bool) -> datetime:
    """An ISO 8601 time or date math on now (`now-24h`, `now/d`). A date without a time
    (`2024-03-05`, `2024-03`) or a rounded `now/d` covers its whole unit: its start for a
    window's start, its end for a window's end."""
    try:
        first, last = date_interval(Text((text.strip(),), quoted=True, position=0), now)
    except KqlError:
        raise QueryError(f"not a time: {text[:40]!r} (ISO 8601 like 2024-03-05T10:00:00Z, or now-15m)") from None
    whole_unit = "/" in text if text.strip().lower().startswith("now") else "T" not in text.upper()
    if not whole_unit:
        return first
    return last if end else first


def window(start: str | None, end: str | None, now: datetime | None = None) -> TimeRange:
    """The search window; by default the last 15 minutes. QueryError when empty or unreadable."""
    now = now or datetime.now(UTC)
    upper = parse_time(end, now, end=True) if end else now
    lower = parse_time(start, now, end=False) if start else upper - DEFAULT_SPAN
    if lower >= upper:
        raise QueryError("start must be before end")
    return TimeRange(lower, upper)


@dataclass
class WordIndex:
    """Whether the store has the optional word index on `message`, checked at most every
    `KNOWN_FIELDS_SECONDS` (an operator may create or drop it while Guetteur runs)."""

    _present: bool = False
    _until: float = 0.0

    async def get(self, pool: AsyncConnectionPool, limits: SearchLimits) -> bool:
        if time.monotonic() >= self._until:
            self._present = await has_word_index(pool, limits)
            self._until = time.monotonic() + KNOWN_FIELDS_SECONDS
        return self._present


@dataclass
class KnownFields:
    """Field names for `*` in queries: the base ECS fields and those of recent events,
    refreshed at most every `KNOWN_FIELDS_SECONDS`; and, as what else the compiler needs to know
    of the store, whether it has the word index."""

    sample: int = 500
    word_index: WordIndex = field(default_factory=WordIndex)
    _names: tuple[str, ...] = ()
    _until: float = 0.0

    async def get(self, pool: AsyncConnectionPool, limits: SearchLimits) -> tuple[str, ...]:
        if time.monotonic() < self._until and self._names:
            return self._names
        now = datetime.now(UTC)
        _, stats = await field_stats(pool, TimeRange(now - timedelta(days=1), now + timedelta(days=1)),
                                     sample=self.sample, limits=limits)
        self._names = tuple(sorted(set(BASE_FIELDS) | {name for name, _, _ in stats}))
        self._until = time.monotonic() + KNOWN_FIELDS_SECONDS
        return self._names


async def compile_search(pool: AsyncConnectionPool, query: str, known: KnownFields, limits: SearchLimits,
                         now: datetime | None = None) -> Compiled:
    """The compiled query (KqlError when it is not KQL)."""
    names = await known.get(pool, limits) if "*" in query else BASE_FIELDS
    words = await known.word_index.get(pool, limits)
    return compile_query(query, known=tuple(names), now=now or datetime.now(UTC), word_index=words)
