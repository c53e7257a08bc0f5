"""`/api/v1/auth`: login, refresh, logout, the caller's profile, password change, TOTP enrolment.

Login answers the same 401 for an unknown user, a disabled one, a wrong password and a wrong
second factor, and costs one Argon2 verification in every case. Failed logins are counted per
account and per address in the database (`auth.login_free_failures`...; they survive a
restart): past the free ones, 429 with Retry-After until the lockout ends. Every outcome is written to the audit trail and as an ECS
event (`event.dataset: guetteur.audit`).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from guetteur.api.audit_trail import record
from guetteur.api.deps import Auth, AuthRuntime, Person, Public, State, client_address
from guetteur.api.state import AppState
from guetteur.auth import AuthError
from guetteur.auth import totp as totp_codes
from guetteur.auth.passwords import hash_password, verify_password
from guetteur.auth.tokens import issue_access, new_refresh_token, refresh_digest
from guetteur.store.audit import AuditEntry
from guetteur.store.users import (
    User,
    find_user,
    open_session,
    revoke_session,
    rotate_refresh,
    set_totp,
    update_user,
    use_totp_step,
)

router = APIRouter(prefix="/auth", tags=["auth"])

_FAILED = "invalid credentials"


class LoginRequest(BaseModel):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1024)
    totp: str | None = Field(None, max_length=10, description="the 6-digit code, for users with a second factor")


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str = Field(description="send to /auth/refresh for a new pair; each is valid once")
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds the access token is valid")
    totp_enrolment_required: bool = Field(
        False, description="an admin without a second factor: only /auth endpoints work until TOTP is enabled")


class RefreshRequest(BaseModel):
    refresh_token: str = Field(max_length=200)


class Me(BaseModel):
    name: str
    role: str
    totp_enabled: bool
    totp_enrolment_required: bool


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class TotpEnrolment(BaseModel):
    secret: str = Field(description="base32 secret, for manual entry")
    provisioning_uri: str = Field(description="otpauth:// URI to show as a QR code")
    qr_code: str = Field(description="the URI as a QR code: an SVG `data:` URI for an <img>")


class TotpCode(BaseModel):
    code: str = Field(max_length=10)


_REFUSED: dict[int | str, dict[str, Any]] = {401: {"description": "unknown user, wrong password or wrong second factor (one answer for all)"},
            429: {"description": "too many failed logins for this account or address: see Retry-After"}}


async def _pair(state: AppState, runtime: AuthRuntime, user: User, session: int, refresh: str) -> TokenPair:
    access, _ = issue_access(runtime.key, user.id, user.name, session, state.settings.auth.access_token_seconds)
    pending = user.role == "admin" and not user.totp_enabled and state.settings.auth.require_totp_for_admins
    return TokenPair(access_token=access, refresh_token=refresh,
                     expires_in=state.settings.auth.access_token_seconds, totp_enrolment_required=pending)


async def _second_factor_ok(state: AppState, user: User, code: str | None) -> bool:
    if user.totp_secret is None:
        return True
    step = totp_codes.accepted_step(user.totp_secret, code or "", user.totp_last_step)
    return step is not None and await use_totp_step(state.pool, user.id, step)


@router.post("/login", response_model=TokenPair, responses=_REFUSED)
async def login(body: LoginRequest, request: Request, state: State, runtime: Auth, _: Public) -> TokenPair:
    """Exchange a user name and password (and TOTP code) for an access and a refresh token."""
    address = client_address(request)
    wait = await runtime.throttle.retry_after(body.username, address)
    if wait > 0:
        await record(state, AuditEntry(body.username, "login", "failure", address, detail={"reason": "throttled"}))
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many failed logins: try again later",
                            headers={"Retry-After": str(math.ceil(wait))})
    user = await find_user(state.pool, name=body.username.strip())
    usable = user is not None and user.disabled_at is None
    matches = await asyncio.to_thread(verify_password, user.password_hash if usable and user else None,
                                      body.password)
    if not matches or user is None or not await _second_factor_ok(state, user, body.totp):
        await runtime.throttle.failed(body.username, address)
        reason = "unknown user" if user is None else "disabled" if not usable else \
            "wrong password" if not matches else "wrong second factor"
        await record(state, AuditEntry(body.username[:200], "login", "failure", address, detail={"reason": reason}))
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, _FAILED, headers={"WWW-Authenticate": "Bearer"})
    await runtime.throttle.succeeded(body.username)
    refresh = new_refresh_token()
    session = await open_session(state.pool, user.id, refresh_digest(refresh), state.settings.auth.refresh_token_seconds)
    await record(state, AuditEntry(user.name, "login", "success", address, detail={"session": session}))
    return await _pair(state, runtime, user, session, refresh)


@router.post("/refresh", response_model=TokenPair,
             responses={401: {"description": "unknown, expired, spent or revoked refresh token"}})
async def refresh(body: RefreshRequest, request: Request, state: State, runtime: Auth, _: Public) -> TokenPair:
    """A new access token and a new refresh token; the one sent is spent. Sending a spent
    refresh token again ends its whole session (someone else holds a copy)."""
    new = new_refresh_token()
    rotation = await rotate_refresh(state.pool, refresh_digest(body.refresh_token), refresh_digest(new),
                                    state.settings.auth.refresh_token_seconds)
    user = None if rotation.user_id is None else await find_user(state.pool, user_id=rotation.user_id)
    if rotation.reused:
        await record(state, AuditEntry(user.name if user else "?", "refresh", "failure", client_address(request),
                                       detail={"reason": "refresh token reused: session revoked",
                                               "session": rotation.session}))
    if user is None or rotation.session is None or rotation.reused:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid refresh token", headers={"WWW-Authenticate": "Bearer"})
    return await _pair(state, runtime, user, rotation.session, new)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, state: State, who: Person) -> None:
    """End this session: its access and refresh tokens stop working."""
    if who.session is not None:
        await revoke_session(state.pool, who.session, "logout")
    await record(state, AuditEntry(who.actor, "logout", "success", client_address(request),
                                   detail={"session": who.session}))


@router.get("/me", response_model=Me)
async def me(who: Person) -> Me:
    """The logged-in user: name, role, second factor."""
    assert who.user is not None
    return Me(name=who.user.name, role=who.user.role, totp_enabled=who.user.totp_enabled,
              totp_enrolment_required=who.totp_enrolment_required)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT,
             responses={400: {"description": "current password wrong, or new one refused"}})
async def change_password(body: PasswordChange, request: Request, state: State, who: Person) -> None:
    """Change your password; every session of yours ends (log in again)."""
    assert who.user is not None
    address = client_address(request)
    if not await asyncio.to_thread(verify_password, who.user.password_hash, body.current_password):
        await record(state, AuditEntry(who.actor, "password.change", "failure", address,
                                       detail={"reason": "wrong current password"}))
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "current password is wrong")
    try:
        new_hash = await asyncio.to_thread(hash_password, body.new_password)
    except AuthError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    await update_user(state.pool, who.user.id, password_hash=new_hash)
    await record(state, AuditEntry(who.actor, "password.change", "success", address, target=who.actor))


@router.post("/totp", response_model=TotpEnrolment,
             responses={409: {"description": "a second factor is already enabled"}})
async def totp_enrol(request: Request, state: State, who: Person) -> TotpEnrolment:
    """Start enrolling a TOTP second factor: scan the URI, then confirm with a code."""
    assert who.user is not None
    if who.user.totp_enabled:
        raise HTTPException(status.HTTP_409_CONFLICT, "a second factor is already enabled; an admin can reset it")
    secret = totp_codes.new_secret()
    await set_totp(state.pool, who.user.id, pending=secret)
    await record(state, AuditEntry(who.actor, "totp.enrol", "success", client_address(request), target=who.actor))
    uri = totp_codes.provisioning_uri(secret, who.user.name)
    return TotpEnrolment(secret=secret, provisioning_uri=uri, qr_code=totp_codes.qr_data_uri(uri))


@router.post("/totp/confirm", status_code=status.HTTP_204_NO_CONTENT,
             responses={400: {"description": "no enrolment started, or wrong code"}})
async def totp_confirm(body: TotpCode, request: Request, state: State, who: Person) -> None:
    """Finish the enrolment with a current code: from now on login asks for a code."""
    assert who.user is not None
    fresh = await find_user(state.pool, user_id=who.user.id)
    pending = fresh.totp_pending if fresh else None
    step = None if pending is None else totp_codes.accepted_step(pending, body.code, None)
    if step is None:
        await record(state, AuditEntry(who.actor, "totp.confirm", "failure", client_address(request)))
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "no enrolment started, or wrong code")
    await set_totp(state.pool, who.user.id, confirm_step=step)
    await record(state, AuditEntry(who.actor, "totp.confirm", "success", client_address(request), target=who.actor))
