"""Frequency baselines, driven by event time: a burst fires, steady traffic and quiet series do
not, the daily cycle is learnt, the number of series stays bounded, the state round-trips."""

from __future__ import annotations

import math
import random

from stats_helpers import T0, stats_settings

from guetteur.stats.frequency import RULE_ID, FrequencyDetector, poisson_tail

HOST = ("host.name", "web-01")


def _run(detector: FrequencyDetector, counts_by_minute: list[dict[tuple[str, str], int]], start: int = T0) -> list:
    """Feed one minute after the other (arrival a second after each minute ends), then close them
    all: the next run starts ten minutes or more after this one's last minute."""
    hits = []
    for i, counts in enumerate(counts_by_minute):
        minute = start + 60 * i
        if counts:
            detector.observe(counts, minute, now=minute + 61)
        hits.extend(detector.advance(now=minute + 61))
    last = start + 60 * len(counts_by_minute)
    hits.extend(detector.advance(now=last + 300))  # closes every minute fed (lateness 120 s)
    return hits


def _steady(minutes: int, mean: float, seed: int = 1) -> list[dict[tuple[str, str], int]]:
    rng = random.Random(seed)
    return [{HOST: _poisson(rng, mean)} for _ in range(minutes)]


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def test_poisson_tail_matches_a_direct_sum() -> None:
    for mean, count in ((3.0, 10), (20.0, 40), (0.5, 5), (100.0, 150)):
        direct = 1 - sum(math.exp(k * math.log(mean) - mean - math.lgamma(k + 1)) for k in range(count))
        assert math.isclose(poisson_tail(count, mean), direct, rel_tol=1e-6, abs_tol=1e-15)
    assert poisson_tail(5, 0.0) == 0.0 and poisson_tail(0, 3.0) == 1.0


def test_steady_traffic_raises_nothing_and_a_burst_raises_one_hit() -> None:
    detector = FrequencyDetector(stats_settings(frequency_learning_minutes=60))
    steady = _steady(6 * 60, 20.0)
    assert _run(detector, steady) == []
    burst = _run(detector, [{HOST: 400}], start=T0 + 6 * 3600 + 600)
    assert len(burst) == 1
    hit = burst[0]
    assert hit.rule_id == RULE_ID and hit.group_key == {"host.name": "web-01"}
    assert hit.extra["count"] == 400 and 15 < hit.extra["baseline"]["expected"] < 25
    assert hit.extra["p_value"] < 1e-6 and hit.extra["z"] > 6 and "web-01" in hit.extra["explanation"]


def test_no_hit_while_learning() -> None:
    detector = FrequencyDetector(stats_settings(frequency_learning_minutes=120))
    assert _run(detector, [*_steady(60, 20.0), {HOST: 400}]) == []


def test_a_quiet_series_does_not_cry_wolf() -> None:
    """From 0.1 to 12 events a minute is improbable, but below `frequency_min_count`."""
    detector = FrequencyDetector(stats_settings(frequency_learning_minutes=60, frequency_min_count=30))
    quiet = _steady(3 * 60, 0.1)
    assert _run(detector, [*quiet, {HOST: 12}]) == []


def test_the_daily_cycle_is_learnt_per_hour() -> None:
    """Busy 08:00-18:00, idle otherwise, for five days (the first one learning): 09:00's level at
    03:00 fires, at 09:00 not."""
    detector = FrequencyDetector(stats_settings(frequency_learning_minutes=1440, frequency_half_life_days=2))
    rng = random.Random(3)
    day = []
    for minute in range(1440):
        hour = minute // 60
        day.append({HOST: _poisson(rng, 200.0 if 8 <= hour < 18 else 1.0)})
    assert _run(detector, day * 5) == []
    busy_at_nine = _run(detector, [{HOST: 210}], start=T0 + 5 * 86400 + 9 * 3600 + 600)
    assert busy_at_nine == []
    busy_at_three = _run(detector, [{HOST: 210}], start=T0 + 6 * 86400 + 3 * 3600)
    assert len(busy_at_three) == 1 and busy_at_three[0].extra["baseline"]["from"] == "hour"


def test_series_stay_bounded_under_100k_distinct_users() -> None:
    detector = FrequencyDetector(stats_settings(frequency_max_series=1000))
    counts = {("user.name", f"user{i}"): 1 for i in range(100_000)}
    detector.observe(counts, T0, now=T0 + 1)
    assert sum(len(c) for c in detector.open.values()) <= 2 * 1000
    detector.advance(now=T0 + 3600)
    assert len(detector.series) == 1000
    assert detector.counters["untracked_dropped"] == 100_000 - 2000
    # a busier newcomer evicts one of the quietest
    detector.observe({("user.name", "busy"): 500}, T0 + 3600, now=T0 + 3601)
    detector.advance(now=T0 + 7200)
    assert ("user.name", "busy") in detector.series and len(detector.series) == 1000


def test_late_and_future_minutes_are_counted_not_used() -> None:
    detector = FrequencyDetector(stats_settings(frequency_lateness=60))
    detector.observe({HOST: 5}, T0, now=T0 + 1)
    detector.advance(now=T0 + 600)
    detector.observe({HOST: 7}, T0, now=T0 + 601)  # that minute was judged
    detector.observe({HOST: 9}, T0 + 86400, now=T0 + 602)  # a day ahead of the wall clock
    assert detector.counters["late"] == 7 and detector.counters["future"] == 9


def test_baselines_survive_a_snapshot() -> None:
    settings = stats_settings(frequency_learning_minutes=60)
    detector = FrequencyDetector(settings)
    _run(detector, _steady(3 * 60, 20.0))
    restored = FrequencyDetector(settings)
    assert restored.restore(detector.snapshot(), now=T0 + 3 * 3600 + 300) == 1
    assert restored.series[HOST].to_list() == detector.series[HOST].to_list()
    assert len(_run(restored, [{HOST: 400}], start=T0 + 3 * 3600 + 600)) == 1  # no new learning needed


def test_an_earlier_minute_before_the_first_judgement_is_not_late() -> None:
    """A sender a few minutes behind the others, first heard after them, is counted."""
    detector = FrequencyDetector(stats_settings())
    detector.observe({HOST: 5}, T0 + 600, now=T0 + 601)
    detector.observe({("host.name", "behind"): 3}, T0 + 420, now=T0 + 601)
    assert detector.counters["late"] == 0
    detector.advance(now=T0 + 1000)
    assert ("host.name", "behind") in detector.series and detector.series[("host.name", "behind")].recent[0] == 3
