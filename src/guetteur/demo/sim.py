"""The state a simulation carries between lines: randomness, the clock, and counters
that real systems keep increasing (pids, auditd serials, kernel uptime, Zeek uids).

Time: a scenario decides a pause with `sim.wait(seconds)` *before* writing the line that
follows it, so the line is stamped with the moment it will be sent (`now()` is the clock
plus the pauses announced but not yet slept). The sender calls `elapse(seconds)` once it
has slept. Iterated without a sender (tests), pauses simply accumulate: simulated time.
Each scenario run gets its own `fork()` (its own pending pauses), sharing the counters.
"""

from __future__ import annotations

import random
import string
import time
from dataclasses import dataclass, field

from guetteur.demo.step import Clock


@dataclass(slots=True)
class _Counters:
    pid: int
    audit_serial: int
    booted: float


@dataclass(slots=True)
class Sim:
    """rng: all random choices (seeded for reproducible runs); clock: real time, epoch seconds."""

    rng: random.Random = field(default_factory=random.Random)
    clock: Clock = time.time
    pending: float = 0.0
    _counters: _Counters | None = None

    def __post_init__(self) -> None:
        if self._counters is None:
            self._counters = _Counters(
                pid=self.rng.randint(20_000, 40_000),
                audit_serial=self.rng.randint(1_000, 90_000),
                booted=self.clock() - self.rng.uniform(86_400, 40 * 86_400),
            )

    @property
    def counters(self) -> _Counters:
        assert self._counters is not None
        return self._counters

    def fork(self) -> Sim:
        """A view for one scenario run: same rng, clock and counters, its own pending pauses."""
        return Sim(self.rng, self.clock, 0.0, self._counters)

    def now(self) -> float:
        """The moment the next line will be sent."""
        return self.clock() + self.pending

    def wait(self, seconds: float) -> float:
        """Announce a pause before the next line; returns it (the step's `delay`)."""
        self.pending += seconds
        return seconds

    def elapse(self, seconds: float) -> None:
        """The sender slept `seconds` of the announced pauses."""
        self.pending = max(self.pending - seconds, 0.0)

    def pid(self) -> int:
        """A fresh process id (increasing, as the kernel hands them out)."""
        c = self.counters
        c.pid += self.rng.randint(1, 7)
        if c.pid > 4_000_000:
            c.pid = 1_000
        return c.pid

    def audit_serial(self) -> int:
        self.counters.audit_serial += 1
        return self.counters.audit_serial

    def uptime(self) -> float:
        """Seconds since fw-01 booted: the `[12345.678901]` of kernel lines."""
        return max(self.now() - self.counters.booted, 0.0)

    def zeek_uid(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "C" + "".join(self.rng.choice(alphabet) for _ in range(17))

    def inode(self) -> int:
        return self.rng.randint(1_000_000, 9_999_999)
