"""An alert's life: open -> acknowledged -> closed, and reopened; who may go where.

    open ──acknowledge──► acknowledged ──close(reason)──► closed
      └──────────────close(reason)──────────────────────►   │
      ◄──────────────────────reopen─────────────────────────┘ (also from acknowledged)

Closing needs a reason (`true_positive`, `false_positive`, `benign_positive`, `duplicate`,
`other`); reopening clears it. A change to the status the alert already has is refused
(`AlertInputError(conflict=True)`, HTTP 409), as is a reason without a close.
"""

from __future__ import annotations

from dataclasses import dataclass

from guetteur.alert.model import CLOSE_REASONS, STATUSES
from guetteur.errors import AlertInputError

# target status -> (statuses it may come from, the history action)
_MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledged": (("open",), "acknowledged"),
    "closed": (("open", "acknowledged"), "closed"),
    "open": (("acknowledged", "closed"), "reopened"),
}


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: str
    close_reason: str | None
    action: str  # the history action: acknowledged, closed, reopened


def check_request(target: str, close_reason: str | None = None) -> None:
    """Whether asking for `target` (with `close_reason`) makes sense at all, whatever the alert."""
    if target not in STATUSES:
        raise AlertInputError(f"status must be one of {', '.join(STATUSES)}")
    if target == "closed":
        if close_reason not in CLOSE_REASONS:
            raise AlertInputError(f"closing needs close_reason, one of {', '.join(CLOSE_REASONS)}")
    elif close_reason is not None:
        raise AlertInputError("close_reason is only given when closing")


def change_status(current: str, target: str, close_reason: str | None = None) -> StatusChange:
    """The change from `current` to `target`, or `AlertInputError` saying why not."""
    check_request(target, close_reason)
    sources, action = _MOVES[target]
    if current not in sources:
        raise AlertInputError(f"the alert is {current}: it cannot become {target}", conflict=True)
    return StatusChange(target, close_reason if target == "closed" else None, action)
