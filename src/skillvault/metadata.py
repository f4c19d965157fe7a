"""Checks on ``Skill.metadata``: size, nesting, and the bundled files it may carry. No I/O.

``Skill.metadata`` comes from untrusted files (JSON imports, SKILL.md front matter,
bundled files read from a folder), so :meth:`Skill.validate` bounds it here, in one
place: the JSON text stored for it, how deep it nests, and the bundled files kept under
``metadata["agent_skill"]["files"]`` (``{relative posix path: str | {"base64": str}}``).
The SKILL.md reader, the JSON import and the SKILL.md export all use
:func:`check_bundled_name`, so they agree on which file names are acceptable.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Iterator

from .errors import ValidationError

__all__ = [
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "MAX_BUNDLED_FILES",
    "MAX_BUNDLED_FILE_BYTES",
    "MAX_BUNDLED_TOTAL_BYTES",
    "MAX_BUNDLED_NAME_CHARS",
    "check_metadata",
    "check_bundled_name",
    "check_bundled_files",
    "nested_values",
]

#: Largest ``json.dumps(metadata)`` of one skill (what the database row holds).
MAX_METADATA_BYTES = 32_000_000
#: Deepest nesting of dicts and lists in ``metadata`` (the metadata dict itself is level 1).
MAX_METADATA_DEPTH = 40
#: Most bundled files one skill keeps.
MAX_BUNDLED_FILES = 1_000
#: Largest bundled file whose content is kept (bytes).
MAX_BUNDLED_FILE_BYTES = 1_000_000
#: Total size of the bundled files one skill keeps (bytes).
MAX_BUNDLED_TOTAL_BYTES = 10_000_000
#: Longest bundled file name (a relative path), in characters.
MAX_BUNDLED_NAME_CHARS = 1_000

_SKILL_FILE = "skill.md"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_metadata(metadata: Any, field_name: str = "skill.metadata") -> None:
    """Check that ``metadata`` is a bounded, JSON-serialisable dict.

    Raises:
        ValidationError: naming the offending place, if it is not a dict, nests deeper
            than :data:`MAX_METADATA_DEPTH`, holds a string with a lone surrogate, a
            value JSON cannot hold (an object, NaN, infinity), is over
            :data:`MAX_METADATA_BYTES` as JSON, or its bundled files fail
            :func:`check_bundled_files`.
    """
    if not isinstance(metadata, dict):
        raise ValidationError(field_name, f"must be a dict, got {type(metadata).__name__}")
    for value, where in nested_values(metadata, MAX_METADATA_DEPTH, field_name):
        if isinstance(value, str):
            _check_encodable(value, where)
        elif isinstance(value, dict):
            for key in value:
                if isinstance(key, str):
                    _check_encodable(key, f"{where} key {_label(key)}")
    try:
        size = len(json.dumps(metadata, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError(field_name, f"must be JSON-serialisable ({exc})") from None
    if size > MAX_METADATA_BYTES:
        raise ValidationError(
            field_name, f"is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}; keep large "
            "data out of the skill"
        )
    agent = metadata.get("agent_skill")
    if isinstance(agent, dict) and "files" in agent:
        check_bundled_files(agent["files"], f"{field_name}['agent_skill']['files']")


def nested_values(value: Any, max_depth: int, field_name: str) -> Iterator[tuple[Any, str]]:
    """Yield ``(item, where)`` for ``value`` and every item inside its dicts and lists.

    Walks without recursion (hostile nesting must not reach Python's recursion limit);
    ``where`` is ``field_name`` followed by ``[key]`` subscripts.

    Raises:
        ValidationError: at the first dict or list nested deeper than ``max_depth``
            levels (``value`` itself is level 1).
    """
    stack: list[tuple[Any, str, int]] = [(value, field_name, 1)]
    while stack:
        item, where, depth = stack.pop()
        yield item, where
        if isinstance(item, (dict, list, tuple)):
            if depth > max_depth:
                raise ValidationError(where, f"nests deeper than {max_depth} levels; flatten it")
            children = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((child, f"{where}[{_label(key)}]", depth + 1) for key, child in reversed(list(children)))


def _label(key: Any) -> str:
    """A short repr of a dict key or list index, for error locations."""
    text = repr(key[:40] + "...") if isinstance(key, str) and len(key) > 40 else repr(key)
    return text[:60]


def _check_encodable(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(where, "holds a lone surrogate (not valid Unicode text); remove it") from None


def check_bundled_name(name: Any, field_name: str = "bundled file name") -> str:
    """Check a bundled file name: a relative posix path that stays inside the skill folder.

    Allowed: 1-1000 characters, parts separated by single ``/``, no part empty, ``.`` or
    ``..``, no leading ``/``, no backslash, colon (drive letters, streams) or control
    character, valid Unicode, and not ``SKILL.md`` itself.

    Returns:
        The name unchanged.

    Raises:
        ValidationError: saying what is wrong with the name.
    """
    if not isinstance(name, str) or not name:
        got = "an empty one" if name == "" else type(name).__name__
        raise ValidationError(field_name, f"must be a non-empty string, got {got}")
    if len(name) > MAX_BUNDLED_NAME_CHARS:
        raise ValidationError(
            field_name, f"is {len(name)} characters long; the limit is {MAX_BUNDLED_NAME_CHARS}"
        )
    _check_encodable(name, field_name)
    if _CONTROL.search(name):
        raise ValidationError(field_name, f"{name!r} holds a control character; rename the file")
    if (
        name.startswith("/")
        or "\\" in name
        or ":" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise ValidationError(
            field_name, f"{name!r} escapes the skill folder or is not portable; use a relative "
            "path with '/' separators, without '..', '.', '\\\\' or ':'"
        )
    if name.lower() == _SKILL_FILE:
        raise ValidationError(field_name, f"{name!r} would overwrite SKILL.md; rename the file")
    return name


def check_bundled_files(files: Any, field_name: str = "files") -> None:
    """Check a ``{name: content}`` map of bundled files as kept in a skill's metadata.

    Each name passes :func:`check_bundled_name`; no name is a folder of another; each
    content is a ``str`` or ``{"base64": <valid base64>}`` of at most
    :data:`MAX_BUNDLED_FILE_BYTES` bytes; at most :data:`MAX_BUNDLED_FILES` files and
    :data:`MAX_BUNDLED_TOTAL_BYTES` bytes in all.

    Raises:
        ValidationError: naming the first bad entry.
    """
    if not isinstance(files, dict):
        raise ValidationError(field_name, f"must be a mapping of path -> content, got {type(files).__name__}")
    if len(files) > MAX_BUNDLED_FILES:
        raise ValidationError(field_name, f"has {len(files)} files; the limit is {MAX_BUNDLED_FILES}")
    total = 0
    for name, content in files.items():
        where = f"{field_name}[{_label(name)}]"
        check_bundled_name(name, where)
        size = _content_size(content, where)
        if size > MAX_BUNDLED_FILE_BYTES:
            raise ValidationError(where, f"is {size} bytes; the limit is {MAX_BUNDLED_FILE_BYTES}")
        total += size
    if total > MAX_BUNDLED_TOTAL_BYTES:
        raise ValidationError(field_name, f"hold {total} bytes in all; the limit is {MAX_BUNDLED_TOTAL_BYTES}")
    for name in files:
        parts = name.split("/")
        for end in range(1, len(parts)):
            folder = "/".join(parts[:end])
            if folder in files:
                raise ValidationError(
                    f"{field_name}[{_label(name)}]", f"needs {_label(folder)} to be a folder, but it is also a file"
                )


def _content_size(content: Any, where: str) -> int:
    """Size in bytes of one bundled file's content, checking its form."""
    if isinstance(content, str):
        _check_encodable(content, where)
        return len(content.encode("utf-8"))
    if isinstance(content, dict) and set(content) == {"base64"} and isinstance(content["base64"], str):
        encoded = content["base64"]
        if len(encoded) > 2 * MAX_BUNDLED_FILE_BYTES:  # decode nothing absurdly large
            return len(encoded)
        try:
            return len(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise ValidationError(where, "has invalid base64 content") from None
    raise ValidationError(where, "must be a string or {'base64': <base64 text>}")
