"""API keys: a missing or unknown key is a 401, a valid key of the wrong scope a 403."""

from __future__ import annotations

from typing import Any

from guetteur.store.keys import revoke_key


async def test_valid_key_with_wrong_scope_is_403(make_running: Any) -> None:
    """A `read` key on the ingest route and an `ingest` key on a read route get 403 naming
    both scopes; nothing is ingested; the same keys work on their own routes."""
    async with make_running() as running:
        read = {"Authorization": f"Bearer {running.read_key}"}
        ingest = {"Authorization": f"Bearer {running.ingest_key}"}
        refused = await running.http.post("/api/v1/ingest", content=b"hello\n", headers=read)
        assert refused.status_code == 403
        assert refused.json()["detail"] == "this key has scope read; this route needs ingest"
        for path in ("/api/v1/events", "/api/v1/detection/rules"):
            refused = await running.http.get(path, headers=ingest)
            assert refused.status_code == 403, path
            assert refused.json()["detail"] == "this key has scope ingest; this route needs read"
        # X-API-Key is the same key by another header
        refused = await running.http.get("/api/v1/events", headers={"X-API-Key": running.ingest_key})
        assert refused.status_code == 403
        assert (await running.http.get("/api/v1/events", headers=read)).status_code == 200
        assert (await running.ingest(b"hello\n")).status_code == 202
        health = await running.wait_stored(1)
        assert health["totals"]["stored"] == 1


async def test_missing_unknown_or_revoked_key_is_401(make_running: Any) -> None:
    """No key, a token that names no key, and a revoked key all get 401 with
    `WWW-Authenticate: Bearer`, on ingest and read routes alike."""
    async with make_running() as running:
        assert revoke_key(running.owner_dsn, "test-read")
        cases: list[dict[str, str]] = [
            {},
            {"Authorization": "Bearer gt_" + "A" * 43},
            {"X-API-Key": "not-a-key"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": f"Bearer {running.read_key}"},  # revoked before first use
        ]
        for headers in cases:
            for method, path in (("POST", "/api/v1/ingest"), ("GET", "/api/v1/events"),
                                 ("GET", "/api/v1/detection/rules")):
                response = await running.http.request(method, path, headers=headers, content=b"x\n")
                assert response.status_code == 401, (headers, path)
                assert response.headers["www-authenticate"] == "Bearer"
                assert response.json()["detail"] == "missing or invalid API key"
