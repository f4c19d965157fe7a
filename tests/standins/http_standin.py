"""The plumbing shared by the HTTP API stand-ins: a JSON server on 127.0.0.1 in a daemon thread.

A subclass says what is particular to its API through a few hooks:

* ``_base_path``: appended to ``http://127.0.0.1:<port>`` to make :attr:`HTTPStandIn.base_url`;
* ``_thread_name`` / ``_poll_interval``: the serving thread's name and its shutdown poll;
* ``_request_id_header`` / ``_request_id_hex``: the request-id header sent on every answer;
* ``_retry_header``: the ``(name, value)`` header sent on 429 and 5xx answers;
* :meth:`HTTPStandIn._respond`: the answer to one request (raise :class:`StandInReply` for errors);
* :meth:`HTTPStandIn._error_payload`: the API's JSON error shape for a :class:`StandInReply`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class StandInReply(Exception):
    """Raised inside a handler to answer with an error status.

    Args:
        status: the HTTP status.
        message: the error message.
        type_: the API's error type, for APIs that take it from the raiser.
        code: the API's error code, for APIs that have one.
    """

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type_, code


def parse_json(raw: bytes) -> Any:
    """The JSON value in ``raw``, or None if it is empty or not valid JSON."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class HTTPStandIn:
    """Base of the stand-in servers. Use as a context manager (or call :meth:`start` / :meth:`stop`).

    Args:
        api_key: if given, the key sent must equal it; otherwise any non-empty key passes.

    Attributes:
        api_key: as given.
        base_url: ``"http://127.0.0.1:<port>"`` followed by ``_base_path``, ready once started.
        requests: every request received, as dicts ``{"method", "path", "headers", "body"}``;
            header names are lower-cased, ``body`` is the parsed JSON (None if absent/invalid).
    """

    # Hooks every subclass sets (see the module docstring).
    _base_path: str
    _thread_name: str
    _poll_interval: float
    _request_id_header: str
    _request_id_hex: int
    _retry_header: tuple[str, str]

    def __init__(self, api_key: str | None = None):
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self._failures: deque[int] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- control ---------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """Answer the next ``n`` requests with HTTP ``status`` in the API's error shape.

        Failures carry the subclass's retry header (``_retry_header``) with a tiny delay, so
        the SDK's retries do not slow tests down.
        """
        with self._lock:
            self._failures.extend([status] * n)

    def _recorded(self, path: str) -> list[dict[str, Any]]:
        """The recorded requests to ``path``."""
        with self._lock:
            return [r for r in self.requests if r["path"] == path]

    def _next_reply(self, queue: deque[Any], default: Any) -> Any:
        """Pop the next queued reply (under the lock), or ``default`` if ``queue`` is empty."""
        with self._lock:
            return queue.popleft() if queue else default

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        handler = type("Handler", (_Handler,), {"standin": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}{self._base_path}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": self._poll_interval},
            name=self._thread_name, daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- request handling (called from the handler threads) ---------------------------------

    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict]:
        """Record one request and answer it: an injected failure first, else :meth:`_respond`.

        Returns:
            ``(status, JSON payload)``.
        """
        body = parse_json(raw)
        with self._lock:
            self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
            failure = self._failures.popleft() if self._failures else None
        try:
            if failure is not None:
                raise StandInReply(failure, f"stand-in failure injected (HTTP {failure})", "server_error")
            return 200, self._respond(method, path, headers, body)
        except StandInReply as reply:
            return reply.status, self._error_payload(reply)

    def _respond(self, method: str, path: str, headers: dict[str, str], body: Any) -> dict:
        """The 200 answer to one request; raise :class:`StandInReply` to answer with an error.

        Args:
            method: the HTTP method.
            path: the request path without the query string.
            headers: the request headers, names lower-cased.
            body: the parsed JSON body (None if absent/invalid).
        """
        raise NotImplementedError

    def _error_payload(self, reply: StandInReply) -> dict:
        """The API's JSON error body for ``reply``."""
        raise NotImplementedError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    standin: HTTPStandIn  # set on the subclass made in start()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        path = self.path.split("?", 1)[0]
        standin = self.standin
        status, payload = standin._handle(self.command, path, headers, raw)
        out = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header(standin._request_id_header, f"req_{uuid.uuid4().hex[:standin._request_id_hex]}")
        if status >= 500 or status == 429:
            self.send_header(*standin._retry_header)
        self.end_headers()
        self.wfile.write(out)

    do_POST = do_GET = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass
