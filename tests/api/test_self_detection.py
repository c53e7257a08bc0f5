"""Guetteur watches itself: failed logins on its own API are ECS events (`guetteur.audit`) that the
built-in rules read like any application's, so guessing passwords on the SIEM raises detections."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
from tests.api.people import add_user

LOGIN = "/api/v1/auth/login"
BRUTE_FORCE = "d8f0ca55-965c-42d8-9602-0fb352128ebd"  # Application Login Brute Force
SPRAYING = "9c4e7a1d-3f62-4b8e-a0d5-6e2b8f1c7a34"  # Guetteur Console Password Spraying


async def _hits(owner_dsn: str, rule_id: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(owner_dsn) as conn:
            rows = conn.execute("SELECT group_key FROM hits WHERE rule_id = %s", (rule_id,)).fetchall()
        if rows or time.monotonic() > deadline:
            return [row[0] for row in rows]
        await asyncio.sleep(0.2)


async def test_guessing_one_account_raises_the_application_brute_force(make_running: Any) -> None:
    """Five wrong passwords for one account from one address: one brute-force hit grouped by that
    account and address (the fifth answer is already the backoff's 429: it is audited too)."""
    async with make_running() as running:
        add_user(running.owner_dsn, "dr.martin", "analyst")
        codes = [(await running.http.post(LOGIN, json={"username": "dr.martin", "password": f"guess {i}"})).status_code
                 for i in range(6)]
        assert codes[:5] == [401] * 5 and codes[5] == 429
        hits = await _hits(running.owner_dsn, BRUTE_FORCE)
        assert hits == [{"source.ip": "127.0.0.1", "user.name": "dr.martin"}]
        assert await _hits(running.owner_dsn, SPRAYING, timeout=0) == []


async def test_trying_many_account_names_raises_the_console_password_spraying(make_running: Any) -> None:
    """Five different (unknown) account names from one address: one spraying hit for that address;
    four names are not enough."""
    async with make_running() as running:
        for name in ("admin", "root", "soc", "analyst"):
            assert (await running.http.post(LOGIN, json={"username": name, "password": "Winter2026!"})).status_code == 401
        await running.wait_stored(4)
        assert await _hits(running.owner_dsn, SPRAYING, timeout=2) == []
        assert (await running.http.post(LOGIN, json={"username": "guetteur", "password": "Winter2026!"})).status_code == 401
        assert await _hits(running.owner_dsn, SPRAYING) == [{"source.ip": "127.0.0.1"}]
