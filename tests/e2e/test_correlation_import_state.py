"""Issue 8, item 2: `guetteur import` has correlation windows of its own. After a server has
run, an import finds the correlations of its file (as `hunt` does on the same file), never
continues a window of the live server, and leaves the live snapshot ('main') as it was."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from tests.e2e.conftest import send_tcp
from tests.e2e.correlation_live_helpers import (
    SSH_BRUTE_FORCE,
    SSH_LOGIN_AFTER_BRUTE_FORCE,
    accepted_line,
    burst,
    correlation_hits,
    failed_line,
    wait_correlation_hits,
)

from guetteur.cli.commands_ingest import run_import
from guetteur.detect.hunt import run_hunt
from guetteur.pipeline.detection import load_ruleset


def live_snapshot(dsn: str) -> tuple[Any, ...] | None:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT saved_at, groups, data FROM correlation_state WHERE engine = 'main'").fetchone()


def correlation_alerts(dsn: str) -> Counter[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT rule_id, count(*) FROM hits WHERE correlation IS NOT NULL GROUP BY 1").fetchall()
    return Counter({rule_id: count for rule_id, count in rows})


async def test_import_after_a_server_ran_has_its_own_correlation_windows(make_running: Any, tmp_path: Path) -> None:
    """The server leaves windows and stream clocks at "now" in 'main', and 4 failures from .40
    in an open window. The import of a file dated 3 hours earlier (20 failures then a success
    from .50, and one more failure from .40) raises what hunt raises on that file; it does not
    complete the live .40 window; 'main' is byte for byte what the server saved."""
    now = datetime.now(UTC)
    async with make_running() as running:
        live = burst(now, "203.0.113.30") + burst(now, "198.51.100.40", count=4)
        await asyncio.to_thread(send_tcp, running.tcp, "".join(live).encode())
        await running.wait_stored(24)
        assert await wait_correlation_hits(running.owner_dsn, SSH_BRUTE_FORCE, "203.0.113.30") >= 1
        settings = running.settings
    dsn = running.owner_dsn
    before = live_snapshot(dsn)
    assert before is not None and before[1] >= 1  # the server saved its open windows
    alerts_before = correlation_alerts(dsn)

    earlier = now - timedelta(hours=3)
    lines = burst(earlier, "203.0.113.50") + [accepted_line(earlier + timedelta(seconds=30), "203.0.113.50"),
                                               failed_line(now, "198.51.100.40", port=4999)]
    path = tmp_path / "auth.log"
    path.write_text("".join(lines))
    totals = await run_import(settings, [path], None, progress=False)
    assert totals["stored"] == len(lines)

    imported = correlation_alerts(dsn) - alerts_before
    hunted = Counter(h.rule_id for h in run_hunt([path], load_ruleset([])).hits if h.correlation)
    assert imported == hunted  # the same correlations as hunt finds in the file alone
    assert imported[SSH_LOGIN_AFTER_BRUTE_FORCE] == 1 and imported[SSH_BRUTE_FORCE] >= 1
    assert correlation_hits(dsn, SSH_BRUTE_FORCE, "198.51.100.40") == 0  # 4 live + 1 imported: not joined
    assert live_snapshot(dsn) == before  # neither restored-and-resaved nor overwritten
