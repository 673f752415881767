"""Who is asking and what they may do: sessions, bearer tokens, roles, CSRF, login limits.

:func:`check` is the one permission check: every page and API view is declared with
:func:`web.guard.requires`, which calls it before anything else. Roles are ordered, each
may do what the ones before it may:

* ``viewer``: reads every page and ``GET`` of the API;
* ``reviewer``: also triages (state, labels, notes);
* ``admin``: also manages users (today from the command line: `wpwatch users`).

A browser carries a signed session cookie (Starlette's SessionMiddleware: itsdangerous,
HttpOnly, SameSite=Lax, Secure over https); every form POST it makes must carry the
session's CSRF token. A script carries ``Authorization: Bearer TOKEN``; tokens are
stored as their SHA-256 and need no CSRF token (a browser never sends them by itself).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request

from archive import notes
from archive.store import Archive

ROLE_RANK = {role: rank for rank, role in enumerate(notes.ROLES)}
TOKEN_PREFIX = "wpw_"
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class NotAuthenticated(Exception):
    """No session and no valid token: a page redirects to /login, the API answers 401."""


class Forbidden(Exception):
    """Known, but the role (or a missing CSRF token) does not allow it: 403."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    by_token: bool = False

    def may(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


# -- passwords and tokens ----------------------------------------------------------------------
def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """argon2 verification; a missing account costs the same time as a wrong password."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """A random API token and the SHA-256 that is stored instead of it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- the one permission check -----------------------------------------------------------------
def current_user(archive: Archive, request: Request) -> User | None:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        row = notes.user_by_token(archive, token_digest(token.strip()))
        return User(row["id"], row["name"], row["role"], by_token=True) if row else None
    user_id = request.session.get("uid")
    if not isinstance(user_id, int):
        return None
    row = notes.user_by_id(archive, user_id)
    if row is None or row["name"] != request.session.get("name"):
        request.session.clear()
        return None
    return User(row["id"], row["name"], row["role"])


def check(archive: Archive, request: Request, role: str, form: Any = None) -> User:
    """The user behind ``request`` if they may act as ``role``; raises NotAuthenticated or
    Forbidden. A POST from a browser session must carry its CSRF token (form field or
    ``X-CSRF-Token`` header)."""
    user = current_user(archive, request)
    if user is None:
        raise NotAuthenticated()
    if request.method not in ("GET", "HEAD") and not user.by_token:
        sent = (form.get("csrf") if hasattr(form, "get") else None) or request.headers.get(
            "x-csrf-token")
        if not csrf_valid(request, sent):
            raise Forbidden("the form is missing its CSRF token or it is stale: reload the page")
    if not user.may(role):
        raise Forbidden(f"{user.name} is a {user.role}; this needs a {role}")
    return user


# -- CSRF ---------------------------------------------------------------------------------------
def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_valid(request: Request, sent: object) -> bool:
    expected = request.session.get("csrf")
    return (isinstance(expected, str) and isinstance(sent, str)
            and hmac.compare_digest(expected.encode(), sent.encode()))


# -- login rate limit ---------------------------------------------------------------------------
class LoginLimiter:
    """At most ``attempts`` failed logins per client address and per account name within
    ``window`` seconds; then every login (even a right one) is refused until the oldest
    failure ages out."""

    def __init__(self, attempts: int = 5, window: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> int:
        """Seconds until a login for these keys is allowed again; 0 when it is now."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._failures.get(key)
                while times and now - times[0] > self.window:
                    times.popleft()
                if times and len(times) >= self.attempts:
                    wait = max(wait, self.window - (now - times[0]))
        return int(wait) + 1 if wait else 0

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(time.monotonic())

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
