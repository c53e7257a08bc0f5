"""Sigma correlation rules over streaming events: sliding windows per group key.

`CorrelationEngine.process(event, base_hits)` takes one event and the hits the stateless
detector found on it (including hits of rules that correlations reference with
`generate: false`), routes each hit to the correlation rules that reference its rule (a dict
lookup by rule id/name, never a loop over all rules), places the event in the window of its
`group-by` key by its own `@timestamp`, and returns the correlation hits that fired. Hits of
correlations feed the correlations that reference them (chains), in dependency order.

Time. Event time is `@timestamp`, kept per *stream* (`detect/clocks.py`: the events of one
origin through one input share a clock), so no source moves another source's clock. An
event older than its own stream's newest time minus `lateness` is *late*: counted (`late`),
flagged, and still placed by its own time and evaluated in the windows it can still join.
An event stamped more than `max_future` seconds ahead of the wall clock is *skewed*: counted
(`clock_skew`), flagged, placed at its stream's present (now, for a live stream), and it
moves no clock. A correlation hit whose window holds such events says so (`extra.clock_skew`,
`extra.late`, tags `guetteur.clock_skew`, `guetteur.late_event`). Nothing is dropped for its
time. The *watermark* (the horizon of closing windows and idle-group expiry) is the slowest
stream's time minus `lateness`: a stream ahead of the others cannot close their windows.

Firing. *Rising* rules (count/distinct/sum/temporal with `gt`/`gte`) fire as soon as the window
ending at an event satisfies the condition; the group's entries up to that event are then
consumed, so the next alert needs a fresh threshold's worth of events (count-and-reset).
*Closing* rules (`lt`, `lte`, `eq`, `neq`, averages, percentiles, `not`) are evaluated once per
window: the window opens at the group's first event and is evaluated when the watermark
passes its end (or on `advance(now)` / `flush()`), so their alerts come `timespan + lateness`
after the window opened.

Memory. Only `(time, event id, rule index, value)` tuples are kept, never events. Per rule:
at most `max_groups` groups (least recently updated evicted first) and `max_events_per_rule`
entries; per group at most `max_events_per_group` entries (oldest evicted); at most
`max_clocks` stream clocks (idle or least recently seen forgotten). Every eviction is
counted (`stats()`). Groups whose events can no longer fall in any window are removed: a
rising group's entries older than its own newest entry - lateness - timespan, idle groups
older than watermark - timespan.

State survives restarts: `snapshot()` -> bytes, `restore(bytes)`; `store/detection.py` keeps
them in PostgreSQL. `reload(correlations)` keeps the windows of rules whose semantics did not
change (same `CorrelationSpec.fingerprint`).
"""

from __future__ import annotations

import bisect
import heapq
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from guetteur import ecs
from guetteur.detect.clocks import LATE, SKEWED, StreamClocks
from guetteur.detect.correlation_rule import NUMERIC_TYPES, CorrelationRuleError, CorrelationSpec, FieldPaths
from guetteur.detect.hits import Hit
from guetteur.detect.view import MISSING as _MISSING
from guetteur.detect.view import lookup
from guetteur.detect.windows import Entry, Group, new_aggregate, slice_value
from guetteur.model import Event

log = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1
MAX_HIT_EVENTS = 100  # event refs carried by one correlation hit (the latest ones)
HARD_MAX_EVENTS_PER_GROUP = 100_000
FLAG_TAGS = ((SKEWED, "clock_skew", "guetteur.clock_skew"), (LATE, "late", "guetteur.late_event"))
SWEEP_EVERY = 256  # events between two idle-group sweeps

GroupKey = tuple[str, ...]

COUNTER_NAMES = (
    "fired",  # correlation hits produced (including those of rules with generate: false)
    "late",  # events older than their stream's newest time - lateness (still placed and evaluated)
    "clock_skew",  # events stamped beyond the wall clock + max_future (placed at their stream's present)
    "missing_group_field",  # events lacking a group-by field (not grouped, like SQL GROUP BY NULL)
    "non_numeric",  # value_sum/avg/percentile events whose field is not a number
    "evicted_groups",  # groups dropped because of max_groups / max_events_per_rule
    "evicted_events",  # entries dropped because of max_events_per_group
    "expired_groups",  # idle groups removed once no window could include them
    "windows_closed",  # closing-rule windows evaluated
)


@lru_cache(maxsize=65_536)
def parse_timestamp(text: str) -> float | None:
    """`@timestamp` text (ISO 8601, `Z` or offset; naive means UTC) -> epoch seconds, or None."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def event_time(event: Event | None) -> float | None:
    """Epoch seconds of an event's `@timestamp` (text or number), or None."""
    if event is None:
        return None
    value = event.get("@timestamp")
    if type(value) is str:
        return parse_timestamp(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def condition_holds(spec: CorrelationSpec, value: float) -> bool:
    """The rule's condition (`spec.op` among `correlation_rule.OPERATORS`) on a window's value.
    Written out rather than looked up: it runs for every entry a window takes, compiled."""
    op, threshold = spec.op, spec.threshold
    if op == "gte":
        return value >= threshold
    if op == "gt":
        return value > threshold
    if op == "lt":
        return value < threshold
    if op == "lte":
        return value <= threshold
    if op == "eq":
        return value == threshold
    return value != threshold  # "neq": from_sigma refuses any other


def _lookup(event: Event | None, paths: FieldPaths) -> Any:
    """The value at the first path present in the event (`logsource.field_paths` order),
    resolved as the rule matchers resolve it, or `_MISSING`."""
    if event is None:
        return _MISSING
    return lookup(event, paths)


def _hit_flags(hit: Hit) -> int:
    """The clock flags of a correlation hit's events (see `FLAG_TAGS`)."""
    extra = hit.extra or {}
    return sum(flag for flag, name, _ in FLAG_TAGS if extra.get(name))


def _key_text(value: Any) -> str | None:
    """A field value as a group-key / distinct-value text; None when absent or empty."""
    if value is _MISSING or value is None:
        return None
    if type(value) is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list | tuple):
        parts = [t for t in (_key_text(v) for v in value) if t is not None]
        return "\x1f".join(parts) if parts else None
    if isinstance(value, dict):
        return None
    return str(value)


def _number(value: Any) -> float | None:
    if value is _MISSING or value is None or isinstance(value, bool):
        return None
    if isinstance(value, list | tuple):
        return _number(value[0]) if len(value) == 1 else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# How far behind the clock a stream's newest event may be and still count as live.
LIVE_MARGIN = 30.0

class _RuleState:
    """The windows of one correlation rule."""

    __slots__ = ("counters", "groups", "max_events", "spec", "total")

    def __init__(self, spec: CorrelationSpec, max_events: int) -> None:
        self.spec = spec
        self.groups: OrderedDict[GroupKey, Group] = OrderedDict()
        self.total = 0  # entries across groups
        self.max_events = max_events
        self.counters = dict.fromkeys(COUNTER_NAMES, 0)

    def new_group(self) -> Group:
        return Group(new_aggregate(self.spec) if self.spec.rising else None)

    def drop_front(self, group: Group, count: int) -> None:
        self.total -= len(group.drop_front(count, self.spec))

    def remove_group(self, key: GroupKey) -> None:
        group = self.groups.pop(key, None)
        if group is not None:
            self.total -= len(group.entries)


class CorrelationEngine:
    """Streaming evaluation of Sigma correlation rules (see the module docstring).

    correlations: `LoadedCorrelation`s from a `RuleSet` (disabled ones are skipped), pySigma
        `SigmaCorrelationRule`s with resolved references, or compiled `CorrelationSpec`s.
        Rules that cannot be evaluated are listed in `errors` as (rule id, reason), not raised.
    lateness: seconds an event may lag behind the newest event of its stream and still be on
        time (a later one is flagged `late`, not dropped).
    max_future: seconds ahead of the wall clock beyond which a timestamp is skewed; keep it
        below `lateness`, so a stream stamped at the limit cannot make correct events late.
    max_clocks, clock_idle: at most this many stream clocks; one silent this many wall-clock
        seconds is forgotten on `advance()`.
    clock: wall clock (epoch seconds): bounds future timestamps, ages stream clocks.
    """

    def __init__(
        self,
        correlations: Iterable[Any],
        *,
        lateness: float,
        max_groups: int = 10_000,
        max_events_per_group: int = 1_000,
        max_events_per_rule: int = 200_000,
        max_future: float = 10.0,
        max_clocks: int = 10_000,
        clock_idle: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lateness < 0:
            raise ValueError("lateness must be >= 0")
        self.lateness = float(lateness)
        self.max_groups = max(1, max_groups)
        self.max_events_per_group = max(1, max_events_per_group)
        self.max_events_per_rule = max(1, max_events_per_rule)
        self.max_future = max_future
        self.clock = clock
        self.clocks = StreamClocks(
            lateness=self.lateness, max_future=max_future, max_clocks=max_clocks, idle=clock_idle
        )
        self._last_arrival: float = -math.inf  # wall-clock time the last routed event came in
        self.errors: list[tuple[str, str]] = []
        self._states: dict[str, _RuleState] = {}
        self._order: list[str] = []  # rule ids, referenced rules first
        self._routes: dict[str, list[tuple[_RuleState, int]]] = {}
        self._silent: set[str] = set()
        self._heap: list[tuple[float, int, str, GroupKey]] = []  # closing windows by end time
        self._seq = 0
        self._heap_limit = 1024
        self._since_sweep = 0
        self._install(self._compile(correlations), previous={})

    # ------------------------------------------------------------------ rule set

    def _compile(self, correlations: Iterable[Any]) -> list[CorrelationSpec]:
        self.errors = []
        specs: list[CorrelationSpec] = []
        for item in correlations:
            if isinstance(item, CorrelationSpec):
                specs.append(item)
                continue
            if getattr(item, "enabled", True) is False:
                continue
            sigma_rule = getattr(item, "rule", item)
            source = getattr(item, "source", None)
            rule_id = getattr(item, "id", None) if sigma_rule is not item else None
            try:
                specs.append(CorrelationSpec.from_sigma(sigma_rule, rule_id=rule_id, source=source))
            except CorrelationRuleError as exc:
                ident = str(rule_id or getattr(sigma_rule, "id", None) or getattr(sigma_rule, "title", "?"))
                self.errors.append((ident, str(exc)))
                log.warning("correlation rule %s not loaded: %s", ident, exc)
        return self._dependency_order(specs)

    def _dependency_order(self, specs: list[CorrelationSpec]) -> list[CorrelationSpec]:
        """Referenced correlations before those referencing them; rules in a cycle are refused."""
        by_key: dict[str, CorrelationSpec] = {}
        ids: set[str] = set()
        for spec in specs:
            if spec.rule_id in ids:
                self.errors.append((spec.rule_id, "duplicate correlation rule id (the later one is ignored)"))
                continue
            ids.add(spec.rule_id)
            by_key[spec.rule_id] = spec
            if spec.name:
                by_key.setdefault(spec.name, spec)
        unique = list({spec.rule_id: spec for spec in by_key.values()}.values())
        deps = {
            spec.rule_id: {by_key[k].rule_id for keys in spec.rules for k in keys if k in by_key}
            - {spec.rule_id}
            for spec in unique
        }
        self_ref = {
            spec.rule_id
            for spec in unique
            if any(k in (spec.rule_id, spec.name) for ks in spec.rules for k in ks)
        }
        ordered: list[CorrelationSpec] = []
        done: set[str] = set()
        pending = [s for s in unique if s.rule_id not in self_ref]
        while pending:
            ready = [s for s in pending if deps[s.rule_id] <= done]
            if not ready:
                break
            for spec in ready:
                ordered.append(spec)
                done.add(spec.rule_id)
            pending = [s for s in pending if s.rule_id not in done]
        for spec in unique:
            if spec.rule_id not in done:
                self.errors.append((spec.rule_id, "correlation rules reference each other in a cycle"))
        return ordered

    def _install(self, specs: list[CorrelationSpec], previous: dict[str, _RuleState]) -> None:
        states: dict[str, _RuleState] = {}
        for spec in specs:
            cap = self.max_events_per_group
            if spec.min_events > cap:
                cap = min(spec.min_events, HARD_MAX_EVENTS_PER_GROUP)
                log.info(
                    "correlation %s: window cap raised to %d events to reach its threshold", spec.rule_id, cap
                )
            old = previous.get(spec.rule_id)
            if old is not None and old.spec.fingerprint == spec.fingerprint:
                old.spec = spec  # title/level/tags may have changed; the windows stay valid
                old.max_events = cap
                states[spec.rule_id] = old
            else:
                states[spec.rule_id] = _RuleState(spec, cap)
        self._states = states
        self._order = [spec.rule_id for spec in specs]
        routes: dict[str, list[tuple[_RuleState, int]]] = {}
        for spec in specs:
            state = states[spec.rule_id]
            for index, keys in enumerate(spec.rules):
                for key in keys:
                    routes.setdefault(key, []).append((state, index))
        self._routes = routes
        # Same rule as the detector (`engine._correlation_only`): a correlation referenced only
        # by correlations without `generate: true` produces hits with alert=False.
        silent: set[str] = set()
        loud: set[str] = set()
        for spec in specs:
            for keys in spec.rules:
                (loud if spec.generate else silent).update(keys)
        quiet = silent - loud
        self._silent = {spec.rule_id for spec in specs if spec.rule_id in quiet or (spec.name or "") in quiet}
        self._rebuild_heap()

    def reload(self, correlations: Iterable[Any]) -> None:
        """Replace the rule set; windows of rules whose fingerprint is unchanged are kept."""
        previous = self._states
        self._install(self._compile(correlations), previous)

    @property
    def specs(self) -> list[CorrelationSpec]:
        return [self._states[rule_id].spec for rule_id in self._order]

    # ------------------------------------------------------------------ streaming

    @property
    def newest(self) -> float:
        """The newest event time placed, all streams (-inf before the first)."""
        return self.clocks.newest

    @property
    def watermark(self) -> float:
        """The slowest stream's time minus `lateness`: closing windows that end before it are
        evaluated, idle groups older than it minus their timespan expire."""
        return self.clocks.low() - self.lateness

    def wants(self, hit: Hit) -> bool:
        """Whether a stateless hit feeds one of the correlations (so it must reach `process`)."""
        return hit.rule_id in self._routes or (hit.rule_name is not None and hit.rule_name in self._routes)

    def process(self, event: Event, base_hits: list[Hit]) -> list[Hit]:
        """Feed one event and its stateless hits; returns the correlation hits that fired.

        `base_hits` includes hits with `alert=False` (rules that only feed correlations).
        A correlation that is itself referenced by another one with `generate: false` yields
        hits with `alert=False`: alerting skips them; they also feed the referencing rule.
        """
        if not self._routes:
            return []
        routed = [hit for hit in base_hits if hit.rule_id in self._routes or hit.rule_name in self._routes]
        now = self._last_arrival = self.clock()
        out: list[Hit] = []
        if routed:
            # an event without a usable @timestamp takes its stream's present, so a replay of
            # old events is not thrown off by the wall clock
            t, flags = self.clocks.place(event, event_time(event), now)
            self._dispatch(deque(routed), t, event, out, flags)
        watermark = self.watermark
        if self._heap and self._heap[0][0] <= watermark:
            self._close_due(watermark, out)
        self._since_sweep += 1
        if self._since_sweep >= SWEEP_EVERY:
            self._since_sweep = 0
            self._sweep()
        return out

    def advance(self, now: float | None = None) -> list[Hit]:
        """Let wall-clock time close windows when events stop coming (live mode).

        Evaluates the closing windows that ended before `now - lateness` and drops idle
        groups, without moving the event-time watermark that decides which events are late:
        a stream that starts or resumes with older events (a file read after a restart, a
        sender's backlog) is placed by its own timestamps. Called without `now` (the
        pipeline's once-a-second tick), it does nothing while such a backlog is arriving, and
        otherwise also forgets the stream clocks silent for more than `clock_idle` seconds.
        """
        if now is None:
            now = self.clock()
            catching_up = (now - self._last_arrival < max(self.lateness, 1.0)
                           and self.newest < now - self.lateness - LIVE_MARGIN)
            if catching_up:
                return []
            self.clocks.expire(now)
        horizon = max(self.watermark, now - self.lateness)
        out: list[Hit] = []
        self._close_due(horizon, out)
        self._sweep(horizon)
        return out

    def flush(self) -> list[Hit]:
        """Evaluate every open closing window now (end of a replay); rising windows are kept."""
        out: list[Hit] = []
        self._close_due(math.inf, out)
        return out

    def _routes_of(self, hit: Hit) -> list[tuple[_RuleState, int]]:
        first = self._routes.get(hit.rule_id, [])
        if hit.rule_name and hit.rule_name != hit.rule_id:
            second = self._routes.get(hit.rule_name)
            if second:
                return first + [r for r in second if r not in first]
        return first

    def _dispatch(self, queue: deque[Hit], t: float, event: Event | None, out: list[Hit], flags: int) -> None:
        # Chains: a correlation hit is queued again for the correlations referencing it. The
        # dependency order built at load time has no cycles, so this terminates.
        while queue:
            hit = queue.popleft()
            for state, index in self._routes_of(hit):
                fired = self._add(state, index, hit, t, event, flags)
                if fired is not None:
                    out.append(fired)
                    queue.append(fired)

    def _entry_time(self, hit: Hit, t: float) -> float:
        if hit.correlation is not None and hit.event_times:
            parsed = parse_timestamp(hit.event_times[-1])
            if parsed is not None:
                return parsed
        return t

    def _add(
        self, state: _RuleState, index: int, hit: Hit, t: float, event: Event | None, flags: int
    ) -> Hit | None:
        spec = state.spec
        source = hit.event if hit.event is not None else event
        key_parts: list[str] = []
        for name, paths in zip(spec.group_by, spec.group_paths[index], strict=True):
            value: Any = _MISSING
            if hit.group_key is not None and name in hit.group_key:
                value = hit.group_key[name]
            if value is _MISSING:
                value = _lookup(source, paths)
            text = _key_text(value)
            if text is None:
                state.counters["missing_group_field"] += 1
                return None
            key_parts.append(text)
        key = tuple(key_parts)
        value_out: Any = None
        if spec.value_paths[index]:
            if spec.type == "value_count":
                texts = [_key_text(_lookup(source, paths)) for paths in spec.value_paths[index]]
                if any(v is None for v in texts):
                    state.counters["missing_group_field"] += 1
                    return None
                value_out = texts[0] if len(texts) == 1 else "\x1f".join(t for t in texts if t is not None)
            else:
                value_out = _number(_lookup(source, spec.value_paths[index][0]))
                if value_out is None:
                    state.counters["non_numeric"] += 1
                    return None
        when = self._entry_time(hit, t)
        if hit.correlation is not None:
            flags = _hit_flags(hit)  # a chained hit carries the flags of the events it holds
        else:
            if flags & LATE:
                state.counters["late"] += 1
            if flags & SKEWED:
                state.counters["clock_skew"] += 1
        # list[Any]: a hit's event ids hold None for an event without one (the annotation says
        # str), and the compiled engine checks the declared type of what it reads
        hit_ids: list[Any] = hit.event_ids
        event_id: Any = hit_ids[-1] if hit_ids else ecs.get(source, "event.id") if source else None
        entry: Entry = (when, None if event_id is None else str(event_id), index, value_out, flags)
        group = self._touch(state, key, when)
        position = group.insert(entry)
        state.total += 1
        if len(group.entries) > state.max_events:
            excess = len(group.entries) - state.max_events
            state.counters["evicted_events"] += excess
            state.drop_front(group, excess)
            position -= excess
            if position < 0:  # the new entry itself was the oldest: nothing to evaluate
                return None
        self._enforce_rule_budget(state, key)
        if not spec.rising:
            self._schedule(state, key, group)
            return None
        return self._evaluate_rising(state, key, group, position, source)

    def _touch(self, state: _RuleState, key: GroupKey, when: float) -> Group:
        group = state.groups.get(key)
        if group is None:
            if len(state.groups) >= self.max_groups:
                old_key, _ = next(iter(state.groups.items()))
                state.remove_group(old_key)
                state.counters["evicted_groups"] += 1
            group = state.new_group()
            state.groups[key] = group
        else:
            state.groups.move_to_end(key)
            if state.spec.rising and group.entries:
                # entries older than the group's own newest time - lateness - timespan can no
                # longer share a window with an on-time event still to come; only this group's
                # events decide it, so no other source's clock prunes it
                horizon = max(group.newest, when) - self.lateness - state.spec.timespan
                if group.entries[0][0] < horizon:  # most events find nothing stale: no search
                    stale = bisect.bisect_left(group.entries, horizon, key=lambda e: e[0])
                    state.drop_front(group, stale)
        return group

    def _enforce_rule_budget(self, state: _RuleState, keep: GroupKey) -> None:
        while state.total > self.max_events_per_rule and len(state.groups) > 1:
            old_key = next(iter(state.groups))
            if old_key == keep:
                state.groups.move_to_end(keep)
                continue
            state.remove_group(old_key)
            state.counters["evicted_groups"] += 1

    # ------------------------------------------------------------------ rising rules

    def _evaluate_rising(
        self, state: _RuleState, key: GroupKey, group: Group, position: int, event: Event | None
    ) -> Hit | None:
        spec = state.spec
        entries = group.entries
        entry = entries[position]
        newest = entries[-1][0]
        assert group.agg is not None
        if entry[0] >= newest - spec.timespan:
            if position == len(entries) - 1:
                group.agg.add(entry)
                group.slide(spec)
            elif spec.type == "temporal_ordered":
                group.rebuild(spec)  # an earlier step arrived late: redo the chains
            else:
                group.agg.add(entry)  # late, but inside the active window
            if condition_holds(spec, group.agg.value(newest)):
                return self._fire_rising(
                    state, key, group, group.lo, len(entries) - 1, group.agg.value(newest), event
                )
            return None
        # Later than the active window's start is impossible here: the entry is older than
        # every window ending at `newest`. Check each window [x - timespan, x] containing it.
        agg = new_aggregate(spec)
        start = bisect.bisect_left(entries, entry[0] - spec.timespan, key=lambda e: e[0])
        for e in entries[start : position + 1]:
            agg.add(e)
        end = position
        while True:
            value = agg.value(entries[end][0])
            if condition_holds(spec, value):
                return self._fire_rising(state, key, group, start, end, value, None)
            end += 1
            if end >= len(entries) or entries[end][0] > entry[0] + spec.timespan:
                return None
            agg.add(entries[end])
            new_start = bisect.bisect_left(entries, entries[end][0] - spec.timespan, key=lambda e: e[0])
            if new_start > position:
                return None
            for e in entries[start:new_start]:
                agg.remove(e)
            start = new_start

    def _fire_rising(
        self,
        state: _RuleState,
        key: GroupKey,
        group: Group,
        start: int,
        end: int,
        value: float,
        event: Event | None,
    ) -> Hit:
        window = group.entries[start : end + 1]
        hit = self._hit(state.spec, key, window, value, event)
        state.counters["fired"] += 1
        state.drop_front(group, end + 1)  # count-and-reset: these events have been used
        if group.entries:
            group.rebuild(state.spec)
        else:
            state.remove_group(key)
        return hit

    # ------------------------------------------------------------------ closing rules

    def _schedule(self, state: _RuleState, key: GroupKey, group: Group) -> None:
        end = group.entries[0][0] + state.spec.timespan
        if group.due is None or end < group.due:
            group.due = end
            self._seq += 1
            heapq.heappush(self._heap, (end, self._seq, state.spec.rule_id, key))
            if len(self._heap) > self._heap_limit:
                self._rebuild_heap()  # drop stale items left by evicted/rescheduled groups

    def _rebuild_heap(self) -> None:
        heap: list[tuple[float, int, str, GroupKey]] = []
        for rule_id, state in self._states.items():
            if state.spec.rising:
                continue
            for key, group in state.groups.items():
                if group.entries:
                    group.due = group.entries[0][0] + state.spec.timespan
                    self._seq += 1
                    heap.append((group.due, self._seq, rule_id, key))
        heapq.heapify(heap)
        self._heap = heap
        self._heap_limit = 4 * len(heap) + 1024

    def _close_due(self, watermark: float, out: list[Hit]) -> None:
        heap = self._heap
        fired: deque[Hit] = deque()
        while heap and heap[0][0] <= watermark:
            end, _, rule_id, key = heapq.heappop(heap)
            state = self._states.get(rule_id)
            group = state.groups.get(key) if state is not None else None
            if state is None or group is None or group.due != end:
                continue  # stale: group evicted, closed, or rescheduled
            group.due = None
            if not group.entries:
                state.remove_group(key)
                continue
            actual_end = group.entries[0][0] + state.spec.timespan
            if actual_end > watermark:  # its first events were evicted: the window starts later
                self._schedule(state, key, group)
                continue
            cut = bisect.bisect_right(group.entries, actual_end, key=lambda e: e[0])
            window = group.entries[:cut]
            value = slice_value(state.spec, window)
            state.counters["windows_closed"] += 1
            if condition_holds(state.spec, value):
                hit = self._hit(state.spec, key, window, value, None)
                state.counters["fired"] += 1
                out.append(hit)
                fired.append(hit)
            state.drop_front(group, cut)
            if group.entries:
                self._schedule(state, key, group)
            else:
                state.remove_group(key)
        if fired:
            # closing hits feed chained correlations at the time of their last event
            for hit in fired:
                t = parse_timestamp(hit.event_times[-1]) if hit.event_times else None
                self._dispatch(deque([hit]), t if t is not None else self.newest, None, out, 0)

    # ------------------------------------------------------------------ housekeeping

    def _sweep(self, horizon: float | None = None) -> None:
        """Remove idle rising groups from the least recently updated end (amortised O(1))."""
        horizon = self.watermark if horizon is None else horizon
        for state in self._states.values():
            if not state.spec.rising:
                continue
            limit = horizon - state.spec.timespan
            groups = state.groups
            while groups:
                key, group = next(iter(groups.items()))
                if group.entries and group.entries[-1][0] >= limit:
                    break
                state.remove_group(key)
                state.counters["expired_groups"] += 1

    def _hit(
        self, spec: CorrelationSpec, key: GroupKey, window: list[Entry], value: float, event: Event | None
    ) -> Hit:
        shown = window[-MAX_HIT_EVENTS:]
        extra: dict[str, Any] = {
            "value": value,
            "condition": f"{spec.op} {spec.threshold:g}",
            "events": len(window),
            "window_start": ecs.iso_utc(window[0][0]) if window else None,
            "window_end": ecs.iso_utc(window[-1][0]) if window else None,
            "rules": sorted({spec.rule_labels[e[2]] for e in window}),
        }
        tags = list(spec.tags)
        for flag, name, tag in FLAG_TAGS:
            flagged = sum(1 for e in window if e[4] & flag)
            if flagged:
                extra[name] = flagged  # events of the window placed despite their time
                tags.append(tag)
        return Hit(
            rule_id=spec.rule_id,
            rule_title=spec.title,
            level=spec.level,
            tags=tags,
            event_ids=[e[1] for e in shown],  # type: ignore[misc]  # None when an event had no id
            event_times=[ecs.iso_utc(e[0]) for e in shown],
            event=event,
            group_key=dict(zip(spec.group_by, key, strict=True)),
            correlation=spec.type,
            rule_name=spec.name,
            source=spec.source,
            alert=spec.rule_id not in self._silent,
            extra=extra,
        )

    def stats(self) -> dict[str, Any]:
        """Counters (summed over rules) and current sizes, for the health endpoint."""
        totals = dict.fromkeys(COUNTER_NAMES, 0)
        for state in self._states.values():
            for name, count in state.counters.items():
                totals[name] += count
        totals["rules"] = len(self._states)
        totals["groups"] = sum(len(s.groups) for s in self._states.values())
        totals["entries"] = sum(s.total for s in self._states.values())
        totals["skewed_events"] = self.clocks.skewed  # events, where clock_skew counts per rule fed
        totals["late_events"] = self.clocks.late
        totals["clocks"] = len(self.clocks)
        totals["clocks_evicted"] = self.clocks.evicted
        return totals

    def rule_stats(self, rule_id: str) -> dict[str, int]:
        state = self._states[rule_id]
        return {**state.counters, "groups": len(state.groups), "entries": state.total}

    # ------------------------------------------------------------------ persistence

    def snapshot(self) -> bytes:
        """The windows of every rule as compact bytes (orjson), for `restore` after a restart."""
        rules: dict[str, Any] = {}
        for rule_id, state in self._states.items():
            if not state.groups:
                continue
            rules[rule_id] = {
                "fingerprint": state.spec.fingerprint,
                # orjson writes tuples as arrays: the same bytes as lists, without copying every entry
                "groups": [[key, group.entries] for key, group in state.groups.items()],
            }
        payload = {
            "version": SNAPSHOT_VERSION,
            "newest": self.newest if math.isfinite(self.newest) else None,
            "clocks": self.clocks.to_list(),
            "rules": rules,
        }
        return orjson.dumps(payload)

    def restore(self, data: bytes) -> int:
        """Load windows from `snapshot()` bytes; returns the number of groups restored.

        Rules that are gone or whose fingerprint changed are skipped; malformed data raises
        `ValueError` and leaves the engine unchanged.
        """
        try:
            payload = orjson.loads(data)
            if not isinstance(payload, dict) or payload.get("version") != SNAPSHOT_VERSION:
                raise ValueError("unsupported correlation snapshot version")
            restored: dict[str, OrderedDict[GroupKey, list[Entry]]] = {}
            for rule_id, saved in payload.get("rules", {}).items():
                state = self._states.get(rule_id)
                if state is None or saved.get("fingerprint") != state.spec.fingerprint:
                    continue
                groups: OrderedDict[GroupKey, list[Entry]] = OrderedDict()
                for raw_key, raw_entries in saved["groups"]:
                    key = tuple(str(k) for k in raw_key)
                    entries: list[Entry] = []
                    for raw in raw_entries:
                        t, event_id, index, value = raw[:4]
                        flags = int(raw[4]) if len(raw) > 4 else 0  # absent in older snapshots
                        if not 0 <= int(index) < len(state.spec.rules):
                            raise ValueError("rule index out of range")
                        if state.spec.type in NUMERIC_TYPES:
                            value = float(value)
                        elif state.spec.type == "value_count":
                            value = str(value)
                        else:
                            value = None
                        entries.append(
                            (float(t), None if event_id is None else str(event_id), int(index), value, flags)
                        )
                    entries.sort(key=lambda e: e[0])
                    groups[key] = entries
                restored[rule_id] = groups
            clocks = payload.get("clocks") or []
            if not isinstance(clocks, list):
                raise ValueError("bad stream clocks")
            probe = StreamClocks(lateness=0, max_future=0, max_clocks=self.clocks.max_clocks, idle=0)
            probe.load(clocks, 0.0)  # validates before anything changes
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError, AttributeError) as exc:
            raise ValueError(f"bad correlation snapshot: {exc}") from exc
        count = 0
        for rule_id, groups in restored.items():
            state = self._states[rule_id]
            for key, entries in groups.items():
                if len(state.groups) >= self.max_groups:
                    state.counters["evicted_groups"] += 1
                    continue
                group = state.new_group()
                group.entries = entries[-state.max_events :]
                state.remove_group(key)
                state.groups[key] = group
                state.total += len(group.entries)
                group.rebuild(state.spec)
                count += 1
        self.clocks.load(clocks, self.clock())
        self._rebuild_heap()
        return count
