"""`guetteur rules enable|disable`: the operator's switch, kept in data_dir/rules/switches.json,
read back by `rules list` (as the pipeline reads it) and written to the audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from guetteur.cli import app

runner = CliRunner()
RULE_ID = "6a0c5a52-4f7c-4c4b-9a43-0000000000f1"
RULE = f"""
title: Switch me
id: {RULE_ID}
name: switch_me
level: low
logsource: {{product: linux, service: sshd}}
detection:
    selection:
        event.outcome: failure
    condition: selection
"""


def _enabled(rule_id: str) -> bool:
    result = runner.invoke(app, ["rules", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    return {r["id"]: r["enabled"] for r in json.loads(result.stdout)["data"]}[rule_id]


def test_disable_then_enable_by_name(tmp_path: Path, fresh_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disabling by name switches the rule's id off (listed off, audited); enabling turns it
    back on; an unknown rule is an error that writes nothing."""
    local = tmp_path / "data" / "rules" / "local"
    local.mkdir(parents=True)
    (local / f"{RULE_ID}.yml").write_text(RULE)
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    monkeypatch.setenv("GUETTEUR_RULES_DIR", str(builtin))
    monkeypatch.setenv("GUETTEUR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GUETTEUR_DATABASE_URL", fresh_dsn)
    monkeypatch.delenv("GUETTEUR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)

    assert _enabled(RULE_ID) is True
    off = runner.invoke(app, ["rules", "disable", "switch_me"])
    assert off.exit_code == 0, off.output
    switches = tmp_path / "data" / "rules" / "switches.json"
    assert json.loads(switches.read_text()) == {RULE_ID: False}
    assert _enabled(RULE_ID) is False
    on = runner.invoke(app, ["rules", "enable", RULE_ID])
    assert on.exit_code == 0, on.output
    assert json.loads(switches.read_text()) == {RULE_ID: True} and _enabled(RULE_ID) is True
    unknown = runner.invoke(app, ["rules", "disable", "no-such-rule"])
    assert unknown.exit_code == 1 and json.loads(switches.read_text()) == {RULE_ID: True}
    with psycopg.connect(fresh_dsn) as conn:
        rows = conn.execute("SELECT actor, action, target FROM audit_log ORDER BY seq").fetchall()
    assert rows == [("cli", "rule.disable", RULE_ID), ("cli", "rule.enable", RULE_ID)]
