"""Helpers for tests of people on the API: users straight into the store, logins over HTTP."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pyotp

from guetteur.auth.passwords import hash_password
from guetteur.store.users import create_user_sync

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    name: str
    password: str
    totp_secret: str | None = None

    def code(self) -> str:
        """A TOTP code of a step not used yet (codes are accepted once: wait for the next step
        when this one was used by a previous login)."""
        assert self.totp_secret is not None
        totp = pyotp.TOTP(self.totp_secret)
        step = int(time.time() // 30)
        used = getattr(self, "_last_step", None)
        if used is not None and used >= step:
            time.sleep((used + 1) * 30 - time.time() + 0.05)
            step = used + 1
        self._last_step = step
        return totp.at(step * 30)


def add_user(owner_dsn: str, name: str, role: str, *, totp: bool = False) -> Person:
    """A user created in the store (as `guetteur users create` does), with a confirmed TOTP
    second factor when `totp`."""
    create_user_sync(owner_dsn, name, role, hash_password(PASSWORD))
    secret = pyotp.random_base32() if totp else None
    if secret is not None:
        with psycopg.connect(owner_dsn) as conn:
            conn.execute("UPDATE users SET totp_secret = %s WHERE name = %s", (secret, name))
    return Person(name, PASSWORD, secret)


async def login(http: httpx.AsyncClient, person: Person, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"username": person.name, "password": person.password, **extra}
    if person.totp_secret is not None and "totp" not in extra:
        body["totp"] = person.code()
    return await http.post("/api/v1/auth/login", json=body)


async def bearer(http: httpx.AsyncClient, person: Person) -> dict[str, str]:
    """The Authorization header of a fresh login of `person`."""
    response = await login(http, person)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def tamper(owner_dsn: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    """As the owner with triggers off (what an intruder with database access would do)."""
    with psycopg.connect(owner_dsn) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(statement.encode(), params)
