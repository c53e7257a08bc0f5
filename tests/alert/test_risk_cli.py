"""`guetteur risk top` on a real database: the riskiest entities with their scores."""

from __future__ import annotations

import asyncio
import json

import pytest
from risk_helpers import hit, rig
from typer.testing import CliRunner

from guetteur.cli import app


async def _score(dsn: str) -> None:
    async with rig(dsn, users={"pacs-*": "extreme"}) as r:
        await r.feed(hit("r-crit", "critical", ["attack.t1110.001"], hours=0, entity={"host.name": "web-01"}),
                     hit("r-disc", "medium", ["attack.discovery"], hours=1, entity={"host.name": "web-01"}),
                     hit("r-disc", "medium", ["attack.discovery"], hours=1, entity={"user.name": "pacs-admin"}))


def test_risk_top_lists_the_riskiest_entities(fresh_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_score(fresh_dsn))  # a sync test: the command runs its own event loop
    monkeypatch.setenv("GUETTEUR_DATABASE_URL", fresh_dsn)
    monkeypatch.setenv("GUETTEUR_RISK__USERS", '{"pacs-*": "extreme"}')
    runner = CliRunner()
    result = runner.invoke(app, ["risk", "top", "--at", "2026-12-01T12:00:00", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    # web-01: 99 and 40 -> 43.31; pacs-admin: 40 on an extreme user -> the hit scores 57, 100*57/261.24 = 21.82,
    # x2 as odds -> 35.82
    assert [(e["value"], e["score"], e["criticality"]) for e in lines] == [
        ("web-01", 43.31, "medium"), ("pacs-admin", 35.82, "extreme")]
    users = runner.invoke(app, ["risk", "top", "--at", "2026-12-01T12:00:00", "--field", "user.name", "--json"])
    assert [json.loads(line)["value"] for line in users.stdout.splitlines()] == ["pacs-admin"]
    table = runner.invoke(app, ["risk", "top", "--at", "2026-12-01T12:00:00"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "host.name=web-01" in table.output and "moderate" in table.output
    assert runner.invoke(app, ["risk", "top", "--field", "process.name"]).exit_code == 2
    assert "no entity has risk" in runner.invoke(app, ["risk", "top", "--at", "2020-01-01"]).output
