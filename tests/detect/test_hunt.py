"""`guetteur hunt` over real files: EVTX, text logs, garbage; table and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guetteur.cli import app
from guetteur.detect.hunt import run_hunt
from guetteur.detect.rules import load_rules

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SAMPLE = DATA / "sigma" / "regression_data" / "rules" / "windows" / "process_creation"

SSH_RULE = """
title: SSH invalid user
id: 40000000-0000-0000-0000-000000000001
level: medium
tags: [attack.credential-access, attack.t1110]
logsource: {product: linux, service: sshd}
detection:
  keywords:
    - 'Invalid user'
  condition: keywords
"""


def write_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ssh.yml").write_text(SSH_RULE)
    (rules / "broken.yml").write_text("title: broken\ndetection: {}\n")
    return rules


def test_hunt_text_logs_and_garbage(tmp_path: Path) -> None:
    rules = write_rules(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "auth.log").write_text(
        "Mar  1 10:00:00 srv sshd[101]: Invalid user admin from 203.0.113.5 port 4242\n"
        "Mar  1 10:00:01 srv sshd[101]: Accepted password for bob from 203.0.113.6 port 4243 ssh2\n"
    )
    (logs / "garbage.bin").write_bytes(bytes(range(256)) * 50)
    (logs / "empty.log").write_text("")
    result = run_hunt([logs], load_rules([rules]))
    assert result.events >= 2
    assert [h.rule_id for h in result.hits] == ["40000000-0000-0000-0000-000000000001"]
    assert any("broken" in e.file for e in result.rule_errors)

    runner = CliRunner()
    out = runner.invoke(app, ["hunt", str(logs), "--no-builtin", "--rules", str(rules), "--format", "json"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    assert lines[0]["rule_id"] == "40000000-0000-0000-0000-000000000001"
    assert lines[0]["tags"] == ["attack.credential-access", "attack.t1110"]
    assert "Invalid user" in lines[0]["event"]["event"]["original"]


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="shared test data not available")
def test_hunt_evtx_folder_with_community_rules(tmp_path: Path) -> None:
    rule_dir = DATA / "sigma" / "rules" / "windows" / "process_creation"
    picked = sorted(SAMPLE.iterdir())[:10]
    ids = {next(p.glob("*.evtx")).stem for p in picked if any(p.glob("*.evtx"))}
    runner = CliRunner()
    out = runner.invoke(app, ["hunt", *map(str, picked), "--no-builtin", "--rules", str(rule_dir)])
    assert out.exit_code == 0, out.output
    for rule_id in ids:
        assert rule_id in out.stdout
    assert "hits per rule" in out.stdout


def test_hunt_missing_path_and_bad_format(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["hunt", str(tmp_path / "nope"), "--no-builtin", "--rules", str(tmp_path)])
    assert out.exit_code == 2
    out = runner.invoke(app, ["hunt", str(tmp_path), "--format", "xml"])
    assert out.exit_code != 0
