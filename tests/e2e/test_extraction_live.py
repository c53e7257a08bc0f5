"""Extraction patterns in the live pipeline: the medical API's "ALERTE SOC" lines get their
user and patient through a configured pattern and the IDOR correlation fires on them; a Python
application logging through Debian's rsyslog (RFC 5424 over TCP) keeps its own level."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from guetteur.config import ParseSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
IDOR = "86c49ef5-ba03-423d-99ca-f20fc90c24ab"  # rules/application/collection_api_patient_record_idor.yml


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """Only the user's configured pattern folder: the shipped ones are off, so the IDOR can
    only see the medical line through the configured pattern."""
    folder = tmp_path / "my-patterns"
    folder.mkdir()
    shutil.copy(ROOT / "patterns" / "application" / "medical_api.yml", folder / "medapi.yml")
    return settings.model_copy(update={"parse": ParseSettings(patterns_dirs=[folder], builtin_patterns=False)})


def soc_lines(start: datetime, user: int, patients: list[int]) -> list[str]:
    """The medical API's lines, as it writes them (Python logging, local time = UTC here)."""
    out = []
    for n, patient in enumerate(patients):
        moment = start + timedelta(seconds=n)
        out.append(f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} - WARNING - "
                   f"ALERTE SOC: user {user} accessed patient {patient}")
    return out


def hits_of(dsn: str, rule_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT group_key, event_ids FROM hits WHERE rule_id = %s", (rule_id,)).fetchall()


async def wait_hits(dsn: str, rule_id: str, timeout: float = 30.0) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + timeout
    while True:
        found = await asyncio.to_thread(hits_of, dsn, rule_id)
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_medical_api_lines_fire_the_idor_through_a_configured_pattern(make_running: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    reader = soc_lines(now, 42, list(range(1000, 1022)))  # 22 different patients in 22 s
    carer = soc_lines(now, 7, [2000 + n % 5 for n in range(30)])  # 5 patients, 30 reads
    async with make_running() as running:
        response = await running.ingest(("\n".join(reader + carer) + "\n").encode())
        assert response.status_code in (200, 202), response.text
        await running.wait_stored(len(reader) + len(carer))
        fired = await wait_hits(running.owner_dsn, IDOR)
        with psycopg.connect(running.owner_dsn) as conn:
            stored = conn.execute(
                "SELECT doc->'user'->>'id', doc->'json'->>'patient_id', doc->'event'->>'action', doc->'log'->>'level' "
                "FROM events WHERE original = %s", (reader[0],)).fetchone()
    assert stored == ("42", "1000", "patient.record.read", "warning")
    assert [hit[0] for hit in fired] == [{"api_user": "42"}]  # user 7 read 5 patients: no alert
    assert len(fired[0][1]) >= 20


RSYSLOG_CONF = """\
global(workDirectory="{work}")
module(load="imfile" mode="polling" PollingInterval="1")
input(type="imfile" File="{log}" Tag="medapi" Severity="notice" Facility="user")
action(type="omfwd" Target="127.0.0.1" Port="{port}" Protocol="tcp"
       Template="RSYSLOG_SyslogProtocol23Format"
       action.resumeRetryCount="-1" queue.type="LinkedList" queue.size="10000")
"""


async def test_python_app_through_rsyslog_keeps_its_level(make_running: Any, tmp_path: Path) -> None:
    """Debian's rsyslog reads the application's log file (imfile) and forwards RFC 5424 over
    TCP: every line is stored, parsed as Python logging (its own level and time), with the
    envelope's host and program, and the pattern's user and patient."""
    rsyslogd = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None)
    if rsyslogd is None:
        pytest.skip("rsyslogd is not installed (Debian package rsyslog)")
    work = tmp_path / "rsyslog"
    work.mkdir()
    app_log = tmp_path / "medapi.log"
    app_log.write_text("")
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    lines = soc_lines(now, 42, list(range(3000, 3200)))
    lines += [f"{now:%Y-%m-%d %H:%M:%S},000 - ERROR - database unavailable, retry {n}" for n in range(200)]
    async with make_running() as running:
        conf = tmp_path / "rsyslog.conf"
        conf.write_text(RSYSLOG_CONF.format(work=work, log=app_log, port=running.tcp[1]))
        proc = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            await asyncio.sleep(1.5)  # imfile has seen the empty file: what follows is new
            with app_log.open("a") as out:
                out.write("\n".join(lines) + "\n")
            await running.wait_stored(len(lines), timeout=90)
        finally:
            proc.terminate()
            output = proc.communicate(timeout=30)[0].decode(errors="replace")
        with psycopg.connect(running.owner_dsn) as conn:
            rows = conn.execute(
                "SELECT doc->'event'->>'dataset', doc->'log'->>'level', doc->'process'->>'name', "
                "doc->'log'->'syslog'->>'appname', doc->'user'->>'id', count(*) FROM events "
                "GROUP BY 1, 2, 3, 4, 5 ORDER BY 6 DESC").fetchall()
    assert sum(r[5] for r in rows) == len(lines), (rows, output)
    assert sorted(rows) == sorted([
        ("python_logging", "warning", "medapi", "medapi", "42", 200),
        ("python_logging", "error", "medapi", "medapi", None, 200),
    ]), output
