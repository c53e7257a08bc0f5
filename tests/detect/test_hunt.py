"""`guetteur hunt` over real files: EVTX, text logs, garbage; table and JSON output."""

from __future__ import annotations

import io
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


def brute_force_log(tmp_path: Path) -> Path:
    """20 failed SSH logins from one address, then its successful login: the built-in pack's
    chained correlation "SSH Login After Brute Force" fires through two steps that do not alert
    by themselves (the failure burst is a correlation, the accepted login a base rule)."""
    lines = [f"Mar  1 10:00:{i:02d} srv sshd[101]: Failed password for root from 203.0.113.10 port {4000 + i} ssh2"
             for i in range(20)]
    lines.append("Mar  1 10:00:30 srv sshd[101]: Accepted password for root from 203.0.113.10 port 4999 ssh2")
    path = tmp_path / "auth.log"
    path.write_text("\n".join(lines) + "\n")
    return path


BURST_STEP = "0313ad75-7e62-484d-88c7-760a4253a5dc"  # "SSH Failure Burst Before Success"


def test_hunt_summary_titles_correlation_steps(tmp_path: Path) -> None:
    """A correlation that only feeds another one (no alert of its own) is listed under its
    title, level and kind, not as `?` with its id for a title."""
    from guetteur.cli.hunt_report import summary_table
    from guetteur.detect.rules import default_rule_paths

    result = run_hunt([brute_force_log(tmp_path)], load_rules(default_rule_paths()))
    assert result.by_rule[BURST_STEP] >= 1
    seen = result.rules[BURST_STEP]
    assert (seen.title, seen.level, seen.correlation, seen.alert) == (
        "SSH Failure Burst Before Success", "medium", "event_count", False)
    assert set(result.rules) == set(result.by_rule)
    table = summary_table(result)
    assert table is not None
    levels = [str(cell) for cell in table.columns[1].cells]
    assert "?" not in levels


def test_hunt_output_is_readable_at_80_columns(tmp_path: Path) -> None:
    """Every hit block and the summary fit an 80-column console, and every rule's title is
    on one line of its own (not folded a word per line)."""
    from rich.console import Console

    from guetteur.cli.hunt_report import hit_block, print_summary
    from guetteur.detect.rules import default_rule_paths

    result = run_hunt([brute_force_log(tmp_path)], load_rules(default_rule_paths()))
    assert len(result.hits) >= 2
    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    for hit in result.hits:
        console.print(hit_block(hit))
    print_summary(console, result)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    for rule_id, seen in result.rules.items():
        assert any(seen.title in line for line in lines), seen.title
        assert any(rule_id in line for line in lines), rule_id


def test_hunt_command_at_80_columns(tmp_path: Path) -> None:
    """`guetteur hunt` itself, its output captured at COLUMNS=80: no line is wider, the
    summary has no `?` row, the correlation step is named."""
    runner = CliRunner()
    out = runner.invoke(app, ["hunt", str(brute_force_log(tmp_path))], env={"COLUMNS": "80"})
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "SSH Failure Burst Before Success" in out.stdout
    assert "SSH Login After Brute Force" in out.stdout
    assert not any(" ? " in line for line in lines)


def test_detect_package_imports_no_cli() -> None:
    """`detect/` is a library: no module in it imports `guetteur.cli`, typer or rich (the
    hunt command and its rendering live in `cli/`)."""
    import ast

    import guetteur.detect.hunt

    folder = Path(guetteur.detect.hunt.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(("guetteur.cli", "typer", "rich")), f"{path.name} imports {name}"
