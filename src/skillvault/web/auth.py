"""Who is asking: bearer tokens for the API, sessions and CSRF tokens for the pages.

* API: ``Authorization: Bearer svt_...``; a reviewer's token acts as that reviewer, an
  agent's token through the agent-mode manager (read and propose only).
* Pages: a reviewer logs in with name and password; the session cookie is HttpOnly and
  SameSite=Strict, and every form carries the session's CSRF token, checked before
  anything runs. The login form itself carries a token matched against a cookie
  (double submit), so another site cannot log a browser into an account of its choice.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .accounts import Principal, REVIEWER
from .sessions import COOKIE, Session

if TYPE_CHECKING:  # pragma: no cover - typing only
    from jinja2 import Environment
    from starlette.datastructures import FormData

    from .accounts import Accounts
    from .library import Libraries
    from .sessions import Sessions
    from .throttle import LoginThrottle

LOGIN_CSRF_COOKIE = "skillvault_login_csrf"
_bearer = HTTPBearer(auto_error=False, description="A token from `skillvault users token NAME`.")


@dataclass
class WebState:
    """What the handlers share: the managers, accounts, sessions and templates."""

    libraries: "Libraries"
    accounts: "Accounts"
    sessions: "Sessions"
    templates: "Environment"
    throttle: "LoginThrottle"


class AuthError(Exception):
    """An API request without a valid token (401)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class LoginRequired(Exception):
    """A page asked for without a live session: the answer is a redirect to the login page."""

    def __init__(self, next_path: str):
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A form sent without this session's CSRF token (403); nothing was done."""


def state_of(request: Request) -> WebState:
    """Return the server's shared state."""
    return request.app.state.web


def api_principal(request: Request,
                  credentials: Optional[HTTPAuthorizationCredentials] = Depends(_bearer)) -> Principal:
    """The API caller, from its bearer token.

    Raises:
        AuthError: no token, or one that is not (or no longer) valid.
    """
    if credentials is None:
        raise AuthError("send a token: Authorization: Bearer <token> (make one with `skillvault users token NAME`)")
    principal = state_of(request).accounts.check_token(credentials.credentials)
    if principal is None:
        raise AuthError("the token is not valid (revoked, or mistyped); make a new one with `skillvault users token NAME`")
    return principal


def page_session(request: Request) -> Session:
    """The reviewer's live session.

    Raises:
        LoginRequired: no session, an expired one, or one of a removed reviewer.
    """
    state = state_of(request)
    session = state.sessions.get(request.cookies.get(COOKIE))
    if session is None or not state.accounts.has_user(session.user):
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path if request.method == "GET" else "/")
    return session


def reviewer_of(session: Session) -> Principal:
    """The principal a session acts for."""
    return Principal(session.user, REVIEWER, "session")


async def checked_form(request: Request) -> tuple[Session, "FormData"]:
    """The session and form of a page's POST, once its CSRF token is checked.

    Raises:
        LoginRequired: no live session. CsrfRefused: the form's token is missing or wrong.
    """
    session = page_session(request)
    form = await request.form()
    if not session.csrf_matches(form.get("csrf")):
        raise CsrfRefused()
    return session, form


def new_login_token() -> str:
    """A fresh token for the login form (also set as :data:`LOGIN_CSRF_COOKIE`)."""
    return secrets.token_urlsafe(32)


def login_token_matches(request: Request, sent: object) -> bool:
    """True when the login form's token equals its cookie (compared in constant time)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(cookie) and isinstance(sent, str) and hmac.compare_digest(cookie.encode(), sent.encode())


def safe_next(path: Optional[str]) -> str:
    """Where to go after login: a path on this site only (never ``//host`` or a full URL)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def login_url(next_path: str) -> str:
    """The login page, coming back to ``next_path``."""
    return "/login?next=" + quote(safe_next(next_path), safe="/")
