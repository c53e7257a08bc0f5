"""The audit trail: what people do is in an append-only, hash-chained table readable by admins
(`GET /api/v1/audit`), checked by `guetteur verify`, and in the event store as ECS events
(`event.dataset: guetteur.audit`) for Guetteur's own rules."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from tests.api.people import add_user, bearer, login, tamper
from typer.testing import CliRunner

from guetteur.cli import app
from guetteur.store.audit import verify_audit_chain
from guetteur.store.database import app_dsn


async def _some_actions(running: Any) -> dict[str, str]:
    http = running.http
    boss = add_user(running.owner_dsn, "boss", "admin", totp=True)
    admin = await bearer(http, boss)
    assert (await http.post("/api/v1/auth/login", json={"username": "boss", "password": "bad guess"})).status_code == 401
    created = await http.post("/api/v1/users", headers=admin, json={"name": "newbie", "role": "viewer"})
    assert created.status_code == 201 and len(created.json()["password"]) >= 20
    changed = await http.patch("/api/v1/users/newbie", headers=admin, json={"role": "analyst"})
    assert changed.status_code == 200 and changed.json()["role"] == "analyst"
    key = await http.post("/api/v1/keys", headers=admin, json={"name": "fw1", "scope": "ingest"})
    assert key.status_code == 201 and key.json()["token"].startswith("gt_")
    assert (await http.delete("/api/v1/keys/fw1", headers=admin)).status_code == 204
    return admin


async def test_actions_are_in_the_audit_trail_for_admins_only(make_running: Any) -> None:
    """Login success and failure, user creation and change, key creation and revocation are
    listed newest first with actor, target and outcome; a viewer and a read key get 403."""
    async with make_running() as running:
        admin = await _some_actions(running)
        page = await running.http.get("/api/v1/audit", headers=admin, params={"limit": 50})
        assert page.status_code == 200
        rows = page.json()["data"]
        seen = [(r["actor"], r["action"], r["outcome"], r["target"]) for r in rows]
        assert ("boss", "login", "success", "") in seen
        assert ("boss", "login", "failure", "") in seen
        assert ("boss", "user.create", "success", "newbie") in seen
        assert ("boss", "user.change", "success", "newbie") in seen
        assert ("boss", "key.create", "success", "fw1") in seen and ("boss", "key.revoke", "success", "fw1") in seen
        assert [r["seq"] for r in rows] == sorted((r["seq"] for r in rows), reverse=True)
        failure = next(r for r in rows if r["outcome"] == "failure")
        assert failure["detail"] == {"reason": "wrong password"} and failure["source_address"] == "127.0.0.1"
        viewer = await bearer(running.http, add_user(running.owner_dsn, "val", "viewer"))
        assert (await running.http.get("/api/v1/audit", headers=viewer)).status_code == 403
        read = {"Authorization": f"Bearer {running.read_key}"}
        assert (await running.http.get("/api/v1/audit", headers=read)).status_code == 403


async def test_logins_are_ecs_events_in_the_event_store(make_running: Any) -> None:
    """Each login success and failure is also stored as an ECS event (dataset `guetteur.audit`,
    category authentication, action login, the outcome, user and source address), searchable
    like any event."""
    async with make_running() as running:
        user = add_user(running.owner_dsn, "eve", "viewer")
        assert (await running.http.post("/api/v1/auth/login",
                                        json={"username": "eve", "password": "nope nope"})).status_code == 401
        assert (await login(running.http, user)).status_code == 200
        await running.wait_stored(2)
        body = await running.events(category="authentication", action="login")
        docs = {d["event"]["outcome"]: d for d in body["data"]}
        assert set(docs) == {"success", "failure"}
        for outcome, doc in docs.items():
            assert doc["event"]["dataset"] == "guetteur.audit"
            assert doc["event"]["category"] == ["authentication"]
            assert doc["user"]["name"] == "eve" and doc["source"]["ip"] == "127.0.0.1", outcome


async def test_verify_checks_the_audit_chain_and_finds_a_tampered_row(make_running: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`guetteur verify` recomputes the audit chain: intact after real actions (exit 0); a row
    changed by someone with database access (a failed login rewritten as a success) is named by
    its seq (exit 1); a deleted row is found too. The application role cannot change rows."""
    async with make_running() as running:
        await _some_actions(running)
        dsn = running.owner_dsn
    report = verify_audit_chain(dsn)
    assert report.ok and report.rows_checked >= 7
    monkeypatch.setenv("GUETTEUR_DATABASE_URL", dsn)
    runner = CliRunner()
    ok = runner.invoke(app, ["verify"])
    assert ok.exit_code == 0, ok.output
    assert f"audit chain intact: {report.rows_checked} rows" in ok.output
    with psycopg.connect(app_dsn(dsn)) as conn:
        row = conn.execute("SELECT seq FROM audit_log WHERE outcome = 'failure' AND action = 'login'"
                           " ORDER BY seq LIMIT 1").fetchone()
        assert row is not None
        failed_seq = int(row[0])
        for statement in ("UPDATE audit_log SET outcome = 'success' WHERE seq = %s",
                          "DELETE FROM audit_log WHERE seq = %s"):
            with pytest.raises(psycopg.Error):
                with conn.transaction():
                    conn.execute(statement, (failed_seq,))
    tamper(dsn, "UPDATE audit_log SET outcome = 'success' WHERE seq = %s", (failed_seq,))
    broken = runner.invoke(app, ["verify"])
    assert broken.exit_code == 1
    assert f"AUDIT CHAIN BROKEN at seq {failed_seq}: audit row altered" in broken.output
    tamper(dsn, "UPDATE audit_log SET outcome = 'failure' WHERE seq = %s", (failed_seq,))
    assert verify_audit_chain(dsn).ok
    tamper(dsn, "DELETE FROM audit_log WHERE seq = %s", (failed_seq,))
    deleted = verify_audit_chain(dsn)
    assert not deleted.ok and deleted.first_broken_seq == failed_seq + 1 and "removed" in (deleted.reason or "")


async def test_disabling_a_user_ends_their_sessions_and_the_last_admin_stays(make_running: Any) -> None:
    """An admin disabling a user ends that user's sessions at once (401) and their login fails;
    demoting or disabling the last active admin is refused (409), and is audited when allowed."""
    async with make_running() as running:
        http = running.http
        # `guetteur up` created `admin` on first start: disable it (another admin exists) to be the last one
        boss = add_user(running.owner_dsn, "boss", "admin", totp=True)
        admin = await bearer(http, boss)
        assert (await http.patch("/api/v1/users/admin", headers=admin, json={"disabled": True})).status_code == 200
        worker = add_user(running.owner_dsn, "wendy", "analyst")
        wendy = await bearer(http, worker)
        assert (await http.get("/api/v1/auth/me", headers=wendy)).status_code == 200
        assert (await http.patch("/api/v1/users/wendy", headers=admin, json={"disabled": True})).status_code == 200
        assert (await http.get("/api/v1/auth/me", headers=wendy)).status_code == 401
        assert (await login(http, worker)).status_code == 401
        for change in ({"role": "viewer"}, {"disabled": True}):
            refused = await http.patch("/api/v1/users/boss", headers=admin, json=change)
            assert refused.status_code == 409, change
        assert (await http.get("/api/v1/users", headers=admin)).status_code == 200
