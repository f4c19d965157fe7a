"""Bundled files of a skill: the names and contents kept in ``metadata["agent_skill"]["files"]``.

A skill read from an Agent Skills folder keeps its bundled files as ``{relative posix
path: str | {"base64": str}}``; an export writes them back. These come from untrusted
files (a SKILL.md folder, a JSON import), so :meth:`Skill.validate` checks them here, in
one place, and the SKILL.md reader, the JSON import and the SKILL.md export agree on
which names are acceptable. No I/O. (The metadata as a whole is bounded by
:func:`skillvault.validation.json_data`.)
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from .errors import ValidationError
from .validation import lone_surrogate, shown

__all__ = [
    "MAX_BUNDLED_FILES",
    "MAX_BUNDLED_FILE_BYTES",
    "MAX_BUNDLED_TOTAL_BYTES",
    "MAX_BUNDLED_NAME_CHARS",
    "check_bundled_metadata",
    "check_bundled_name",
    "check_bundled_files",
]

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


def check_bundled_metadata(metadata: dict, field_name: str = "skill.metadata") -> None:
    """Check the bundled files kept in a skill's metadata, if it has any.

    Raises:
        ValidationError: see :func:`check_bundled_files`.
    """
    agent = metadata.get("agent_skill")
    if isinstance(agent, dict) and "files" in agent:
        check_bundled_files(agent["files"], f"{field_name}['agent_skill']['files']")


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
    if lone_surrogate(name) is not None:
        raise ValidationError(field_name, f"{shown(name)} is not valid Unicode text; rename the file")
    if _CONTROL.search(name):
        raise ValidationError(field_name, f"{shown(name)} holds a control character; rename the file")
    if (
        name.startswith("/")
        or "\\" in name
        or ":" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise ValidationError(
            field_name, f"{shown(name)} escapes the skill folder or is not portable; use a relative "
            "path with '/' separators, without '..', '.', '\\\\' or ':'"
        )
    if name.lower() == _SKILL_FILE:
        raise ValidationError(field_name, f"{shown(name)} would overwrite SKILL.md; rename the file")
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
        where = f"{field_name}[{shown(name)}]"
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
                    f"{field_name}[{shown(name)}]", f"needs {shown(folder)} to be a folder, but it is also a file"
                )


def _content_size(content: Any, where: str) -> int:
    """Size in bytes of one bundled file's content, checking its form."""
    if isinstance(content, str):
        if lone_surrogate(content) is not None:
            raise ValidationError(where, "is not valid Unicode text (a lone surrogate); store it as base64")
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
