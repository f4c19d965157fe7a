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
import time
import uuid
from collections import deque
from typing import Any

from .http_standin import HTTPStandIn
from .http_standin import StandInReply as _Reply

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


class OpenAIStandIn(HTTPStandIn):
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

    Failures injected with :meth:`fail_next` carry ``retry-after-ms: 1``.
    """

    _base_path = "/v1"
    _thread_name = "openai-standin"
    _poll_interval = 0.05
    _request_id_header = "x-request-id"
    _request_id_hex = 16
    _retry_header = ("retry-after-ms", "1")

    def __init__(self, api_key: str | None = None):
        super().__init__(api_key)
        self.chat_replies: deque[Any] = deque()
        self.shuffle_embeddings = False

    def embedding_requests(self) -> list[dict[str, Any]]:
        """The recorded requests to ``/v1/embeddings``."""
        return self._recorded("/v1/embeddings")

    # -- request handling (called from the handler threads) ---------------------------------

    def _respond(self, method: str, path: str, headers: dict[str, str], body: Any) -> dict:
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
            return self._embeddings(body)
        if path == "/v1/chat/completions":
            return self._chat(body)
        raise _Reply(404, f"Invalid URL (POST {path})", code="unknown_url")

    def _error_payload(self, reply: _Reply) -> dict:
        return {"error": {"message": reply.message, "type": reply.type, "param": None, "code": reply.code}}

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
        reply = self._next_reply(self.chat_replies, '{"has_knowledge": false}')
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

