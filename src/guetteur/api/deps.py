"""Shared route dependencies: the app state, who is calling, and what each route requires.

Two kinds of callers send `Authorization: Bearer ...`:
- people, with an access token (JWT) from `POST /api/v1/auth/login`; their role (admin,
  analyst, viewer) is read from the database on each request, with their session;
- machines, with an API key (`gt_...`, also accepted as `X-API-Key`) of scope `ingest` (send
  logs) or `read` (what a viewer reads).

Every route declares what it needs with one of the `Annotated` dependencies below (they take an
`HTTPConnection`, so WebSocket routes use them too): `Public`,
`Person` (any logged-in user, even one who must still enrol a second factor), `Viewer`,
`Analyst`, `Admin`, `IngestKey` (`ElasticIngestKey` for the same callers with the credentials
Elasticsearch and OTLP clients send). Each carries an `ACCESS` marker that
`tests/api/test_route_roles.py` reads: a route without one fails that test. A missing or
invalid credential is a 401; a valid caller without the right a 403 that says what the route
needs. Successful key look-ups are cached briefly so a busy sender costs no database round
trip per request; a revoked key stops working within `KEY_CACHE_SECONDS`. Each authenticated
caller also spends one token of its rate-limit bucket (429 when empty).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from guetteur.api.state import AppState
from guetteur.auth.throttle import LoginThrottle, TokenBuckets
from guetteur.auth.tokens import decode_access, signing_key
from guetteur.store.keys import TOKEN_PREFIX, KeyInfo, find_key
from guetteur.store.users import User, session_user

KEY_CACHE_SECONDS = 30.0
ACCESS = "__guetteur_access__"
ROLE_RANK = {"viewer": 1, "analyst": 2, "admin": 3}
_cache: dict[str, tuple[float, KeyInfo]] = {}


def get_state(request: HTTPConnection) -> AppState:
    state: AppState = request.app.state.guetteur
    return state


State = Annotated[AppState, Depends(get_state)]


class AuthRuntime:
    """Per-application authentication state: the signing key, the login throttle (its counts
    in the database) and the rate-limit buckets (in memory)."""

    def __init__(self, state: AppState) -> None:
        auth = state.settings.auth
        self.key = signing_key(state.settings)
        self.throttle = LoginThrottle(state.pool, auth.login_free_failures, auth.address_free_failures,
                                      auth.login_backoff_seconds, auth.login_backoff_max)
        self.buckets = TokenBuckets(auth.rate_per_second, auth.rate_burst)


def get_auth(request: HTTPConnection) -> AuthRuntime:
    runtime: AuthRuntime | None = getattr(request.app.state, "auth", None)
    if runtime is None:
        runtime = request.app.state.auth = AuthRuntime(get_state(request))
    return runtime


Auth = Annotated[AuthRuntime, Depends(get_auth)]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent the request: a user (`user` set, `session` its login session) or a key."""

    name: str
    user: User | None = None
    session: int | None = None
    key: KeyInfo | None = None
    totp_enrolment_required: bool = False

    @property
    def actor(self) -> str:
        """Its name in the audit trail."""
        return self.name if self.user is not None else f"key:{self.name}"


def client_address(request: HTTPConnection) -> str:
    return request.client.host if request.client else ""


def _token(request: HTTPConnection) -> tuple[str | None, bool]:
    """(the credential sent, whether it may be an access token: not from `X-API-Key`)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), True
    if request.scope.get("type") == "websocket" and request.query_params.get("access_token"):
        return request.query_params["access_token"], True  # browsers cannot set headers on a WebSocket
    return request.headers.get("x-api-key") or None, False


def _unauthorized(detail: str = "missing or invalid API key") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


async def _key(request: HTTPConnection, token: str) -> KeyInfo:
    now = time.monotonic()
    cached = _cache.get(token)
    if cached is not None and cached[0] > now:
        return cached[1]
    found = await find_key(get_state(request).pool, token)
    if found is None:
        raise _unauthorized()
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[token] = (now + KEY_CACHE_SECONDS, found)
    return found


async def _person(request: HTTPConnection, token: str) -> Principal:
    runtime = get_auth(request)
    claims = decode_access(runtime.key, token)
    if claims is None:
        raise _unauthorized("invalid or expired access token")
    user = await session_user(get_state(request).pool, claims.user_id, claims.session)
    if user is None:
        raise _unauthorized("session ended: log in again")
    pending = (user.role == "admin" and not user.totp_enabled
               and get_state(request).settings.auth.require_totp_for_admins)
    return Principal(user.name, user=user, session=claims.session, totp_enrolment_required=pending)


async def principal(request: HTTPConnection) -> Principal:
    """The caller, or 401. A user or read key spends one token of its rate-limit bucket (429
    when empty)."""
    token, may_be_jwt = _token(request)
    if not token or len(token) > 4096:
        raise _unauthorized()
    if may_be_jwt and token.count(".") == 2 and not token.startswith("gt_"):
        who = await _person(request, token)
    else:
        key = await _key(request, token)
        who = Principal(key.name, key=key)
    # ingest keys are bounded by body limits and backpressure instead: a busy sender is normal
    wait = 0.0 if who.key is not None and who.key.scope == "ingest" else get_auth(request).buckets.take(who.actor)
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "rate limit: slow down",
                            headers={"Retry-After": str(max(1, round(wait)))})
    return who


# Declared for the OpenAPI schema (Swagger's "Authorize", generated clients); `principal` reads
# the headers itself so that every failure gets our 401/403 answers.
_bearer = HTTPBearer(auto_error=False, description="a user's access token (JWT from /api/v1/auth/login) or an API key")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key (`gt_...`)")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
ApiKeyHeader = Annotated[str | None, Depends(_api_key)]


def _forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail)


def _mark(access: str) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    def mark(function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        setattr(function, ACCESS, access)
        return function
    return mark


def _key_refused(who: Principal, needs: str) -> HTTPException:
    assert who.key is not None
    return _forbidden(f"this key has scope {who.key.scope}; this route needs {needs}")


def _needs_role(who: Principal, role: str) -> Principal:
    if who.key is not None:
        if role == "viewer" and who.key.scope == "read":
            return who
        raise _key_refused(who, "read" if role == "viewer" else f"a user with role {role}")
    assert who.user is not None
    if who.totp_enrolment_required:
        raise _forbidden("admins must enable a second factor first: POST /api/v1/auth/totp")
    if ROLE_RANK[who.user.role] < ROLE_RANK[role]:
        raise _forbidden(f"your role is {who.user.role}; this route needs {role}")
    return who


@_mark("public")
async def public_route() -> None:
    """No credential needed (liveness, login, refresh)."""


@_mark("person")
async def person(request: HTTPConnection, _bearer: Bearer) -> Principal:
    who = await principal(request)
    if who.user is None:
        raise _key_refused(who, "a logged-in user")
    return who


@_mark("viewer")
async def viewer(request: HTTPConnection, _bearer: Bearer, _key: ApiKeyHeader) -> Principal:
    return _needs_role(await principal(request), "viewer")


@_mark("analyst")
async def analyst(request: HTTPConnection, _bearer: Bearer) -> Principal:
    return _needs_role(await principal(request), "analyst")


@_mark("admin")
async def admin(request: HTTPConnection, _bearer: Bearer) -> Principal:
    return _needs_role(await principal(request), "admin")


@_mark("ingest")
async def ingest_key(request: HTTPConnection, _bearer: Bearer, _key: ApiKeyHeader) -> KeyInfo:
    who = await principal(request)
    if who.key is None:
        raise _forbidden("this route needs an ingest key")
    if who.key.scope != "ingest":
        raise _key_refused(who, "ingest")
    return who.key


def elastic_credential(request: HTTPConnection) -> str | None:
    """The ingest key an Elasticsearch or OTLP client sends: `Authorization: ApiKey <key>` (the
    key as is, as the official clients send a string key, or Elastic's base64 of `id:key`),
    `Basic` (any user name, the key as password), `Bearer <key>`, or `X-API-Key`."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme in ("apikey", "basic") and value:
        if scheme == "apikey" and value.startswith(TOKEN_PREFIX):
            return value
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return value if scheme == "apikey" else None
        _user, colon, secret = decoded.partition(":")
        return secret if colon else (decoded if scheme == "apikey" else None)
    return request.headers.get("x-api-key") or None


def _elastic_unauthorized(detail: str = "missing or invalid ingest key") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail,
                         headers={"WWW-Authenticate": 'ApiKey, Basic realm="guetteur", Bearer'})


@_mark("ingest")
async def elastic_ingest_key(request: HTTPConnection, _bearer: Bearer, _api_key: ApiKeyHeader) -> KeyInfo:
    """An ingest key from an Elasticsearch or OTLP client's credential (`elastic_credential`)."""
    token = elastic_credential(request)
    if not token or len(token) > 4096:
        raise _elastic_unauthorized()
    if token.count(".") == 2 and not token.startswith(TOKEN_PREFIX):
        raise _forbidden("this route needs an ingest key, not a user's access token")
    try:
        key = await _key(request, token)
    except HTTPException:
        raise _elastic_unauthorized() from None
    if key.scope != "ingest":
        raise _key_refused(Principal(key.name, key=key), "ingest")
    return key


Public = Annotated[None, Depends(public_route)]
Person = Annotated[Principal, Depends(person)]
Viewer = Annotated[Principal, Depends(viewer)]
Analyst = Annotated[Principal, Depends(analyst)]
Admin = Annotated[Principal, Depends(admin)]
IngestKey = Annotated[KeyInfo, Depends(ingest_key)]
# the same callers as `IngestKey`, with the credentials Elasticsearch and OTLP clients send
ElasticIngestKey = Annotated[KeyInfo, Depends(elastic_ingest_key)]
