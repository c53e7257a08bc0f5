"""`detect.replay.replay_rule` (behind `guetteur rules test`): a correlation replayed over events
fires on them alone, in windows of its own, never those of the live server."""

from __future__ import annotations

import psycopg
from correlation_helpers import T0, engine, event, feed, ruleset

from guetteur.detect.replay import replay_rule, rule_subset
from guetteur.store import detection as state

RULES = """
title: Failed SSH login
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000d1
name: ssh_failed
status: test
logsource: {product: linux, service: sshd}
detection:
    selection:
        event.outcome: failure
    condition: selection
level: low
---
title: SSH brute force
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000d2
status: test
correlation:
    type: event_count
    rules: [ssh_failed]
    group-by: [source.ip]
    timespan: 1m
    condition: {gte: 5}
level: high
"""
CORRELATION = "6a0c5a52-4f7c-4c4b-9a43-0000000000d2"


def failure(t: float, ip: str) -> dict:
    doc = event(t, source__ip=ip, event__outcome="failure", host__name="bastion")
    doc["log"] = {"syslog": {"appname": "sshd"}}
    doc["process"] = {"name": "sshd"}
    doc["event"].update({"module": "system", "dataset": "system.auth", "action": "ssh_login"})
    return doc


def test_replay_of_a_correlation_counts_its_matches_and_fields() -> None:
    """Twelve failures from one address: the correlation fires twice (count-and-reset), and
    its group-by field is reported present."""
    rules = ruleset(RULES)
    target = next(c for c in rules.correlations if c.id == CORRELATION)
    assert {r.id for r in rule_subset(rules, target).rules} == {"6a0c5a52-4f7c-4c4b-9a43-0000000000d1"}
    report = replay_rule(rules, target, [failure(T0 + i, "203.0.113.20") for i in range(12)])
    assert report.events == 12 and report.match_count == 2
    assert report.matches[0]["group_key"] == {"source.ip": "203.0.113.20"}
    presence = {f.field: f.seen for f in report.fields}
    assert presence["source.ip"] == 12


def test_replay_neither_reads_nor_writes_the_live_snapshot(app_dsn: str) -> None:
    """The live server's windows hold 4 failures from an address; a replay of one more
    failure from it does not fire (its windows are its own), and 'main' is left unchanged."""
    live, rules = engine(RULES, lateness=60)
    for i in range(4):
        feed(live, rules, "ssh_failed", failure(T0 + i, "203.0.113.21"))
    with psycopg.connect(app_dsn, autocommit=True) as conn:
        state.save_snapshot(conn, live, name="main")
        before = state.load_snapshot(conn, "main")
    target = next(c for c in rules.correlations if c.id == CORRELATION)
    report = replay_rule(rules, target, [failure(T0 + 5, "203.0.113.21")])
    assert report.events == 1 and report.match_count == 0
    with psycopg.connect(app_dsn, autocommit=True) as conn:
        assert state.load_snapshot(conn, "main") == before
        conn.execute("DELETE FROM correlation_state WHERE engine = 'main'")
