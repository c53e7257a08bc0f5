"""Argon2id password hashes (argon2-cffi's defaults: RFC 9106 low-memory profile).

`verify_password` on an unknown or disabled user checks a dummy hash built at import, so a
login costs the same time whether the account exists or not.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from guetteur.auth import AuthError

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
_hasher = PasswordHasher()
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def check_new_password(password: str) -> str:
    """The password when it is acceptable as a new one; else AuthError saying why."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AuthError(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_new_password(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; with `stored_hash` None (no such user), checks the dummy
    hash and returns False, so both cost one Argon2 verification."""
    if len(password) > MAX_PASSWORD:
        password = password[:MAX_PASSWORD]
    try:
        ok = _hasher.verify(stored_hash or _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None


def random_password() -> str:
    """A generated password (first admin, resets): 24 URL-safe characters, ~143 bits."""
    return secrets.token_urlsafe(18)
