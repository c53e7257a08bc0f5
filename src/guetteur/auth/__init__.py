"""People on the API: password hashes, access and refresh tokens, TOTP, login throttling and
per-principal rate limits. Storage of users and sessions is in `guetteur.store.users`."""

from __future__ import annotations

from guetteur.errors import GuetteurError

ROLES = ("admin", "analyst", "viewer")


class AuthError(GuetteurError, ValueError):
    """A user or credential request that cannot be done as asked (unknown role, weak password,
    name taken...). Not recoverable: the request must change."""
