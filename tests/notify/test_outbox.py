"""Routing alert changes into the outbox and delivering it, on a real database with real SMTP
and HTTP receivers; time is passed in (`step(now)`, `deliver_due(now)`): nothing sleeps."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from tests.notify.notify_helpers import (
    T0,
    add_channel,
    add_route,
    email_config,
    http_receiver,
    notify_settings,
    rows,
    smtp_server,
    storm,
    write_alert,
)

from guetteur.config import Settings
from guetteur.notify.service import Notifier
from guetteur.store.database import app_dsn
from guetteur.store.notify import retry_dead
from guetteur.store.pool import open_pool


@asynccontextmanager
async def notifier(settings: Settings, owner_dsn: str, **notify: Any) -> AsyncIterator[Notifier]:
    """A notifier (not started: the test drives it) on the application role's pool."""
    pool = await open_pool(app_dsn(owner_dsn), max_size=4)
    try:
        yield Notifier(notify_settings(settings, **notify), pool)
    finally:
        await pool.close()


def outbox(dsn: str) -> list[tuple[Any, ...]]:
    return rows(dsn, "SELECT channel_id, kind, status, attempts, payload FROM notify_outbox ORDER BY id")


async def test_creation_and_escalation_are_notified_once_count_updates_are_not(
        settings: Settings, fresh_dsn: str) -> None:
    async with smtp_server() as (box, port):
        channel = add_channel(fresh_dsn, settings, "mail", "email", email_config(port))
        add_route(fresh_dsn, "all", channel)
        alert = write_alert(fresh_dsn, severity="medium")
        write_alert(fresh_dsn, alert_id=alert, severity="medium", action="updated")
        write_alert(fresh_dsn, alert_id=alert, severity="critical", action="escalated",
                    details={"from": "medium", "to": "critical"})
        async with notifier(settings, fresh_dsn) as n:
            assert await n.step(T0) == 2
            assert await n.step(T0) == 0  # the cursor moved: nothing is routed twice
            assert await n.deliver_due(T0) == 2
            mails = await box.wait(2)
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects[0].startswith("[Guetteur] [CRITICAL] Alert escalated: SSH Brute Force")
    assert subjects[1].startswith("[Guetteur] [CRITICAL] New alert: SSH Brute Force")
    escalated = next(m for m in mails if "escalated" in m["Subject"])
    assert "severity went from medium to critical" in escalated.get_body(preferencelist=("plain",)).get_content()
    assert [r[2] for r in outbox(fresh_dsn)] == ["sent", "sent"]


async def test_silenced_alerts_are_not_notified(settings: Settings, fresh_dsn: str) -> None:
    channel = add_channel(fresh_dsn, settings, "mail", "email", email_config(25))
    add_route(fresh_dsn, "all", channel)
    write_alert(fresh_dsn, silenced=True)
    loud = write_alert(fresh_dsn)
    async with notifier(settings, fresh_dsn) as n:
        assert await n.step(T0) == 2
    [(_, kind, _, _, payload)] = outbox(fresh_dsn)
    assert kind == "alert" and payload["alert"]["alert_id"] == loud


async def test_routes_by_severity_rule_tag_and_entity(settings: Settings, fresh_dsn: str) -> None:
    config = email_config(25)
    by = {name: add_channel(fresh_dsn, settings, name, "email", config)
          for name in ("severity", "rule", "tag", "entity", "nothing")}
    add_route(fresh_dsn, "critical-only", by["severity"], {"severities": ["critical"]})
    add_route(fresh_dsn, "exfil-rules", by["rule"], {"rules": ["*exfil*"]})
    add_route(fresh_dsn, "brute-force", by["tag"], {"tags": ["attack.t1110*"]})
    add_route(fresh_dsn, "databases", by["entity"], {"entity": {"host.name": "DB-*"}})
    add_route(fresh_dsn, "never", by["nothing"], {"severities": ["low"], "rules": ["no-such-rule"]})
    critical = write_alert(fresh_dsn, severity="critical", rule_id="r-1", title="Privilege escalation",
                           techniques=("T1548.003",), tactics=("privilege-escalation",),
                           entity={"host.name": "web-01"})
    exfil = write_alert(fresh_dsn, rule_id="net-exfil-large", title="Large Outbound Data Transfer",
                        techniques=("T1048",), tactics=("exfiltration",), entity={"host.name": "files-01"})
    brute = write_alert(fresh_dsn, entity={"host.name": "db-01"})
    async with notifier(settings, fresh_dsn) as n:
        await n.step(T0)
    got: dict[int, set[int]] = {}
    for channel_id, _, _, _, payload in outbox(fresh_dsn):
        got.setdefault(channel_id, set()).add(payload["alert"]["alert_id"])
    assert got == {by["severity"]: {critical}, by["rule"]: {exfil}, by["tag"]: {brute}, by["entity"]: {brute}}


async def test_two_routes_to_one_channel_send_one_message(settings: Settings, fresh_dsn: str) -> None:
    channel = add_channel(fresh_dsn, settings, "mail", "email", email_config(25))
    add_route(fresh_dsn, "all", channel)
    add_route(fresh_dsn, "critical", channel, {"severities": ["critical"]})
    write_alert(fresh_dsn, severity="critical")
    async with notifier(settings, fresh_dsn) as n:
        await n.step(T0)
    assert len(outbox(fresh_dsn)) == 1


async def test_failures_are_retried_with_backoff_then_dead_lettered(settings: Settings, fresh_dsn: str) -> None:
    """A receiver answering 500: tries at T0, T0+10 s, T0+30 s (base 10 s, doubling), then dead;
    visible in the health counters; a retry of the dead letter sends it again."""
    async with http_receiver(status=500) as (receiver, url):
        channel = add_channel(fresh_dsn, settings, "hook", "webhook", {"kind": "webhook", "url": url})
        add_route(fresh_dsn, "all", channel)
        write_alert(fresh_dsn)
        async with notifier(settings, fresh_dsn, max_attempts=3, retry_base=10.0) as n:
            await n.step(T0)
            assert await n.deliver_due(T0) == 1
            assert await n.deliver_due(T0 + timedelta(seconds=9)) == 0  # not due yet
            assert await n.deliver_due(T0 + timedelta(seconds=10)) == 1
            assert await n.deliver_due(T0 + timedelta(seconds=29)) == 0
            assert await n.deliver_due(T0 + timedelta(seconds=30)) == 1
            assert await n.deliver_due(T0 + timedelta(days=1)) == 0  # dead: never tried again
            await n.refresh_health(T0)
            health = n.health()
            assert len(receiver.requests) == 3
            [(_, _, status, attempts, _)] = outbox(fresh_dsn)
            assert (status, attempts) == ("dead", 3)
            assert health["dead"] == 1 and health["dead_lettered"] == 1 and health["failed_tries"] == 3
            assert "HTTP 500" in health["dead_by_channel"]["hook"]["last_error"]
            receiver.status = 200
            [[outbox_id]] = rows(fresh_dsn, "SELECT id FROM notify_outbox")
            assert await retry_dead(n.pool, outbox_id)
            assert await n.deliver_due(datetime.now(UTC)) == 1  # a retry is due at once (wall clock)
    assert outbox(fresh_dsn)[0][2] == "sent" and len(receiver.requests) == 4


async def test_a_permanent_failure_is_dead_at_once(settings: Settings, fresh_dsn: str) -> None:
    async with smtp_server(behaviour="refuse") as (_, port):
        channel = add_channel(fresh_dsn, settings, "mail", "email", email_config(port))
        add_route(fresh_dsn, "all", channel)
        write_alert(fresh_dsn)
        async with notifier(settings, fresh_dsn, max_attempts=8) as n:
            await n.step(T0)
            await n.deliver_due(T0)
    [(_, _, status, attempts, _)] = outbox(fresh_dsn)
    assert (status, attempts) == ("dead", 1)


async def test_a_restart_with_a_full_outbox_delivers_everything_once(settings: Settings, fresh_dsn: str) -> None:
    """30 alerts routed while the mail server is away (one failed try each), then the process
    ends; a new notifier (new pool) delivers every one exactly once when the server is back."""
    channel = add_channel(fresh_dsn, settings, "mail", "email", email_config(1))  # nothing listens on port 1
    add_route(fresh_dsn, "all", channel)
    alerts = {write_alert(fresh_dsn) for _ in range(30)}
    async with notifier(settings, fresh_dsn, throttle_limit=0, concurrency=8) as n:
        assert await n.step(T0) == 30
        assert await n.deliver_due(T0) == 30
    assert {r[2] for r in outbox(fresh_dsn)} == {"pending"}
    async with smtp_server() as (box, port):
        with psycopg.connect(fresh_dsn) as conn:
            conn.execute("UPDATE notify_channels SET config = jsonb_set(config, '{port}', to_jsonb(%s::int))", (port,))
        async with notifier(settings, fresh_dsn, throttle_limit=0, concurrency=8) as again:
            assert await again.step(T0 + timedelta(minutes=5)) == 0
            assert await again.deliver_due(T0 + timedelta(minutes=5)) == 30
            assert await again.deliver_due(T0 + timedelta(hours=5)) == 0
        mails = await box.wait(30)
    ids = [int(m["Subject"].split("web-")[0] and m.get_body(preferencelist=("plain",)).get_content()
               .split("/alerts/")[1].split()[0]) for m in mails]
    assert sorted(ids) == sorted(alerts)


async def test_a_digest_sends_one_message_when_its_window_ends(settings: Settings, fresh_dsn: str) -> None:
    async with smtp_server() as (box, port):
        channel = add_channel(fresh_dsn, settings, "mail", "email", email_config(port))
        add_route(fresh_dsn, "daily-ish", channel, mode="digest", digest_minutes=15)
        for severity in ("low", "low", "medium", "critical", "critical"):
            write_alert(fresh_dsn, severity=severity)
        async with notifier(settings, fresh_dsn) as n:
            assert await n.step(T0 + timedelta(minutes=1)) == 5
            assert outbox(fresh_dsn) == []
            await n.step(T0 + timedelta(minutes=14, seconds=59))
            assert outbox(fresh_dsn) == []
            await n.step(T0 + timedelta(minutes=15))
            [(_, kind, _, _, payload)] = outbox(fresh_dsn)
            assert kind == "digest" and payload["total"] == 5
            assert payload["by_severity"] == {"low": 2, "medium": 1, "critical": 2}
            await n.deliver_due(T0 + timedelta(minutes=15))
            [mail] = await box.wait(1)
    assert mail["Subject"] == "[Guetteur] Digest: 5 alert change(s)"
    assert "https://soc.example/alerts" in mail.get_body(preferencelist=("plain",)).get_content()
    assert rows(fresh_dsn, "SELECT count(*) FROM notify_pending") == [(0,)]


@pytest.mark.slow
async def test_a_storm_of_100000_alerts_sends_the_limit_then_one_summary(settings: Settings, fresh_dsn: str) -> None:
    """100,000 alerts created in a minute: `throttle_limit` mails, then one summary at the end of the
    window saying how many were held and where to see them; memory stays bounded (batches)."""
    async with smtp_server() as (box, port):
        channel = add_channel(fresh_dsn, settings, "mail", "email", email_config(port))
        add_route(fresh_dsn, "all", channel)
        storm(fresh_dsn, 100_000)
        async with notifier(settings, fresh_dsn, throttle_limit=5, throttle_window=600, batch_size=2000) as n:
            tracemalloc.start()
            try:
                assert await n.step(T0) == 100_000
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert peak < 64 * 1024 * 1024
            assert [r[1] for r in outbox(fresh_dsn)] == ["alert"] * 5
            [(total, sample)] = rows(fresh_dsn, "SELECT total, jsonb_array_length(sample) FROM notify_pending")
            assert (total, sample) == (99_995, 20)
            await n.step(T0 + timedelta(seconds=599))
            assert len(outbox(fresh_dsn)) == 5
            await n.step(T0 + timedelta(seconds=600))
            kinds = [r[1] for r in outbox(fresh_dsn)]
            assert kinds == ["alert"] * 5 + ["summary"]
            await n.deliver_due(T0 + timedelta(seconds=600))
            mails = await box.wait(6)
    [summary] = [m for m in mails if "held back" in m["Subject"]]
    assert summary["Subject"] == "[Guetteur] 99995 alert notification(s) held back"
    text = summary.get_body(preferencelist=("plain",)).get_content()
    assert "critical: 99995" in text and "https://soc.example/alerts" in text and "... and 99975 more" in text


async def test_a_notify_from_the_alert_manager_wakes_the_notifier(settings: Settings, fresh_dsn: str) -> None:
    pool = await open_pool(app_dsn(fresh_dsn), max_size=2)
    try:
        n = Notifier(notify_settings(settings, poll_interval=60), pool, app_dsn(fresh_dsn))
        task = asyncio.create_task(n._listen())
        try:
            async with asyncio.timeout(30):
                while not n._wake.is_set():
                    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
                        conn.execute("SELECT pg_notify('guetteur_alerts', '1')")
                    await asyncio.sleep(0.2)
        finally:
            task.cancel()
    finally:
        await pool.close()
