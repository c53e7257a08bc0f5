"""`/api/v1/notify` on a running Guetteur: channels and routes (422 with the reason when
malformed, secrets never returned and sealed at rest), a test message per channel, the outbox
and the health details; and end to end: hits become an alert (the alert manager) and a mail."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from tests.api.people import add_user, bearer
from tests.notify.notify_helpers import email_config, http_receiver, smtp_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alert"))
from alert_helpers import hit, store_hits

GROUP = {"host.name": "web-01", "source.ip": "203.0.113.7", "user.name": "deploy"}


async def admin(running: Any) -> dict[str, str]:
    return await bearer(running.http, add_user(running.owner_dsn, "adam", "admin", totp=True))


async def test_channels_are_validated_and_their_secrets_never_returned(make_running: Any) -> None:
    async with make_running() as running:
        http: httpx.AsyncClient = running.http
        headers = await admin(running)
        good = {"name": "soc-mail", "config": {**email_config(587, security="starttls"), "username": "soc",
                                               "password": "pa55-w0rd-secret"}}
        response = await http.post("/api/v1/notify/channels", json=good, headers=headers)
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["has_secret"] and "password" not in created["config"]
        assert (await http.post("/api/v1/notify/channels", json=good, headers=headers)).status_code == 409
        listed = await http.get("/api/v1/notify/channels", headers=headers)
        assert "pa55-w0rd-secret" not in listed.text and listed.json()["count"] == 1
        bad_bodies = {
            "recipients": {"name": "x", "config": {**email_config(25), "recipients": []}},
            "url must be http": {"name": "x", "config": {"kind": "webhook", "url": "ftp://example.org/hook"}},
            "credentials": {"name": "x", "config": {"kind": "webhook", "url": "https://u:p@example.org/"}},
            "kind": {"name": "x", "config": {"kind": "pigeon"}},
            "extra": {"name": "x", "config": {**email_config(25), "bcc": "evil@example.org"}},
            "port": {"name": "x", "config": email_config(70000)},
            "name": {"name": "../../etc", "config": email_config(25)},
            "format": {"name": "x", "config": {"kind": "webhook", "url": "https://example.org/", "format": "irc"}},
        }
        for reason, body in bad_bodies.items():
            response = await http.post("/api/v1/notify/channels", json=body, headers=headers)
            assert response.status_code == 422, (reason, response.text)
            assert reason.split()[0] in response.text, (reason, response.text)
        changed = {"name": "soc-mail", "config": {**email_config(465, security="tls"), "username": "soc"}}
        response = await http.put(f"/api/v1/notify/channels/{created['id']}", json=changed, headers=headers)
        assert response.status_code == 200 and response.json()["has_secret"]  # left out: kept
    with psycopg.connect(running.owner_dsn) as conn:
        [(secret,)] = conn.execute("SELECT secret FROM notify_channels").fetchall()
        audited = conn.execute("SELECT action FROM audit_log WHERE action LIKE 'notify.%' ORDER BY seq").fetchall()
    assert b"pa55-w0rd-secret" not in bytes(secret) and bytes(secret).startswith(b"gAAAAA")  # a Fernet token
    assert audited == [("notify.channel.create",), ("notify.channel.change",)]


async def test_routes_are_validated(make_running: Any) -> None:
    async with make_running() as running:
        http: httpx.AsyncClient = running.http
        headers = await admin(running)
        channel = (await http.post("/api/v1/notify/channels", json={"name": "m", "config": email_config(25)},
                                   headers=headers)).json()["id"]
        bad = {
            "severities": {"name": "r", "channel": channel, "match": {"severities": ["urgent"]}},
            "no channel": {"name": "r", "channel": 999_999},
            "mode": {"name": "r", "channel": channel, "mode": "sometimes"},
            "digest_minutes": {"name": "r", "channel": channel, "mode": "digest", "digest_minutes": 0},
            "entity": {"name": "r", "channel": channel, "match": {"entity": {"bad field!": "*"}}},
        }
        for reason, body in bad.items():
            response = await http.post("/api/v1/notify/routes", json=body, headers=headers)
            assert response.status_code == 422, (reason, response.text)
            assert reason in response.text, (reason, response.text)
        body = {"name": "critical-now", "channel": channel, "match": {"severities": ["critical"],
                                                                      "entity": {"host.name": "db-*"}}}
        response = await http.post("/api/v1/notify/routes", json=body, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["match"]["entity"] == {"host.name": "db-*"}
        routes = (await http.get("/api/v1/notify/routes", headers=headers)).json()
        assert [r["name"] for r in routes["data"]] == ["critical-now"]


async def test_send_test_delivers_or_says_why_not(make_running: Any) -> None:
    async with make_running() as running, smtp_server() as (box, port), smtp_server(behaviour="refuse") as (_, bad):
        http: httpx.AsyncClient = running.http
        headers = await admin(running)
        ok = (await http.post("/api/v1/notify/channels", json={"name": "ok", "config": email_config(port)},
                              headers=headers)).json()["id"]
        refused = (await http.post("/api/v1/notify/channels", json={"name": "refused", "config": email_config(bad)},
                                   headers=headers)).json()["id"]
        response = await http.post(f"/api/v1/notify/channels/{ok}/test", headers=headers)
        assert response.status_code == 200 and response.json()["delivered"], response.text
        [mail] = await box.wait(1)
        assert "Guetteur test message" in mail["Subject"]
        response = await http.post(f"/api/v1/notify/channels/{refused}/test", headers=headers)
        assert response.status_code == 502 and "554" in response.json()["detail"]
        assert (await http.post("/api/v1/notify/channels/424242/test", headers=headers)).status_code == 404


async def test_hits_become_one_alert_and_one_mail_and_failures_show_in_health(make_running: Any) -> None:
    """End to end: four brute-force hits on one entity -> one grouped alert (alert manager) -> one mail
    (notifier, woken by the manager's NOTIFY). A webhook that answers 500 shows in the health
    details and the outbox."""
    async with make_running() as running, smtp_server() as (box, port), http_receiver(status=500) as (_, url):
        http: httpx.AsyncClient = running.http
        headers = await admin(running)
        for name, config in (("mail", email_config(port)), ("hook", {"kind": "webhook", "url": url})):
            channel = (await http.post("/api/v1/notify/channels", json={"name": name, "config": config},
                                       headers=headers)).json()["id"]
            response = await http.post("/api/v1/notify/routes", json={"name": f"all-{name}", "channel": channel},
                                       headers=headers)
            assert response.status_code == 201, response.text
        store_hits(running.owner_dsn, [hit(at=30 * i, group=GROUP) for i in range(4)])
        [mail] = await box.wait(1)
        assert "SSH Brute Force" in mail["Subject"] and "[MEDIUM]" in mail["Subject"]
        text = mail.get_body(preferencelist=("plain",)).get_content()
        assert "host.name=web-01" in text and "T1110.001" in text and "/alerts/" in text
        deadline = time.monotonic() + 30
        while True:
            health = (await running.health())["notify"]
            if health["failed_tries"] >= 1 and health["pending"] >= 1:
                break
            assert time.monotonic() < deadline, health
            await asyncio.sleep(0.2)
        assert health["sent"] == 1 and "HTTP 500" in health["last_error"]
        outbox = (await http.get("/api/v1/notify/outbox", params={"status": "pending"}, headers=headers)).json()
        assert [(o["channel"], o["attempts"]) for o in outbox["data"]] == [("hook", 1)]
