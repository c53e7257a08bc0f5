"""Frequency baselines: events per minute per series, and a hit when a minute is improbable.

A *series* is one value of one dimension: a host (`host.name`), a user (`user.name`), a
source address (`source.ip`) or an event category and outcome (`event.category/outcome`,
e.g. `authentication/failure`). Events are counted in minutes of event time (`@timestamp`).
A minute is judged once the stream's event clock has passed its end by `lateness` seconds;
the clock advances with the events and, between arrivals, with the wall clock (an idle
stream still closes its minutes; a sender whose clock is late is not "late" for ever).

Each series learns its level and its daily cycle: an exponentially weighted mean and
variance of its per-minute count for each hour of the day (UTC), and one over all hours
used until an hour has `HOUR_MIN_SAMPLES` observations. The weights have a half-life of
`half_life_days` days of observations (early on, a plain average). A closed minute fires when
the series has been observed `learning_minutes`, its count is at least `min_count`, its
z-score (against a standard deviation of at least the Poisson one) is at least `z`, and the
Poisson probability of a count that high is at most `p_value`. A firing minute updates the
baseline clipped to the threshold, so a burst does not teach the baseline that bursts are usual.

Bounded: at most `max_series` series (a new series replaces the quietest one when its minute
is busier than that one's level); untracked values of an open minute are counted up to
`max_series` more, the rest counted as `untracked_dropped`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from guetteur.config import StatsSettings
from guetteur.detect.hits import Hit
from guetteur.stats.batch import CountKey

RULE_ID = "guetteur.frequency"
RULE_TITLE = "Unusual event frequency"
DIMENSIONS = ("host.name", "user.name", "source.ip", "event.category/outcome")
HOUR_MIN_SAMPLES = 30
RECENT_MINUTES = 60  # closed minutes kept per series for the API
MAX_FILL_MINUTES = 60  # clock jumps longer than this skip the empty minutes instead of judging them
MAX_HITS_PER_MINUTE = 100
MAX_FUTURE_SECONDS = 120.0
SNAPSHOT_VERSION = 1
SeriesKey = tuple[str, str]  # (dimension, value)


def minute_epoch(text: str) -> int | None:
    """`YYYY-MM-DDTHH:MM` (a UTC `@timestamp` cut at the minute) -> epoch seconds, or None."""
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
    except (ValueError, TypeError):
        return None
    return int(moment.timestamp())


def iso_minute(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def poisson_tail(count: int, mean: float) -> float:
    """P(X >= count) for X ~ Poisson(mean), summed in log space from `count` upward."""
    if count <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if count <= mean:
        return 1.0  # not an upper tail; the caller only asks above the mean
    log_term = count * math.log(mean) - mean - math.lgamma(count + 1)
    total = 0.0
    k = count
    term = math.exp(log_term)
    while term > 0 and k < count + 10_000:
        total += term
        k += 1
        term *= mean / k
        if term < total * 1e-16:
            break
    return min(1.0, total)


@dataclass(slots=True)
class Baseline:
    """The learnt level of one series: EWMA mean/variance per hour of day and overall."""

    observed: int = 0  # closed minutes seen
    mean: float = 0.0
    var: float = 0.0
    hour_mean: list[float] = field(default_factory=lambda: [0.0] * 24)
    hour_var: list[float] = field(default_factory=lambda: [0.0] * 24)
    hour_n: list[int] = field(default_factory=lambda: [0] * 24)
    recent: list[int] = field(default_factory=list)  # last RECENT_MINUTES counts (not saved)

    def expected(self, hour: int) -> tuple[float, float, str]:
        """(mean, variance, which) for a minute of `hour`: the hour's when it has learnt enough."""
        if self.hour_n[hour] >= HOUR_MIN_SAMPLES:
            return self.hour_mean[hour], self.hour_var[hour], "hour"
        return self.mean, self.var, "overall"

    def update(self, hour: int, count: float, alpha_hour: float, alpha_all: float) -> None:
        self.observed += 1
        self.mean, self.var = _ewm(self.mean, self.var, count, max(alpha_all, 1.0 / self.observed))
        self.hour_n[hour] += 1
        self.hour_mean[hour], self.hour_var[hour] = _ewm(
            self.hour_mean[hour], self.hour_var[hour], count, max(alpha_hour, 1.0 / self.hour_n[hour]))

    def to_list(self) -> list[Any]:
        return [self.observed, self.mean, self.var, self.hour_mean, self.hour_var, self.hour_n]

    @classmethod
    def from_list(cls, data: list[Any]) -> Baseline:
        observed, mean, var, hour_mean, hour_var, hour_n = data
        if not (len(hour_mean) == len(hour_var) == len(hour_n) == 24):
            raise ValueError("a baseline needs 24 hours")
        return cls(int(observed), float(mean), float(var), [float(x) for x in hour_mean],
                   [float(x) for x in hour_var], [int(x) for x in hour_n])


def _ewm(mean: float, var: float, value: float, alpha: float) -> tuple[float, float]:
    diff = value - mean
    increment = alpha * diff
    return mean + increment, (1 - alpha) * (var + diff * increment)


def series_of(key: CountKey) -> Iterator[SeriesKey]:
    """The series one count key feeds (values already cleaned)."""
    _, host, user, ip, category, outcome, _ = key
    if host is not None:
        yield ("host.name", host)
    if user is not None:
        yield ("user.name", user)
    if ip is not None:
        yield ("source.ip", ip)
    if category is not None or outcome is not None:
        yield ("event.category/outcome", f"{category or '-'}/{outcome or '-'}")


def group_key(series: SeriesKey) -> dict[str, object]:
    dimension, value = series
    if dimension == "event.category/outcome":
        category, _, outcome = value.partition("/")
        return {"event.category": category, "event.outcome": outcome}
    return {dimension: value}


class FrequencyDetector:
    """Minute counts per series, their baselines, and the hits of improbable minutes."""

    def __init__(self, settings: StatsSettings) -> None:
        self.settings = settings
        self.series: dict[SeriesKey, Baseline] = {}
        self.open: dict[int, dict[SeriesKey, int]] = {}  # minute epoch -> counts
        self.clock: int | None = None  # event clock: end of the latest minute seen (epoch s)
        self._clock_wall: float | None = None  # wall time when `clock` last moved
        self.closed_until: int | None = None  # minutes below this are judged
        days = settings.frequency_half_life_days
        self.alpha_hour = 1 - 0.5 ** (1 / (60 * days))
        self.alpha_all = 1 - 0.5 ** (1 / (1440 * days))
        self.counters = {"late": 0, "future": 0, "untimed": 0, "untracked_dropped": 0, "evicted": 0,
                         "hits": 0, "hits_suppressed": 0, "minutes_skipped": 0}

    # -- input -------------------------------------------------------------------------------

    def observe(self, counts: dict[SeriesKey, int], minute: int, now: float) -> None:
        """Add one batch's counts for one minute (epoch seconds of its start)."""
        if minute > now + MAX_FUTURE_SECONDS:
            self.counters["future"] += sum(counts.values())
            return
        if self.closed_until is not None and minute < self.closed_until:
            self.counters["late"] += sum(counts.values())
            return
        if self.clock is None or minute + 60 > self.clock:
            self.clock = minute + 60
            self._clock_wall = now
        bucket = self.open.setdefault(minute, {})
        room = 2 * self.settings.frequency_max_series
        for series, count in counts.items():
            if series in bucket:
                bucket[series] += count
            elif series in self.series or len(bucket) < room:
                bucket[series] = count
            else:
                self.counters["untracked_dropped"] += count

    # -- judging -----------------------------------------------------------------------------

    def advance(self, now: float) -> list[Hit]:
        """Judge every minute whose end the clock passed by `lateness`; the hits."""
        if self.clock is None or self._clock_wall is None:
            return []
        if self.closed_until is None:  # the first judgement starts at the oldest minute seen
            if not self.open:
                return []
            self.closed_until = min(self.open)
        clock = self.clock + max(0.0, now - self._clock_wall)
        horizon = int(clock - self.settings.frequency_lateness) // 60 * 60  # minutes starting before are over
        hits: list[Hit] = []
        if horizon - 60 < self.closed_until:
            return hits
        last = horizon - 60
        if (last - self.closed_until) // 60 > MAX_FILL_MINUTES:
            # a long jump (restart, idle night with a late sender): judge the minutes that
            # hold counts, skip the empty ones (they would teach the baselines a long zero)
            minutes = sorted(m for m in self.open if m <= last)
            self.counters["minutes_skipped"] += (last - self.closed_until) // 60 + 1 - len(minutes)
        else:
            minutes = list(range(self.closed_until, last + 1, 60))
        for minute in minutes:
            hits.extend(self._close(minute, self.open.pop(minute, {})))
        self.closed_until = last + 60
        for minute in [m for m in self.open if m < self.closed_until]:
            del self.open[minute]
        return hits

    def _close(self, minute: int, counts: dict[SeriesKey, int]) -> list[Hit]:
        hour = (minute // 3600) % 24
        settings = self.settings
        self._admit(counts)
        hits: list[Hit] = []
        for series, baseline in self.series.items():
            count = counts.get(series, 0)
            expected, variance, which = baseline.expected(hour)
            sd = math.sqrt(max(variance, expected, 1e-9))
            limit = expected + settings.frequency_z * sd
            learned = baseline.observed >= settings.frequency_learning_minutes
            if learned and count >= settings.frequency_min_count and count >= limit:
                p_value = poisson_tail(count, expected)
                if p_value <= settings.frequency_p_value:
                    if len(hits) < MAX_HITS_PER_MINUTE:
                        hits.append(self._hit(series, minute, count, expected, sd, which, p_value, hour))
                    else:
                        self.counters["hits_suppressed"] += 1
            baseline.update(hour, min(count, limit) if learned else count, self.alpha_hour, self.alpha_all)
            recent = baseline.recent
            recent.append(count)
            if len(recent) > RECENT_MINUTES:
                del recent[0]
        self.counters["hits"] += len(hits)
        return hits

    def _admit(self, counts: dict[SeriesKey, int]) -> None:
        """Track this minute's new series: while there is room, all; then a newcomer replaces
        the quietest tracked series when it is busier than that one's level."""
        capacity = self.settings.frequency_max_series
        newcomers = [(c, s) for s, c in counts.items() if s not in self.series]
        if not newcomers:
            return
        newcomers.sort(reverse=True)
        room = capacity - len(self.series)
        for _count, series in newcomers[:max(room, 0)]:
            self.series[series] = Baseline()
        rest = newcomers[max(room, 0):]
        if not rest:
            return
        quietest = heapq.nsmallest(min(len(rest), capacity // 10 or 1),
                                   ((b.mean, s) for s, b in self.series.items() if s not in counts))
        for (count, series), (level, victim) in zip(rest, quietest, strict=False):
            if count <= level:
                break
            del self.series[victim]
            self.series[series] = Baseline()
            self.counters["evicted"] += 1

    def _hit(self, series: SeriesKey, minute: int, count: int, expected: float, sd: float, which: str,
             p_value: float, hour: int) -> Hit:
        dimension, value = series
        z = (count - expected) / sd
        explanation = (f"{count} events in the minute {iso_minute(minute)} for {dimension} {value!r}, "
                       f"where {expected:.1f} ± {sd:.1f} were expected ({'this hour of the day' if which == 'hour' else 'all hours'}"
                       f" baseline): z = {z:.1f}, Poisson tail p = {p_value:.2g}")
        return Hit(rule_id=RULE_ID, rule_title=RULE_TITLE, level=self.settings.frequency_level, tags=[],
                   event_ids=[], event_times=[iso_minute(minute)], event=None, group_key=group_key(series),
                   extra={"explanation": explanation, "series": {"dimension": dimension, "value": value},
                          "minute": iso_minute(minute), "count": count,
                          "baseline": {"expected": round(expected, 3), "sd": round(sd, 3), "hour_utc": hour,
                                       "from": which},
                          "z": round(z, 2), "p_value": p_value,
                          "anomaly": round(min(1.0, z / (2 * self.settings.frequency_z)), 3)})

    # -- views and persistence ---------------------------------------------------------------

    def describe(self, series: SeriesKey) -> dict[str, Any] | None:
        baseline = self.series.get(series)
        if baseline is None:
            return None
        return {"dimension": series[0], "value": series[1], "observed_minutes": baseline.observed,
                "learning": baseline.observed < self.settings.frequency_learning_minutes,
                "overall": {"mean": baseline.mean, "sd": math.sqrt(max(baseline.var, 0.0))},
                "hours": [{"hour_utc": h, "mean": baseline.hour_mean[h], "sd": math.sqrt(max(baseline.hour_var[h], 0.0)),
                           "samples": baseline.hour_n[h]} for h in range(24)],
                "recent": {"until": iso_minute(self.closed_until) if self.closed_until is not None else None,
                           "counts": list(baseline.recent)},
                "open": {iso_minute(m): c[series] for m, c in sorted(self.open.items()) if series in c}}

    def health(self) -> dict[str, Any]:
        return {"series": len(self.series), "max_series": self.settings.frequency_max_series,
                "open_minutes": len(self.open),
                "judged_until": iso_minute(self.closed_until) if self.closed_until is not None else None,
                **self.counters}

    def snapshot(self) -> dict[str, Any]:
        return {"version": SNAPSHOT_VERSION, "clock": self.clock, "closed_until": self.closed_until,
                "series": [[d, v, b.to_list()] for (d, v), b in self.series.items()]}

    def restore(self, data: dict[str, Any], now: float) -> int:
        """Load a snapshot (raises ValueError when it does not fit); the series restored.
        The minutes that were open at the save are lost (at most `lateness` + a minute)."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"frequency snapshot version {data.get('version')!r}, expected {SNAPSHOT_VERSION}")
        series: dict[SeriesKey, Baseline] = {}
        for dimension, value, baseline in data["series"][: self.settings.frequency_max_series]:
            if dimension not in DIMENSIONS:
                raise ValueError(f"unknown dimension {dimension!r}")
            series[(str(dimension), str(value))] = Baseline.from_list(baseline)
        self.series = series
        clock, closed = data.get("clock"), data.get("closed_until")
        self.clock = int(clock) if clock is not None else None
        self.closed_until = int(closed) if closed is not None else None
        self._clock_wall = now if self.clock is not None else None
        return len(series)
