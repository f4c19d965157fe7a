"""Check and repair what an LLM returned for an extraction. The answer is untrusted.

``llm_fn`` may return any Python object. :func:`plain_answer` first turns it into plain
JSON data (repairs below, logged); :func:`parse_knowledge` then reads the fields.

Repairs (safe, logged): bytes (decoded as UTF-8), sets and tuples (lists), dates and
times (ISO text), decimals and fractions (floats), lone surrogates (U+FFFD); NaN,
infinities, integers beyond 64 bits and any other object (left out, as if missing);
strings for booleans/numbers ("true", "0.8"), lists where text was expected (joined as
bullet lines), over-long fields (cut, with a marker), whitespace in titles, confidence
outside 0..1 (clamped), unusable tags and dependencies (dropped). Anything else that is
wrong (no title, no playbook, not a JSON object, nested deeper than
:data:`MAX_ANSWER_DEPTH`, larger than :data:`MAX_ANSWER_CHARS`) rejects the answer with
a reason; nothing half-made is returned.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from fractions import Fraction
from typing import Any, Optional

from ..errors import ValidationError
from ..models import validate_id
from ..validation import DROP, json_data, without_surrogates

log = logging.getLogger("skillvault")

MAX_TITLE_CHARS = 80
MAX_FIELD_CHARS = 20_000
MAX_TAGS = 10
MAX_DEPENDENCIES = 20
TRUNCATION_MARK = "\n\n[... cut: the extracted text was too long ...]"
#: Bounds of a whole answer (every string's characters; values; nesting levels). A real
#: answer is a few kB; these only stop junk before it costs time (redaction ~1 s/MB).
MAX_ANSWER_CHARS = 1_000_000
MAX_ANSWER_ITEMS = 10_000
MAX_ANSWER_DEPTH = 16


@dataclass
class Knowledge:
    """Reusable knowledge found in a conversation (the fields of the 0.1.x llm_fn answer)."""

    title: str
    playbook: str
    examples: str = ""
    when_to_use: str = ""
    dependencies: list[str] = field(default_factory=list)
    confidence: float = 0.0
    confidence_estimated: bool = False
    tags: list[str] = field(default_factory=list)


class Rejected(Exception):
    """The LLM answer cannot be used; ``str()`` is the reason (for the log)."""


def plain_answer(answer: Any) -> dict:
    """Turn whatever ``llm_fn`` returned into a dict of plain JSON data.

    A string (or bytes) is parsed as the JSON object it should hold. Values that are
    not JSON data are repaired or left out (see the module docstring); each repair is
    logged at INFO level on the ``skillvault`` logger.

    Args:
        answer: any Python object.

    Returns:
        A dict with text keys whose values are dicts, lists, text, finite numbers,
        booleans or None.

    Raises:
        Rejected: if it is not a JSON object, or too deep or too large, with the reason.
    """
    if isinstance(answer, (bytes, bytearray)):
        answer = bytes(answer).decode("utf-8", "replace")
    if isinstance(answer, str):
        from .llm import parse_json_answer

        if len(answer) > MAX_ANSWER_CHARS:
            raise Rejected(f"the answer is {len(answer)} characters long; the limit is {MAX_ANSWER_CHARS}")
        try:
            answer = parse_json_answer(answer)
        except Exception as exc:  # noqa: BLE001 - LLMError, or RecursionError for deep JSON
            raise Rejected(f"the answer is not a JSON object: {type(exc).__name__}: {exc}") from None
    if not isinstance(answer, dict):
        raise Rejected(f"the answer must be a JSON object (dict), got {type(answer).__name__}")
    repairs: list[str] = []

    def repair(value: Any, where: str) -> Any:
        fixed = _repaired(value)
        repairs.append(f"{where} ({type(value).__name__}: {'left out' if fixed is DROP else 'converted'})")
        return fixed

    try:
        plain = json_data(answer, "answer", MAX_ANSWER_DEPTH, MAX_ANSWER_CHARS, MAX_ANSWER_ITEMS, repair)
    except ValidationError as exc:
        raise Rejected(str(exc)) from None
    if repairs:
        listed = ", ".join(repairs[:5]) + (f" and {len(repairs) - 5} more" if len(repairs) > 5 else "")
        log.info("extract: repaired %d value(s) in the LLM answer: %s", len(repairs), listed)
    return plain


def _repaired(value: Any) -> Any:
    """A JSON-ready stand-in for a value of an LLM answer that is not JSON data, or DROP."""
    try:
        if isinstance(value, str):
            return without_surrogates(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value).decode("utf-8", "replace")
        if isinstance(value, (set, frozenset)):
            return list(value)
        if isinstance(value, (datetime, date, time)):
            return value.isoformat()
        if isinstance(value, (Decimal, Fraction)):
            number = float(value)
            return number if math.isfinite(number) else DROP
    except Exception:  # noqa: BLE001 - user objects may raise anything; leave them out
        return DROP
    return DROP  # NaN, infinities, integers beyond 64 bits, any other object


def parse_knowledge(answer: Any) -> Optional[Knowledge]:
    """Turn an llm_fn answer into :class:`Knowledge`.

    Args:
        answer: what ``llm_fn`` returned (a dict is expected; a JSON string is parsed;
            anything else goes through :func:`plain_answer`).

    Returns:
        The knowledge, or None if the answer says there is none.

    Raises:
        Rejected: if the answer is unusable, with the reason.
    """
    answer = plain_answer(answer)
    has_knowledge = _as_bool(answer.get("has_knowledge"))
    title = _as_text(answer.get("title"), "title", MAX_TITLE_CHARS, single_line=True)
    playbook = _as_text(answer.get("playbook"), "playbook", MAX_FIELD_CHARS)
    if has_knowledge is None:
        has_knowledge = bool(title and playbook)  # field missing: trust the content
    if not has_knowledge:
        return None
    if not title:
        raise Rejected("has_knowledge is true but there is no usable title")
    if not playbook:
        raise Rejected("has_knowledge is true but there is no usable playbook")
    knowledge = Knowledge(
        title=title,
        playbook=playbook,
        examples=_as_text(answer.get("examples"), "examples", MAX_FIELD_CHARS),
        when_to_use=_as_text(answer.get("when_to_use"), "when_to_use", MAX_FIELD_CHARS),
        dependencies=_as_ids(answer.get("dependencies")),
        tags=_as_tags(answer.get("tags")),
    )
    confidence = _as_number(answer.get("confidence"))
    if confidence is None:
        knowledge.confidence = estimate_confidence(knowledge)
        knowledge.confidence_estimated = True
    else:
        knowledge.confidence = min(1.0, max(0.0, confidence))
    return knowledge


def estimate_confidence(knowledge: Knowledge) -> float:
    """Score completeness when the LLM gave no confidence (0.5 .. 0.95).

    Starts at 0.5; +0.15 for a playbook of at least two steps (list or numbered lines),
    +0.1 for examples (+0.05 more with a code block), +0.1 for a when-to-use note of at
    least 20 characters, +0.05 for a playbook of at least 200 characters.
    """
    score = 0.5
    steps = re.findall(r"^\s*(?:[-*+]|\d+[.)])\s+\S", knowledge.playbook, flags=re.M)
    if len(steps) >= 2:
        score += 0.15
    if knowledge.examples.strip():
        score += 0.1
        if "```" in knowledge.examples:
            score += 0.05
    if len(knowledge.when_to_use.strip()) >= 20:
        score += 0.1
    if len(knowledge.playbook) >= 200:
        score += 0.05
    return round(min(score, 0.95), 2)


def _as_bool(value: Any) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "0", ""):
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return bool(value)
    return None


def _as_number(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().rstrip("%")) / (100 if value.strip().endswith("%") else 1)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None  # NaN and infinities are not confidences


def _as_text(value: Any, name: str, limit: int, single_line: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = "\n".join(f"- {item}" if not str(item).lstrip().startswith(("-", "*")) else str(item) for item in value)
    elif isinstance(value, dict):
        value = "\n".join(f"- **{key}**: {item}" for key, item in value.items())
    elif not isinstance(value, str):
        value = str(value)
    value = value.replace("\x00", "").strip()
    if single_line:
        value = " ".join(value.split())
        return value[:limit].rstrip()
    if len(value) > limit:
        value = value[: limit - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    return value


def _as_ids(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    ids: list[str] = []
    for item in value[:MAX_DEPENDENCIES]:
        try:
            ids.append(validate_id(item.strip() if isinstance(item, str) else item, "dependency"))
        except ValidationError:
            continue  # path or SQL characters, empty, too long: drop it
    return list(dict.fromkeys(ids))


def _as_tags(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    tags = []
    for item in value:
        if isinstance(item, str):
            tag = re.sub(r"[^a-z0-9]+", "-", item.lower()).strip("-")[:40]
            if tag and tag not in tags:
                tags.append(tag)
    return tags[:MAX_TAGS]
