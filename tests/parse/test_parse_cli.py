"""`guetteur parse --explain` and `--patterns`, run as the real command (a process of its own:
the command configures the process's parsers and patterns)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MEDICAL = "2026-04-06 16:21:41,594 - WARNING - ALERTE SOC: user 42 accessed patient 17"


def guetteur_parse(tmp_path: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "guetteur", "parse", *args, "-"], input=stdin, text=True,
                          capture_output=True, cwd=tmp_path, timeout=120, check=False)


def test_explain_names_the_parser_the_pattern_and_what_each_set(tmp_path: Path) -> None:
    done = guetteur_parse(tmp_path, "--explain", stdin=MEDICAL + "\nnothing known here\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    first, second = out.split("# record: ")[1:]
    assert "#   parser: python_logging" in first
    assert '#     log.level = "warning"' in first
    assert "#   pattern: medical_api_soc_access (" in first and "medical_api.yml)" in first
    assert '#     user.id = "42"' in first and "#     json.patient_id = 17" in first
    assert '#     event.action = "patient.record.read"' in first
    event = json.loads(first.strip().splitlines()[-1])  # the event follows its explanation
    assert event["user"] == {"id": "42"}
    assert "#   parser: unparsed" in second and "#   patterns: none matched" in second


def test_patterns_option_loads_a_users_file_and_reports_bad_ones(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yml"
    mine.write_text('name: shipping\ndissect: "parcel %{labels.parcel} to %{labels.city}"\n'
                    '---\nname: broken\nregex: "(?P<x>(a+)+)"\n')
    done = guetteur_parse(tmp_path, "--patterns", str(mine), stdin="parcel 881 to Lyon\n")
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout)
    assert event["labels"] == {"parcel": "881", "city": "Lyon"}
    assert event["guetteur"]["patterns"] == ["shipping"]
    assert "pattern not loaded" in done.stderr + done.stdout
    assert "broken" in done.stderr + done.stdout
