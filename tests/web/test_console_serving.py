"""The built console is served at `/` by the API process: files, the single-page fallback, and
`/api` never shadowed by it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guetteur.api.console import mount_console


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "assets" / "app-1234.js").write_text("console.log(1)")
    return tmp_path


def _app(directory: Path) -> TestClient:
    app = FastAPI()

    @app.get("/api/v1/thing")
    async def thing() -> dict[str, int]:
        return {"ok": 1}

    mount_console(app, directory)
    return TestClient(app)


def test_console_paths_answer_the_index(built: Path) -> None:
    """A console address (`/explorer?q=...`, nested, unknown) answers index.html, never cached."""
    client = _app(built)
    for path in ("/", "/explorer?q=host.name:web-01&start=now-1h", "/alerts/12", "/no/such/page"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "<title>console</title>" in answer.text
        assert answer.headers["cache-control"] == "no-cache"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_hashed_assets_are_served_and_cached(built: Path) -> None:
    answer = _app(built).get("/assets/app-1234.js")
    assert answer.status_code == 200 and answer.text == "console.log(1)"
    assert "immutable" in answer.headers["cache-control"]


def test_missing_asset_is_a_404_not_the_index(built: Path) -> None:
    """A stale page asking for an asset of an older build gets a 404, not HTML parsed as JS."""
    assert _app(built).get("/assets/app-old.js").status_code == 404


def test_api_is_never_shadowed(built: Path) -> None:
    """Unknown /api paths keep the API's JSON 404; API routes still answer."""
    client = _app(built)
    assert client.get("/api/v1/thing").json() == {"ok": 1}
    for path in ("/api", "/api/", "/api/v1/nothing", "/api/v2/x?y=1"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("application/json"), path


def test_hostile_paths_stay_inside_the_build(built: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Traversal and odd paths never read outside the build folder."""
    secret = built.parent / "secret.txt"
    secret.write_text("SECRET")
    client = _app(built)
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/%00", "/" + "a" * 5000):
        answer = client.get(path)
        assert "SECRET" not in answer.text, path
        assert answer.status_code in (200, 404), path


def test_without_a_build_the_root_says_how_to_build(tmp_path: Path) -> None:
    client = _app(tmp_path)
    answer = client.get("/")
    assert answer.status_code == 503
    assert "setup.sh" in answer.text
    assert client.get("/api/v1/thing").status_code == 200
