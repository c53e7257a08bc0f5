"""Access tokens (JWT, HS256) and refresh tokens (opaque, stored hashed).

An access token carries `sub` (user id), `name`, `sid` (its login session, the refresh-token
family), `jti`, `iat`, `exp`, `iss` and `aud`; the role is *not* trusted from the token but
read from the database on each request, so a role change or a disabled account applies at
once. Decoding accepts only HS256 with our key and audience (no `alg: none`, no other
algorithm, no token without `exp`). The key comes from `auth.jwt_secret`, else from
`data_dir/jwt.key`, generated once (32 random bytes, mode 0600): never a constant.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from guetteur.config import Settings
from guetteur.errors import ConfigError

ALGORITHM = "HS256"
AUDIENCE = "guetteur-api"
ISSUER = "guetteur"
REFRESH_PREFIX = "gr_"
KEY_FILE = "jwt.key"
_MIN_SECRET = 32


def signing_key(settings: Settings) -> bytes:
    """The configured secret, else the data directory's key file (created on first use)."""
    if settings.auth.jwt_secret is not None:
        secret = settings.auth.jwt_secret.get_secret_value().encode()
        if len(secret) < _MIN_SECRET:
            raise ConfigError(f"auth.jwt_secret must be at least {_MIN_SECRET} characters")
        return secret
    path = Path(settings.data_dir) / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return path.read_bytes()
        with os.fdopen(fd, "wb") as out:
            out.write(key)
    if len(key) < _MIN_SECRET:
        raise ConfigError(f"{path} holds fewer than {_MIN_SECRET} bytes")
    return key


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    name: str
    session: int
    jti: str
    expires: int


def issue_access(key: bytes, user_id: int, name: str, session: int, lifetime: int) -> tuple[str, int]:
    """(token, expiry epoch seconds)."""
    now = int(time.time())
    claims = {"sub": str(user_id), "name": name, "sid": session, "jti": uuid.uuid4().hex,
              "iat": now, "exp": now + lifetime, "iss": ISSUER, "aud": AUDIENCE}
    return jwt.encode(claims, key, algorithm=ALGORITHM), now + lifetime


def decode_access(key: bytes, token: str) -> AccessClaims | None:
    """The claims of a valid, unexpired access token of ours; None for anything else."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
            options={"require": ["exp", "iat", "jti", "sub", "aud", "iss"]}, leeway=5)
        return AccessClaims(int(claims["sub"]), str(claims["name"]), int(claims["sid"]),
                            str(claims["jti"]), int(claims["exp"]))
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def refresh_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()
