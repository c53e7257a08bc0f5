"""TOTP second factor (RFC 6238, 30-second steps, 6 digits, SHA-1: what authenticator apps read).

A code is accepted for the current step and one step either side (clock drift), and only once:
the caller stores the accepted step and passes it as `last_step` next time.
"""

from __future__ import annotations

import time

import pyotp

ISSUER = "Guetteur"
STEP = 30


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, name: str) -> str:
    """The `otpauth://` URI an authenticator app scans (as a QR code) or reads."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The `otpauth://` URI as a QR code: an SVG `data:` URI (drawn here, so the console needs no
    QR library and its CSP allows it: `img-src 'self' data:`)."""
    import segno

    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def accepted_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step `code` is valid for (now ±1 step), when it was not used before; else None."""
    code = code.strip()
    if len(code) != 6 or not code.isdigit():
        return None
    moment = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    current = int(moment // STEP)
    for step in (current, current - 1, current + 1):
        if (last_step is None or step > last_step) and totp.at(step * STEP) == code:
            return step
    return None
