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


def bundled_files(skill: Any) -> dict:
    """Return a skill's bundled files, ``{relative path: str | {"base64": str}}`` ({} if none)."""
    agent_skill = skill.metadata.get("agent_skill") if isinstance(skill.metadata, dict) else None
    files = agent_skill.get("files") if isinstance(agent_skill, dict) else None
    return files if isinstance(files, dict) else {}


def bundled_text(skill: Any, path: Any) -> str:
    """Return the text of the file ``path`` bundled with ``skill`` (level 3 of progressive disclosure).

    Only the skill's own files are served: ``path`` is looked up among them, never on disk.

    Raises:
        ValidationError: ``path`` is not a string or not a plain relative path.
        NotFoundError: the skill bundles no such file (the message lists the ones it has),
            or the file's content was not kept when it was imported.
        SkillVaultError: the file is binary.
    """
    from .errors import NotFoundError, SkillVaultError

    if not isinstance(path, str) or not path.strip():
        raise ValidationError("path", f"must be a non-empty relative path such as 'references/api.md', got {shown(path)}")
    wanted = path.strip().replace("\\", "/")
    while wanted.startswith("./"):
        wanted = wanted[2:]
    if wanted.startswith("/") or any(part in ("..", "") for part in wanted.split("/")):
        raise ValidationError("path", f"must be a relative path inside the skill folder, got {shown(path)}")
    files = bundled_files(skill)
    if wanted not in files:
        omitted = skill.metadata.get("agent_skill", {}).get("omitted_files") or []
        for entry in omitted if isinstance(omitted, list) else []:
            if isinstance(entry, dict) and entry.get("path") == wanted:
                raise NotFoundError(f"{wanted!r} of skill {skill.id!r} was not kept at import: {entry.get('reason')}")
        listed = ", ".join(sorted(files)[:20]) or "none"
        raise NotFoundError(f"skill {skill.id!r} bundles no file {wanted!r}; its files: {listed}")
    content = files[wanted]
    if not isinstance(content, str):
        raise SkillVaultError(f"{wanted!r} of skill {skill.id!r} is a binary file; export the skill to get it")
    return content
