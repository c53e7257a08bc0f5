"""Versioned schema migrations: numbered SQL files applied in order, each in one transaction.

Files live in `guetteur/store/migrations/` and are named `NNNN_what.sql`; any area adds its own
numbered file (the runner is generic). Applied files are recorded in `schema_migrations`
(name, sha256, applied_at). Re-running is a no-op; a file changed after it was applied is
reported in the log, never re-run. Concurrent runners serialise on an advisory lock.
Migrations run as the database owner; they grant what the application role needs with
`SELECT guetteur_grant_app('SELECT, INSERT', 'my_table');` (a no-op when that role does not exist).
"""

from __future__ import annotations

import hashlib
import logging
import re
from importlib import resources
from pathlib import Path

import psycopg

from guetteur.errors import MigrationError

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 7240100


def migration_files(folder: Path | None = None) -> list[tuple[str, bytes]]:
    """(name, SQL text) of every migration file, in order. Duplicate numbers are an error."""
    root = resources.files("guetteur.store") / "migrations" if folder is None else folder
    found: list[tuple[str, bytes]] = []
    for entry in root.iterdir():
        if _NAME.match(entry.name):
            found.append((entry.name, entry.read_bytes()))
    found.sort()
    numbers = [name[:4] for name, _ in found]
    if len(numbers) != len(set(numbers)):
        raise MigrationError(f"two migrations share a number: {numbers}", file=str(root))
    return found


def migrate(dsn: str, folder: Path | None = None) -> list[str]:
    """Apply the migrations not applied yet; returns their names (empty when up to date)."""
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, sha256 text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                str(name): str(digest)
                for name, digest in conn.execute("SELECT name, sha256 FROM schema_migrations").fetchall()
            }
            for name, text in migration_files(folder):
                digest = hashlib.sha256(text).hexdigest()
                if name in done:
                    if done[name] != digest:
                        log.warning("migration %s changed after it was applied; not re-run", name)
                    continue
                with conn.transaction():
                    # A file is trusted SQL shipped with the package, sent as one script.
                    conn.execute(text)
                    conn.execute(
                        "INSERT INTO schema_migrations (name, sha256) VALUES (%s, %s)", (name, digest)
                    )
                log.info("applied migration %s", name)
                applied_now.append(name)
            _grant_read_migrations(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def _grant_read_migrations(conn: psycopg.Connection) -> None:
    exists = conn.execute("SELECT to_regprocedure('guetteur_grant_app(text,regclass)')").fetchone()
    if exists and exists[0] is not None:
        conn.execute("SELECT guetteur_grant_app('SELECT', 'schema_migrations')")


def applied(dsn: str) -> list[tuple[str, str]]:
    """(name, applied_at ISO text) of the applied migrations; empty before the first run."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
            return []
        rows = conn.execute("SELECT name, applied_at::text FROM schema_migrations ORDER BY name").fetchall()
    return [(str(n), str(t)) for n, t in rows]
