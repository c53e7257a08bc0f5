"""Health (issue 8, item 8): the public answer says only whether Guetteur works; the details
need a `read` key and say what each counter counts (in the OpenAPI schema too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


async def test_public_health_is_minimal_and_details_need_a_read_key(make_running: Callable[..., Any]) -> None:
    async with make_running() as running:
        public = await running.http.get("/api/v1/health")
        assert public.status_code == 200
        assert set(public.json()) == {"status", "version"} and public.json()["status"] == "ok"

        assert (await running.http.get("/api/v1/health/details")).status_code == 401
        ingest_only = await running.http.get("/api/v1/health/details",
                                             headers={"Authorization": f"Bearer {running.ingest_key}"})
        assert ingest_only.status_code in (401, 403)

        details = await running.health()  # with the read key
        assert details["status"] == "ok"
        assert details["database"]["state"] == "up" and details["database"]["reason"] is None
        assert details["database"]["embedded"] is False and details["database"]["restarts"] == 0
        assert {"single_event_hits", "single_event_alerts", "correlation_alerts", "top_rules"} <= set(
            details["detection"])
        assert {"buffer", "in_workers"} <= set(details["queues"])


async def test_openapi_documents_what_each_detection_counter_counts(make_running: Callable[..., Any]) -> None:
    async with make_running() as running:
        schema = (await running.http.get("/api/openapi.json")).json()
    paths = schema["paths"]
    assert "/api/v1/health" in paths and "/api/v1/health/details" in paths
    detection = schema["components"]["schemas"]["DetectionHealth"]["properties"]
    assert "(event, rule) pair" in detection["single_event_hits"]["description"]
    assert "alerting rules" in detection["single_event_alerts"]["description"]
    public = schema["components"]["schemas"]["HealthPublic"]["properties"]
    assert set(public) == {"status", "version", "reason"}
