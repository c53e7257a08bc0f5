"""Users, their login sessions (token families) and refresh tokens.

Async functions serve the API (a pool); `*_sync` ones serve the command line (a DSN). Password
hashing happens in `guetteur.auth.passwords`: this module stores hashes, never passwords.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from guetteur.auth import ROLES, AuthError

_SELECT_USERS = ("SELECT id, name, role, password_hash, totp_secret, totp_pending, totp_last_step, created_at,"
                 " password_set_at, disabled_at FROM users")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    password_hash: str
    totp_secret: str | None
    totp_pending: str | None
    totp_last_step: int | None
    created_at: datetime
    password_set_at: datetime
    disabled_at: datetime | None

    @property
    def totp_enabled(self) -> bool:
        return self.totp_secret is not None


def check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100 or not name.isprintable() or name.startswith("key:") or name == "cli":
        raise AuthError("a user name is 1 to 100 printable characters, not 'cli' nor starting with 'key:'")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    return role


# -- the API (async) -------------------------------------------------------------------------

async def find_user(pool: AsyncConnectionPool, *, name: str | None = None, user_id: int | None = None) -> User | None:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=class_row(User))
        await cur.execute(_SELECT_USERS + " WHERE name = %s OR id = %s", (name, user_id))
        return await cur.fetchone()


async def session_user(pool: AsyncConnectionPool, user_id: int, session: int) -> User | None:
    """The active user of an access token whose session (family) is still open; else None."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=class_row(User))
        await cur.execute(
            "SELECT id, name, role, password_hash, totp_secret, totp_pending, totp_last_step, created_at,"
            " password_set_at, disabled_at FROM users WHERE id = %s AND disabled_at IS NULL AND EXISTS"
            " (SELECT 1 FROM token_families f WHERE f.id = %s AND f.user_id = users.id AND f.revoked_at IS NULL)",
            (user_id, session))
        return await cur.fetchone()


async def list_users(pool: AsyncConnectionPool) -> list[User]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=class_row(User))
        await cur.execute(_SELECT_USERS + " ORDER BY id")
        return await cur.fetchall()


async def create_user(pool: AsyncConnectionPool, name: str, role: str, password_hash: str) -> User:
    name, role = check_name(name), check_role(role)
    try:
        async with pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(User))
            await cur.execute("INSERT INTO users (name, role, password_hash) VALUES (%s, %s, %s) RETURNING id, name,"
                              " role, password_hash, totp_secret, totp_pending, totp_last_step, created_at,"
                              " password_set_at, disabled_at", (name, role, password_hash))
            user = await cur.fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise AuthError(f"a user named {name!r} already exists") from exc
    if user is None:
        raise AuthError("user not created")
    return user


async def other_active_admins(pool: AsyncConnectionPool, user_id: int) -> int:
    """Active admins other than `user_id` (an admin may not demote or disable the last one)."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL"
                                 " AND id <> %s", (user_id,))
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def update_user(pool: AsyncConnectionPool, user_id: int, *, role: str | None = None,
                      disabled: bool | None = None, password_hash: str | None = None,
                      reset_totp: bool = False) -> None:
    """Change what is given. Disabling, a new password or a TOTP reset end the user's sessions."""
    if role is not None:
        check_role(role)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "UPDATE users SET role = coalesce(%(role)s, role),"
            " disabled_at = CASE WHEN %(disabled)s::boolean IS NULL THEN disabled_at"
            "   WHEN %(disabled)s THEN coalesce(disabled_at, now()) ELSE NULL END,"
            " password_hash = coalesce(%(hash)s, password_hash),"
            " password_set_at = CASE WHEN %(hash)s::text IS NULL THEN password_set_at ELSE now() END,"
            " totp_secret = CASE WHEN %(reset)s THEN NULL ELSE totp_secret END,"
            " totp_pending = CASE WHEN %(reset)s THEN NULL ELSE totp_pending END"
            " WHERE id = %(id)s",
            {"role": role, "disabled": disabled, "hash": password_hash, "reset": reset_totp, "id": user_id})
        if disabled or password_hash is not None or reset_totp:
            await _revoke_user_sessions(conn, user_id, "password or account change")


async def set_totp(pool: AsyncConnectionPool, user_id: int, *, pending: str | None = None,
                   confirm_step: int | None = None) -> None:
    """`pending`: start an enrolment with this secret; `confirm_step`: the pending secret becomes
    the user's second factor, that step already used."""
    async with pool.connection() as conn:
        if pending is not None:
            await conn.execute("UPDATE users SET totp_pending = %s WHERE id = %s", (pending, user_id))
        if confirm_step is not None:
            await conn.execute("UPDATE users SET totp_secret = totp_pending, totp_pending = NULL,"
                               " totp_last_step = %s WHERE id = %s AND totp_pending IS NOT NULL",
                               (confirm_step, user_id))


async def use_totp_step(pool: AsyncConnectionPool, user_id: int, step: int) -> bool:
    """Record an accepted TOTP step; False when it (or a later one) was used already (a replay)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE users SET totp_last_step = %s WHERE id = %s"
            " AND (totp_last_step IS NULL OR totp_last_step < %s)", (step, user_id, step))
        return cur.rowcount == 1


async def open_session(pool: AsyncConnectionPool, user_id: int, refresh_digest: bytes, lifetime: int) -> int:
    """A new token family with its first refresh token; returns the family id."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute("INSERT INTO token_families (user_id) VALUES (%s) RETURNING id", (user_id,))
        row = await cur.fetchone()
        if row is None:
            raise AuthError("session not created")
        await conn.execute("INSERT INTO refresh_tokens (token_sha256, family_id, expires_at)"
                           " VALUES (%s, %s, now() + make_interval(secs => %s))", (refresh_digest, row[0], lifetime))
        return int(row[0])


@dataclass(frozen=True, slots=True)
class Rotation:
    """Outcome of presenting a refresh token: `user_id`/`session` when it was rotated;
    `reused` when it had been spent already (its family is now revoked)."""

    user_id: int | None = None
    session: int | None = None
    reused: bool = False


async def rotate_refresh(pool: AsyncConnectionPool, old_digest: bytes, new_digest: bytes, lifetime: int) -> Rotation:
    """Spend a refresh token and store its successor in the same family. A spent token
    presented again revokes the whole family (someone holds a copy)."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT r.family_id, f.user_id, r.used_at IS NOT NULL, r.expires_at < now(), f.revoked_at IS NOT NULL,"
            " u.disabled_at IS NOT NULL FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id"
            " JOIN users u ON u.id = f.user_id WHERE r.token_sha256 = %s FOR UPDATE OF r, f", (old_digest,))
        row = await cur.fetchone()
        if row is None:
            return Rotation()
        family, user_id, used, expired, revoked, disabled = row
        if used:
            await conn.execute("UPDATE token_families SET revoked_at = coalesce(revoked_at, now()),"
                               " revoked_reason = coalesce(revoked_reason, 'refresh token reused') WHERE id = %s",
                               (family,))
            return Rotation(user_id=int(user_id), session=int(family), reused=True)
        if expired or revoked or disabled:
            return Rotation()
        await conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE token_sha256 = %s", (old_digest,))
        await conn.execute("INSERT INTO refresh_tokens (token_sha256, family_id, expires_at)"
                           " VALUES (%s, %s, now() + make_interval(secs => %s))", (new_digest, family, lifetime))
        return Rotation(user_id=int(user_id), session=int(family))


async def revoke_session(pool: AsyncConnectionPool, session: int, reason: str) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE token_families SET revoked_at = now(), revoked_reason = %s"
                           " WHERE id = %s AND revoked_at IS NULL", (reason, session))


async def _revoke_user_sessions(conn: psycopg.AsyncConnection, user_id: int, reason: str) -> None:
    await conn.execute("UPDATE token_families SET revoked_at = now(), revoked_reason = %s"
                       " WHERE user_id = %s AND revoked_at IS NULL", (reason, user_id))


# -- the command line (sync) ------------------------------------------------------------------

def admin_exists_sync(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin'"
                           " AND disabled_at IS NULL)").fetchone()
    return bool(row and row[0])


def create_user_sync(dsn: str, name: str, role: str, password_hash: str) -> None:
    name, role = check_name(name), check_role(role)
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute("INSERT INTO users (name, role, password_hash) VALUES (%s, %s, %s)",
                         (name, role, password_hash))
    except psycopg.errors.UniqueViolation as exc:
        raise AuthError(f"a user named {name!r} already exists") from exc


def list_users_sync(dsn: str) -> list[User]:
    with psycopg.connect(dsn) as conn:
        cur = conn.cursor(row_factory=class_row(User))
        cur.execute(_SELECT_USERS + " ORDER BY id")
        return cur.fetchall()


def update_user_sync(dsn: str, name: str, *, role: str | None = None, disabled: bool | None = None,
                     password_hash: str | None = None) -> bool:
    """Change what is given for the user `name`; False when there is no such user. Disabling
    or a new password end the user's sessions."""
    if role is not None:
        check_role(role)
    with psycopg.connect(dsn) as conn, conn.transaction():
        row = conn.execute(
            "UPDATE users SET role = coalesce(%(role)s, role),"
            " disabled_at = CASE WHEN %(disabled)s::boolean IS NULL THEN disabled_at"
            "   WHEN %(disabled)s THEN coalesce(disabled_at, now()) ELSE NULL END,"
            " password_hash = coalesce(%(hash)s, password_hash),"
            " password_set_at = CASE WHEN %(hash)s::text IS NULL THEN password_set_at ELSE now() END"
            " WHERE name = %(name)s RETURNING id",
            {"role": role, "disabled": disabled, "hash": password_hash, "name": name}).fetchone()
        if row is None:
            return False
        if disabled or password_hash is not None:
            conn.execute("UPDATE token_families SET revoked_at = now(), revoked_reason = 'changed by the cli'"
                         " WHERE user_id = %s AND revoked_at IS NULL", (row[0],))
    return True
