"""Migrations: applied once, in order, recorded; partitions exist ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from guetteur.errors import MigrationError
from guetteur.store.migrate import migrate, migration_files
from guetteur.store.partitions import ensure_partitions, list_partitions


def test_rerun_applies_nothing(fresh_dsn: str) -> None:
    assert migrate(fresh_dsn) == []
    assert migrate(fresh_dsn) == []
    with psycopg.connect(fresh_dsn) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [name for name, _ in migration_files()]
    assert names[0] == "0001_events.sql"


def test_runner_is_generic_and_ordered(fresh_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0002_b.sql").write_text("CREATE TABLE mig_b (x int REFERENCES mig_a (x));")
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE mig_a (x int PRIMARY KEY);")
    (tmp_path / "notes.txt").write_text("not a migration")
    (tmp_path / "9_bad_name.sql").write_text("SELECT broken syntax here;")
    # Applied in number order (0002 references 0001's table); other files ignored.
    assert migrate(fresh_dsn, tmp_path) == ["0001_a.sql", "0002_b.sql"]
    assert migrate(fresh_dsn, tmp_path) == []
    with psycopg.connect(fresh_dsn) as conn:
        rows = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        assert conn.execute("SELECT to_regclass('mig_b') IS NOT NULL").fetchone() == (True,)
    assert {"0001_a.sql", "0002_b.sql", "0001_events.sql"} <= rows


def test_failed_migration_is_rolled_back_and_not_recorded(fresh_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0500_half.sql").write_text("CREATE TABLE half_done (x int); SELECT no_such_function();")
    with pytest.raises(psycopg.Error):
        migrate(fresh_dsn, tmp_path)
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM schema_migrations WHERE name = '0500_half.sql'").fetchone() == (0,)


def test_duplicate_numbers_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0007_a.sql").write_text("SELECT 1;")
    (tmp_path / "0007_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="share a number") as raised:
        migration_files(tmp_path)
    assert not raised.value.recoverable


def test_partitions_exist_ahead_and_creation_is_idempotent(fresh_app_dsn: str) -> None:
    with psycopg.connect(fresh_app_dsn, autocommit=True) as conn:  # the app role may ask for them
        last = ensure_partitions(conn, 5)
        again = ensure_partitions(conn, 5)
        parts = list_partitions(conn)
    today = datetime.now(UTC).date()
    assert last == again == today + timedelta(days=5)
    for day in range(6):
        assert f"events_{(today + timedelta(days=day)):%Y%m%d}" in parts


def test_partition_horizon_is_capped(fresh_dsn: str) -> None:
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        last = ensure_partitions(conn, 100_000)
    assert last == datetime.now(UTC).date() + timedelta(days=60)
