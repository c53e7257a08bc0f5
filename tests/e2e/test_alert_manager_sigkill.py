"""`guetteur up` killed with SIGKILL while its alert manager groups a backlog of hits: after a
restart on the same database every hit is in exactly one alert, none twice, none lost."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psycopg
import pytest
from tests.alert.alert_helpers import hit, store_hits
from tests.conftest import free_port

from .guetteur_process import guetteur_env, start_guetteur, wait_gone

HITS = 60_000


def linked(dsn: str) -> tuple[int, int, int]:
    """(links of the test's hits, distinct hits linked, the sum of their alerts' counts). Risk
    scoring adds hits of its own (`guetteur.risk.*`): they are left out."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM alert_hits l JOIN alerts a ON a.id = l.alert_id WHERE a.rule_id LIKE 'rule-%%'),"
            " (SELECT count(DISTINCT hit_id) FROM alert_hits l JOIN alerts a ON a.id = l.alert_id"
            "  WHERE a.rule_id LIKE 'rule-%%'),"
            " (SELECT coalesce(sum(count), 0) FROM alerts WHERE rule_id LIKE 'rule-%%')").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


@pytest.mark.slow
def test_sigkill_mid_backlog_neither_repeats_nor_loses_a_hit(tmp_path: Path, fresh_dsn: str) -> None:
    for start in range(0, HITS, 20_000):
        store_hits(fresh_dsn, [hit(f"rule-{i % 3}", at=i * 0.001, group={"host.name": f"h{i % 500}"})
                               for i in range(start, start + 20_000)])
    port, syslog = free_port(), free_port()
    env = guetteur_env(tmp_path / "data", fresh_dsn, port, syslog, GUETTEUR_ALERT__BATCH_SIZE="2000",
                       GUETTEUR_PIPELINE__WORKERS="1")
    first = start_guetteur(env, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 120
        while linked(fresh_dsn)[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)
        assert not wait_gone(first.pid, 30)
    finally:
        if first.proc.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.proc.wait(timeout=30)
    at_kill = linked(fresh_dsn)
    assert at_kill[0] == at_kill[1] == at_kill[2] < HITS, at_kill  # cut in the middle, consistent
    second = start_guetteur(env, tmp_path / "second.log")
    try:
        deadline = time.monotonic() + 300
        while linked(fresh_dsn)[0] < HITS and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.proc.wait(timeout=120)
    assert linked(fresh_dsn) == (HITS, HITS, HITS)
    with psycopg.connect(fresh_dsn) as conn:
        alerts = conn.execute("SELECT count(*), count(DISTINCT (rule_id, entity_key)) FROM alerts"
                              " WHERE rule_id LIKE 'rule-%'").fetchone()
        created = conn.execute("SELECT count(*) FROM alert_history h JOIN alerts a ON a.id = h.alert_id"
                               " WHERE h.action = 'created' AND a.rule_id LIKE 'rule-%'").fetchone()
        unlinked = conn.execute("SELECT count(*) FROM hits h WHERE NOT EXISTS"
                                " (SELECT 1 FROM alert_hits l WHERE l.hit_id = h.id)").fetchone()
    assert alerts == (1500, 1500) and created == (1500,) and unlinked == (0,)
