"""Silent sources: each host (`host.name`) and each source type (`event.dataset`) learns its
usual gap between arrivals; one that stops for longer than `silent_min_seconds` and
`silent_gap_factor` times that gap gets a hit (`guetteur.silent_source`), and another when it
sends again.

Time is the time of arrival (the `now` the stage passes: the wall clock when running, any
clock in tests), not `@timestamp`: a source is silent when nothing *arrives* from it, and a
sender with a wrong clock or a replayed file must not look silent. The usual gap is learnt at
minute resolution: at most one sample a minute, `max(60 s, time since the previous arrival)`,
so a source sending every second has a usual gap of 60 s, one sending hourly 3,600 s, one
sending in bursts something in between; an exponentially weighted mean (plain average for the
first samples) keeps it current. A source is judged once it has `silent_learning` samples.

After a restart nobody is silent before the threshold has passed since the start: the
downtime is ours, not the source's. At most `max_sources` sources are kept (the one that sent
longest ago is dropped first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from guetteur.config import StatsSettings
from guetteur.detect.hits import Hit

RULE_ID = "guetteur.silent_source"
RULE_TITLE = "Log source gone silent"
KINDS = ("host.name", "event.dataset")
GAP_FLOOR = 60.0
GAP_ALPHA = 0.05
SNAPSHOT_VERSION = 1
MAX_LISTED = 100
SourceKey = tuple[str, str]  # (kind, name)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(slots=True)
class SourceState:
    last: float  # last arrival
    mark: float  # when the last gap sample was taken
    gap: float = GAP_FLOOR  # usual gap (seconds)
    samples: int = 0
    silent_since: float | None = None  # when the silence hit fired (None: sending)

    def to_list(self) -> list[Any]:
        return [self.last, self.mark, self.gap, self.samples, self.silent_since]


class SilentSources:
    def __init__(self, settings: StatsSettings, started: float) -> None:
        self.settings = settings
        self.started = started
        self.sources: dict[SourceKey, SourceState] = {}
        self.counters = {"silent_hits": 0, "resumed_hits": 0, "evicted": 0}

    def threshold(self, state: SourceState) -> float:
        return max(self.settings.silent_min_seconds, self.settings.silent_gap_factor * state.gap)

    def observe(self, keys: set[SourceKey], now: float) -> list[Hit]:
        """Sources that sent in a batch arriving at `now`; the hits of silent ones coming back."""
        hits: list[Hit] = []
        sources = self.sources
        for key in keys:
            state = sources.pop(key, None)  # re-inserted last: the dict stays in arrival order
            if state is None:
                state = SourceState(last=now, mark=now)
            else:
                if now - state.mark >= GAP_FLOOR:
                    sample = max(GAP_FLOOR, now - state.last)
                    state.samples += 1
                    alpha = max(GAP_ALPHA, 1.0 / state.samples)
                    state.gap += alpha * (min(sample, self.threshold(state)) - state.gap)
                    state.mark = now
                if state.silent_since is not None:
                    hits.append(self._hit(key, state, now, resumed=True))
                    state.silent_since = None
                state.last = max(state.last, now)
            sources[key] = state
        while len(sources) > self.settings.max_sources:
            del sources[next(iter(sources))]
            self.counters["evicted"] += 1
        return hits

    def check(self, now: float) -> list[Hit]:
        """The sources that went silent since the last check (one hit each per silence)."""
        hits: list[Hit] = []
        learning = self.settings.silent_learning
        for key, state in self.sources.items():
            if state.silent_since is not None or state.samples < learning:
                continue
            if now - max(state.last, self.started) > self.threshold(state):
                state.silent_since = now
                hits.append(self._hit(key, state, now, resumed=False))
        return hits

    def _hit(self, key: SourceKey, state: SourceState, now: float, resumed: bool) -> Hit:
        kind, name = key
        what = "host" if kind == "host.name" else "source type"
        if resumed:
            explanation = (f"{what} {name!r} sends again at {_iso(now)}, silent since {_iso(state.last)} "
                           f"({now - state.last:.0f} s)")
            self.counters["resumed_hits"] += 1
        else:
            explanation = (f"nothing arrived from {what} {name!r} since {_iso(state.last)} "
                           f"({now - state.last:.0f} s), longer than its threshold of {self.threshold(state):.0f} s "
                           f"(usual gap {state.gap:.0f} s × {self.settings.silent_gap_factor:g}, "
                           f"at least {self.settings.silent_min_seconds:.0f} s)")
            self.counters["silent_hits"] += 1
        return Hit(rule_id=RULE_ID, rule_title=RULE_TITLE,
                   level="informational" if resumed else self.settings.silent_level, tags=[],
                   event_ids=[], event_times=[_iso(now)], event=None, group_key={kind: name},
                   extra={"explanation": explanation, "state": "resumed" if resumed else "silent",
                          "last_seen": _iso(state.last), "usual_gap_s": round(state.gap, 1),
                          "threshold_s": round(self.threshold(state), 1)})

    def silent(self) -> list[dict[str, Any]]:
        """The silent sources (longest silent first, at most MAX_LISTED)."""
        found = sorted(((s.last, k) for k, s in self.sources.items() if s.silent_since is not None))
        return [{"entity": {kind: name}, "last_seen": _iso(last), "since": _iso(self.sources[(kind, name)].silent_since or last),
                 "usual_gap_s": round(self.sources[(kind, name)].gap, 1)} for last, (kind, name) in found[:MAX_LISTED]]

    def health(self) -> dict[str, Any]:
        silent = sum(1 for s in self.sources.values() if s.silent_since is not None)
        return {"sources": len(self.sources), "silent": silent, **self.counters}

    def snapshot(self) -> dict[str, Any]:
        return {"version": SNAPSHOT_VERSION, "sources": [[k, n, s.to_list()] for (k, n), s in self.sources.items()]}

    def restore(self, data: dict[str, Any]) -> int:
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"sources snapshot version {data.get('version')!r}, expected {SNAPSHOT_VERSION}")
        sources: dict[SourceKey, SourceState] = {}
        for kind, name, (last, mark, gap, samples, silent_since) in data["sources"][-self.settings.max_sources:]:
            if kind not in KINDS:
                raise ValueError(f"unknown source kind {kind!r}")
            sources[(str(kind), str(name))] = SourceState(
                float(last), float(mark), float(gap), int(samples), None if silent_since is None else float(silent_since))
        self.sources = sources
        return len(sources)
