"""The stage's input is hostile-proof: 100,000 distinct users (long, odd values among them) in
one batch leave every table within its bound, and values are cut before they are kept."""

from __future__ import annotations

from stats_helpers import T0, event, settings_with, stats_settings

from guetteur.stats.batch import MAX_TEXT, collect_batch
from guetteur.stats.stage import StatsStage


def test_100k_distinct_users_stay_within_the_bounds() -> None:
    stage = StatsStage(settings_with(stats_settings(frequency_max_series=500, max_sources=50)), now=T0, rules=[])
    users = [f"user{i}" for i in range(99_990)] + ["x" * 100_000, "\x00\n'; DROP", "", "é" * 300, {"$gt": ""},
                                                  ["a"], 12, 3.5, True, None]
    events = [event(T0 + i % 60, user=u, host=f"h{i % 1000}", ip=None) for i, u in enumerate(users)]
    stage.observe(collect_batch(events), now=T0 + 61)
    frequency = stage.frequency
    assert sum(len(c) for c in frequency.open.values()) <= 2 * 500
    assert len(stage.sources.sources) == 50
    stage.judge(now=T0 + 400)
    assert len(frequency.series) == 500
    assert all(len(value) <= MAX_TEXT for _, value in frequency.series)
    assert all(len(name) <= MAX_TEXT for _, name in stage.sources.sources)
    health = stage.health()
    assert health["frequency"]["untracked_dropped"] > 0 and health["sources"]["evicted"] > 0


def test_long_values_are_cut_before_they_are_kept() -> None:
    stage = StatsStage(settings_with(stats_settings()), now=T0, rules=[])
    stage.observe(collect_batch([event(T0, host="h" * 100_000, user="u" * 5000)]), now=T0 + 1)
    assert ("host.name", "h" * MAX_TEXT) in stage.sources.sources
    assert ("user.name", "u" * MAX_TEXT) in stage.frequency.open[T0]
