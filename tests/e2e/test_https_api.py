"""`guetteur up` with `api.https = "on"`: the API answers over HTTPS with the generated certificate
(the one `info["api_sha256"]` names), and a plain HTTP request to it gets no answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from guetteur.config import Settings
from guetteur.tls import fingerprint
from tls_helpers import client_context


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api": settings.api.model_copy(update={"https": "on"})})


async def test_api_serves_https_with_the_generated_certificate(make_running: Any) -> None:
    async with make_running() as running:
        url = str(running.info["api"])
        assert url.startswith("https://")
        cert = running.settings.data_dir / "tls" / "server.crt"
        assert running.info["api_sha256"] == fingerprint(cert)
        async with httpx.AsyncClient(verify=client_context(cert), timeout=30) as client:
            health = await client.get(url.replace("127.0.0.1", "localhost") + "/api/v1/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            ingest = await client.post(url.replace("127.0.0.1", "localhost") + "/api/v1/ingest",
                                       content=b"<13>Dec  5 10:00:00 h app: over https\n",
                                       headers={"Authorization": f"Bearer {running.ingest_key}"})
            assert ingest.status_code == 202
        async with httpx.AsyncClient(timeout=10) as plain:
            with pytest.raises(httpx.HTTPError):
                await plain.get(url.replace("https://", "http://") + "/api/v1/health")
