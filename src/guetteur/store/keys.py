"""API keys for machines: `ingest` keys send logs, `read` keys query.

A token is `gt_` + 32 random bytes (URL-safe base64), shown once at creation; only its SHA-256
is stored. Checking a token is one lookup by that hash on a unique index, whatever the token,
so the time taken does not tell whether a key exists. An active key's name is unique.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from guetteur.errors import ApiKeyError

SCOPES = ("ingest", "read")
TOKEN_PREFIX = "gt_"
_MAX_TOKEN = 256
_TOUCH_SECONDS = 60  # last_used_at is refreshed at most once a minute per key


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    name: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100 or not name.isprintable():
        raise ApiKeyError("a key name is 1 to 100 printable characters")
    return name


def create_key(dsn: str, name: str, scope: str) -> str:
    """Create a key and return its token (the only time it is visible)."""
    if scope not in SCOPES:
        raise ApiKeyError(f"scope must be one of {', '.join(SCOPES)}")
    name = _check_name(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "INSERT INTO api_keys (name, scope, token_sha256) VALUES (%s, %s, %s)",
                (name, scope, _digest(token)),
            )
    except psycopg.errors.UniqueViolation as exc:
        raise ApiKeyError(f"an active key named {name!r} already exists") from exc
    return token




async def check_key(pool: AsyncConnectionPool, token: str, scope: str) -> KeyInfo | None:
    """The active key this token belongs to, if it has `scope`; else None."""
    key = await find_key(pool, token)
    return key if key is not None and key.scope == scope else None


async def find_key(pool: AsyncConnectionPool, token: str) -> KeyInfo | None:
    """The active key this token belongs to, whatever its scope (so the API can tell a
    wrong scope, 403, from an unknown key, 401); else None. Marks the key as used."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN:
        return None
    digest = _digest(token)
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=class_row(KeyInfo))
        await cur.execute(
            "SELECT id, name, scope, created_at, revoked_at, last_used_at FROM api_keys"
            " WHERE token_sha256 = %s AND revoked_at IS NULL",
            (digest,),
        )
        key = await cur.fetchone()
        if key is None:
            return None
        await conn.execute(
            "UPDATE api_keys SET last_used_at = now() WHERE id = %s"
            " AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => %s))",
            (key.id, _TOUCH_SECONDS),
        )
    return key


def list_keys(dsn: str, include_revoked: bool = False) -> list[KeyInfo]:
    """Every key (active only by default), oldest first. Tokens are never listed."""
    with psycopg.connect(dsn) as conn:
        cur = conn.cursor(row_factory=class_row(KeyInfo))
        cur.execute(
            "SELECT id, name, scope, created_at, revoked_at, last_used_at FROM api_keys"
            " WHERE %s OR revoked_at IS NULL ORDER BY id",
            (include_revoked,),
        )
        return cur.fetchall()


def revoke_key(dsn: str, name: str) -> bool:
    """Revoke the active key named `name`; False when there is none."""
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL", (name.strip(),)
        )
        return cur.rowcount > 0
