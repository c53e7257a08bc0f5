"""`/api/v1/alerts` and `/api/v1/silences` against a running Guetteur: hits stored by a detection
writer become alerts (the manager task of `guetteur up`), which each role reads or triages."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from tests.alert.alert_helpers import BRUTE_FORCE, EXFIL, hit, store_hits
from tests.api.people import add_user, bearer

from guetteur.config import RiskSettings, Settings

GROUP = {"host.name": "web-01", "source.ip": "203.0.113.7", "user.name": "deploy"}
EXFIL_GROUP = {"source.ip": "10.0.20.15", "destination.ip": "185.199.110.153"}


async def wait_alerts(running: Any, count: int, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while True:
        response = await running.http.get("/api/v1/alerts", params=params, headers=headers)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        if len(data) >= count or time.monotonic() > deadline:
            return data
        await asyncio.sleep(0.1)


def read(running: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {running.read_key}"}


async def test_lifecycle_over_http_with_each_role(make_running: Any, settings: Settings) -> None:
    settings.risk = RiskSettings(enabled=False)  # no risk alert among those counted here
    async with make_running() as running:
        http: httpx.AsyncClient = running.http
        viewer = await bearer(http, add_user(running.owner_dsn, "vera", "viewer"))
        analyst = await bearer(http, add_user(running.owner_dsn, "anna", "analyst"))
        store_hits(running.owner_dsn, [hit(at=30 * i, group=GROUP) for i in range(4)])
        [alert] = await wait_alerts(running, 1, viewer)
        assert (alert["count"], alert["severity"], alert["status"], alert["techniques"]) == (
            4, "medium", "open", ["T1110.001"])
        url = f"/api/v1/alerts/{alert['id']}"
        assert (await http.patch(url, json={"status": "acknowledged"}, headers=viewer)).status_code == 403
        assert (await http.patch(url, json={"status": "acknowledged"}, headers=read(running))).status_code == 403
        assert (await http.patch(url, json={"status": "acknowledged"})).status_code == 401
        steps = [
            ({"status": "acknowledged"}, 200), ({"status": "acknowledged"}, 409),
            ({"status": "closed"}, 422), ({"status": "closed", "close_reason": "maybe"}, 422),
            ({"status": "open", "close_reason": "duplicate"}, 422),
            ({"status": "closed", "close_reason": "false_positive"}, 200), ({"status": "closed",
                                                                               "close_reason": "other"}, 409),
            ({"status": "open"}, 200), ({"assignee": "anna"}, 200), ({"assignee": "vera"}, 422),
            ({"assignee": "nobody-by-that-name"}, 422), ({}, 422), ({"status": "done"}, 422),
            ({"assignee": None}, 200),
        ]
        for body, expected in steps:
            response = await http.patch(url, json=body, headers=analyst)
            assert response.status_code == expected, (body, response.text)
        response = await http.post(f"{url}/comments", json={"text": "Blocked 203.0.113.7 at the firewall."},
                                   headers=analyst)
        assert response.status_code == 201 and response.json()["actor"] == "anna"
        detail = (await http.get(url, headers=viewer)).json()
        assert [(h["actor"], h["action"]) for h in detail["history"]] == [
            ("system", "created"), ("anna", "acknowledged"), ("anna", "closed"), ("anna", "reopened"),
            ("anna", "assigned"), ("anna", "assigned"), ("anna", "commented")]
        assert detail["history"][2]["details"]["reason"] == "false_positive"
        assert detail["status"] == "open" and detail["assignee"] is None and detail["close_reason"] is None
        stats = (await http.get("/api/v1/alerts/rule-statistics", headers=viewer)).json()["data"]
        assert [(s["rule_id"], s["alerts"], s["closed"]) for s in stats] == [(BRUTE_FORCE, 1, 0)]
    with psycopg.connect(running.owner_dsn) as conn:
        audited = conn.execute("SELECT actor, action FROM audit_log WHERE action LIKE 'alert.%' ORDER BY seq").fetchall()
    assert audited == [("anna", "alert.change")] * 5 + [("anna", "alert.comment")]


async def test_filters_keyset_pages_bulk_and_false_positive_ratio(make_running: Any, settings: Settings) -> None:
    settings.risk = RiskSettings(enabled=False)  # no risk alert among those counted here
    async with make_running() as running:
        http: httpx.AsyncClient = running.http
        analyst = await bearer(http, add_user(running.owner_dsn, "anna", "analyst"))
        hosts = [f"web-{i:02d}" for i in range(7)]
        store_hits(running.owner_dsn, [hit(at=i, group={**GROUP, "host.name": h}) for i, h in enumerate(hosts)] + [
            hit(EXFIL, at=10 + i * 3.5, level="high", group=EXFIL_GROUP, tags=["attack.exfiltration", "attack.t1048"],
                title="Large Outbound Data Transfer") for i in range(9)])
        alerts = await wait_alerts(running, 8, read(running), limit=100)
        assert len(alerts) == 8
        exfil = [a for a in alerts if a["rule_id"] == EXFIL]
        assert len(exfil) == 1 and exfil[0]["count"] == 9 and exfil[0]["severity"] == "critical"

        async def ids(**params: Any) -> list[int]:
            response = await http.get("/api/v1/alerts", params=params, headers=read(running))
            assert response.status_code == 200, response.text
            return [a["id"] for a in response.json()["data"]]

        assert len(await ids(technique="T1110")) == 7 and len(await ids(technique="t1110.001")) == 7
        assert await ids(tactic="exfiltration") == [exfil[0]["id"]]
        assert len(await ids(host="web-03")) == 1 and len(await ids(user="deploy")) == 7
        assert await ids(source_ip="10.0.20.15") == [exfil[0]["id"]]
        assert await ids(severity="critical") == [exfil[0]["id"]]
        assert len(await ids(severity=["critical", "medium"])) == 8
        assert await ids(rule_id="nothing") == []
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 3}
            if cursor:
                params["cursor"] = cursor
            page = (await http.get("/api/v1/alerts", params=params, headers=read(running))).json()
            seen += [a["id"] for a in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(a["id"] for a in alerts) and len(seen) == 8
        brute = sorted(a["id"] for a in alerts if a["rule_id"] == BRUTE_FORCE)
        response = await http.post("/api/v1/alerts/bulk", headers=analyst, json={
            "ids": brute[:3], "status": "closed", "close_reason": "false_positive"})
        assert response.json() == {"updated": brute[:3], "failed": []}
        response = await http.post("/api/v1/alerts/bulk", headers=analyst, json={
            "ids": [*brute[2:4], 999_999], "status": "closed", "close_reason": "true_positive"})
        body = response.json()
        assert body["updated"] == [brute[3]]
        assert [f["id"] for f in body["failed"]] == [brute[2], 999_999]
        assert len(await ids(status="closed")) == 4 and len(await ids(status=["open", "acknowledged"])) == 4
        stats = {s["rule_id"]: s for s in (await http.get("/api/v1/alerts/rule-statistics",
                                                           headers=read(running))).json()["data"]}
        assert stats[BRUTE_FORCE]["close_reasons"] == {"false_positive": 3, "true_positive": 1}
        assert stats[BRUTE_FORCE]["false_positive_ratio"] == 0.75
        assert stats[EXFIL]["false_positive_ratio"] is None


async def test_silences_by_api_and_from_an_alert(make_running: Any, settings: Settings) -> None:
    settings.risk = RiskSettings(enabled=False)  # no risk alert among those counted here
    async with make_running() as running:
        http: httpx.AsyncClient = running.http
        analyst = await bearer(http, add_user(running.owner_dsn, "anna", "analyst"))
        now = datetime.now(UTC)
        soon = (now + timedelta(hours=1)).isoformat()
        response = await http.post("/api/v1/silences", headers=analyst, json={
            "matchers": [{"field": "source.ip", "value": "198.51.100.0/24"}], "reason": "pen test",
            "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": soon})
        assert response.status_code == 201, response.text
        silence = response.json()
        assert silence["active"] and silence["author"] == "anna"
        recent = now.timestamp() - 60 - datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp()
        store_hits(running.owner_dsn, [hit(at=recent, group={**GROUP, "source.ip": "198.51.100.9"}),
                                       hit(at=recent, group=GROUP)])
        alerts = await wait_alerts(running, 2, analyst)
        silenced = {a["entity"]["source.ip"]: a["silenced"] for a in alerts}
        assert silenced == {"198.51.100.9": True, "203.0.113.7": False}
        loud = next(a for a in alerts if not a["silenced"])
        response = await http.post(f"/api/v1/alerts/{loud['id']}/silence", headers=analyst,
                                   json={"reason": "known admin", "duration_minutes": 30, "fields": ["user.name"]})
        assert response.status_code == 201, response.text
        made = response.json()
        assert made["matchers"] == [{"field": "rule_id", "value": BRUTE_FORCE}, {"field": "user.name",
                                                                                 "value": "deploy"}]
        assert made["alerts"] == 1
        detail = (await http.get(f"/api/v1/alerts/{loud['id']}", headers=analyst)).json()
        assert detail["silenced"] and detail["history"][-1]["action"] == "silenced"
        assert len((await http.get("/api/v1/alerts", params={"silenced": True}, headers=analyst)).json()["data"]) == 2
        response = await http.patch(f"/api/v1/silences/{silence['id']}", headers=analyst, json={"reason": "pentest 2"})
        assert response.status_code == 200 and response.json()["reason"] == "pentest 2"
        response = await http.delete(f"/api/v1/silences/{silence['id']}", headers=analyst)
        assert response.status_code == 200 and not response.json()["active"]
        assert response.json()["expired_by"] == "anna"
        listed = (await http.get("/api/v1/silences", params={"active": True}, headers=read(running))).json()
        assert [s["id"] for s in listed["data"]] == [made["id"]]
    with psycopg.connect(running.owner_dsn) as conn:
        audited = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE action LIKE 'silence.%'"
                                              " ORDER BY seq").fetchall()]
    assert audited == ["silence.create", "silence.create", "silence.change", "silence.expire"]


BAD_SILENCES: list[Any] = [
    {}, {"matchers": [], "reason": "x", "ends_at": "2030-01-01T00:00:00Z"},
    {"matchers": [{"field": "host.name", "value": "*"}], "reason": "x", "ends_at": "2030-01-01T00:00:00Z"},
    {"matchers": [{"field": "source.ip", "value": "10.0.0.0/33"}], "reason": "x", "ends_at": "2030-01-01T00:00:00Z"},
    {"matchers": [{"field": "bad field!", "value": "x"}], "reason": "x", "ends_at": "2030-01-01T00:00:00Z"},
    {"matchers": [{"field": "host.name", "value": "x"}], "reason": "x", "ends_at": "2030-01-01T00:00:00"},
    {"matchers": [{"field": "host.name", "value": "x"}], "reason": "x", "starts_at": "2030-01-02T00:00:00Z",
     "ends_at": "2030-01-01T00:00:00Z"},
    {"matchers": [{"field": "host.name", "value": "x"}], "reason": "", "ends_at": "2030-01-01T00:00:00Z"},
    {"matchers": [{"field": "host.name", "value": "x", "op": "regex"}], "reason": "x",
     "ends_at": "2030-01-01T00:00:00Z"},
    {"matchers": [{"field": "host.name", "value": "x"}] * 17, "reason": "x", "ends_at": "2030-01-01T00:00:00Z"},
    {"matchers": [{"field": "host.name", "value": "x" * 100_000}], "reason": "x", "ends_at": "2030-01-01T00:00:00Z"},
    {"matchers": "host.name=x", "reason": "x", "ends_at": "2030-01-01T00:00:00Z"},
    {"matchers": [{"field": "host.name", "value": "x"}], "reason": "x", "ends_at": "9999-99-99"},
    {"matchers": [{"field": "host.name", "value": "a\x00b"}], "reason": "x", "ends_at": "2030-01-01T00:00:00Z"},
    {"matchers": [{"field": "host.name", "value": "x"}], "reason": "\x00", "ends_at": "2030-01-01T00:00:00Z"},
    [1, 2, 3], "garbage",
]


async def test_hostile_input_on_every_new_route(make_running: Any) -> None:
    """Malformed silences are 422 with a reason; garbage ids, filters, cursors and bodies are 4xx,
    never a 500."""
    async with make_running() as running:
        http: httpx.AsyncClient = running.http
        analyst = await bearer(http, add_user(running.owner_dsn, "anna", "analyst"))
        for body in BAD_SILENCES:
            response = await http.post("/api/v1/silences", headers=analyst, json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["detail"], body
        response = await http.post("/api/v1/silences", headers=analyst, content=b"{\"matchers\": [", )
        assert response.status_code == 422
        ids = ["0", "-1", "99999999999999999999999", "9223372036854775807", "abc", "1e5", "%00", "1;DROP TABLE alerts"]
        requests: list[tuple[str, str, Any]] = []
        for ident in ids:
            requests += [("GET", f"/api/v1/alerts/{ident}", None), ("PATCH", f"/api/v1/alerts/{ident}",
                                                                    {"status": "acknowledged"}),
                         ("POST", f"/api/v1/alerts/{ident}/comments", {"text": "x"}),
                         ("POST", f"/api/v1/alerts/{ident}/silence", {"reason": "x"}),
                         ("GET", f"/api/v1/silences/{ident}", None), ("PATCH", f"/api/v1/silences/{ident}", {}),
                         ("DELETE", f"/api/v1/silences/{ident}", None)]
        bad_params = [{"status": "nope"}, {"severity": "high"}, {"technique": "1110"}, {"technique": "T1110'--"},
                      {"tactic": "Credential Access"}, {"source_ip": "not-an-ip"}, {"since": "yesterday"},
                      {"since": "2026-01-01T00:00:00"}, {"limit": 0}, {"limit": 100_000}, {"cursor": "abc"},
                      {"cursor": "99999999999999999999999.1"}, {"cursor": "1." + "9" * 30}, {"host": "x" * 5000},
                      {"silenced": "maybe"}, {"rule_id": "\x00"}]
        requests += [("GET", "/api/v1/alerts?" + httpx.QueryParams(p).__str__(), None) for p in bad_params]
        requests += [("POST", "/api/v1/alerts/bulk", body) for body in (
            {}, {"ids": []}, {"ids": list(range(1, 502)), "status": "acknowledged"}, {"ids": ["a"]},
            {"ids": [1], "status": "closed"}, {"ids": [1]}, {"ids": [2**70], "status": "open"})]
        requests += [("GET", "/api/v1/alerts/rule-statistics?days=0", None),
                     ("GET", "/api/v1/alerts/rule-statistics?days=100000", None),
                     ("GET", "/api/v1/silences?limit=-1", None), ("GET", "/api/v1/silences?before=abc", None),
                     ("PATCH", "/api/v1/alerts/1", {"status": "closed", "close_reason": "x" * 10_000}),
                     ("POST", "/api/v1/alerts/1/comments", {"text": "x" * 20_000}),
                     ("POST", "/api/v1/alerts/1/comments", {"text": "   "}),
                     ("POST", "/api/v1/alerts/1/comments", {"text": "a\x00"}),
                     ("PATCH", "/api/v1/alerts/1", {"assignee": "\x00"}),
                     ("POST", "/api/v1/alerts/1/silence", {"reason": "x", "fields": ["x" * 1000]}),
                     ("POST", "/api/v1/alerts/1/silence", {"reason": "x", "duration_minutes": -5}),
                     ("PATCH", "/api/v1/silences/1", {"matchers": []}),
                     ("PATCH", "/api/v1/silences/1", {"ends_at": "garbage"})]
        failures = []
        for method, url, body in requests:
            response = await http.request(method, url, json=body, headers=analyst)
            if not 400 <= response.status_code < 500:
                failures.append(f"{method} {url[:80]} {body!r:.80}: {response.status_code} {response.text[:100]}")
        assert not failures, "\n".join(failures)
