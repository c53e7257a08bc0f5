"""The one error hierarchy of Guetteur.

Every error Guetteur raises across a module boundary is a `GuetteurError`. It says where it
happened (`location`: file and line, record, batch, rule, source, as far as known) and whether
retrying the same work may succeed (`recoverable`, as Alertmanager's notifiers answer
`(recoverable, err)`). Callers retry only recoverable errors, with backoff; an unrecoverable
record is isolated and kept (quarantined), never retried forever and never dropped.

    GuetteurError
    ├── ConfigError            settings or packaging that cannot work (not recoverable)
    │   └── MigrationError     the schema migrations shipped with the package are inconsistent
    ├── QueryError             a query a user sent is malformed (also a ValueError)
    ├── ApiKeyError            an API key cannot be created (also a ValueError)
    ├── AlertInputError        a bad silence or lifecycle change (also a ValueError)
    └── StoreError             PostgreSQL
        ├── StoreUnavailable       connection lost, server restarting, serialization failure,
        │                          disk or memory full: recoverable
        ├── StoreMisconfigured     missing table, privileges, authentication: recoverable
        │                          once an operator acts (retried meanwhile, logged loudly)
        ├── QuarantineFailed       even a record's minimal quarantine form was refused, so the
        │                          cause is not the record: recoverable
        ├── StoreInconsistent      an invariant of the store does not hold: not recoverable
        └── RecordRejected         the database refuses this content: not recoverable
            └── PoisonRecord       ... isolated to one record, which is quarantined

Errors cross process boundaries (worker -> main process) intact: they pickle with their
location and recoverability.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class Location:
    """Where an error happened; every part is optional."""

    file: str | None = None
    line: int | None = None
    record: str | None = None  # event.id of the record, or a description of it
    batch: int | None = None  # store batch id
    rule: str | None = None  # rule id
    source: str | None = None  # input the record came from (input.type)

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file is not None:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        for name in ("record", "batch", "rule", "source"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name} {value}")
        return ", ".join(parts)

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


class GuetteurError(Exception):
    """Base of every Guetteur error. `recoverable` defaults to the kind's class attribute;
    `code` is a machine-readable detail (a PostgreSQL SQLSTATE, for the store)."""

    recoverable: bool = False

    def __init__(self, message: str, *, recoverable: bool | None = None, location: Location | None = None,
                 code: str | None = None, **where: Any) -> None:
        super().__init__(message)
        self.message = message
        if recoverable is not None:
            self.recoverable = recoverable
        self.location = location if location is not None else Location(**where)
        self.code = code

    def __str__(self) -> str:
        where = str(self.location)
        return f"{self.message} ({where})" if where else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore, (type(self), self.message, self.recoverable, self.location, self.code)


def _restore(kind: type[GuetteurError], message: str, recoverable: bool, location: Location,
             code: str | None) -> GuetteurError:
    return kind(message, recoverable=recoverable, location=location, code=code)


class ConfigError(GuetteurError):
    """Settings, rule folders or packaging that cannot work as given."""


class MigrationError(ConfigError):
    """The schema migrations shipped with the package are inconsistent (two share a number)."""


class QueryError(GuetteurError, ValueError):
    """A malformed query: unknown filter, bad value, bad cursor or limit (HTTP 422)."""


class ApiKeyError(GuetteurError, ValueError):
    """An API key cannot be created (bad name or scope, name already active)."""


class StoreError(GuetteurError):
    """PostgreSQL failed or refused something."""


class StoreUnavailable(StoreError):
    """The database cannot be used right now: connection lost, server restarting or shutting
    down, serialization failure or deadlock, disk or memory full. Retrying may succeed."""

    recoverable = True


class StoreMisconfigured(StoreError):
    """The database is not as Guetteur needs it: a missing table or function, a privilege
    taken away, authentication refused. Retried (an operator can fix it meanwhile)."""

    recoverable = True


class QuarantineFailed(StoreError):
    """A record's minimal quarantine form was refused too: the cause is not the record."""

    recoverable = True


class StoreInconsistent(StoreError):
    """An invariant of the store does not hold (a batch stored a different number of rows
    than it was given, a query that always returns a row returned none)."""


class RecordRejected(StoreError):
    """The database refuses this content (a value it cannot hold, a constraint it violates):
    retrying the same rows fails the same way."""


class PoisonRecord(RecordRejected):
    """One record, isolated from its batch, that the database refuses; it is quarantined."""


class AlertInputError(GuetteurError, ValueError):
    """A malformed alert request: a bad silence matcher or window, a lifecycle change that the
    alert's status does not allow (HTTP 422 or 409 with the reason)."""

    def __init__(self, message: str, *, conflict: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.conflict = conflict
