"""The risk scorer on a real PostgreSQL, behind the real alert manager: per-hit scores, entity
windows by event time, risk alerts with their contributions, no loop, restarts.

Scores used below (hand-computed, see test_risk_score.py for the formula):
- critical + credential-access (T1110.001): 99 -> odds 99 x1.5 = 148.5 -> 99.33 -> 99
- medium + discovery: 47 -> odds 0.8868 x0.75 = 0.6651 -> 39.94 -> 40
- one entity with 99 and 40: S = 99 + 40/2^1.5 = 113.142; 100*S/261.2375 = 43.31 (>= 40: alert)
- 99 alone: 37.90 (< 40: no alert)
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from risk_helpers import HOST, T0, execute, hit, rig, risk_hits, rows, store_hits

from guetteur.alert.risk import MAX_RAW

CRITICAL = ("r-crit", "critical", ["attack.t1110.001"])  # scores 99
DISCOVERY = ("r-disc", "medium", ["attack.discovery"])  # scores 40


async def test_each_alert_hit_gets_a_score_and_one_contribution_per_entity_field(fresh_app_dsn: str) -> None:
    entity = {"host.name": "web-01", "user.name": "deploy", "source.ip": "203.0.113.7"}
    async with rig(fresh_app_dsn) as r:
        await r.feed(hit("r-high", "high", ["attack.credential-access"], entity=entity))
    assert rows(fresh_app_dsn, "SELECT score, factors FROM hit_risk") == [
        (80, {"base": 73.0, "tactic": 1.5, "asset": 1.0, "anomaly": 1.0})]
    assert sorted(rows(fresh_app_dsn, "SELECT entity_field, entity_value, score, tactics FROM risk_contributions")) == [
        ("host.name", "web-01", 80, ["credential-access"]),
        ("source.ip", "203.0.113.7", 80, ["credential-access"]),
        ("user.name", "deploy", 80, ["credential-access"]),
    ]


async def test_anomaly_and_criticality_change_the_hit_score(fresh_app_dsn: str) -> None:
    """low 21 on an `extreme` host (x2) with anomaly 50 (x1.5): odds 0.2658 x3 = 0.7975 -> 44."""
    async with rig(fresh_app_dsn, hosts={"pacs-*": "extreme"}) as r:
        await r.feed(hit("guetteur.frequency", "low", [], entity={"host.name": "PACS-02"}, extra={"anomaly": 0.5}))
    assert rows(fresh_app_dsn, "SELECT score FROM hit_risk") == [(44,)]


async def test_score_alert_when_the_entity_crosses_the_threshold_with_every_contribution(fresh_app_dsn: str) -> None:
    async with rig(fresh_app_dsn) as r:
        await r.feed(hit(*CRITICAL, hours=0))
        assert risk_hits(fresh_app_dsn) == []  # 37.90 alone
        await r.feed(hit(*DISCOVERY, hours=5))
    [(rule, group, extra)] = risk_hits(fresh_app_dsn)
    assert rule == "guetteur.risk.score" and group == HOST
    assert extra["entity_score"] == pytest.approx(43.31, abs=0.01)
    assert extra["raw"] == pytest.approx(113.1421, abs=1e-3)
    assert [(c["rank"], c["score"], c["rule_id"]) for c in extra["contributions"]] == [(1, 99, "r-crit"), (2, 40, "r-disc")]
    assert sum(c["part"] for c in extra["contributions"]) == pytest.approx(extra["raw"], abs=1e-3)
    assert extra["contributions"][1]["weight"] == pytest.approx(2**-1.5, abs=1e-6)
    assert "43.3" in extra["explanation"] and "criticality medium" in extra["explanation"]


async def test_the_window_slides_by_event_time(fresh_app_dsn: str) -> None:
    """The window is (T - 24 h, T]: a contribution exactly 24 h older than the newest is out."""
    async with rig(fresh_app_dsn) as r:
        await r.feed(hit(*CRITICAL, hours=0, entity={"host.name": "a"}))
        await r.feed(hit(*DISCOVERY, hours=24, entity={"host.name": "a"}))  # out: 40 alone = 15.3
        await r.feed(hit(*CRITICAL, hours=0, entity={"host.name": "b"}))
        await r.feed(hit(*DISCOVERY, hours=23.99, entity={"host.name": "b"}))  # in: 43.31
    assert [g for _, g, _ in risk_hits(fresh_app_dsn)] == [{"host.name": "b"}]


async def test_a_late_hit_counts_in_the_window_of_the_newest(fresh_app_dsn: str) -> None:
    async with rig(fresh_app_dsn) as r:
        await r.feed(hit(*DISCOVERY, hours=10))
        await r.feed(hit(*CRITICAL, hours=0))  # arrives late, 10 h older: still inside (T-24h, T]
    [(_, _, extra)] = risk_hits(fresh_app_dsn)
    assert extra["window_end"].startswith("2026-12-01T20:00")


async def test_tactic_spread_alert_from_three_tactics_of_several_rules(fresh_app_dsn: str) -> None:
    """low hits: execution 25, credential-access 29, discovery (T1087) 17: score 15.7, three tactics."""
    async with rig(fresh_app_dsn) as r:
        await r.feed(hit("r-exec", "low", ["attack.execution"], hours=0))
        await r.feed(hit("r-cred", "low", ["attack.credential-access"], hours=1))
        assert risk_hits(fresh_app_dsn) == []
        await r.feed(hit("r-acct", "low", ["attack.t1087"], hours=2))
    [(rule, group, extra)] = risk_hits(fresh_app_dsn)
    assert rule == "guetteur.risk.tactics" and group == HOST
    assert extra["tactics"] == ["credential-access", "discovery", "execution"] and extra["rules"] == 3
    assert extra["entity_score"] == pytest.approx(100 * (29 + 25 / 2**1.5 + 17 / 3**1.5) / MAX_RAW, abs=0.01)
    assert len(extra["contributions"]) == 3


async def test_one_rule_with_three_tactics_is_no_spread(fresh_app_dsn: str) -> None:
    async with rig(fresh_app_dsn) as r:
        await r.feed(hit("r-many", "low", ["attack.execution", "attack.persistence", "attack.discovery"]))
    assert risk_hits(fresh_app_dsn) == []


async def test_risk_hits_become_alerts_and_never_feed_risk_again(fresh_app_dsn: str) -> None:
    async with rig(fresh_app_dsn) as r:
        await r.feed(hit(*CRITICAL, hours=0), hit(*DISCOVERY, hours=1))
        for _ in range(3):
            await r.settle()
    assert rows(fresh_app_dsn, "SELECT rule_id, risk_score FROM alerts WHERE rule_id LIKE 'guetteur.risk.%%'") != []
    assert rows(fresh_app_dsn, "SELECT r.score FROM hit_risk r JOIN hits h ON h.id = r.hit_id"
                               " WHERE h.rule_id = 'guetteur.risk.score'") == [(43,)]  # its entity score
    assert rows(fresh_app_dsn, "SELECT count(*) FROM risk_contributions") == [(2,)]
    assert len(risk_hits(fresh_app_dsn)) == 1


async def test_one_alert_per_entity_per_window_and_state_survives_restarts(fresh_app_dsn: str) -> None:
    async with rig(fresh_app_dsn) as r:
        await r.feed(hit(*CRITICAL, hours=0))
    async with rig(fresh_app_dsn) as r:  # a restart: contributions are in the database
        await r.feed(hit(*DISCOVERY, hours=1))
    assert len(risk_hits(fresh_app_dsn)) == 1
    async with rig(fresh_app_dsn) as r:  # another: the alert state too
        await r.feed(hit(*CRITICAL, hours=2), hit("r-other", "high", ["attack.credential-access"], hours=3))
        assert len(risk_hits(fresh_app_dsn)) == 1
        await r.feed(hit(*CRITICAL, hours=30), hit(*DISCOVERY, hours=30.5))  # a window later: again
    assert [rule for rule, _, _ in risk_hits(fresh_app_dsn)] == ["guetteur.risk.score"] * 2


async def test_a_dismissed_alert_adds_no_risk(fresh_app_dsn: str) -> None:
    async with rig(fresh_app_dsn) as r:
        await r.feed(hit(*CRITICAL, hours=0))
        execute(fresh_app_dsn, "UPDATE alerts SET status = 'closed', close_reason = 'false_positive'")
        await r.feed(hit(*DISCOVERY, hours=1))
    assert risk_hits(fresh_app_dsn) == []


async def test_batches_move_the_cursor_to_the_alert_managers(fresh_app_dsn: str) -> None:
    store_hits(fresh_app_dsn, [hit("r-x", "low", [], hours=i / 10) for i in range(5)])
    async with rig(fresh_app_dsn) as r:
        r.scorer.batch_size = 2
        await r.manager.run_round()
        assert [await r.scorer.run_round() for _ in range(4)] == [2, 2, 1, 0]
    assert rows(fresh_app_dsn, "SELECT hit_id FROM risk_cursor") == rows(fresh_app_dsn, "SELECT hit_id FROM alert_cursor")
    assert rows(fresh_app_dsn, "SELECT count(*) FROM hit_risk") == [(5,)]


@pytest.mark.parametrize("value", ["x' OR 1=1; --", "*", "[!a-z]", "é" * 600, "DOMAIN\\user", " ", "%s %(x)s"])
async def test_hostile_entity_values(fresh_app_dsn: str, value: str) -> None:
    entity = {"host.name": value, "user.name": value}
    async with rig(fresh_app_dsn, hosts={"*": "high"}) as r:
        await r.feed(hit(*CRITICAL, entity=entity), hit(*DISCOVERY, hours=1, entity=entity))
    found = risk_hits(fresh_app_dsn)
    assert {tuple(g.items()) for _, g, _ in found} == {(("host.name", value[:512]),), (("user.name", value[:512]),)}


async def test_old_contributions_are_pruned_but_a_far_future_time_prunes_nothing_recent(
        fresh_app_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pruning keeps two windows before the newest event time, and that time is never later than now."""
    monkeypatch.setattr("guetteur.alert.risk_scorer.PRUNE_EVERY", 1)
    now = datetime.now(UTC)
    recent = (now - T0).total_seconds() / 3600 - 1  # an hour ago, in hours after T0
    async with rig(fresh_app_dsn) as r:
        await r.feed(hit("r-old", "low", [], hours=recent - 72, entity={"host.name": "a"}))
        await r.feed(hit("r-new", "low", [], hours=recent, entity={"host.name": "a"}))
        await r.feed(hit("r-skew", "low", [], hours=24 * 365 * 900, entity={"host.name": "b"}))  # year 2926
        await r.feed(hit("r-new", "low", [], hours=recent, entity={"host.name": "c"}))
    assert sorted(rows(fresh_app_dsn, "SELECT rule_id FROM risk_contributions")) == [("r-new",), ("r-new",), ("r-skew",)]
