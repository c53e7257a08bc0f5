"""Schemathesis against the whole `/api/openapi.json`: requests generated from the schema, sent with
the credential each route declares (an admin for people's routes, the ingest key for ingest routes),
never get a server error. The search routes have a deeper run of their own over a seeded data set
(`test_search_schemathesis.py`); here every other operation gets a few examples each."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from tests.api.people import Person, add_user, login
from tests.api.test_route_roles import schema_routes
from tests.api.test_search_schemathesis import SEARCH_PATHS

from guetteur.api.bad_values import value_refused
from guetteur.config import AuthSettings, Settings

EXAMPLES = 8
# Operations that end the fuzzing admin's own session or password are called by the role test instead.
SKIPPED = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/password"), ("POST", "/api/v1/auth/totp"),
           ("POST", "/api/v1/auth/totp/confirm")}


class Credentials:
    """The header each access level is called with; the admin logs in again whenever a generated
    request revoked its session (a user change, a disabled account...)."""

    def __init__(self, base_url: str, admin: Person, ingest_key: str) -> None:
        self.base_url = base_url
        self.admin = admin
        self.ingest = {"Authorization": f"Bearer {ingest_key}"}
        self.token: dict[str, str] = {}

    def _admin(self) -> dict[str, str]:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            if self.token and http.get("/api/v1/auth/me", headers=self.token).status_code == 200:
                return self.token
            response = asyncio.run(_login(self.base_url, self.admin))
            assert response.status_code == 200, response.text
            self.token = {"Authorization": f"Bearer {response.json()['access_token']}"}
            return self.token

    def for_access(self, access: str) -> dict[str, str]:
        if access == "public":
            return {}
        if access == "ingest":
            return self.ingest
        return self._admin()


async def _login(base_url: str, person: Person) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        return await login(http, person)


def _check(operation: Any, base_url: str, headers: Callable[[], dict[str, str]], failures: list[str]) -> None:
    """A few generated requests to one operation; server errors are added to `failures`."""

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
              database=None)
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers(), timeout=30)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200}: "
                            f"{response.status_code} {response.text[:200]}")

    run()


def fuzz(base_url: str, access: dict[tuple[str, str], str], credentials: Credentials) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    checked = []
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if operation.path.startswith(SEARCH_PATHS) or key in SKIPPED:
            continue
        level = access[key]
        checked.append(f"{key[0]} {key[1]} ({level})")
        _check(operation, base_url, functools.partial(credentials.for_access, level), failures)
    assert not failures, "\n".join(failures)
    return checked


async def test_no_server_error_on_any_route(settings: Settings, make_running: Any) -> None:
    settings.auth = AuthSettings(require_totp_for_admins=False, rate_per_second=10_000, rate_burst=10_000,
                                 login_free_failures=10_000, address_free_failures=10_000)
    access = {(method, path): level for method, path, level in schema_routes(settings)}
    async with make_running() as running:
        admin = add_user(running.owner_dsn, "fuzz-admin", "admin")
        credentials = Credentials(str(running.info["api"]), admin, running.ingest_key)
        checked = await asyncio.to_thread(fuzz, str(running.info["api"]), access, credentials)
        assert len(checked) >= 40, checked


def test_a_value_postgresql_refuses_is_a_422_not_a_500(pg_dsn: str) -> None:
    """What only the database can judge (a NUL in text, a number beyond a column's range) comes
    back as 422 with PostgreSQL's reason, through the handler every app registers."""
    app = FastAPI()
    app.add_exception_handler(psycopg.DataError, value_refused)

    @app.get("/cast")
    def cast(value: str, kind: str) -> list[Any]:
        with psycopg.connect(pg_dsn) as conn:
            return list(conn.execute("SELECT %s::text, %s::smallint", (value, 1) if kind == "text" else ("x", value))
                        .fetchall()[0])

    with TestClient(app) as client:
        assert client.get("/cast", params={"value": "fine", "kind": "text"}).json() == ["fine", 1]
        nul = client.get("/cast", params={"value": "a\x00b", "kind": "text"})
        assert nul.status_code == 422 and "cannot be stored" in nul.json()["detail"]
        huge = client.get("/cast", params={"value": str(10**30), "kind": "number"})
        assert huge.status_code == 422 and "out of range" in huge.json()["detail"]
