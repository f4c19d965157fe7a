"""A stand-in for the Anthropic Messages API on 127.0.0.1, good enough for the real ``anthropic`` SDK.

Serves ``POST /v1/messages`` in the real response shape, records every request, can fail the
next N requests, and checks the headers the API requires.

    with AnthropicStandIn() as server:
        client = anthropic.Anthropic(base_url=server.base_url, api_key="sk-ant-test")

``base_url`` has no ``/v1``: the SDK appends ``/v1/messages`` itself.

Authentication: the Messages API takes the key in ``x-api-key``; the installed SDK (2.x) sends
it as ``Authorization: Bearer <key>`` instead. Either is accepted; a request with neither gets
401. A missing ``anthropic-version`` header gets 400, and so do ``temperature`` / ``top_p`` /
``top_k`` under version 2026-10-21 or later (as the API does). Errors use the API's shape
``{"type": "error", "error": {"type": ..., "message": ...}}``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import deque
from typing import Any

from .http_standin import HTTPStandIn
from .http_standin import StandInReply as _Reply

DEFAULT_REPLY = '{"has_knowledge": false}'
RETRY_AFTER_SECONDS = "0.001"
# From this API version on, sampling parameters are rejected (anthropic SDK 2.x sends it).
SAMPLING_REMOVED_IN = "2026-10-21"

# HTTP status -> the API's error ``type``.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

_WORD = re.compile(r"\w+")


def _count_tokens(text: str) -> int:
    """A crude token count (words), enough for ``usage``."""
    return len(_WORD.findall(text))


def _text_of(content: Any) -> str:
    """The text of a message ``content`` (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


class AnthropicStandIn(HTTPStandIn):
    """The server. Use as a context manager (or call :meth:`start` / :meth:`stop`).

    Args:
        api_key: if given, the key sent must equal it; otherwise any non-empty key passes.

    Attributes:
        base_url: ``"http://127.0.0.1:<port>"`` (no ``/v1``), ready once started.
        requests: every request received, as dicts ``{"method", "path", "headers", "body"}``;
            header names are lower-cased, ``body`` is the parsed JSON (None if absent/invalid).
        replies: queue of replies for ``/v1/messages``: a str (one text block), a dict (sent as
            JSON text) or a list (the ``content`` blocks, verbatim); when empty, the reply is
            ``{"has_knowledge": false}``. If the request ends with an assistant turn (prefill),
            a str/dict reply starting with the prefill is cut to the continuation, as the real
            API returns only what follows the prefill.

    Failures injected with :meth:`fail_next` carry ``retry-after: 0.001``.
    """

    _base_path = ""
    _thread_name = "anthropic-standin"
    _poll_interval = 0.01
    _request_id_header = "request-id"
    _request_id_hex = 24
    _retry_header = ("retry-after", RETRY_AFTER_SECONDS)

    def __init__(self, api_key: str | None = None):
        super().__init__(api_key)
        self.replies: deque[Any] = deque()

    def message_requests(self) -> list[dict[str, Any]]:
        """The recorded requests to ``/v1/messages``."""
        return self._recorded("/v1/messages")

    # -- request handling (called from the handler threads) ---------------------------------

    def _respond(self, method: str, path: str, headers: dict[str, str], body: Any) -> dict:
        key = headers.get("x-api-key", "").strip()
        auth = headers.get("authorization", "")
        if not key and auth.startswith("Bearer "):
            key = auth[len("Bearer "):].strip()
        if not key:
            raise _Reply(401, "x-api-key header is required")
        if self.api_key is not None and key != self.api_key:
            raise _Reply(401, "invalid x-api-key")
        if not headers.get("anthropic-version", "").strip():
            raise _Reply(400, "anthropic-version: header is required")
        if path != "/v1/messages" or method != "POST":
            raise _Reply(404, f"Not found: {method} {path}")
        if not isinstance(body, dict):
            raise _Reply(400, "request body must be a JSON object")
        return self._messages(body, headers["anthropic-version"].strip())

    def _error_payload(self, reply: _Reply) -> dict:
        return {"type": "error", "error": {"type": ERROR_TYPES.get(reply.status, "api_error"), "message": reply.message}}

    def _messages(self, body: dict, version: str) -> dict:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _Reply(400, "model: Field required")
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise _Reply(400, "max_tokens: Field required (an integer >= 1)")
        if body.get("stream"):
            raise _Reply(400, "the stand-in does not stream; call without stream=True")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _Reply(400, "messages: at least one message is required")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise _Reply(400, f"messages.{index}.role: Input should be 'user' or 'assistant'")
            if not isinstance(message.get("content"), (str, list)):
                raise _Reply(400, f"messages.{index}.content: Field required")
        if messages[0]["role"] != "user":
            raise _Reply(400, "messages: first message must use the \"user\" role")
        system = body.get("system")
        if system is not None and not isinstance(system, (str, list)):
            raise _Reply(400, "system: Input should be a valid string or list of text blocks")
        if version >= SAMPLING_REMOVED_IN:
            for name in ("temperature", "top_p", "top_k"):
                if name in body:
                    raise _Reply(400, f"{name}: Extra inputs are not permitted")
        temperature = body.get("temperature")
        if temperature is not None and (
            isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 1
        ):
            raise _Reply(400, "temperature: range: 0..1")
        reply = self._next_reply(self.replies, DEFAULT_REPLY)
        if isinstance(reply, list):  # content blocks given verbatim
            content = reply
            text = _text_of(reply)
        else:
            text = reply if isinstance(reply, str) else json.dumps(reply)
            prefill = _text_of(messages[-1]["content"]) if messages[-1]["role"] == "assistant" else ""
            if prefill and text.startswith(prefill):
                text = text[len(prefill):]  # the API returns only the continuation of a prefilled turn
            content = [{"type": "text", "text": text}]
        input_tokens = _count_tokens(_text_of(system)) + sum(_count_tokens(_text_of(m["content"])) for m in messages)
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": _count_tokens(text)},
        }

