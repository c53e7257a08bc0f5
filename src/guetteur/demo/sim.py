"""The state a simulation carries between lines: randomness, the clock, and counters
that real systems keep increasing (pids, auditd serials, kernel uptime, Zeek uids).

Normal traffic and attack scenarios share one `Sim`, so serials never repeat within a run.
"""

from __future__ import annotations

import random
import string
import time
from dataclasses import dataclass, field

from guetteur.demo.step import Clock


@dataclass(slots=True)
class Sim:
    """rng: all random choices (seeded for reproducible runs); clock: "now" in epoch seconds."""

    rng: random.Random = field(default_factory=random.Random)
    clock: Clock = time.time
    _pid: int = 20_000
    _audit_serial: int = 4_000
    _booted: float = field(default=0.0)

    def __post_init__(self) -> None:
        self._pid = self.rng.randint(20_000, 40_000)
        self._audit_serial = self.rng.randint(1_000, 90_000)
        self._booted = self.clock() - self.rng.uniform(86_400, 40 * 86_400)

    def now(self) -> float:
        return self.clock()

    def pid(self) -> int:
        """A fresh process id (increasing, as the kernel hands them out)."""
        self._pid += self.rng.randint(1, 7)
        if self._pid > 4_000_000:
            self._pid = 1_000
        return self._pid

    def audit_serial(self) -> int:
        self._audit_serial += 1
        return self._audit_serial

    def uptime(self) -> float:
        """Seconds since fw-01 booted: the `[12345.678901]` of kernel lines."""
        return max(self.clock() - self._booted, 0.0)

    def zeek_uid(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "C" + "".join(self.rng.choice(alphabet) for _ in range(17))

    def inode(self) -> int:
        return self.rng.randint(1_000_000, 9_999_999)
