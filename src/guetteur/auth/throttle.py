"""Login brute-force protection and per-principal rate limits, in memory (one API process).

`LoginThrottle`: failures are counted per account name and per source address. Past the free
failures, each further failure locks that key for `backoff * 2**(n - free)` seconds (capped);
while locked, login answers 429 with Retry-After without checking the password. A success
clears the account's count (not the address's: one good password does not buy more guesses
on other accounts). `TokenBuckets`: `rate` requests per second with bursts of `burst`, per
user or key. Both forget old entries so their size stays bounded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

_MAX_KEYS = 100_000


@dataclass(slots=True)
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    def __init__(self, account_free: int, address_free: int, backoff: float, backoff_max: float) -> None:
        self._free = {"account": account_free, "address": address_free}
        self._backoff = backoff
        self._max = backoff_max
        self._failures: dict[tuple[str, str], _Failures] = {}

    def retry_after(self, account: str, address: str, now: float | None = None) -> float:
        """Seconds until a login for this account from this address may be tried (0 = now)."""
        now = time.monotonic() if now is None else now
        waits = [f.locked_until - now for f in (self._failures.get(("account", account.lower())),
                                                self._failures.get(("address", address))) if f]
        return max([0.0, *waits])

    def failed(self, account: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if len(self._failures) > _MAX_KEYS:
            self._forget(now)
        for key in (("account", account.lower()), ("address", address)):
            entry = self._failures.setdefault(key, _Failures())
            if now - entry.last > self._max * 2:  # a quiet period forgives old failures
                entry.count = 0
            entry.count += 1
            entry.last = now
            over = entry.count - self._free[key[0]]
            if over >= 0:
                entry.locked_until = now + min(self._max, self._backoff * 2 ** min(over, 30))

    def succeeded(self, account: str) -> None:
        self._failures.pop(("account", account.lower()), None)

    def _forget(self, now: float) -> None:
        for key in [k for k, f in self._failures.items() if f.locked_until < now]:
            del self._failures[key]


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
