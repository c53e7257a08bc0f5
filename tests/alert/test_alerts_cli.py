"""`guetteur alerts list|show|ack|close` on a real database."""

from __future__ import annotations

import asyncio
import json

import pytest
from alert_helpers import BRUTE_FORCE, hit, manager, rows, store_hits
from typer.testing import CliRunner

from guetteur.cli import app

GROUP = {"host.name": "web-01", "source.ip": "203.0.113.7", "user.name": "deploy"}


async def _group(dsn: str) -> None:
    async with manager(dsn) as m:
        await m.run_round()


def test_list_show_ack_close(fresh_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store_hits(fresh_dsn, [hit(at=i, group=GROUP) for i in range(3)] + [hit(at=0, group={"host.name": "db-01"})])
    asyncio.run(_group(fresh_dsn))  # a sync test: the commands run their own event loop
    monkeypatch.setenv("GUETTEUR_DATABASE_URL", fresh_dsn)
    runner = CliRunner()
    listed = runner.invoke(app, ["alerts", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    alerts = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted((a["entity"].get("host.name"), a["count"]) for a in alerts) == [("db-01", 1), ("web-01", 3)]
    web = next(a["id"] for a in alerts if a["entity"]["host.name"] == "web-01")
    assert [json.loads(x)["id"] for x in runner.invoke(app, ["alerts", "list", "--host", "web-01", "--json"])
            .stdout.splitlines()] == [web]
    table = runner.invoke(app, ["alerts", "list"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "SSH Brute Force" in table.output and "host.name=web-01" in table.output
    assert runner.invoke(app, ["alerts", "ack", str(web)]).exit_code == 0
    assert runner.invoke(app, ["alerts", "ack", str(web)]).exit_code == 2  # already acknowledged
    assert runner.invoke(app, ["alerts", "close", str(web), "--reason", "maybe"]).exit_code == 2
    assert runner.invoke(app, ["alerts", "close", str(web), "--reason", "true_positive"]).exit_code == 0
    assert runner.invoke(app, ["alerts", "close", "999999", "--reason", "other"]).exit_code == 1
    assert runner.invoke(app, ["alerts", "list", "--status", "nope"]).exit_code == 2
    shown = json.loads(runner.invoke(app, ["alerts", "show", str(web), "--json"]).stdout)
    assert shown["rule_id"] == BRUTE_FORCE and shown["status"] == "closed" and shown["close_reason"] == "true_positive"
    assert [(h["actor"], h["action"]) for h in shown["history"]] == [
        ("system", "created"), ("cli", "acknowledged"), ("cli", "closed")]
    text = runner.invoke(app, ["alerts", "show", str(web)], env={"COLUMNS": "200"}).output
    assert "T1110.001" in text and "cli: closed" in text
    assert runner.invoke(app, ["alerts", "show", "999999"]).exit_code == 1
    assert rows(fresh_dsn, "SELECT actor, action FROM audit_log ORDER BY seq") == [("cli", "alert.change")] * 2
