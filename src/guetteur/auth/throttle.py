"""Login brute-force protection and per-principal rate limits.

`LoginThrottle`: failures are counted per account name and per source address, in PostgreSQL
(table `login_failures`, migration 0770: a restart does not reset an attacker's backoff, and
several API processes share the counts). Past the free failures, each further failure locks
that key for `backoff * 2**(n - free)` seconds (capped); while locked, login answers 429 with
Retry-After without checking the password. A success clears the account's count (not the
address's: one good password does not buy more guesses on other accounts). A key quiet for
twice the longest lockout starts again from zero, and such keys are deleted as failures come
(the table stays bounded). `TokenBuckets`: `rate` requests per second with bursts of `burst`,
per user or key, in memory (one process); they forget old entries so their size stays bounded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from guetteur.store import login_throttle as store
from guetteur.store.login_throttle import ThrottlePolicy

_MAX_KEYS = 100_000


class LoginThrottle:
    def __init__(self, pool: AsyncConnectionPool, account_free: int, address_free: int, backoff: float,
                 backoff_max: float) -> None:
        self._pool = pool
        self._policy = ThrottlePolicy(account_free, address_free, backoff, backoff_max)

    async def retry_after(self, account: str, address: str) -> float:
        """Seconds until a login for this account from this address may be tried (0 = now)."""
        return await store.retry_after(self._pool, account, address)

    async def failed(self, account: str, address: str) -> None:
        await store.record_failure(self._pool, self._policy, account, address)

    async def succeeded(self, account: str) -> None:
        await store.record_success(self._pool, account)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def take(self, who: str, now: float | None = None) -> float:
        """0 when `who` may send this request now; else the seconds to wait."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(who)
        if bucket is None:
            if len(self._buckets) > _MAX_KEYS:
                self._buckets.clear()
            bucket = self._buckets[who] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate
