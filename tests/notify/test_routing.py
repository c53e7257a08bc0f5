"""Routing as a pure function of the changes, the routes and the time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.notify.notify_helpers import T0

from guetteur.notify.model import AlertChange, Match, Route
from guetteur.notify.routing import Router, RoutingState, digest_window, matches


def change(n: int, severity: str = "critical", host: str = "web-01") -> AlertChange:
    return AlertChange(history_id=n, alert_id=n, action="created", at=T0, rule_id="net-exfil-large",
                       rule_title="Large Outbound Data Transfer", severity=severity, entity={"host.name": host},
                       tags=("attack.t1048", "attack.exfiltration"))


def test_matching_is_wildcard_and_case_insensitive_and_needs_every_criterion() -> None:
    c = change(1, host="DB-01")
    assert matches(Match(), c)
    assert matches(Match(rules=("*EXFIL*",), tags=("attack.T1048",), entity={"host.name": "db-*"}), c)
    assert not matches(Match(rules=("*exfil*",), severities=("low",)), c)
    assert not matches(Match(entity={"user.name": "*"}), c)  # a field the entity lacks
    assert matches(Match(rules=("Large Outbound*",)), c)  # the title too


def test_each_channel_may_have_its_own_throttle_limit() -> None:
    routes = [Route(1, "a", 10, Match(), "immediate"), Route(2, "b", 20, Match(), "immediate"),
              Route(3, "c", 30, Match(), "immediate")]
    router = Router(routes, {10: None, 20: 1, 30: 0}, throttle_limit=3, throttle_window=600, sample=2)
    state = RoutingState()
    router.route([change(i) for i in range(10)], state, T0)
    sent = {c: sum(1 for o in state.outgoing if o.channel_id == c) for c in (10, 20, 30)}
    assert sent == {10: 3, 20: 1, 30: 10}
    assert {k: (h.total, len(h.sample)) for k, h in state.held.items()} == {"throttle:10": (7, 2),
                                                                             "throttle:20": (9, 2)}


def test_a_disabled_channel_gets_nothing() -> None:
    router = Router([Route(1, "a", 10, Match(), "immediate")], {}, throttle_limit=3, throttle_window=600, sample=2)
    state = RoutingState()
    router.route([change(1)], state, T0)
    assert state.outgoing == [] and state.held == {}


def test_digest_windows_are_aligned_on_the_clock() -> None:
    start, end = digest_window(datetime(2026, 12, 1, 10, 37, 12, tzinfo=UTC), 60)
    assert (start, end) == (datetime(2026, 12, 1, 10, 0, tzinfo=UTC), datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
    start, end = digest_window(datetime(2026, 12, 1, 10, 37, 12, tzinfo=UTC), 15)
    assert end - start == timedelta(minutes=15) and start.minute == 30


def test_the_throttle_window_starts_again_after_it_ends() -> None:
    router = Router([Route(1, "a", 10, Match(), "immediate")], {10: None}, throttle_limit=2, throttle_window=60,
                    sample=5)
    state = RoutingState()
    router.route([change(i) for i in range(5)], state, T0)
    assert [o.kind for o in state.outgoing] == ["alert", "alert"]
    router.route([change(9)], state, T0 + timedelta(seconds=60))
    assert [o.kind for o in state.outgoing] == ["alert", "alert", "summary", "alert"]
    assert state.outgoing[2].payload["total"] == 3
