"""Running the server: stdio, or streamable HTTP behind a bearer token.

Over HTTP, binding beyond loopback without a token is refused: anyone who can reach
the port could otherwise read the library and file drafts. When a token is set,
every request must carry ``Authorization: Bearer <token>`` (checked in constant time).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any, Awaitable, Callable, Optional

from ..errors import ValidationError

TOKEN_ENV = "SKILLVAULT_MCP_TOKEN"
MIN_TOKEN_CHARS = 16
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
PATH = "/mcp"

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True if ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_http_options(host: str, port: int, token: Optional[str]) -> Optional[str]:
    """Check the HTTP options; return the token to require (None: no token).

    Raises:
        ValidationError: ``port`` outside 1..65535, a blank or short token, or a
            host beyond loopback without a token.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValidationError("port", f"must be a TCP port from 1 to 65535, got {port!r}")
    if token is not None:
        token = token.strip()
        if len(token) < MIN_TOKEN_CHARS:
            raise ValidationError("token", f"must be at least {MIN_TOKEN_CHARS} characters (e.g. the output of "
                                  "`python -c \"import secrets; print(secrets.token_urlsafe(32))\"`)")
    if not is_loopback(host) and not token:
        raise ValidationError("token", f"--host {host} is reachable from other machines: set a bearer token with "
                              f"{TOKEN_ENV} (or --token) to serve beyond 127.0.0.1")
    return token or None


class BearerAuth:
    """ASGI middleware answering 401 to every HTTP request without the bearer token.

    Args:
        app: the application to protect.
        token: the token clients must send as ``Authorization: Bearer <token>``.
    """

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self._expected = f"Bearer {token}".encode("utf-8")

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":  # lifespan events carry no request
            await self.app(scope, receive, send)
            return
        given = next((value for key, value in scope.get("headers", []) if key == b"authorization"), b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "unauthorized", "error_description":
                           "send the server's token as 'Authorization: Bearer <token>'"}).encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b'Bearer realm="skillvault"')]})
        await send({"type": "http.response.body", "body": body})


def run_stdio(server: Any) -> None:
    """Serve ``server`` on stdin/stdout until the client closes them."""
    server.run("stdio")


def run_http(server: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, token: Optional[str] = None) -> None:
    """Serve ``server`` over streamable HTTP at ``http://host:port/mcp`` until interrupted.

    Raises:
        ValidationError: see :func:`check_http_options`.
    """
    import anyio
    import uvicorn

    token = check_http_options(host, port, token)
    app: ASGIApp = server.streamable_http_app(streamable_http_path=PATH, host=host)
    if token:
        app = BearerAuth(app, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    anyio.run(uvicorn.Server(config).serve)
