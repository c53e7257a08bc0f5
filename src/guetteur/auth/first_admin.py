"""The first administrator: there is no default password. On `guetteur up`, when no active
admin exists, one is created (`admin`, or `admin-2`... when that name is taken by a non-admin or
a disabled account) with a random password that is printed once and never stored in clear."""

from __future__ import annotations

from guetteur.auth import AuthError
from guetteur.auth.passwords import hash_password, random_password
from guetteur.store.audit import AuditEntry, append_sync
from guetteur.store.users import admin_exists_sync, create_user_sync, list_users_sync


def ensure_first_admin(dsn: str) -> tuple[str, str] | None:
    """(name, password) of the admin created now; None when an active admin exists."""
    if admin_exists_sync(dsn):
        return None
    taken = {user.name for user in list_users_sync(dsn)}
    name = next(n for n in ("admin", *(f"admin-{i}" for i in range(2, 1000))) if n not in taken)
    password = random_password()
    try:
        create_user_sync(dsn, name, "admin", hash_password(password))
    except AuthError:  # another process created it at the same moment
        return None
    append_sync(dsn, AuditEntry("guetteur", "user.create", "success", target=name,
                                detail={"role": "admin", "reason": "first start: no admin"}))
    return name, password
