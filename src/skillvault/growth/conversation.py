"""Turn what ``extract`` is given (messages or text) into one text, trimmed to fit.

Accepted: a plain string; or a list of ``{"role", "content"}`` messages where content
is a string or a list of content blocks, OpenAI style (``{"type": "text", "text"}``,
``image_url``) or Anthropic style (``text``, ``tool_use``, ``tool_result``, ``image``).
OpenAI ``tool_calls`` on assistant messages are kept as short notes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..errors import ValidationError
from ..tokens import keep_last_tokens
from ..validation import check_text

log = logging.getLogger("skillvault")

MAX_INPUT_CHARS = 5_000_000
MAX_MESSAGES = 10_000


def conversation_text(conversation: Any) -> str:
    """Render a conversation as ``role: text`` lines.

    Args:
        conversation: a string or a list of message dicts.

    Returns:
        The text (never empty).

    Raises:
        ValidationError: naming the message or block that has the wrong shape.
    """
    if isinstance(conversation, str):
        text = conversation
    elif isinstance(conversation, list):
        if len(conversation) > MAX_MESSAGES:
            raise ValidationError("messages", f"has {len(conversation)} messages; the limit is {MAX_MESSAGES}")
        try:
            text = "\n\n".join(_message_text(message, f"messages[{i}]") for i, message in enumerate(conversation))
        except ValidationError:
            raise
        except (RecursionError, ValueError) as exc:  # e.g. tool input nested too deep, a 5000-digit number
            raise ValidationError("messages", f"cannot be rendered as text ({type(exc).__name__}: {exc})") from None
    else:
        raise ValidationError(
            "messages", f"must be a string or a list of {{'role', 'content'}} dicts, got {type(conversation).__name__}"
        )
    if not text.strip():
        raise ValidationError("messages", "holds no text to learn from")
    return check_text(text, "messages", MAX_INPUT_CHARS)


def _message_text(message: Any, where: str) -> str:
    if not isinstance(message, dict):
        raise ValidationError(where, f"must be a dict with 'role' and 'content', got {type(message).__name__}")
    role = message.get("role")
    if not isinstance(role, str) or not role:
        raise ValidationError(f"{where}.role", "must be a non-empty string such as 'user' or 'assistant'")
    parts = [_content_text(message.get("content"), f"{where}.content")]
    tool_calls = message.get("tool_calls") or []
    if not isinstance(tool_calls, list):
        raise ValidationError(f"{where}.tool_calls", f"must be a list of tool calls, got {type(tool_calls).__name__}")
    for call in tool_calls:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        parts.append(f"[tool call {function.get('name', '?')}: {function.get('arguments', '')}]")
    return f"{role}: " + "\n".join(part for part in parts if part)


def _content_text(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValidationError(where, f"must be a string or a list of content blocks, got {type(content).__name__}")
    pieces = []
    for index, block in enumerate(content):
        if isinstance(block, str):
            pieces.append(block)
            continue
        if not isinstance(block, dict):
            raise ValidationError(f"{where}[{index}]", "must be a content block dict with a 'type'")
        kind = block.get("type")
        if kind == "text":
            pieces.append(str(block.get("text", "")))
        elif kind == "tool_use":
            pieces.append(f"[tool call {block.get('name', '?')}: {json.dumps(block.get('input', {}), default=str)}]")
        elif kind == "tool_result":
            pieces.append("[tool result] " + _content_text(block.get("content"), f"{where}[{index}].content"))
        elif kind in ("image", "image_url", "input_image"):
            pieces.append("[image]")
        else:
            pieces.append(f"[{kind} block]")
    return "\n".join(pieces)


def trim_to_tokens(text: str, limit: int) -> str:
    """Keep the end of ``text`` within ``limit`` tokens, saying so at its start.

    The end of a conversation is kept because that is where the resolution usually
    is. A trim is logged at INFO level on the ``skillvault`` logger.
    """
    kept, dropped = keep_last_tokens(text, limit)
    if not dropped:
        return text
    log.info("extract: conversation trimmed, dropped its first %d tokens to fit %d", dropped, limit)
    return f"[... the first {dropped} tokens of this conversation were trimmed ...]\n{kept}"
