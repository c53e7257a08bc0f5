"""`/api/v1/settings` and `/api/v1/audit/verify` on a running Guetteur: admins change retention,
asset criticality and statistical thresholds over the configuration file, bad values get 422,
every change is audited, and the risk scorer uses a changed criticality for the next hits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from tests.api.people import add_user, bearer

from guetteur.config import RiskSettings, Settings
from guetteur.detect.hits import Hit
from guetteur.runtime_settings import RuntimeSettings
from guetteur.stats.stage import StatsStage
from guetteur.store.detection import insert_hits
from guetteur.store.settings import StoredSection


def _hit(event_id: str) -> Hit:
    """A medium-level discovery hit on host web-01 (its score depends on web-01's criticality)."""
    when = datetime.now(UTC).isoformat()
    return Hit("r-disc", "rule r-disc", "medium", ["attack.discovery"], [event_id], [when], None,
               group_key={"host.name": "web-01"}, correlation="event_count")


async def _score_of(dsn: str, event_id: str) -> int:
    """The risk scorer's score of the hit carrying `event_id`, once scored."""
    for _ in range(600):
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT r.score FROM hit_risk r JOIN hits h ON h.id = r.hit_id"
                               " WHERE h.event_ids @> ARRAY[%s]::text[]", (event_id,)).fetchone()
        if row is not None:
            return int(row[0])
        await asyncio.sleep(0.1)
    raise AssertionError(f"hit of {event_id} never scored")


async def test_changed_criticality_is_used_for_the_next_hits(settings: Settings, make_running: Any) -> None:
    """A host made `extreme` from the console raises the risk score of its next hit, without a
    restart; the change shows its source, is audited, and a reset goes back to the file."""
    settings.risk = RiskSettings(hosts={"db-*": "high"})
    async with make_running() as running:
        http = running.http
        admin = await bearer(http, add_user(running.owner_dsn, "boss", "admin", totp=True))
        before = (await http.get("/api/v1/settings", headers=admin)).json()
        assert before["criticality"]["value"] == {"hosts": {"db-*": "high"}, "users": {}}
        assert before["criticality"]["sources"] == {"hosts": "config", "users": "default"}
        assert before["retention"]["sources"]["events_days"] == "default"

        with psycopg.connect(running.owner_dsn) as conn:
            insert_hits(conn, [_hit("ev-before")])
        medium = await _score_of(running.owner_dsn, "ev-before")

        changed = await http.put("/api/v1/settings/criticality", headers=admin,
                                 json={"hosts": {"web-*": "extreme"}, "users": {"svc-*": "low"}})
        assert changed.status_code == 200, changed.text
        body = changed.json()["criticality"]
        assert body["value"]["hosts"] == {"web-*": "extreme"} and body["config"]["hosts"] == {"db-*": "high"}
        assert body["sources"] == {"hosts": "console", "users": "console"} and body["updated_by"] == "boss"
        shown = (await http.get("/api/v1/risk/criticality", headers=admin)).json()
        assert shown["hosts"] == [{"pattern": "web-*", "level": "extreme"}]

        with psycopg.connect(running.owner_dsn) as conn:
            insert_hits(conn, [_hit("ev-after")])
        extreme = await _score_of(running.owner_dsn, "ev-after")
        assert extreme > medium  # odds x2 on an extreme asset

        audit = (await http.get("/api/v1/audit", headers=admin, params={"action": "settings.change"})).json()
        assert [(r["target"], r["detail"]) for r in audit["data"]] == [("criticality", {"hosts": 1, "users": 1})]

        reset = await http.delete("/api/v1/settings/criticality", headers=admin)
        assert reset.status_code == 200 and reset.json()["criticality"]["value"]["hosts"] == {"db-*": "high"}
        assert (await http.delete("/api/v1/settings/criticality", headers=admin)).status_code == 404


@pytest.mark.parametrize(("section", "body"), [
    ("retention", {"events_days": -1}),
    ("retention", {"events_days": 30, "forever": True}),
    ("criticality", {"hosts": {"web-*": "huge"}}),
    ("criticality", {"hosts": {"  ": "high"}}),
    ("stats", {"frequency_p_value": 2}),
    ("stats", {"silent_min_seconds": 5}),
    ("stats", {"frequency_level": "severe"}),
])
async def test_bad_values_are_refused_and_nothing_changes(section: str, body: dict[str, Any], make_running: Any) -> None:
    """Values out of bounds, unknown fields and unknown levels get 422; nothing is saved."""
    async with make_running() as running:
        admin = await bearer(running.http, add_user(running.owner_dsn, "boss", "admin", totp=True))
        refused = await running.http.put(f"/api/v1/settings/{section}", headers=admin, json=body)
        assert refused.status_code == 422, refused.text
        with psycopg.connect(running.owner_dsn) as conn:
            assert conn.execute("SELECT count(*) FROM runtime_settings").fetchone() == (0,)


async def test_settings_need_an_admin_and_are_saved_with_their_author(make_running: Any) -> None:
    """Analysts get 403; an admin's retention and thresholds are in force and saved with who did it."""
    async with make_running() as running:
        http = running.http
        analyst = await bearer(http, add_user(running.owner_dsn, "ana", "analyst"))
        assert (await http.get("/api/v1/settings", headers=analyst)).status_code == 403
        assert (await http.put("/api/v1/settings/retention", headers=analyst, json={})).status_code == 403
        admin = await bearer(http, add_user(running.owner_dsn, "boss", "admin", totp=True))
        saved = await http.put("/api/v1/settings/retention", headers=admin,
                               json={"events_days": 90, "hits_days": 180, "alerts_days": 365})
        assert saved.json()["retention"]["value"] == {"events_days": 90, "hits_days": 180, "alerts_days": 365}
        assert saved.json()["retention"]["enforced"] is True  # the retention task of guetteur up runs
        stats = await http.put("/api/v1/settings/stats", headers=admin, json={"frequency_z": 4.5, "silent_learning": 7})
        assert stats.status_code == 200
        assert stats.json()["stats"]["value"]["frequency_z"] == 4.5
        with psycopg.connect(running.owner_dsn) as conn:
            rows = conn.execute("SELECT section, updated_by FROM runtime_settings ORDER BY section").fetchall()
        assert rows == [("retention", "boss"), ("stats", "boss")]


async def test_audit_verification_finds_an_altered_row(make_running: Any) -> None:
    """`/audit/verify` recomputes the audit chain: intact after real actions, and naming the first
    row an owner altered behind the append-only trigger; the last `guetteur verify`-style store
    verification is reported, and one can be started in the background."""
    async with make_running() as running:
        http = running.http
        admin = await bearer(http, add_user(running.owner_dsn, "boss", "admin", totp=True))
        await http.put("/api/v1/settings/retention", headers=admin, json={"events_days": 30})
        first = (await http.get("/api/v1/audit/verify", headers=admin, params={"fresh": True})).json()
        assert first["audit"]["ok"] is True and first["audit"]["rows_checked"] >= 2
        assert first["store"] is None

        started = await http.post("/api/v1/audit/verify/store", headers=admin)
        assert started.status_code == 202
        for _ in range(300):
            result = (await http.get("/api/v1/audit/verify", headers=admin)).json()
            if result["store"] is not None and not result["store_running"]:
                break
            await asyncio.sleep(0.1)
        assert result["store"]["ok"] is True and result["store"]["started_by"] == "boss"

        with psycopg.connect(running.owner_dsn) as conn:
            conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
            conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        cached = (await http.get("/api/v1/audit/verify", headers=admin)).json()["audit"]
        assert cached == result["audit"]  # the last walk, reused (a big trail takes seconds to walk)
        broken = (await http.get("/api/v1/audit/verify", headers=admin, params={"fresh": True})).json()["audit"]
        assert broken["ok"] is False and broken["first_broken_seq"] == 2 and broken["rows_checked"] == 1
        assert "altered" in broken["reason"]


def test_saved_thresholds_reach_the_statistics_stage(settings: Settings) -> None:
    """The statistics stage judges with thresholds saved from the console once they are loaded
    (the server wires `RuntimeSettings.on_change` to `StatsStage.use_settings`); a reset goes
    back to the file's."""
    runtime = RuntimeSettings(settings)
    stage = StatsStage(settings, 0.0, rules=[])
    runtime.on_change(lambda current: stage.use_settings(current.stats))
    assert stage.frequency.settings.frequency_z == settings.stats.frequency_z == 6.0
    saved = StoredSection("stats", {"frequency_z": 3.5, "silent_min_seconds": 120.0}, "boss", datetime.now(UTC))
    assert runtime.use({"stats": saved}) is True
    assert (stage.frequency.settings.frequency_z, stage.sources.settings.silent_min_seconds) == (3.5, 120.0)
    assert stage.frequency.settings.frequency_half_life_days == settings.stats.frequency_half_life_days
    assert runtime.use({"stats": saved}) is False  # unchanged: nothing applied again
    runtime.use({})
    assert stage.frequency.settings.frequency_z == 6.0
