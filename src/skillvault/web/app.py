"""The application factory: routes, error answers, security headers, static files."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware
from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import __version__
from ..errors import SkillVaultError
from . import api, pages
from .accounts import Accounts
from .auth import AuthError, CsrfRefused, LoginRequired, WebState, login_url
from .errors import error_body, message_for, request_error_body, status_for
from .library import Libraries
from .sessions import DEFAULT_IDLE_SECONDS, DEFAULT_MAX_SECONDS, Sessions
from .throttle import LoginThrottle

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..manager import SkillManager

HERE = Path(__file__).parent
#: Pages load only this server's own styles and scripts; nothing is fetched from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def templates() -> Environment:
    """The pages' Jinja2 environment (autoescaping on)."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    env.filters["percent"] = lambda value: "-" if value is None else f"{100 * value:.0f}%"
    return env


def create_app(
    open_manager: Callable[[str], "SkillManager"],
    accounts: Accounts,
    idle_seconds: float = DEFAULT_IDLE_SECONDS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    sessions: Optional[Sessions] = None,
    allowed_hosts: Optional[list[str]] = None,
) -> FastAPI:
    """Build the review console for one library.

    Args:
        open_manager: ``mode -> SkillManager``: opens the library in ``"human"`` or
            ``"agent"`` mode (each is called once, on its own worker thread).
        accounts: the reviewers and tokens.
        idle_seconds / max_seconds: when sessions end (ignored if ``sessions`` is given).
        sessions: the session store (tests pass one with their own clock).
        allowed_hosts: the only ``Host`` headers answered (others get 400), e.g. the
            loopback names when the console listens on loopback, so a web page whose name
            a DNS rebinding points at 127.0.0.1 cannot reach it; None answers any.

    Returns:
        The FastAPI application; the managers are closed when it shuts down.

    Raises:
        Whatever opening the library raises (e.g. a missing file or another embedder).
    """
    libraries = Libraries(open_manager)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        try:
            yield
        finally:
            libraries.close()

    app = FastAPI(title="skillvault review console", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="The library's REST API. Send `Authorization: Bearer <token>`; "
                              "make tokens with `skillvault users token NAME [--agent]`.")
    sessions = sessions or Sessions(idle_seconds, max_seconds)
    app.state.web = WebState(libraries, accounts, sessions, templates(), LoginThrottle(clock=sessions.clock))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    _add_error_answers(app)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    @app.middleware("http")
    async def security_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _add_error_answers(app: FastAPI) -> None:
    @app.exception_handler(SkillVaultError)
    async def library_error(request: Request, exc: SkillVaultError) -> Response:
        if _wants_json(request):
            return JSONResponse(error_body(exc), status_code=status_for(exc))
        return _error_page(request, status_for(exc), message_for(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        body = request_error_body(list(exc.errors()))
        if _wants_json(request):
            return JSONResponse(body, status_code=422)
        return _error_page(request, 422, body["message"])

    @app.exception_handler(AuthError)
    async def unauthenticated(_request: Request, exc: AuthError) -> Response:
        return JSONResponse({"error": "AuthError", "message": exc.message, "field": None}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(LoginRequired)
    async def login_required(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _exc: CsrfRefused) -> Response:
        return _error_page(request, 403, "This form did not come from this console's page (its CSRF token is missing "
                                         "or stale); nothing was changed. Reload the page and try again.")


def _error_page(request: Request, status: int, message: str) -> HTMLResponse:
    from .auth import state_of
    from .pages import render
    from .sessions import COOKIE

    session = state_of(request).sessions.get(request.cookies.get(COOKIE))
    return render(request, "error.html", session, status=status, status_code=status, message=message)
