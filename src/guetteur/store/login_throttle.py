"""The login throttle's counters in PostgreSQL (table `login_failures`, migration 0770).

One row per (kind, key): kind `account` (the lower-cased name tried) or `address` (the client's
address). Every time is the database's `now()`, so several API processes and a restarted one
agree. Parameterised statements only.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

# Rows deleted at most per failure: the cleanup keeps pace with the inserts (two per failure)
# without ever turning one failed login into a long statement.
_EXPIRE_BATCH = 100

_WAIT = (
    "SELECT coalesce(extract(epoch FROM max(locked_until) - now()), 0)::float8 FROM login_failures"
    " WHERE ((kind = 'account' AND key = %s) OR (kind = 'address' AND key = %s)) AND locked_until > now()"
)
# One failure for a key (the function of migration 0770 counts and locks).
_FAILED = "SELECT guetteur_login_failed(%s, %s, %s, %s, %s, %s)"
_EXPIRE = (
    "DELETE FROM login_failures WHERE (kind, key) IN (SELECT kind, key FROM login_failures"
    " WHERE last_at < now() - make_interval(secs => %s) AND (locked_until IS NULL OR locked_until < now())"
    " ORDER BY last_at LIMIT %s)"
)
_SUCCEEDED = "DELETE FROM login_failures WHERE kind = 'account' AND key = %s"


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    account_free: int
    address_free: int
    backoff: float
    backoff_max: float

    @property
    def forgive(self) -> float:
        """Seconds without a failure after which a key's count starts again."""
        return self.backoff_max * 2


async def retry_after(pool: AsyncConnectionPool, account: str, address: str) -> float:
    """Seconds until a login for this account from this address may be tried (0 = now)."""
    async with pool.connection() as conn:
        cur = await conn.execute(_WAIT, (account.lower(), address))
        row = await cur.fetchone()
    return max(0.0, float(row[0])) if row else 0.0


async def record_failure(pool: AsyncConnectionPool, policy: ThrottlePolicy, account: str, address: str) -> None:
    """Count one failed login against the account and the address, and forget a few keys whose
    failures are forgiven (so the table stays bounded by the recent failures)."""
    timing = (policy.backoff, policy.backoff_max, policy.forgive)
    async with pool.connection() as conn:
        async with conn.transaction():
            # One order for both keys in every process: two concurrent failures cannot deadlock.
            await conn.execute(_FAILED, ("account", account.lower(), policy.account_free, *timing))
            await conn.execute(_FAILED, ("address", address, policy.address_free, *timing))
        await conn.execute(_EXPIRE, (policy.forgive, _EXPIRE_BATCH))


async def record_success(pool: AsyncConnectionPool, account: str) -> None:
    """A right password clears the account's count (not the address's)."""
    async with pool.connection() as conn:
        await conn.execute(_SUCCEEDED, (account.lower(),))


async def stored_keys(pool: AsyncConnectionPool) -> int:
    """Rows held (for tests and the health page)."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM login_failures")
        row = await cur.fetchone()
    return int(row[0]) if row else 0
