"""Shared fixtures: one PostgreSQL for the whole session, fresh databases, test settings.

- `pg_dsn` (session): owner DSN of a migrated database. With `GUETTEUR_TEST_DATABASE_URL` set, a
  database `guetteur_test_<random>` is created on that server and dropped at the end; otherwise an
  embedded server is started in a temp dir for the session and deleted at the end.
- `app_dsn` (session): the restricted application role's DSN for that database.
- `fresh_dsn` / `fresh_app_dsn` (function): an empty, migrated database of its own (copied from a
  template, ~0.2 s), dropped after the test. Use it when a test needs a clean event store.
- `settings` (function): `Settings` with a tmp `data_dir`, `database_url` = `pg_dsn`, free ports.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from guetteur.config import ApiSettings, Settings, SyslogSettings
from guetteur.store.database import app_dsn as resolve_app_dsn
from guetteur.store.database import ensure_database, with_params
from guetteur.store.embedded import EmbeddedPostgres
from guetteur.store.migrate import migrate
from guetteur.store.partitions import ensure_partitions

_TEMPLATE = "guetteur_test_template"


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port")


def _drop_database(server_dsn: str, name: str) -> None:
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Superuser DSN of the test server (maintenance database)."""
    external = os.environ.get("GUETTEUR_TEST_DATABASE_URL")
    if external:
        yield external
        return
    # Not under pytest's basetemp: as root the server runs as another user that must traverse
    # the path, and every pytest start resets /tmp/pytest-of-<user> to mode 0700.
    del tmp_path_factory
    parent = Path(tempfile.mkdtemp(prefix="guetteur-test-pg-"))
    server = EmbeddedPostgres.start(parent / "pgdata", cleanup_mode="delete")
    try:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            # A throwaway server: durability costs only time here (CREATE DATABASE checkpoints).
            for name, value in (("fsync", "off"), ("synchronous_commit", "off"), ("full_page_writes", "off")):
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
            conn.execute("SELECT pg_reload_conf()")
        yield server.dsn
    finally:
        server.stop()
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_server_dsn: str) -> Iterator[str]:
    """A migrated template database, name returned; fresh databases are copied from it."""
    name = f"{_TEMPLATE}_{secrets.token_hex(4)}"
    dsn = ensure_database(pg_server_dsn, name)
    migrate(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        ensure_partitions(conn, 3)
    try:
        yield name
    finally:
        _drop_database(pg_server_dsn, name)


@pytest.fixture(scope="session")
def pg_dsn(pg_server_dsn: str, pg_template: str) -> Iterator[str]:
    """Owner DSN of the session's migrated database."""
    name = f"guetteur_test_{secrets.token_hex(4)}"
    dsn = _copy_database(pg_server_dsn, pg_template, name)
    try:
        yield dsn
    finally:
        _drop_database(pg_server_dsn, name)


@pytest.fixture(scope="session")
def app_dsn(pg_dsn: str) -> str:
    """DSN of the restricted application role on the session database."""
    return resolve_app_dsn(pg_dsn)


def _copy_database(server_dsn: str, template: str, name: str) -> str:
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return with_params(server_dsn, dbname=name)


@pytest.fixture
def fresh_dsn(pg_server_dsn: str, pg_template: str) -> Iterator[str]:
    """Owner DSN of an empty migrated database for this test only."""
    name = f"guetteur_test_{secrets.token_hex(4)}"
    dsn = _copy_database(pg_server_dsn, pg_template, name)
    try:
        yield dsn
    finally:
        _drop_database(pg_server_dsn, name)


@pytest.fixture
def fresh_app_dsn(fresh_dsn: str) -> str:
    """Application-role DSN of `fresh_dsn`."""
    return resolve_app_dsn(fresh_dsn)


@pytest.fixture
def settings(tmp_path: Path, pg_dsn: str) -> Settings:
    """Settings for a test: tmp data_dir, the session database, free ports on 127.0.0.1."""
    port = free_port()
    return Settings(
        data_dir=tmp_path / "data",
        database_url=pg_dsn,
        syslog=SyslogSettings(host="127.0.0.1", udp_port=port, tcp_port=port, tls_port=0),
        api=ApiSettings(host="127.0.0.1", port=free_port()),
    )
