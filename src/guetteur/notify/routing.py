"""Routing, throttling and digests: pure functions of the alert changes, the configured routes
and the time passed in (`now`: the clock of the caller; tests pass it, nothing sleeps).

For each change, every enabled route whose match holds sends it to its channel:
- `immediate`: one message per channel per change (two routes to one channel send once),
  unless the channel's throttle window is full: then the change is *held* in the channel's
  summary, sent once when the window ends ("N held back, see the console");
- `digest`: the change joins the route's digest of the current N-minute window (aligned on
  the epoch), sent once when the window ends.
Held messages keep a count per severity and a bounded sample: a storm of 100,000 changes
costs a few rows, never 100,000 messages nor silence.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from guetteur.notify.model import AlertChange, Match, Route


@dataclass(slots=True)
class Held:
    """Changes held for one later message: a route's digest or a channel's throttle summary."""

    key: str
    channel_id: int
    route_id: int | None
    kind: Literal["digest", "summary"]
    window_start: datetime
    window_end: datetime
    total: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)

    def add(self, change: AlertChange, sample_limit: int) -> None:
        self.total += 1
        self.by_severity[change.severity] = self.by_severity.get(change.severity, 0) + 1
        if len(self.sample) < sample_limit:
            self.sample.append(change.to_json())

    def payload(self) -> dict[str, Any]:
        return {"window_start": self.window_start.isoformat(), "window_end": self.window_end.isoformat(),
                "total": self.total, "by_severity": self.by_severity, "sample": self.sample}


@dataclass(slots=True)
class ThrottleWindow:
    channel_id: int
    start: datetime
    sent: int = 0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One outbox row to write."""

    channel_id: int
    route_id: int | None
    kind: Literal["alert", "digest", "summary"]
    payload: dict[str, Any]


@dataclass(slots=True)
class RoutingState:
    """What routing reads and changes: throttle windows per channel and held messages by key."""

    throttles: dict[int, ThrottleWindow] = field(default_factory=dict)
    held: dict[str, Held] = field(default_factory=dict)
    outgoing: list[Outgoing] = field(default_factory=list)
    dirty: set[str] = field(default_factory=set)  # held keys changed
    flushed: set[str] = field(default_factory=set)  # held keys turned into messages (to delete)


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def matches(match: Match, change: AlertChange) -> bool:
    """Whether a route's match takes this change (every given criterion; empty = everything)."""
    if match.severities and change.severity not in match.severities:
        return False
    if match.rules and not any(_glob(p, change.rule_id) or _glob(p, change.rule_title) for p in match.rules):
        return False
    if match.tags and not any(_glob(p, tag) for p in match.tags for tag in change.tags):
        return False
    for name, pattern in match.entity.items():
        value = change.entity.get(name)
        if value is None or not _glob(pattern, value):
            return False
    return True


def digest_window(now: datetime, minutes: int) -> tuple[datetime, datetime]:
    """The N-minute window (aligned on the epoch) holding `now`."""
    size = minutes * 60
    start = int(now.timestamp()) // size * size
    begin = datetime.fromtimestamp(start, UTC)
    return begin, begin + timedelta(seconds=size)


def flush_due(state: RoutingState, now: datetime) -> None:
    """Held messages whose window ended become outbox rows."""
    for key, held in list(state.held.items()):
        if held.window_end <= now:
            if held.total:
                state.outgoing.append(Outgoing(held.channel_id, held.route_id, held.kind, held.payload()))
            del state.held[key]
            state.dirty.discard(key)
            state.flushed.add(key)


class Router:
    """Routes alert changes with the routes and throttle settings given."""

    def __init__(self, routes: Iterable[Route], channel_limits: Mapping[int, int | None], *, throttle_limit: int,
                 throttle_window: float, sample: int) -> None:
        """`channel_limits`: the enabled channels and their own throttle limit (None = `throttle_limit`)."""
        self.routes = [r for r in routes if r.enabled and r.channel_id in channel_limits]
        self.limits = {channel: throttle_limit if limit is None else limit for channel, limit in channel_limits.items()}
        self.throttle_window = timedelta(seconds=throttle_window)
        self.sample = sample

    def route(self, changes: Iterable[AlertChange], state: RoutingState, now: datetime) -> None:
        """Flush what is due, then route each change (silenced ones are skipped)."""
        flush_due(state, now)
        for change in changes:
            if change.silenced:
                continue
            immediate: set[int] = set()
            for route in self.routes:
                if not matches(route.match, change):
                    continue
                if route.mode == "digest":
                    self._hold_digest(route, change, state, now)
                elif route.channel_id not in immediate:
                    immediate.add(route.channel_id)
                    self._immediate(route, change, state, now)

    def _hold(self, state: RoutingState, key: str, make: Mapping[str, Any], change: AlertChange) -> None:
        held = state.held.get(key)
        if held is None:
            held = state.held[key] = Held(key=key, **make)
        held.add(change, self.sample)
        state.dirty.add(key)
        state.flushed.discard(key)

    def _hold_digest(self, route: Route, change: AlertChange, state: RoutingState, now: datetime) -> None:
        start, end = digest_window(now, route.digest_minutes)
        self._hold(state, f"digest:{route.id}", {"channel_id": route.channel_id, "route_id": route.id,
                                                 "kind": "digest", "window_start": start, "window_end": end}, change)

    def _immediate(self, route: Route, change: AlertChange, state: RoutingState, now: datetime) -> None:
        window = state.throttles.get(route.channel_id)
        if window is None or now >= window.start + self.throttle_window:
            window = state.throttles[route.channel_id] = ThrottleWindow(route.channel_id, now)
        limit = self.limits[route.channel_id]
        if limit == 0 or window.sent < limit:
            window.sent += 1
            state.outgoing.append(Outgoing(route.channel_id, route.id, "alert", {"alert": change.to_json()}))
            return
        self._hold(state, f"throttle:{route.channel_id}",
                   {"channel_id": route.channel_id, "route_id": None, "kind": "summary",
                    "window_start": window.start, "window_end": window.start + self.throttle_window}, change)
