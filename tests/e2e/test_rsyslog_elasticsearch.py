"""A real shipper's Elasticsearch output against `/es`: Debian's rsyslog with `omelasticsearch`
(bulk mode, Basic authentication with the ingest key as password) following a file of sshd
lines. Every line written is stored once, parsed (its `message` is a raw line). Skipped when
rsyslog or its Elasticsearch module is not installed (`apt-get install rsyslog-elasticsearch`,
which `scripts/setup.sh --test` does as root)."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.api.stored_events import stored

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
MODULES = Path("/usr/lib/x86_64-linux-gnu/rsyslog")
LINES = 2000
LINE = "Apr  6 16:21:41 web1 sshd[{n}]: Failed password for root from 203.0.113.{m} port 2222 ssh2"

pytestmark = pytest.mark.skipif(not Path(RSYSLOGD).exists() or not (MODULES / "omelasticsearch.so").exists(),
                                reason="rsyslog with omelasticsearch is not installed")


def _config(work: Path, followed: Path, api: str, key: str) -> str:
    return f"""
global(workDirectory="{work}")
module(load="imfile" mode="polling" PollingInterval="1")
module(load="omelasticsearch")
input(type="imfile" File="{followed}" Tag="auth" freshStartTail="off")
template(name="ecs" type="list" option.jsonf="on") {{
  property(outname="@timestamp" name="timegenerated" dateFormat="rfc3339" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}}
action(type="omelasticsearch" server="{api}/es" template="ecs"
       searchIndex="logs-rsyslog-default" bulkmode="on" maxbytes="1m" uid="rsyslog" pwd="{key}"
       errorFile="{work}/es-errors.json" action.resumeRetryCount="-1")
"""


async def test_rsyslog_omelasticsearch_ships_every_line(make_running: Any, tmp_path: Path) -> None:
    async with make_running() as running:
        work = tmp_path / "rsyslog"
        work.mkdir()
        followed = tmp_path / "auth.log"
        followed.write_text("".join(LINE.format(n=n, m=n % 200) + "\n" for n in range(LINES)))
        conf = tmp_path / "rsyslog.conf"
        conf.write_text(_config(work, followed, running.info["api"], running.ingest_key))
        proc = subprocess.Popen([RSYSLOGD, "-n", "-f", str(conf), "-i", str(work / "pid"), "-M", str(MODULES)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            health = await running.wait_stored(LINES, timeout=120)
        finally:
            proc.terminate()
            output = proc.communicate(timeout=30)[0].decode(errors="replace")
        assert health["sources"]["es_bulk"]["stored"] == LINES, output
        rows = stored(running.owner_dsn)
        originals = Counter(row["event"]["original"] for row in rows)
        assert len(rows) == LINES and all(count == 1 for count in originals.values())
        assert set(originals) == {LINE.format(n=n, m=n % 200) for n in range(LINES)}
        assert all(row["event"]["dataset"] == "linux_auth" and row["user"]["name"] == "root" for row in rows)
        assert not (work / "es-errors.json").exists(), (work / "es-errors.json").read_text()
