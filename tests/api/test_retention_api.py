"""The retention task in a running Guetteur (`guetteur up`): it runs at start with the retention
in force, deletes an old closed alert, and its last run shows in the health details and on the
settings page (`enforced`)."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from tests.api.people import add_user, bearer

from guetteur.config import RetentionSettings, Settings


def _old_closed_alert(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "INSERT INTO alerts (rule_id, rule_title, severity, status, close_reason, first_seen, last_seen, created,"
            " updated) VALUES ('r1', 'Rule one', 'low', 'closed', 'duplicate', now() - interval '90 days',"
            " now() - interval '90 days', now() - interval '90 days', now() - interval '90 days') RETURNING id"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_retention_runs_at_start_and_shows_its_last_run(settings: Settings, fresh_dsn: str,
                                                             make_running: Any) -> None:
    settings.retention = RetentionSettings(events_days=30, hits_days=0, alerts_days=30)
    alert_id = _old_closed_alert(fresh_dsn)
    async with make_running() as running:
        http = running.http
        read = {"Authorization": f"Bearer {running.read_key}"}
        retention: dict[str, Any] = {}
        for _ in range(600):
            details = (await http.get("/api/v1/health/details", headers=read)).json()
            retention = details.get("retention") or {}
            if retention.get("last_run"):
                break
            await asyncio.sleep(0.05)
        assert retention["settings"] == {"events_days": 30, "hits_days": 0, "alerts_days": 30}
        assert retention["runs"] >= 1 and retention["interval_seconds"] == 3600
        last = retention["last_run"]
        assert (last["alerts"], last["event_partitions"], last["error"], last["complete"]) == (1, 0, None, True)
        with psycopg.connect(running.owner_dsn) as conn:
            assert conn.execute("SELECT count(*) FROM alerts WHERE id = %s", (alert_id,)).fetchone() == (0,)
            logged = conn.execute("SELECT kind, actor, rows_deleted FROM retention_log").fetchall()
        assert logged == [("alerts", "retention", 1)]

        admin = await bearer(http, add_user(running.owner_dsn, "boss", "admin", totp=True))
        page = (await http.get("/api/v1/settings", headers=admin)).json()["retention"]
        assert page["enforced"] is True
        assert page["last_run"]["alerts"] == 1
