"""`/api/v1/users` (admins): list, create, change role, disable or enable, reset a password or
a second factor. Every change is audited; disabling, a reset password or a reset second factor
end the user's sessions."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from guetteur.api.audit_trail import record
from guetteur.api.deps import Admin, State, client_address
from guetteur.auth import AuthError
from guetteur.auth.passwords import hash_password, random_password
from guetteur.store.audit import AuditEntry
from guetteur.store.users import User, create_user, find_user, list_users, other_active_admins, update_user

router = APIRouter(prefix="/users", tags=["users"])

Role = Literal["admin", "analyst", "viewer"]


class UserPublic(BaseModel):
    name: str
    role: Role
    totp_enabled: bool
    disabled: bool
    created_at: datetime
    password_set_at: datetime


class UsersPublic(BaseModel):
    data: list[UserPublic]
    count: int


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role
    password: str | None = Field(None, max_length=1024, description="omit to get a generated one back")


class UserCreated(UserPublic):
    password: str | None = Field(None, description="the generated password, shown once")


class UserUpdate(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    reset_password: bool = Field(False, description="set a generated password, returned once")
    reset_totp: bool = Field(False, description="remove the second factor (the user enrols again)")


class UserChanged(UserPublic):
    password: str | None = Field(None, description="the generated password, when reset_password")


def _public(user: User) -> UserPublic:
    return UserPublic(name=user.name, role=user.role,
                      totp_enabled=user.totp_enabled, disabled=user.disabled_at is not None,
                      created_at=user.created_at, password_set_at=user.password_set_at)


@router.get("", response_model=UsersPublic)
async def users_list(state: State, who: Admin) -> UsersPublic:
    """Every user, oldest first (never their hashes or secrets)."""
    del who
    users = [_public(u) for u in await list_users(state.pool)]
    return UsersPublic(data=users, count=len(users))


@router.post("", response_model=UserCreated, status_code=status.HTTP_201_CREATED,
             responses={400: {"description": "name taken, bad name or password too short"}})
async def users_create(body: UserCreate, request: Request, state: State, who: Admin) -> UserCreated:
    """Create a user; without a password one is generated and returned once."""
    password = body.password or random_password()
    try:
        user = await create_user(state.pool, body.name, body.role, await asyncio.to_thread(hash_password, password))
    except AuthError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    await record(state, AuditEntry(who.actor, "user.create", "success", client_address(request), user.name,
                                   {"role": user.role}))
    return UserCreated(**_public(user).model_dump(), password=None if body.password else password)


@router.patch("/{name}", response_model=UserChanged,
              responses={404: {"description": "no such user"},
                         409: {"description": "it would leave no active admin"}})
async def users_update(name: str, body: UserUpdate, request: Request, state: State, who: Admin) -> UserChanged:
    """Change a user's role, disable or enable them, reset their password or second factor."""
    user = await find_user(state.pool, name=name)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user")
    losing_admin = user.role == "admin" and user.disabled_at is None and (
        (body.role is not None and body.role != "admin") or body.disabled)
    if losing_admin and await other_active_admins(state.pool, user.id) == 0:
        raise HTTPException(status.HTTP_409_CONFLICT, "this is the last active admin: make another admin first")
    password = random_password() if body.reset_password else None
    new_hash = None if password is None else await asyncio.to_thread(hash_password, password)
    await update_user(state.pool, user.id, role=body.role, disabled=body.disabled, password_hash=new_hash,
                      reset_totp=body.reset_totp)
    changes = {k: str(v) for k, v in body.model_dump(exclude_defaults=True).items()}
    await record(state, AuditEntry(who.actor, "user.change", "success", client_address(request), user.name, changes))
    changed = await find_user(state.pool, user_id=user.id)
    assert changed is not None
    return UserChanged(**_public(changed).model_dump(), password=password)
