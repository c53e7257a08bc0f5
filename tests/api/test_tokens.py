"""Access tokens (JWT) and refresh tokens over HTTP: expiry, tampering, `alg: none`, a wrong key,
a wrong audience, refresh rotation and reuse, logout and password change."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from typing import Any

import jwt
import pytest
from pydantic import SecretStr
from tests.api.people import add_user, login

from guetteur.api.app import create_app
from guetteur.api.state import AppState
from guetteur.auth.tokens import ALGORITHM, AUDIENCE, ISSUER, KEY_FILE, issue_access, signing_key
from guetteur.config import AuthSettings, Settings
from guetteur.errors import ConfigError

ME = "/api/v1/auth/me"
EVENTS = "/api/v1/events"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def test_forged_expired_and_foreign_access_tokens_are_401(make_running: Any) -> None:
    """Only an unexpired HS256 token signed with our key for our audience and issuer passes:
    expired, payload tampered (another user's id), `alg: none`, another key, another audience,
    another algorithm and garbage are all 401; the genuine token still works after."""
    async with make_running() as running:
        http = running.http
        viewer = add_user(running.owner_dsn, "vic", "viewer")
        add_user(running.owner_dsn, "boss", "admin")
        response = await login(http, viewer)
        token = response.json()["access_token"]
        claims = _claims(token)
        assert {"exp", "iat", "jti", "aud", "sub", "sid"} <= claims.keys() and claims["aud"] == AUDIENCE
        assert claims["exp"] - claims["iat"] == running.settings.auth.access_token_seconds
        key = signing_key(running.settings)
        header, payload, signature = token.split(".")
        boss_id = str(int(claims["sub"]) + 1)
        now = int(time.time())
        forged = {
            "expired": issue_access(key, int(claims["sub"]), "vic", claims["sid"], -60)[0],
            "tampered payload": ".".join([header, _b64({**claims, "sub": boss_id, "name": "boss"}), signature]),
            "alg none": ".".join([_b64({"alg": "none", "typ": "JWT"}), _b64({**claims, "sub": boss_id}), ""]),
            "wrong key": jwt.encode(claims, b"k" * 32, algorithm=ALGORITHM),
            "wrong audience": jwt.encode({**claims, "aud": "another-app"}, key, algorithm=ALGORITHM),
            "wrong issuer": jwt.encode({**claims, "iss": "someone"}, key, algorithm=ALGORITHM),
            "no expiry": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, key, algorithm=ALGORITHM),
            "HS512": jwt.encode({**claims, "exp": now + 600}, key, algorithm="HS512"),
            "garbage": "aaa.bbb.ccc",
        }
        for what, bad in forged.items():
            answer = await http.get(ME, headers=_auth(bad))
            assert answer.status_code == 401, what
            assert answer.json()["detail"] == "invalid or expired access token", what
            assert (await http.get(EVENTS, headers=_auth(bad))).status_code == 401, what
        me = await http.get(ME, headers=_auth(token))
        assert me.status_code == 200 and me.json()["name"] == "vic" and me.json()["role"] == "viewer"
        assert claims["iss"] == ISSUER


async def test_signing_key_is_generated_once_into_the_data_directory_mode_0600(make_running: Any) -> None:
    """Without `auth.jwt_secret` the key is 32 random bytes in `data_dir/jwt.key`, mode 0600,
    the same across calls (a restart keeps sessions) and different for another data directory."""
    async with make_running() as running:
        path = running.settings.data_dir / KEY_FILE
        key = signing_key(running.settings)
        assert path.read_bytes() == key and len(key) == 32
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        other = running.settings.model_copy(update={"data_dir": running.settings.data_dir / "other"})
        assert signing_key(other) != key


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(make_running: Any) -> None:
    """A refresh token is valid once; presenting a spent one again is 401 and ends the whole
    session: the newest refresh token and every access token of that session stop working,
    while another session of the same user goes on."""
    async with make_running() as running:
        http = running.http
        user = add_user(running.owner_dsn, "rita", "analyst")
        first = (await login(http, user)).json()
        other_session = (await login(http, user)).json()
        second = await http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert second.status_code == 200
        pair = second.json()
        assert pair["refresh_token"] != first["refresh_token"]
        assert (await http.get(ME, headers=_auth(pair["access_token"]))).status_code == 200
        reuse = await http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reuse.status_code == 401
        assert (await http.get(ME, headers=_auth(pair["access_token"]))).status_code == 401
        assert (await http.get(ME, headers=_auth(first["access_token"]))).status_code == 401
        newest = await http.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert newest.status_code == 401
        assert (await http.get(ME, headers=_auth(other_session["access_token"]))).status_code == 200
        unknown = await http.post("/api/v1/auth/refresh", json={"refresh_token": "gr_" + "x" * 43})
        assert unknown.status_code == 401


async def test_logout_and_password_change_end_sessions(make_running: Any) -> None:
    """Logout ends that session (access and refresh); a password change ends every session of
    the user; the old password stops working and the new one works."""
    async with make_running() as running:
        http = running.http
        user = add_user(running.owner_dsn, "lou", "viewer")
        one = (await login(http, user)).json()
        two = (await login(http, user)).json()
        assert (await http.post("/api/v1/auth/logout", headers=_auth(one["access_token"]))).status_code == 204
        assert (await http.get(ME, headers=_auth(one["access_token"]))).status_code == 401
        assert (await http.post("/api/v1/auth/refresh",
                                json={"refresh_token": one["refresh_token"]})).status_code == 401
        assert (await http.get(ME, headers=_auth(two["access_token"]))).status_code == 200
        weak = await http.post("/api/v1/auth/password", headers=_auth(two["access_token"]),
                               json={"current_password": user.password, "new_password": "short"})
        assert weak.status_code == 400
        wrong = await http.post("/api/v1/auth/password", headers=_auth(two["access_token"]),
                                json={"current_password": "not it at all", "new_password": "a new long password"})
        assert wrong.status_code == 400
        changed = await http.post("/api/v1/auth/password", headers=_auth(two["access_token"]),
                                  json={"current_password": user.password, "new_password": "a new long password"})
        assert changed.status_code == 204
        assert (await http.get(ME, headers=_auth(two["access_token"]))).status_code == 401
        assert (await login(http, user)).status_code == 401
        user.password = "a new long password"
        assert (await login(http, user)).status_code == 200


def test_a_configured_secret_is_used_and_a_short_one_refused(settings: Settings) -> None:
    """`auth.jwt_secret` replaces the key file (none is written); fewer than 32 characters stops
    the application from being created (a configuration error, not a weak key in use)."""
    strong = settings.model_copy(update={"auth": AuthSettings(jwt_secret=SecretStr("s" * 40))})
    create_app(AppState(settings=strong, pipeline=None, pool=None))
    assert signing_key(strong) == b"s" * 40
    assert not (settings.data_dir / KEY_FILE).exists()
    weak = settings.model_copy(update={"auth": AuthSettings(jwt_secret=SecretStr("short"))})
    with pytest.raises(ConfigError, match="at least 32"):
        create_app(AppState(settings=weak, pipeline=None, pool=None))
