"""API keys: created once, checked by scope, revoked; tokens never stored in clear."""

from __future__ import annotations

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from guetteur.store.keys import ApiKeyError, check_key, create_key, list_keys, revoke_key


async def test_create_check_revoke(app_pool: AsyncConnectionPool, fresh_dsn: str) -> None:
    token = create_key(fresh_dsn, "collector-1", "ingest")
    assert token.startswith("gt_") and len(token) > 40
    with psycopg.connect(fresh_dsn) as conn:
        dump = str(conn.execute("SELECT * FROM api_keys").fetchall())
    assert token not in dump and token[3:] not in dump

    info = await check_key(app_pool, token, "ingest")
    assert info is not None and info.name == "collector-1" and info.scope == "ingest"
    assert await check_key(app_pool, token, "read") is None  # wrong scope
    assert await check_key(app_pool, token + "x", "ingest") is None
    assert await check_key(app_pool, "", "ingest") is None
    assert await check_key(app_pool, "gt_" + "A" * 10_000, "ingest") is None
    assert await check_key(app_pool, "\x00\ud800", "ingest") is None

    [listed] = list_keys(fresh_dsn)
    assert listed.last_used_at is not None  # touched by the check

    assert revoke_key(fresh_dsn, "collector-1")
    assert not revoke_key(fresh_dsn, "collector-1")
    assert await check_key(app_pool, token, "ingest") is None
    assert list_keys(fresh_dsn) == []
    assert len(list_keys(fresh_dsn, include_revoked=True)) == 1
    # the name is free again once revoked
    again = create_key(fresh_dsn, "collector-1", "read")
    assert (await check_key(app_pool, again, "read")) is not None


def test_bad_keys_are_refused(fresh_dsn: str) -> None:
    create_key(fresh_dsn, "dup", "read")
    with pytest.raises(ApiKeyError, match="already exists"):
        create_key(fresh_dsn, "dup", "ingest")
    with pytest.raises(ApiKeyError, match="scope"):
        create_key(fresh_dsn, "x", "admin")
    for name in ("", " ", "a" * 101, "bad\nname"):
        with pytest.raises(ApiKeyError):
            create_key(fresh_dsn, name, "read")


def test_cli_keys(fresh_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from guetteur.cli import app

    monkeypatch.setenv("GUETTEUR_DATABASE_URL", fresh_dsn)
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "robot", "--scope", "read"])
    assert made.exit_code == 0, made.output
    assert "gt_" in made.output
    listed = runner.invoke(app, ["keys", "list"])
    assert "robot\tread\tactive" in listed.output and "gt_" not in listed.output
    assert runner.invoke(app, ["keys", "create", "robot"]).exit_code == 2
    assert runner.invoke(app, ["keys", "revoke", "robot"]).exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", "robot"]).exit_code == 1
