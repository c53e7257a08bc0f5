"""New and changed alerts are pushed on the live stream (`/api/v1/stream`, type `alert`)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import websockets
from tests.alert.alert_helpers import hit, store_hits
from tests.api.people import add_user, bearer

GROUP = {"host.name": "web-01", "source.ip": "203.0.113.7", "user.name": "deploy"}


async def alert_messages(ws: Any, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def run() -> None:
        while len(found) < count:
            message = orjson.loads(await ws.recv())
            if message["type"] == "alert":
                found.append(message)

    await asyncio.wait_for(run(), timeout)
    return found


async def test_created_updated_and_triaged_alerts_reach_the_stream(make_running: Any) -> None:
    async with make_running() as running:
        analyst = await bearer(running.http, add_user(running.owner_dsn, "anna", "analyst"))
        url = str(running.info["api"]).replace("http://", "ws://") + f"/api/v1/stream?token={running.read_key}"
        async with websockets.connect(url) as ws:
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "ready"
            await asyncio.sleep(1.5)  # the hub's first look sets where "new" starts
            store_hits(running.owner_dsn, [hit(at=0, group=GROUP)])
            [created] = await alert_messages(ws, 1)
            store_hits(running.owner_dsn, [hit(at=5, group=GROUP)])
            [updated] = await alert_messages(ws, 1)
            response = await running.http.patch(f"/api/v1/alerts/{created['alert']['id']}",
                                                json={"status": "acknowledged"}, headers=analyst)
            assert response.status_code == 200
            [acknowledged] = await alert_messages(ws, 1)
        health = (await running.health())["alerts"]
    assert health["hits"] == 2 and health["alerts_created"] == 1 and health["last_error"] is None
    assert (created["action"], created["actor"], created["alert"]["count"]) == ("created", "system", 1)
    assert created["alert"]["severity"] == "medium" and created["alert"]["entity"] == GROUP
    assert (updated["action"], updated["alert"]["count"]) == ("updated", 2)
    assert (acknowledged["action"], acknowledged["actor"], acknowledged["alert"]["status"]) == (
        "acknowledged", "anna", "acknowledged")
