"""Checks of single values, shared by the models, the facade and the LLM-answer parser. No I/O.

- **Text**: a ``str`` within a length and without lone surrogates (code points
  U+D800..U+DFFF, e.g. from ``"\\ud800"`` or undecodable command-line bytes): UTF-8
  cannot encode them, so SQLite, JSON files and terminals would fail on them later.
- **Integers**: bounded, so SQLite's 64-bit INTEGER (and float maths on them) never
  overflows.
- **JSON data** (``Skill.metadata``, LLM answers): dicts with string keys, lists, text,
  finite numbers, booleans and ``None``, bounded in depth and size. Checked strictly, or
  repaired value by value for untrusted input.
- **Paths**: a ``str`` or ``os.PathLike`` the file system can encode.

Error messages show offending values through :func:`shown`, which never fails and
never prints a megabyte.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Optional

from .errors import ValidationError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: Longest path and file name (in bytes, as the OS sees them) accepted: common limits
#: (Linux PATH_MAX / NAME_MAX), so a longer one is a clear error, not an OSError.
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255

_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN_CHARS = 80


def shown(value: Any) -> str:
    """Return a short ``repr`` of ``value`` for an error message; never raises.

    Integers too long to print (Python refuses above 4300 digits) are described by
    their size, long reprs are cut, and a ``repr`` that fails names the type.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a user object's __repr__ may do anything
        return f"<{type(value).__name__}>"
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def lone_surrogate(text: str) -> Optional[int]:
    """Return the index of the first lone surrogate in ``text``, or None."""
    match = _SURROGATE.search(text)
    return match.start() if match else None


def without_surrogates(text: str) -> str:
    """Repair ``text``: join surrogate pairs into their character, replace lone ones by U+FFFD."""
    if lone_surrogate(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def check_text(value: Any, field: str, limit: int, allow_empty: bool = True) -> str:
    """Check that ``value`` is text of at most ``limit`` characters that UTF-8 can encode.

    Args:
        value: the candidate.
        field: its name, for the error message.
        limit: most characters.
        allow_empty: if False, empty or blank text is refused.

    Returns:
        ``value`` as a plain ``str`` (an instance of a subclass is copied).

    Raises:
        ValidationError: for a non-string, blank text (if not allowed), text over
            ``limit`` or text holding a lone surrogate.
    """
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValidationError(field, "must not be empty")
    if len(value) > limit:
        raise ValidationError(field, f"is {len(value)} characters long; the limit is {limit}")
    _refuse_surrogates(value, field)
    return plain(value)


def _refuse_surrogates(text: str, field: str) -> None:
    index = lone_surrogate(text)
    if index is not None:
        raise ValidationError(
            field,
            f"holds a lone surrogate ({shown(text[index])} at position {index}), which is not valid "
            "Unicode text; decode the text properly (or replace such characters) first",
        )


def check_int(
    value: Any, field: str, minimum: int = INT64_MIN, maximum: int = INT64_MAX, optional: bool = False
) -> Optional[int]:
    """Check that ``value`` is an ``int`` (not a bool) with ``minimum <= value <= maximum``.

    Args:
        value: the candidate.
        field: its name, for the error message.
        minimum / maximum: the allowed range (default: SQLite's 64-bit INTEGER).
        optional: None is accepted too.

    Returns:
        ``value`` as a plain ``int`` (an instance of a subclass is copied).

    Raises:
        ValidationError: naming ``field`` and the allowed range.
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        wanted = f"an integer >= {minimum}" if maximum == INT64_MAX else f"an integer from {minimum} to {maximum}"
        raise ValidationError(field, f"must be {wanted}{' or None' if optional else ''}, got {shown(value)}")
    return plain(value)


def check_path(value: Any, field: str, utf8: bool = False) -> Path:
    """Check a path argument: a ``str`` or ``os.PathLike`` naming a file the OS can encode.

    Args:
        value: the candidate.
        field: its name, for the error message.
        utf8: also refuse names of undecodable bytes (which Python holds as lone
            surrogates such as ``\\udcff``), for consumers that need UTF-8 text.

    Returns:
        The path as a :class:`~pathlib.Path`.

    Raises:
        ValidationError: for another type (bytes included), an empty path, a NUL
            character, characters the file system encoding cannot represent, or a
            path or name longer than :data:`MAX_PATH_BYTES` / :data:`MAX_NAME_BYTES`.
    """
    if not isinstance(value, (str, os.PathLike)):
        raise ValidationError(field, f"must be a path (str or os.PathLike), got {type(value).__name__}")
    try:
        text = os.fspath(value)
    except Exception as exc:  # noqa: BLE001 - a user __fspath__ may raise anything
        raise ValidationError(field, f"its __fspath__() failed ({type(exc).__name__})") from None
    if not isinstance(text, str):
        raise ValidationError(field, f"must be a text path, got a {type(text).__name__} path")
    text = plain(text)
    if not text:
        raise ValidationError(field, "must not be empty")
    if "\x00" in text:
        raise ValidationError(field, "holds a NUL character, which no file name can contain")
    try:
        encoded = text.encode("utf-8") if utf8 else os.fsencode(text)
    except UnicodeError:
        raise ValidationError(
            field, f"{shown(text)} holds characters that cannot be encoded (lone surrogates, e.g. from "
            "undecodable bytes); use a UTF-8 file name"
        ) from None
    if len(encoded) > MAX_PATH_BYTES:
        raise ValidationError(field, f"is {len(encoded)} bytes long; the limit is {MAX_PATH_BYTES}")
    longest = max(encoded.split(os.sep.encode()), key=len)
    if len(longest) > MAX_NAME_BYTES:
        raise ValidationError(field, f"has a name of {len(longest)} bytes ({shown(longest)}); the limit is {MAX_NAME_BYTES}")
    return Path(text)


def check_callable(value: Any, field: str, wanted: str, optional: bool = False) -> Any:
    """Check that ``value`` can be called (or is None, if ``optional``).

    Args:
        value: the candidate.
        field: its name, for the error message.
        wanted: its signature in words, e.g. ``"text -> list[float]"``.
        optional: None is accepted too.

    Returns:
        ``value`` unchanged.

    Raises:
        ValidationError: naming ``field`` and what is wanted.
    """
    if value is None and optional:
        return None
    if not callable(value):
        raise ValidationError(field, f"must be callable ({wanted}), got {type(value).__name__}")
    return value


def nesting_depth(value: Any, limit: int) -> int:
    """Return how deeply dicts, lists, tuples and sets nest in ``value``, counting up to ``limit + 1``.

    Iterative, so it works (and stops early) on values too deep for recursion.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = _children(item)
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _children(item: Any) -> Optional[list]:
    """The values inside a dict, list, tuple or set (through the base class, never an override)."""
    if isinstance(item, dict):
        return list(dict.values(item))
    if isinstance(item, list):
        return list.copy(item)
    if isinstance(item, tuple):
        return list(tuple.__iter__(item))
    if isinstance(item, (set, frozenset)):
        return list((frozenset if isinstance(item, frozenset) else set).__iter__(item))
    return None


#: ``repair(value, where)`` returns a JSON-ready replacement for a value that is not JSON
#: data (and for text with lone surrogates, non-finite floats, out-of-range integers), or
#: :data:`DROP` to leave the entry out; it may raise ValidationError to refuse.
Repair = Callable[[Any, str], Any]
DROP = object()


def json_data(
    value: Any, field: str, max_depth: int, max_chars: int, max_items: int, repair: Optional[Repair] = None
) -> Any:
    """Return a copy of ``value`` made only of JSON data, within bounds.

    JSON data is ``dict`` (``str`` keys), ``list`` (tuples become lists), ``str``
    without lone surrogates, ``int`` within 64 bits, finite ``float``, ``bool`` and
    ``None``. Size is bounded two ways: the characters of all strings (keys too), and
    the number of values.

    Args:
        value: the value to check.
        field: its name; errors name the place inside, e.g. ``metadata['a'][2]``.
        max_depth: most levels of nested dicts and lists.
        max_chars: most characters in all.
        max_items: most values in all (each scalar, list, dict and key counts one).
        repair: without it, anything else raises ValidationError; with it, such a value
            is replaced by what ``repair`` returns (checked in turn) or dropped; so is a key
            that is not valid text (its entry is left out unless the repair gives text).

    Raises:
        ValidationError: naming the place at fault.
    """
    if type(value) is dict and not value and max_depth >= 1 and max_items >= 1:
        return {}  # the common case (no metadata), without building the walker
    if nesting_depth(value, max_depth) > max_depth:
        raise ValidationError(field, f"is nested more than {max_depth} levels deep")
    budget = [max_chars, max_items]

    def spend(chars: int, where: str) -> None:
        budget[0] -= chars
        budget[1] -= 1
        if budget[0] < 0:
            raise ValidationError(field, f"is larger than {max_chars} characters in all (at {where})")
        if budget[1] < 0:
            raise ValidationError(field, f"holds more than {max_items} values in all (at {where})")

    def walk(item: Any, where: str, repaired: bool = False) -> Any:
        item = plain(item)
        problem = _json_problem(item)
        if problem is not None:
            if repair is None or repaired:
                raise ValidationError(where, problem)
            replacement = repair(item, where)
            return DROP if replacement is DROP else walk(replacement, where, repaired=True)
        if isinstance(item, str):
            spend(len(item), where)
            return item
        spend(0 if isinstance(item, (dict, list, tuple)) else 1, where)
        if not isinstance(item, (dict, list, tuple)):
            return item  # None, bool, int, float
        if not isinstance(item, dict):
            items = (walk(child, f"{where}[{index}]") for index, child in enumerate(_children(item)))
            return [child for child in items if child is not DROP]
        out = {}
        for key, child in list(dict.items(item)):
            key = plain(key)
            if not isinstance(key, str) or lone_surrogate(key) is not None:
                if repair is None:
                    raise ValidationError(where, f"has a key {shown(key)}; keys must be strings of valid text")
                key = plain(repair(key, f"{where} key"))
                if not isinstance(key, str) or lone_surrogate(key) is not None:
                    continue  # no text key for this entry: it is left out
            spend(len(key), where)
            child = walk(child, f"{where}[{shown(key)}]")
            if child is not DROP:
                out[key] = child
        return out

    return walk(value, field)


def plain(item: Any) -> Any:
    """Return an instance of a str / int / float subclass as the plain type; others unchanged.

    Nothing of the subclass (a ``__str__`` or ``__repr__`` that raises...) runs later.
    """
    kind = type(item)
    if kind in (str, int, float, bool) or item is None:
        return item
    if isinstance(item, str):
        return str.__str__(item)
    if isinstance(item, int) and not isinstance(item, bool):
        return int.__int__(item)
    if isinstance(item, float):
        return float.__float__(item)
    return item


def _json_problem(item: Any) -> Optional[str]:
    """Say why ``item`` is not JSON data by itself (ignoring its children), or None."""
    if item is None:  # JSON null
        return None
    if isinstance(item, str):
        index = lone_surrogate(item)
        return None if index is None else f"holds a lone surrogate at position {index}"
    if isinstance(item, int):
        if INT64_MIN <= item <= INT64_MAX:
            return None
        return f"{shown(item)} is outside the 64-bit integer range"
    if isinstance(item, float):
        return None if math.isfinite(item) else f"{item!r} is not a JSON number"
    if isinstance(item, (dict, list, tuple)):
        return None
    return f"must be JSON data (object, array, string, number, true/false, null), got {type(item).__name__}"
