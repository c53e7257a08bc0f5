"""The shared fixtures give a migrated database and a working application role."""

from __future__ import annotations

import psycopg

from guetteur.config import Settings


def test_pg_dsn_is_migrated(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations").fetchall()]
    assert "0001_events.sql" in names


def test_app_dsn_is_the_restricted_role(app_dsn: str) -> None:
    with psycopg.connect(app_dsn) as conn:
        row = conn.execute("SELECT current_user").fetchone()
    assert row == ("guetteur_app",)


def test_fresh_databases_are_separate(fresh_dsn: str, pg_dsn: str) -> None:
    assert fresh_dsn != pg_dsn
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_settings_point_at_the_test_database(settings: Settings, pg_dsn: str) -> None:
    assert settings.database_url == pg_dsn
    assert settings.api.port != 0
