"""The web console's users and sessions.

- Passwords are hashed with argon2id (argon2-cffi); a login creates a session whose random token goes to
  the browser in an HttpOnly, SameSite=Lax cookie (or to an API client, as a bearer token) and whose
  sha256 alone is stored, with an expiry and a CSRF token.
- Every state change made with the cookie must carry that CSRF token in the `X-CSRF-Token` header (a
  bearer token is not sent by browsers on their own, so it needs none).
- Roles: a viewer reads; an approver also answers proposals; an admin also manages users and settings.
  A user sees only the accounts of their clients (`platform:account_id`, or `*` for every account).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlmodel import Session, select

from storage.db import session_scope
from storage.models import WebSession, WebUser

Role = Literal["viewer", "approver", "admin"]
RANKS: dict[str, int] = {"viewer": 0, "approver": 1, "admin": 2}
SESSION_COOKIE = "adcluster_session"
CSRF_HEADER = "X-CSRF-Token"


class AuthError(Exception):
    """A request that is not allowed; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Principal(BaseModel):
    user_id: str
    username: str
    role: Role
    accounts: list[str]
    csrf_token: str
    via: Literal["cookie", "bearer"]

    def may(self, role: Role) -> bool:
        return RANKS[self.role] >= RANKS[role]

    def sees(self, platform: str, account_id: str) -> bool:
        return "*" in self.accounts or f"{platform}:{account_id}" in self.accounts


class NewUser(BaseModel):
    username: str = Field(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=10, max_length=200)
    role: Role = "viewer"
    accounts: list[str] = Field(default_factory=lambda: ["*"])


_HASHER = PasswordHasher()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(engine: Engine, user: NewUser) -> WebUser:
    with session_scope(engine) as session:
        if session.exec(select(WebUser).where(WebUser.username == user.username)).first() is not None:
            raise ValueError(f"a user named {user.username!r} exists already")
        row = WebUser(
            id=uuid.uuid4().hex[:16],
            username=user.username,
            password_hash=_HASHER.hash(user.password),
            role=user.role,
            accounts=list(user.accounts),
            created_at=dt.datetime.now(dt.UTC),
        )
        session.add(row)
        session.flush()
        session.expunge(row)
    return row


def login(
    engine: Engine, username: str, password: str, *, ttl: dt.timedelta, now: dt.datetime | None = None
) -> tuple[str, WebSession]:
    """A new session's token (to give to the client once) and its record; AuthError 401 otherwise. The
    same message for an unknown user and a wrong password, so names cannot be probed."""
    at = now or dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        user = session.exec(select(WebUser).where(WebUser.username == username)).first()
    try:
        if user is None:
            raise VerificationError("unknown user")
        _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise AuthError(401, "wrong username or password") from None
    token = secrets.token_urlsafe(32)
    record = WebSession(
        token_hash=_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(24),
        created_at=at,
        expires_at=at + ttl,
    )
    with session_scope(engine) as session:
        session.add(record)
        session.flush()
        session.expunge(record)
    return token, record


def logout(engine: Engine, token: str) -> None:
    with session_scope(engine) as session:
        row = session.get(WebSession, _digest(token))
        if row is not None:
            session.delete(row)


def principal(
    engine: Engine, token: str | None, *, via: Literal["cookie", "bearer"], now: dt.datetime | None = None
) -> Principal:
    """Who the token belongs to; AuthError 401 for none, an unknown or an expired session."""
    if not token:
        raise AuthError(401, "log in first (POST /api/login)")
    with Session(engine) as session:
        row = session.get(WebSession, _digest(token))
        user = session.get(WebUser, row.user_id) if row is not None else None
    if row is None or user is None:
        raise AuthError(401, "unknown session: log in again")
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    if expires <= (now or dt.datetime.now(dt.UTC)):
        raise AuthError(401, "the session expired: log in again")
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,  # type: ignore[arg-type]
        accounts=list(user.accounts),
        csrf_token=row.csrf_token,
        via=via,
    )


def check_csrf(who: Principal, method: str, header: str | None) -> None:
    """A state change made with the session cookie needs the session's CSRF token in the header."""
    if method in ("GET", "HEAD", "OPTIONS") or who.via == "bearer":
        return
    if not header or not secrets.compare_digest(header, who.csrf_token):
        raise AuthError(
            403, f"missing or wrong {CSRF_HEADER} header: state changes need the session's CSRF token"
        )
