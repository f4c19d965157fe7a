"""A stand-in for the OpenAI HTTP API on 127.0.0.1, good enough for the real ``openai`` SDK.

Serves ``POST /v1/embeddings`` and ``POST /v1/chat/completions`` in the real response shapes,
records every request, can fail the next N requests, and checks the bearer token.

    with OpenAIStandIn() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")

Embeddings are deterministic and crudely semantic: a hashed bag of lower-cased words (a
trailing "s" stripped), each word adding +/-1 to a few dimensions, L2-normalised. Texts that
share words are similar; texts with no words in common score about 0.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_WIDTH = 1536
DIMS_PER_WORD = 4
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-cased word stems of ``text`` (a trailing "s" is dropped from words of 4+ letters)."""
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _WORD.findall(text.lower())]


def embed_text(text: str, width: int = DEFAULT_WIDTH) -> list[float]:
    """The stand-in's embedding of ``text``: hashed bag of word stems, unit length.

    Args:
        text: any string.
        width: vector length.

    Returns:
        ``width`` floats with L2 norm 1 (a text without words gets a fixed vector).
    """
    vector = [0.0] * width
    for word in words(text) or ["<no words>"]:
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        for k in range(DIMS_PER_WORD):
            chunk = int.from_bytes(digest[4 * k:4 * k + 4], "little")
            vector[chunk % width] += 1.0 if (chunk >> 31) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class _Reply(Exception):
    """Raised inside a handler to answer with an error status."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type_, code


class OpenAIStandIn:
    """The server. Use as a context manager (or call :meth:`start` / :meth:`stop`).

    Args:
        api_key: if given, the bearer token must equal it; otherwise any non-empty token passes.

    Attributes:
        base_url: ``"http://127.0.0.1:<port>/v1"``, ready once started.
        requests: every request received, as dicts ``{"method", "path", "headers", "body"}``;
            header names are lower-cased, ``body`` is the parsed JSON (None if absent/invalid).
        chat_replies: queue of reply texts (str, or dict sent as JSON) for chat completions;
            when empty, chat answers ``{"has_knowledge": false}``.
        shuffle_embeddings: if True, ``data`` lists come back in reverse ``index`` order (the
            API does not promise order; clients must sort by ``index``).
    """

    def __init__(self, api_key: str | None = None):
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.chat_replies: deque[Any] = deque()
        self.shuffle_embeddings = False
        self._failures: deque[int] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- control ---------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """Answer the next ``n`` requests with HTTP ``status`` in the API's error shape.

        Failures carry ``retry-after-ms: 1`` so the SDK's retries do not slow tests down.
        """
        with self._lock:
            self._failures.extend([status] * n)

    def embedding_requests(self) -> list[dict[str, Any]]:
        """The recorded requests to ``/v1/embeddings``."""
        with self._lock:
            return [r for r in self.requests if r["path"] == "/v1/embeddings"]

    def start(self) -> "OpenAIStandIn":
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        handler = type("Handler", (_Handler,), {"standin": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-standin", daemon=True
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

    def __enter__(self) -> "OpenAIStandIn":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- request handling (called from the handler threads) ---------------------------------

    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict]:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
            failure = self._failures.popleft() if self._failures else None
        try:
            if failure is not None:
                raise _Reply(failure, f"stand-in failure injected (HTTP {failure})", "server_error")
            auth = headers.get("authorization", "")
            token = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
            if not token or (self.api_key is not None and token != self.api_key):
                raise _Reply(
                    401, "Incorrect API key provided." if token else "You didn't provide an API key.",
                    "invalid_request_error", "invalid_api_key",
                )
            if method != "POST":
                raise _Reply(405, f"method {method} not allowed on {path}")
            if not isinstance(body, dict):
                raise _Reply(400, "request body must be a JSON object")
            if path == "/v1/embeddings":
                return 200, self._embeddings(body)
            if path == "/v1/chat/completions":
                return 200, self._chat(body)
            raise _Reply(404, f"Invalid URL (POST {path})", code="unknown_url")
        except _Reply as reply:
            return reply.status, {"error": {"message": reply.message, "type": reply.type, "param": None,
                                            "code": reply.code}}

    def _embeddings(self, body: dict) -> dict:
        model, inputs = body.get("model"), body.get("input")
        if not isinstance(model, str) or not model:
            raise _Reply(400, "you must provide a model parameter", code="missing_model")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
            raise _Reply(400, "'$.input' is invalid: a string or a non-empty list of strings", code="invalid_input")
        if any(t == "" for t in inputs):
            raise _Reply(400, "'$.input' is invalid: empty strings are not allowed", code="invalid_input")
        if len(inputs) > 2048:
            raise _Reply(400, "'$.input' is invalid: at most 2048 inputs per request", code="invalid_input")
        width = body.get("dimensions", DEFAULT_WIDTH)
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise _Reply(400, "'dimensions' must be a positive integer", code="invalid_value")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise _Reply(400, "'encoding_format' must be 'float' or 'base64'", code="invalid_value")
        data = []
        for index, text in enumerate(inputs):
            vector = embed_text(text, width)
            if encoding == "base64":
                payload: Any = base64.b64encode(struct.pack(f"<{width}f", *vector)).decode("ascii")
            else:
                payload = vector
            data.append({"object": "embedding", "index": index, "embedding": payload})
        if self.shuffle_embeddings:
            data.reverse()
        tokens = sum(max(1, len(words(t))) for t in inputs)
        return {"object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    def _chat(self, body: dict) -> dict:
        if body.get("stream"):
            raise _Reply(400, "the stand-in does not stream; call without stream=True")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _Reply(400, "'messages' must be a non-empty list", code="invalid_value")
        with self._lock:
            reply = self.chat_replies.popleft() if self.chat_replies else '{"has_knowledge": false}'
        content = reply if isinstance(reply, str) else json.dumps(reply)
        prompt_tokens = sum(len(words(str(m.get("content", "")))) for m in messages if isinstance(m, dict))
        completion_tokens = len(words(content))
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "gpt-4o-mini"),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    standin: OpenAIStandIn  # set on the subclass made in start()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        path = self.path.split("?", 1)[0]
        status, payload = self.standin._handle(self.command, path, headers, raw)
        out = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        if status >= 500 or status == 429:
            self.send_header("retry-after-ms", "1")
        self.end_headers()
        self.wfile.write(out)

    do_POST = do_GET = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass
