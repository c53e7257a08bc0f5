"""HTTPS for the API (`api.https`): auto is plain on loopback and TLS elsewhere; mTLS with a client CA."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from guetteur.config import ApiSettings, Settings, TlsSettings
from guetteur.errors import ConfigError
from guetteur.tls import api_https, api_tls_options, fingerprint
from tls_helpers import Authority, client_context


@pytest.mark.parametrize(("host", "mode", "expected"), [
    ("127.0.0.1", "auto", False), ("::1", "auto", False), ("localhost", "auto", False),
    ("0.0.0.0", "auto", True), ("::", "auto", True), ("192.0.2.10", "auto", True), ("siem.example", "auto", True),
    ("0.0.0.0", "off", False), ("127.0.0.1", "on", True),
])
def test_https_is_on_wherever_others_can_connect(host: str, mode: str, expected: bool) -> None:
    assert api_https(ApiSettings(host=host, https=mode)) is expected  # type: ignore[arg-type]


def test_plain_http_on_loopback_has_no_ssl_options(tmp_path: Path) -> None:
    assert api_tls_options(Settings(data_dir=tmp_path)) == {}
    assert not (tmp_path / "tls").exists()


async def _serve(options: dict[str, object]) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                           **options))  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, int(port)


async def test_generated_certificate_served_over_https(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(https="on"))
    options = api_tls_options(settings)
    server, task, port = await _serve(options)
    try:
        cert = Path(str(options["ssl_certfile"]))
        async with httpx.AsyncClient(verify=client_context(cert)) as client:
            response = await client.get(f"https://localhost:{port}/ping")
        assert response.json() == {"pong": "yes"}
        async with httpx.AsyncClient() as plain:  # plain HTTP to the TLS port: refused, server fine
            with pytest.raises(httpx.HTTPError):
                await plain.get(f"http://127.0.0.1:{port}/ping")
        assert fingerprint(cert) == fingerprint(tmp_path / "tls" / "server.crt")
    finally:
        server.should_exit = True
        await task


async def test_api_client_certificate_required_with_a_client_ca(tmp_path: Path) -> None:
    authority = Authority(tmp_path / "pki")
    server_pair = authority.issue("siem.example", client=False)
    analyst = authority.issue("analyst", client=True)
    tls = TlsSettings(cert_file=server_pair.cert, key_file=server_pair.key, client_ca_file=authority.cert)
    options = api_tls_options(Settings(data_dir=tmp_path, api=ApiSettings(https="on", tls=tls)))
    server, task, port = await _serve(options)
    try:
        async with httpx.AsyncClient(verify=client_context(authority.cert, analyst)) as client:
            assert (await client.get(f"https://localhost:{port}/ping")).status_code == 200
        async with httpx.AsyncClient(verify=client_context(authority.cert)) as anonymous:
            with pytest.raises((httpx.HTTPError, ssl.SSLError)):
                await anonymous.get(f"https://localhost:{port}/ping")
    finally:
        server.should_exit = True
        await task


def test_unloadable_key_is_a_clear_error_before_start(tmp_path: Path) -> None:
    authority = Authority(tmp_path / "pki")
    one, two = authority.issue("one", client=False), authority.issue("two", client=False)
    settings = Settings(data_dir=tmp_path, api=ApiSettings(https="on", tls=TlsSettings(cert_file=one.cert,
                                                                                         key_file=two.key)))
    with pytest.raises(ConfigError, match="cannot load"):
        api_tls_options(settings)
