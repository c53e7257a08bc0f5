"""Every log family imports through the real pipeline (`guetteur import`) and through HTTP,
auto-detected, into parsed events: real public samples, not made-up lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from guetteur.cli.commands_ingest import run_import

LOGS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "logs"

# family -> sample files (relative to shared/data/logs), every line of which a parser knows
SAMPLES = {
    "linux": ["crowdsec-hub/tests/sshd-logs/sshd-logs.log", "crowdsec-hub/tests/syslog-logs/syslog-logs.log"],
    "web": ["crowdsec-hub/tests/nginx_http-logs/nginx_http-logs.log"],
    "database": ["crowdsec-hub/tests/pgsql-logs/pgsql-logs.log", "crowdsec-hub/tests/mysql-logs/mysql-logs.log"],
    "network": ["crowdsec-hub/tests/iptables-logs/iptables-logs.log",
                "crowdsec-hub/tests/suricata-logs-evelog/suricata-logs-evelog.log"],
    "windows": ["windows-evtx/deepbluecli/password-spray.evtx"],
}


def _paths(family: str) -> list[Path]:
    paths = [LOGS / p for p in SAMPLES[family]]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"shared samples absent: {missing[0]}")
    return paths


@pytest.mark.parametrize("family", sorted(SAMPLES))
async def test_family_imports_parsed_and_stored(family: str, make_running: Any) -> None:
    paths = _paths(family)
    async with make_running() as running:
        settings = running.settings
    totals = await run_import(settings, paths, None, progress=False)
    assert totals["received"] > 0
    assert totals["received"] == totals["stored"] + totals["merged"]
    assert totals["unparsed"] == 0, f"{family}: {totals}"
    with psycopg.connect(running.owner_dsn) as conn:
        rows = conn.execute(
            "SELECT doc->'event'->>'module', count(*) FROM events GROUP BY 1").fetchall()
    modules = {module for module, _count in rows}
    assert family in modules, rows


async def test_families_over_http_are_detected_without_hint(make_running: Any) -> None:
    lines: list[bytes] = []
    for family in ("linux", "web", "database", "network"):
        for path in _paths(family):
            lines.extend(line for line in path.read_bytes().splitlines() if line.strip())
    async with make_running() as running:
        for start in range(0, len(lines), 500):
            response = await running.ingest(b"\n".join(lines[start:start + 500]))
            assert response.status_code == 202
        health = await running.wait_stored(len(lines))
    assert health["totals"]["unparsed"] == 0
    assert health["totals"]["stored"] == len(lines)
