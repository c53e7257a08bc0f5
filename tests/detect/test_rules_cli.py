"""`guetteur rules list|validate|test|coverage` through typer's CliRunner."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg
import pytest
from typer.testing import CliRunner

from guetteur import ecs
from guetteur.cli import app

runner = CliRunner()

SSH_FAILED = """
title: SSH failed password
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000a1
name: ssh_failed
status: test
level: low
logsource: {product: linux, service: sshd}
detection:
    selection:
        event.outcome: failure
        event.action: ssh_login
    condition: selection
tags: [attack.credential-access, attack.t1110.001]
"""

BRUTE = """
title: SSH brute force
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000a2
status: stable
level: high
correlation:
    type: event_count
    rules: [ssh_failed]
    group-by: [source.ip]
    timespan: 5m
    condition: {gte: 2}
tags: [attack.t1110]
"""

SUDO = """
title: Sudo to root with odd field
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000a3
status: experimental
level: medium
logsource: {product: linux, service: sudo}
detection:
    selection:
        process.name: sudo
        NoSuchField|contains: whatever
    condition: selection
tags: [attack.t1548.003, attack.stealth, attack.t1086]
"""


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "ssh_failed.yml").write_text(SSH_FAILED)
    (folder / "ssh_brute.yml").write_text(BRUTE)
    (folder / "sudo.yml").write_text(SUDO)
    empty = tmp_path / "builtin"
    empty.mkdir()
    monkeypatch.setenv("GUETTEUR_RULES_DIR", str(empty))  # no built-in pack in these tests
    monkeypatch.setenv("GUETTEUR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GUETTEUR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return folder


def test_list_table_and_filters(rules_dir: Path) -> None:
    result = runner.invoke(app, ["rules", "list", "--rules", str(rules_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["count"] == 3
    by_id = {r["id"]: r for r in data["data"]}
    assert by_id["6a0c5a52-4f7c-4c4b-9a43-0000000000a1"]["attack"] == ["TA0006", "T1110.001"]
    assert by_id["6a0c5a52-4f7c-4c4b-9a43-0000000000a2"]["type"] == "event_count"
    sudo = by_id["6a0c5a52-4f7c-4c4b-9a43-0000000000a3"]
    assert sudo["attack"] == ["T1548.003", "T1059.001"] and sudo["attack_unknown"] == ["stealth"]
    assert sudo["logsource"] == "linux/sudo" and sudo["enabled"] is True

    def ids(*options: str) -> list[str]:
        res = runner.invoke(app, ["rules", "list", "--rules", str(rules_dir), "--format", "json", *options])
        assert res.exit_code == 0, res.output
        return sorted(r["id"][-2:] for r in json.loads(res.stdout)["data"])

    assert ids("--level", "high") == ["a2"]
    assert ids("--min-level", "medium") == ["a2", "a3"]
    assert ids("--tag", "t1110") == ["a1", "a2"]  # sub-techniques count for their parent
    assert ids("--tag", "attack.credential-access") == ["a1"]
    assert ids("--status", "stable") == ["a2"]
    assert ids("--logsource", "sshd") == ["a1"]
    assert ids("--search", "sudo") == ["a3"]

    table = runner.invoke(app, ["rules", "list", "--rules", str(rules_dir)], env={"COLUMNS": "250"})
    assert table.exit_code == 0
    assert "SSH brute force" in table.stdout and "stealth?" in table.stdout


def test_validate_reports_every_bad_rule_with_file_and_reason(rules_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "no_detection.yml").write_text("title: x\nlogsource: {product: linux}\n")
    (bad / "broken.yml").write_text("title: [unclosed\n  : :\n")
    (bad / "bad_modifier.yml").write_text(
        "title: m\nlogsource: {product: linux}\ndetection: {sel: {a|nosuchmodifier: b}, condition: sel}\n"
    )
    (bad / "dangling.yml").write_text(BRUTE.replace("ssh_failed", "missing_rule"))
    (bad / "binary.yml").write_bytes(b"\xff\xfe\x00garbage")
    result = runner.invoke(app, ["rules", "validate", str(bad), str(rules_dir)])
    assert result.exit_code == 1
    for name in ("no_detection.yml", "broken.yml", "bad_modifier.yml", "dangling.yml", "binary.yml"):
        assert any(name in line and line.startswith("error") for line in result.stdout.splitlines()), name
    assert "missing_rule" in result.stdout

    good = runner.invoke(app, ["rules", "validate", str(rules_dir), "--format", "json"])
    assert good.exit_code == 0, good.output
    report = json.loads(good.stdout)
    assert report["errors"] == [] and report["rules"] == 2 and report["correlations"] == 1
    reasons = [w["reason"] for w in report["warnings"]]
    assert any("attack.stealth" in r and "not in ATT&CK 18.1" in r for r in reasons)
    assert any("attack.t1086" in r and "T1059.001" in r for r in reasons)

    strict = runner.invoke(app, ["rules", "validate", "--strict", str(rules_dir)])
    assert strict.exit_code == 1
    missing = runner.invoke(app, ["rules", "validate", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "no such file" in missing.stdout


def test_coverage(rules_dir: Path) -> None:
    result = runner.invoke(app, ["rules", "coverage", "--rules", str(rules_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["coverage"] == {
        "T1059.001": ["6a0c5a52-4f7c-4c4b-9a43-0000000000a3"],
        "T1110": ["6a0c5a52-4f7c-4c4b-9a43-0000000000a2"],
        "T1110.001": ["6a0c5a52-4f7c-4c4b-9a43-0000000000a1"],
        "T1548.003": ["6a0c5a52-4f7c-4c4b-9a43-0000000000a3"],
    }
    cred = next(t for t in data["tactics"] if t["shortname"] == "credential-access")
    assert cred["covered"] == 1 and cred["techniques"][0]["subtechniques"] == ["T1110.001"]
    table = runner.invoke(app, ["rules", "coverage", "--rules", str(rules_dir)], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "Credential Access" in table.stdout and "1/" in table.stdout
    bad = runner.invoke(app, ["rules", "coverage", "--format", "xml"])
    assert bad.exit_code == 2


def _store(dsn: str, docs: list[dict]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT guetteur_ensure_event_partitions(1)")
        for doc in docs:
            conn.execute(
                "INSERT INTO events (id, ts, batch_id, doc) VALUES (%s, %s, 1, %s)",
                (doc["event"]["id"], doc["@timestamp"], orjson.dumps(doc).decode()),
            )


def _ssh(t: float, n: int, outcome: str, ip: str = "203.0.113.9") -> dict:
    return {
        "@timestamp": ecs.iso_utc(t),
        "event": {"id": f"0190f0f0-0000-7000-8000-{n:012d}", "outcome": outcome, "action": "ssh_login",
                  "module": "system", "dataset": "system.auth"},
        "process": {"name": "sshd"},
        "host": {"name": "bastion"},
        "source": {"ip": ip},
        "log": {"syslog": {"appname": "sshd"}},
    }  # fmt: skip


def test_test_replays_stored_events(rules_dir: Path, fresh_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUETTEUR_DATABASE_URL", fresh_dsn)
    now = datetime.now(UTC).timestamp()
    _store(
        fresh_dsn,
        [
            _ssh(now - 300, 1, "failure"),
            _ssh(now - 200, 2, "failure"),
            _ssh(now - 100, 3, "success"),
            _ssh(now - 10 * 86400, 4, "failure"),  # outside --since 7d
        ],
    )
    result = runner.invoke(
        app, ["rules", "test", "ssh_failed", "--rules", str(rules_dir), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["events_replayed"] == 3
    assert report["matches"] == 2, report
    assert report["never_present"] == []
    assert report["events_in_logsource"] == {"linux/*/sshd": 3}

    corr = runner.invoke(
        app,
        [
            "rules",
            "test",
            "6a0c5a52-4f7c-4c4b-9a43-0000000000a2",
            "--rules",
            str(rules_dir),
            "--format",
            "json",
        ],
    )
    assert corr.exit_code == 0, corr.output
    data = json.loads(corr.stdout)
    assert data["matches"] == 1 and data["examples"][0]["group_key"] == {"source.ip": "203.0.113.9"}

    sudo = runner.invoke(
        app, ["rules", "test", str(rules_dir / "sudo.yml"), "--rules", str(rules_dir), "--since", "30d"]
    )
    assert sudo.exit_code == 0, sudo.output
    assert "NoSuchField" in sudo.stdout and "never" in sudo.stdout
    assert "no stored event of this log source" in sudo.stdout

    unknown = runner.invoke(app, ["rules", "test", "no-such-rule", "--rules", str(rules_dir)])
    assert unknown.exit_code == 1
    bad_since = runner.invoke(app, ["rules", "test", "ssh_failed", "--since", "forever"])
    assert bad_since.exit_code == 2
