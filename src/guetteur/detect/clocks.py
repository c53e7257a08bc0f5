"""Event time per stream for the correlation engine: no source moves another source's clock.

A *stream* is the events that share one clock: those of one origin arriving through one
input. Its key is `input.type` plus the origin, taken from the first present of `host.name`
(the machine whose clock wrote the timestamp; a relay keeps each host's own name), the
sender's address without its port (`log.source.address`: a TCP or HTTP sender opens a new
port per connection, not a new clock), or the file (`log.file.path`). The input type is part
of the key because one host's live syslog and a backlog of its files read later are two
streams with different delays.

Each stream keeps its newest event time. An event is:
- *skewed* when its timestamp is more than `max_future` seconds ahead of the wall clock: a
  wrong or forged clock. It is placed at its stream's present (the stream's newest on-time
  event, never more than `max_future` ahead of now; the wall clock for a stream with no time
  yet: "now" for a live stream), after what came before it, and never moves any clock;
- *late* when it is older than its own stream's newest time minus `lateness`. It is still
  placed by its own time and evaluated;
- on time otherwise, placed by its own time; it may move its own stream's clock forward.
Both kinds are counted and flagged (`SKEWED`, `LATE`), never dropped.

The engine's *horizon* (when closing windows are evaluated and idle groups expire) is the
slowest stream's time (`low`), so a stream ahead of the others never closes their windows;
a stream that stops sending is forgotten after `idle` seconds of wall-clock silence (by
`expire`, the live tick) or when `max_clocks` streams are exceeded (least recently seen
first), and its key text is cut to `MAX_KEY_CHARS`: the state stays bounded whatever
senders put in `host.name`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

from guetteur.model import Event

SKEWED = 1  # timestamp beyond the wall clock + max_future: placed at its stream's present
LATE = 2  # older than its stream's newest time - lateness: placed by its own time anyway

MAX_KEY_CHARS = 256
LOW_RECOMPUTE_EVERY = 256  # placements between two full scans for the slowest stream
SMALL = 64  # up to this many streams, the slowest one is found again at once

# The fields the stream key reads (the pipeline projects them for the correlation stage).
STREAM_FIELDS: tuple[tuple[str, ...], ...] = (
    ("input", "type"),
    ("host", "name"),
    ("log", "source", "address"),
    ("log", "file", "path"),
)


def _field(event: Event, section: str, name: str) -> Any:
    part = event.get(section)
    return part.get(name) if type(part) is dict else None


def stream_key(event: Event | None) -> str:
    """`input.type|origin` of an event (see the module docstring); `|` when neither is known."""
    if event is None:
        return "|"
    kind = _field(event, "input", "type")
    origin = _field(event, "host", "name")
    if not origin or type(origin) is not str:
        log_part = event.get("log")
        origin = None
        if type(log_part) is dict:
            address = _field(log_part, "source", "address")
            if type(address) is str and address:
                host, colon, port = address.rpartition(":")
                origin = host if colon and port.isdigit() else address
            else:
                path = _field(log_part, "file", "path")
                origin = path if type(path) is str else None
    text = f"{kind if type(kind) is str else ''}|{origin or ''}"
    return text[:MAX_KEY_CHARS]


class _Clock:
    __slots__ = ("newest", "seen")

    def __init__(self, seen: float) -> None:
        self.newest = -math.inf  # newest event time placed on time (skewed events excluded)
        self.seen = seen  # wall-clock time of its last event


class StreamClocks:
    """The clocks of the streams seen recently (bounded); see the module docstring."""

    def __init__(self, *, lateness: float, max_future: float, max_clocks: int, idle: float) -> None:
        self.lateness = lateness
        self.max_future = max_future
        self.max_clocks = max(1, max_clocks)
        self.idle = idle
        self._clocks: OrderedDict[str, _Clock] = OrderedDict()  # least recently seen first
        self.newest = -math.inf  # newest time placed, all streams
        self.skewed = 0
        self.late = 0
        self.evicted = 0
        self._low = math.inf  # a lower bound of the slowest stream's newest time
        self._low_key: str | None = None
        self._low_stale = False
        self._since_low = 0

    def __len__(self) -> int:
        return len(self._clocks)

    def place(self, event: Event | None, t: float | None, now: float) -> tuple[float, int]:
        """The time to window `event` by, and its flags (`SKEWED`, `LATE`, or 0).

        `t` is the event's own time (None when it has none: it then takes its stream's present).
        """
        key = stream_key(event)
        clock = self._clocks.get(key)
        if clock is None:
            clock = self._add(key, now)
        else:
            self._clocks.move_to_end(key)
            clock.seen = now
        present = clock.newest if math.isfinite(clock.newest) else (
            self.newest if t is None and math.isfinite(self.newest) else now)
        if t is None:
            return present, 0
        if t > now + self.max_future:
            self.skewed += 1
            # its stream's present, not the bare wall clock: that can be a little earlier than
            # the stream's newest event (up to max_future), and a skewed event placed before
            # events that came in ahead of it would break the order of temporal_ordered steps
            return present, SKEWED
        flags = 0
        if t < clock.newest - self.lateness:
            self.late += 1
            flags = LATE
        elif t > clock.newest:
            self._advance(key, clock, t)
        if t > self.newest:
            self.newest = t
        return t, flags

    def _add(self, key: str, now: float) -> _Clock:
        while len(self._clocks) >= self.max_clocks:
            old_key, _ = self._clocks.popitem(last=False)
            self.evicted += 1
            if old_key == self._low_key:
                self._low_stale = True
        clock = self._clocks[key] = _Clock(now)
        return clock

    def _advance(self, key: str, clock: _Clock, t: float) -> None:
        first = not math.isfinite(clock.newest)
        clock.newest = t
        if first and t < self._low:
            self._low, self._low_key = t, key
        elif key == self._low_key:
            self._low_stale = True

    def low(self) -> float:
        """The slowest stream's newest time (or a little less: it is refreshed lazily, which only
        delays closing); -inf while no stream has a time."""
        self._since_low += 1
        if self._low_stale and (len(self._clocks) <= SMALL or self._since_low >= LOW_RECOMPUTE_EVERY):
            self._recompute_low()
        return self._low if math.isfinite(self._low) else -math.inf

    def _recompute_low(self) -> None:
        self._low, self._low_key = math.inf, None
        for key, clock in self._clocks.items():
            if math.isfinite(clock.newest) and clock.newest < self._low:
                self._low, self._low_key = clock.newest, key
        self._low_stale = False
        self._since_low = 0

    def expire(self, now: float) -> int:
        """Forget the streams silent for more than `idle` seconds of wall-clock time."""
        dropped = 0
        clocks = self._clocks
        while clocks:
            key, clock = next(iter(clocks.items()))
            if clock.seen >= now - self.idle:
                break
            del clocks[key]
            dropped += 1
        if dropped:
            self._recompute_low()
        return dropped

    def to_list(self) -> list[list[Any]]:
        """`[[key, newest], ...]` of the streams with a time (for the correlation snapshot)."""
        return [[key, clock.newest] for key, clock in self._clocks.items() if math.isfinite(clock.newest)]

    def load(self, saved: list[list[Any]], now: float) -> None:
        """Take back `to_list()` output (as seen now); raises ValueError on malformed data."""
        loaded: list[tuple[str, float]] = []
        for item in saved:
            key, newest = item
            value = float(newest)
            if not isinstance(key, str) or not math.isfinite(value):
                raise ValueError("bad stream clock")
            loaded.append((key[:MAX_KEY_CHARS], value))
        for key, value in loaded[-self.max_clocks :]:
            clock = self._clocks.get(key) or self._add(key, now)
            if value > clock.newest:
                clock.newest = value
            self.newest = max(self.newest, value)
        self._recompute_low()
