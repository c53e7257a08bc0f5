"""`/api/v1/risk`: the riskiest entities, one entity with every contribution, the scores of an
alert's hits and events, the criticality settings, on a running Guetteur (its alert manager and
risk scorer) with hits stored as the detection stage stores them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from guetteur.config import RiskSettings, Settings
from guetteur.detect.hits import Hit
from guetteur.store.detection import insert_hits

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
AT = (T0 + timedelta(hours=2)).isoformat()


def _hit(rule_id: str, level: str, tags: list[str], hours: float, entity: dict[str, str], event_id: str) -> Hit:
    when = (T0 + timedelta(hours=hours)).isoformat()
    return Hit(rule_id, f"rule {rule_id}", level, tags, [event_id], [when], None, group_key=entity,
               correlation="event_count")


async def _scored(dsn: str, count: int) -> None:
    """Wait until the running risk scorer has scored `count` hits (and the manager has turned
    its risk hits into alerts)."""
    for _ in range(600):
        with psycopg.connect(dsn) as conn:
            scored = conn.execute("SELECT count(*) FROM hit_risk").fetchone()
        if scored and scored[0] >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} hits scored")


async def test_risk_routes_on_a_running_guetteur(settings: Settings, make_running: Any) -> None:
    settings.risk = RiskSettings(hosts={"web-*": "high"}, users={"svc-*": "low"})
    async with make_running() as running:
        with psycopg.connect(running.owner_dsn) as conn:
            insert_hits(conn, [
                _hit("r-crit", "critical", ["attack.t1110.001"], 0, {"host.name": "web-01"}, "ev-1"),
                _hit("r-disc", "medium", ["attack.discovery"], 1, {"host.name": "web-01"}, "ev-2"),
                _hit("r-disc", "medium", ["attack.discovery"], 1, {"user.name": "svc-backup"}, "ev-3"),
            ])
        await _scored(running.owner_dsn, 4)  # three hits, then the risk hit of web-01
        read = {"Authorization": f"Bearer {running.read_key}"}
        http = running.http

        # web-01 (high: x1.5): critical + credential-access on a high host: odds 99 x1.5 x1.5 -> 99.55 -> 100;
        # medium discovery: odds 0.8868 x0.75 x1.5 = 0.9976 -> 49.94 -> 50. S = 100 + 50/2^1.5 = 117.68,
        # 100*S/261.24 = 45.05, odds 0.8199 x1.5 = 1.2299 -> 55.16
        top = (await http.get("/api/v1/risk/entities", headers=read, params={"at": AT})).json()
        assert [(e["field"], e["value"]) for e in top["data"]] == [("host.name", "web-01"), ("user.name", "svc-backup")]
        web = top["data"][0]
        assert web["score"] == pytest.approx(55.16, abs=0.01) and web["level"] == "moderate"
        assert (web["criticality"], web["multiplier"], web["contributions"]) == ("high", 1.5, 2)
        assert web["tactics"] == ["credential-access", "discovery"]
        # svc-backup (low: x0.5): 47 -> odds 0.8868 x0.75 x0.5 -> 24.96 -> 25; 100*25/261.24 = 9.57 -> x0.5 -> 5.03
        assert top["data"][1]["score"] == pytest.approx(5.03, abs=0.01)
        users = (await http.get("/api/v1/risk/entities", headers=read, params={"at": AT, "field": "user.name"})).json()
        assert [e["value"] for e in users["data"]] == ["svc-backup"]
        later = (await http.get("/api/v1/risk/entities", headers=read,
                                params={"at": (T0 + timedelta(hours=24, minutes=30)).isoformat()})).json()
        assert [e["value"] for e in later["data"]] == ["web-01", "svc-backup"]  # only the hour-1 hits left
        assert later["data"][0]["contributions"] == 1

        detail = (await http.get("/api/v1/risk/entity", headers=read,
                                 params={"field": "host.name", "value": "web-01", "at": AT})).json()
        assert detail["score"] == pytest.approx(55.16, abs=0.01) and detail["rules"] == 2
        assert [(c["rank"], c["score"], c["event_id"]) for c in detail["contribution_list"]] == [
            (1, 100, "ev-1"), (2, 50, "ev-2")]
        assert detail["normalised"] == pytest.approx(45.05, abs=0.01)

        with psycopg.connect(running.owner_dsn) as conn:
            alert_id = conn.execute("SELECT alert_id FROM alert_hits l JOIN hits h ON h.id = l.hit_id"
                                    " WHERE h.rule_id = 'r-crit'").fetchone()[0]  # type: ignore[index]
            risk_alerts = conn.execute("SELECT rule_id, entity, severity FROM alerts"
                                       " WHERE rule_id LIKE 'guetteur.risk.%'").fetchall()
        assert risk_alerts == [("guetteur.risk.score", {"host.name": "web-01"}, "medium")]
        scores = (await http.get(f"/api/v1/risk/alerts/{alert_id}", headers=read)).json()
        assert scores["events"] == {"ev-1": 100}
        assert scores["hits"][0]["factors"] == {"base": 99.0, "tactic": 1.5, "asset": 1.5, "anomaly": 1.0}

        crit = (await http.get("/api/v1/risk/criticality", headers=read)).json()
        assert crit["hosts"] == [{"pattern": "web-*", "level": "high"}]
        assert crit["multipliers"] == {"low": 0.5, "medium": 1.0, "high": 1.5, "extreme": 2.0}
        assert crit["score_threshold"] == 40.0


async def test_risk_routes_refuse_bad_input(make_running: Any) -> None:
    async with make_running() as running:
        read = {"Authorization": f"Bearer {running.read_key}"}
        http = running.http
        bad = [
            ("/api/v1/risk/entity", {"field": "host.name", "value": "a\x00b"}),
            ("/api/v1/risk/entity", {"field": "process.name", "value": "x"}),
            ("/api/v1/risk/entity", {"field": "host.name", "value": "x" * 513}),
            ("/api/v1/risk/entity", {"field": "host.name"}),
            ("/api/v1/risk/entities", {"limit": "0"}),
            ("/api/v1/risk/entities", {"limit": "100000"}),
            ("/api/v1/risk/entities", {"at": "0001-01-01T00:00:00Z"}),
            ("/api/v1/risk/entities", {"at": "yesterday"}),
            ("/api/v1/risk/alerts/0", {}),
            ("/api/v1/risk/alerts/99999999999999999999999", {}),
        ]
        for path, params in bad:
            response = await http.get(path, headers=read, params=params)
            assert response.status_code == 422, (path, params, response.text)
        assert (await http.get("/api/v1/risk/alerts/12345", headers=read)).status_code == 404
        odd = await http.get("/api/v1/risk/entity", headers=read,
                             params={"field": "user.name", "value": "x' OR 1=1; -- %s *"})
        assert odd.status_code == 200 and odd.json()["score"] == 0 and odd.json()["contribution_list"] == []
        assert (await http.get("/api/v1/risk/entities")).status_code == 401
