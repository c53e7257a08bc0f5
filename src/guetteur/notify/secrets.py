"""Channel secrets (SMTP passwords, webhook HMAC keys) encrypted at rest with Fernet
(AES-128-CBC + HMAC-SHA256). The key is `data_dir/notify.key`, generated once (mode 0600),
as the token key in `auth/tokens.py`; losing it means re-entering the secrets."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from cryptography.fernet import Fernet, InvalidToken

from guetteur.errors import ConfigError

KEY_FILE = "notify.key"


def secret_key(data_dir: Path) -> bytes:
    """The data directory's key (created on first use)."""
    path = Path(data_dir) / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


def seal(data_dir: Path, secrets: dict[str, str]) -> bytes | None:
    """The encrypted form of `secrets` (None when there is none)."""
    if not secrets:
        return None
    return Fernet(secret_key(data_dir)).encrypt(orjson.dumps(secrets))


def unseal(data_dir: Path, token: bytes | None) -> dict[str, str]:
    """The secrets back; ConfigError when the key is not the one they were sealed with."""
    if not token:
        return {}
    try:
        data = orjson.loads(Fernet(secret_key(data_dir)).decrypt(bytes(token)))
    except (InvalidToken, ValueError) as exc:
        raise ConfigError(f"channel secrets cannot be decrypted with {Path(data_dir) / KEY_FILE}: "
                          "enter them again") from exc
    return {str(k): str(v) for k, v in data.items()}
