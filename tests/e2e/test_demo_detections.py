"""Each demo attack scenario, sent through the real ports of a running Guetteur, raises the
detections of the built-in pack it is meant to (stored in the `hits` table)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest
from tests.e2e.demo_helpers import EXPECTED, PACK, alerting_rule_id, play_every_scenario

from guetteur.demo import SCENARIOS


async def test_every_demo_scenario_raises_its_detection_live(make_running: Any) -> None:
    if not PACK.is_dir():
        pytest.skip("built-in rule pack absent")
    expected = {name: {alerting_rule_id(PACK / f) for f in files} for name, files in EXPECTED.items()}
    assert set(expected) == set(SCENARIOS)
    async with make_running() as running:
        sent = await play_every_scenario(running)
        await running.wait_stored(sent, timeout=120)
        wanted = set().union(*expected.values())
        deadline = time.monotonic() + 30
        while True:
            with psycopg.connect(running.owner_dsn) as conn:
                fired = {r[0] for r in conn.execute("SELECT DISTINCT rule_id FROM hits").fetchall()}
            if wanted <= fired or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        detection = (await running.health())["detection"]
    missing = {name: sorted(ids - fired) for name, ids in expected.items() if ids - fired}
    assert not missing, f"scenarios without their detection: {missing}; {detection}"
