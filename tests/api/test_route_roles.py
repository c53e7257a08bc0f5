"""Every route of the OpenAPI schema declares who may call it, and answers each kind of caller
as declared: 401 without a credential, 403 for a caller without the right, and neither for one
with it (2xx, or a 4xx about the request itself such as 422 for an empty body)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.routing import APIRoute, iter_route_contexts
from tests.api.people import add_user, bearer

from guetteur.api.app import create_app
from guetteur.api.deps import ACCESS
from guetteur.api.state import AppState
from guetteur.config import Settings

CALLERS = ("nobody", "ingest_key", "read_key", "viewer", "analyst", "admin", "admin_without_totp")
ALLOWED: dict[str, set[str]] = {
    "public": set(CALLERS),
    "person": {"viewer", "analyst", "admin", "admin_without_totp"},
    "viewer": {"read_key", "viewer", "analyst", "admin"},
    "analyst": {"analyst", "admin"},
    "admin": {"admin"},
    "ingest": {"ingest_key"},
}
# routes that end the caller's session run last
LAST = {("POST", "/api/v1/auth/logout")}


def declared_access(route: APIRoute) -> list[str]:
    """The access markers among a route's dependencies (recursively)."""
    found: list[str] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        marker = getattr(dependency.call, ACCESS, None)
        if marker is not None:
            found.append(marker)
        stack.extend(dependency.dependencies)
    return found


def schema_routes(settings: Settings) -> list[tuple[str, str, str]]:
    """(method, path, access) of every operation in the OpenAPI schema, from the app's routes."""
    app = create_app(AppState(settings=settings, pipeline=None, pool=None))
    paths = app.openapi()["paths"]
    routes: list[tuple[str, str, str]] = []
    for context in iter_route_contexts(app.routes):  # included routers flattened, with their prefix
        route, path = context.original_route, re.sub(r":\w+}", "}", context.path)  # `{target:path}`
        if not isinstance(route, APIRoute) or path not in paths:
            continue
        access = declared_access(route)
        assert len(access) == 1, f"{route.methods} {path} declares {access or 'no access'}: use one of " \
                                 "Public, Person, Viewer, Analyst, Admin, IngestKey from guetteur.api.deps"
        for method in route.methods:
            assert method.lower() in paths[path], (method, path)
            routes.append((method, path, access[0]))
    assert sum(len(p) for p in paths.values()) == len(routes)  # nothing in the schema escaped the walk
    return sorted(routes, key=lambda r: ((r[0], r[1]) in LAST, r[1], r[0]))


def test_every_schema_route_declares_exactly_one_access(settings: Settings) -> None:
    """A route added without `Public`/`Person`/`Viewer`/`Analyst`/`Admin`/`IngestKey` fails here."""
    routes = schema_routes(settings)
    assert len(routes) >= 15
    assert ("GET", "/api/v1/health", "public") in routes
    assert ("POST", "/api/v1/ingest", "ingest") in routes
    assert ("GET", "/api/v1/audit", "admin") in routes
    assert ("POST", "/es/_bulk", "ingest") in routes
    assert ("GET", "/es/{target}", "ingest") in routes
    assert ("POST", "/v1/logs", "ingest") in routes


async def _headers(running: Any) -> dict[str, dict[str, str]]:
    http: httpx.AsyncClient = running.http
    dsn = running.owner_dsn
    return {
        "nobody": {},
        "ingest_key": {"Authorization": f"Bearer {running.ingest_key}"},
        "read_key": {"Authorization": f"Bearer {running.read_key}"},
        "viewer": await bearer(http, add_user(dsn, "vera", "viewer")),
        "analyst": await bearer(http, add_user(dsn, "anna", "analyst")),
        "admin": await bearer(http, add_user(dsn, "adam", "admin", totp=True)),
        "admin_without_totp": await bearer(http, add_user(dsn, "adele", "admin")),
    }


async def test_every_schema_route_answers_each_caller_as_declared(settings: Settings, make_running: Any) -> None:
    """Each route of the schema, called by nobody, an ingest key, a read key, a viewer, an analyst,
    an admin and an admin who has not enrolled TOTP yet (`auth.require_totp_for_admins`)."""
    routes = schema_routes(settings)
    async with make_running() as running:
        headers = await _headers(running)
        failures = []
        for method, path, access in routes:
            url = path.replace("{name}", "nobody-by-that-name")
            for caller in CALLERS:
                response = await running.http.request(method, url, headers=headers[caller], json={})
                code = response.status_code
                if caller in ALLOWED[access]:
                    ok = code < 500 and code not in (401, 403)
                else:
                    ok = code == (401 if caller == "nobody" else 403)
                if not ok:
                    failures.append(f"{method} {path} ({access}) as {caller}: {code} {response.text[:120]}")
        assert not failures, "\n".join(failures)
