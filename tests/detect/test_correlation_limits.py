"""Correlation memory bounds: groups, events per group, events per rule, idle expiry."""

from __future__ import annotations

from correlation_helpers import T0, engine, event, feed
from test_correlation import BRUTE_FORCE, VALUE_COUNT

from guetteur.detect.correlation import CorrelationEngine


def test_flood_of_distinct_source_ips_is_bounded_and_counted() -> None:
    """A brute-force rule grouping by source IP under 20,000 distinct IPs keeps 500 groups."""
    eng, rules = engine(BRUTE_FORCE, max_groups=500)
    for i in range(20_000):
        ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        feed(eng, rules, "ssh_failed", event(T0 + i / 1000, source__ip=ip, event__outcome="failure"))
    stats = eng.stats()
    assert stats["groups"] == 500
    assert stats["evicted_groups"] == 19_500
    assert stats["entries"] == 500
    # the most recently updated groups survive and still fire
    out = []
    for i in range(4):
        out += feed(
            eng, rules, "ssh_failed", event(T0 + 20 + i, source__ip="10.0.78.31", event__outcome="failure")
        )
    assert len(out) == 1


def test_events_per_group_are_capped_oldest_first() -> None:
    eng, rules = engine(VALUE_COUNT.replace("gte: 3", "gte: 1000"), max_events_per_group=10)
    for i in range(50):
        feed(eng, rules, "ssh_failed", event(T0 + i, source__ip="192.0.2.1", user__name="root"))
    assert eng.stats()["entries"] == 10
    assert eng.stats()["evicted_events"] == 40


def test_threshold_above_the_cap_raises_that_rules_cap() -> None:
    """An event_count threshold of 50 must stay reachable with a per-group cap of 10."""
    eng, rules = engine(BRUTE_FORCE.replace("gte: 5", "gte: 50"), max_events_per_group=10)
    out = []
    for i in range(50):
        out += feed(
            eng, rules, "ssh_failed", event(T0 + i / 10, source__ip="192.0.2.1", event__outcome="failure")
        )
    assert len(out) == 1 and out[0].extra["events"] == 50
    assert eng.stats()["evicted_events"] == 0


def test_events_per_rule_budget_evicts_least_recent_groups() -> None:
    eng, rules = engine(VALUE_COUNT.replace("gte: 3", "gte: 1000"), max_events_per_rule=100)
    for i in range(300):
        feed(
            eng, rules, "ssh_failed", event(T0 + i / 100, source__ip=f"192.0.2.{i % 30}", user__name=f"u{i}")
        )
    stats = eng.stats()
    assert stats["entries"] <= 100
    assert stats["evicted_groups"] > 0


def test_idle_groups_expire() -> None:
    eng, rules = engine(BRUTE_FORCE, lateness=10)
    for i in range(100):
        feed(eng, rules, "ssh_failed", event(T0, source__ip=f"192.0.2.{i}", event__outcome="failure"))
    assert eng.stats()["groups"] == 100
    eng.advance(T0 + 3600)
    assert eng.stats()["groups"] == 0
    assert eng.stats()["expired_groups"] == 100


def test_invalid_limits() -> None:
    import pytest

    with pytest.raises(ValueError):
        CorrelationEngine([], lateness=-1)
