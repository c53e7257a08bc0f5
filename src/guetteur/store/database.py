"""Which PostgreSQL to use, and as whom.

`resolve_dsn(settings)` gives the owner DSN: `settings.database_url` when set (external server),
else the embedded server in `settings.data_dir / "postgres"` (started or joined here; the caller
stops the returned handle), in its database `guetteur`.
`app_dsn(owner_dsn)` gives the DSN of the restricted role `guetteur_app` (INSERT/SELECT on events,
no UPDATE/DELETE/TRUNCATE), or the owner DSN when that role cannot be used (logged as a warning).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from guetteur.config import Settings
from guetteur.store.embedded import EmbeddedPostgres

log = logging.getLogger(__name__)

APP_ROLE = "guetteur_app"
EMBEDDED_DATABASE = "guetteur"


def resolve_dsn(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """The owner DSN and, for the embedded server, its handle (call `.stop()` when done)."""
    if settings.database_url:
        return settings.database_url, None
    server = EmbeddedPostgres.start(settings.data_dir / "postgres")
    try:
        dsn = ensure_database(server.dsn, EMBEDDED_DATABASE)
    except BaseException:
        server.stop()
        raise
    return dsn, server


def ensure_database(server_dsn: str, name: str) -> str:
    """Create database `name` if missing (concurrent callers are fine); its DSN."""
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.DuplicateDatabase:
                pass
    return with_params(server_dsn, dbname=name)


def with_params(dsn: str, **params: Any) -> str:
    """`dsn` with some connection parameters replaced (`None` removes one)."""
    merged = conninfo_to_dict(dsn)
    for key, value in params.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return make_conninfo("", **merged)


def _can_connect(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        log.debug("cannot connect as the application role: %s", exc)
        return False
    return True


def app_dsn(owner_dsn: str) -> str:
    """DSN of the application role, or `owner_dsn` when that role cannot be used.

    Order: the role without a password (trust/peer auth, the embedded server), then with the
    password stored in `app_role_secret`, then a fresh random password set by the owner (a SCRAM
    verifier computed client-side, so the clear text never reaches the server's logs).
    """
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_user, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s AND rolcanlogin),"
            " to_regclass('app_role_secret') IS NOT NULL",
            (APP_ROLE,),
        ).fetchone()
        assert row is not None
        current, role_ok, has_secret_table = row
        if current == APP_ROLE:
            return owner_dsn
        if not role_ok:
            log.warning("role %s missing or NOLOGIN: connecting as %s (events protected by trigger only)",
                        APP_ROLE, current)
            return owner_dsn
        candidate = with_params(owner_dsn, user=APP_ROLE, password=None)
        if _can_connect(candidate):
            return candidate
        if not has_secret_table:
            return owner_dsn
        stored = conn.execute("SELECT password FROM app_role_secret WHERE role_name = %s", (APP_ROLE,)).fetchone()
        if stored is not None:
            candidate = with_params(owner_dsn, user=APP_ROLE, password=stored[0])
            if _can_connect(candidate):
                return candidate
        password = secrets.token_urlsafe(24)
        try:
            verifier = conn.pgconn.encrypt_password(password.encode(), APP_ROLE.encode(), b"scram-sha-256")
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(APP_ROLE), sql.Literal(verifier.decode()))
            )
        except psycopg.Error as exc:
            log.warning("cannot set a password for %s (%s): connecting as %s", APP_ROLE, exc, current)
            return owner_dsn
        conn.execute(
            "INSERT INTO app_role_secret (role_name, password) VALUES (%s, %s)"
            " ON CONFLICT (role_name) DO UPDATE SET password = excluded.password, set_at = now()",
            (APP_ROLE, password),
        )
        candidate = with_params(owner_dsn, user=APP_ROLE, password=password)
        if _can_connect(candidate):
            return candidate
    log.warning("cannot log in as %s: connecting as the owner (events protected by trigger only)", APP_ROLE)
    return owner_dsn
