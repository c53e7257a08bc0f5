"""Silent sources, driven by the clock passed in: one hit after the threshold and none before,
one when the source sends again, a grace period after a restart, bounded memory."""

from __future__ import annotations

from stats_helpers import T0, stats_settings

from guetteur.stats.sources import RULE_ID, SilentSources

MIN = 900.0


def _learnt(sources: SilentSources, key: tuple[str, str], start: float, every: float, times: int) -> float:
    now = start
    for _ in range(times):
        sources.observe({key}, now)
        now += every
    return now - every


def test_a_source_that_stops_gets_one_hit_after_the_threshold_and_none_before() -> None:
    sources = SilentSources(stats_settings(silent_min_seconds=MIN, silent_gap_factor=10, silent_learning=5), T0)
    key = ("host.name", "db-01")
    last = _learnt(sources, key, T0, 60.0, 30)  # one arrival a minute: usual gap 60 s, threshold 900 s
    assert sources.check(last + 60) == []
    assert sources.check(last + MIN) == []  # not longer than the threshold yet
    hits = sources.check(last + MIN + 1)
    assert len(hits) == 1
    hit = hits[0]
    assert hit.rule_id == RULE_ID and hit.group_key == {"host.name": "db-01"} and hit.level == "medium"
    assert hit.extra["state"] == "silent" and hit.extra["threshold_s"] == MIN
    assert sources.check(last + 5 * MIN) == []  # one hit per silence
    assert [s["entity"] for s in sources.silent()] == [{"host.name": "db-01"}]
    back = sources.observe({key}, last + 6 * MIN)
    assert len(back) == 1 and back[0].extra["state"] == "resumed" and back[0].level == "informational"
    assert sources.silent() == []


def test_the_threshold_follows_the_usual_gap() -> None:
    """A source sending every ten minutes is silent after 10 x 600 s, not after the minimum."""
    sources = SilentSources(stats_settings(silent_min_seconds=MIN, silent_gap_factor=10, silent_learning=5), T0)
    key = ("event.dataset", "suricata")
    last = _learnt(sources, key, T0, 600.0, 30)
    assert sources.check(last + 5_000) == []
    assert len(sources.check(last + 6_001)) == 1


def test_no_judgement_while_learning_nor_before_the_threshold_after_a_restart() -> None:
    settings = stats_settings(silent_min_seconds=MIN, silent_learning=20)
    sources = SilentSources(settings, T0)
    key = ("host.name", "new")
    last = _learnt(sources, key, T0, 60.0, 5)
    assert sources.check(last + 100 * MIN) == []  # five samples: still learning

    before = SilentSources(settings, T0)
    last = _learnt(before, ("host.name", "db-01"), T0, 60.0, 30)
    restarted = SilentSources(settings, started=last + 3 * MIN)  # we were down for 45 minutes
    assert restarted.restore(before.snapshot()) == 1
    assert restarted.check(last + 3 * MIN + 1) == []  # the downtime was ours
    assert len(restarted.check(last + 4 * MIN + 1)) == 1


def test_sources_are_bounded_and_hostile_names_kept_as_they_came() -> None:
    sources = SilentSources(stats_settings(max_sources=10), T0)
    for i in range(1_000):
        sources.observe({("host.name", f"h{i}" + "x" * 200)}, T0 + i)
    assert len(sources.sources) == 10
    assert sources.counters["evicted"] == 990
    assert ("host.name", "h999" + "x" * 200) in sources.sources  # the latest are kept
