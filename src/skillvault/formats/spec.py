"""The one validator of the Agent Skills format: findings, not exceptions.

Every reader and writer of SKILL.md folders (and ``skillvault lint``, and import's
report) asks these functions what is wrong with a skill, so they never disagree.

The spec's limits (name format, description length, ``compatibility`` length) are
advice to authors: breaking them is a *warning*; a reader keeps the skill and a writer
writes it. An *error* is reserved for what makes a skill unusable (unreadable file,
invalid YAML, no body, an id skillvault cannot store): import skips that skill.

Pure functions: no I/O, no store.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Optional

from ..models import Chunk, slugify
from .chunking import MAX_CHUNK_TOKENS  # one limit: what a SKILL.md reader would split

__all__ = [
    "Finding", "ERROR", "WARNING", "MAX_NAME_CHARS", "MAX_DESCRIPTION_CHARS", "MAX_COMPATIBILITY_CHARS",
    "MAX_CHUNK_TOKENS", "is_spec_name", "spec_name", "check_front_matter", "check_references",
    "check_chunk_sizes",
]

ERROR = "error"
WARNING = "warning"

#: Spec limits (advice: breaking them is a warning).
MAX_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 1024
MAX_COMPATIBILITY_CHARS = 500

_SPEC_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# Markdown links and images: [text](target "title") / ![alt](target).
_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\n]*?[\"'])?\s*\)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Finding:
    """One thing lint (or import) has to say about a skill.

    Attributes:
        severity: ``"error"`` (the skill cannot be imported) or ``"warning"``.
        code: a stable short name, e.g. ``"description-too-long"``.
        message: what is wrong and how to fix it.
        file: the file it is about (a path, or ``"library:<id>"`` for a stored skill).
        line: 1-based line in ``file`` (None when unknown).
        skill_id: the skill, when known.
    """

    severity: str
    code: str
    message: str
    file: str = ""
    line: Optional[int] = None
    skill_id: Optional[str] = None

    @property
    def where(self) -> str:
        """``"file:line"`` (or just the file when the line is unknown)."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        where = f"{self.where}: " if self.file else ""
        return f"{where}{self.severity}: {self.message} [{self.code}]"

    def to_dict(self) -> dict:
        """The JSON shape (documented in docs/cli.md)."""
        return asdict(self)


def is_spec_name(name: Any) -> bool:
    """True if ``name`` follows the Agent Skills name rules (1-64 lower-case letters,
    digits and single hyphens, no leading or trailing hyphen)."""
    return isinstance(name, str) and len(name) <= MAX_NAME_CHARS and bool(_SPEC_NAME.fullmatch(name))


def spec_name(skill_id: str) -> str:
    """The Agent Skills name (and folder name) a skill is exported under.

    Its id when that is a valid name, else a slug of it (``draft::my-notes`` ->
    ``draft-my-notes``) cut to 64 characters.
    """
    return skill_id if is_spec_name(skill_id) else slugify(skill_id, MAX_NAME_CHARS)


def check_front_matter(
    name: Any, description: Any, compatibility: Any = None, *, folder_name: Optional[str] = None,
    file: str = "", key_lines: Optional[dict] = None, skill_id: Optional[str] = None,
) -> list[Finding]:
    """Spec findings about the front-matter fields (all warnings).

    Args:
        name / description / compatibility: the values (None when absent).
        folder_name: the folder holding SKILL.md, when reading or writing one.
        file / key_lines: where the findings point (``{key: line}``).
        skill_id: the skill they are about.
    """
    lines = key_lines or {}
    found: list[Finding] = []

    def warn(code: str, key: str, message: str) -> None:
        found.append(Finding(WARNING, code, message, file, lines.get(key, 1), skill_id))

    if name is None:
        warn("name-missing", "name", "front matter has no 'name' (the spec requires one)"
             + (f"; using the folder name {folder_name!r}" if folder_name else ""))
    elif not is_spec_name(name):
        warn("name-format", "name", f"name {name!r} does not follow the Agent Skills rules (1-{MAX_NAME_CHARS} "
             f"lower-case letters, digits and single hyphens), e.g. {spec_name(name)!r}")
    elif folder_name is not None and name != folder_name:
        warn("name-folder-mismatch", "name", f"name {name!r} differs from the folder name {folder_name!r}")
    if description is None or (isinstance(description, str) and not description.strip()):
        warn("description-missing", "description", "no 'description' (the spec requires one: say what "
             "the skill does and when to use it; agents pick skills by it)")
    elif isinstance(description, str) and len(description) > MAX_DESCRIPTION_CHARS:
        warn("description-too-long", "description", f"'description' is {len(description)} characters; "
             f"the spec advises at most {MAX_DESCRIPTION_CHARS}")
    if isinstance(compatibility, str) and len(compatibility) > MAX_COMPATIBILITY_CHARS:
        warn("compatibility-too-long", "compatibility", f"'compatibility' is {len(compatibility)} characters; "
             f"the spec advises at most {MAX_COMPATIBILITY_CHARS}")
    return found


def _link_targets(text: str) -> Iterable[tuple[int, str]]:
    """``(line offset, target)`` of relative links in markdown, outside code fences."""
    fence: Optional[str] = None
    for offset, line in enumerate(text.splitlines()):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            continue
        if stripped.startswith("```") or stripped.startswith("~~~"):
            fence = stripped[:3]
            continue
        for match in _LINK.finditer(line):
            target = match.group(1)
            if target.startswith(("#", "/", "mailto:")) or _SCHEME.match(target):
                continue
            target = target.split("#", 1)[0].split("?", 1)[0]
            if target:
                yield offset, target


def _normal(target: str) -> Optional[str]:
    parts: list[str] = []
    for part in target.replace("%20", " ").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None  # leaves the skill folder: not ours to check
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def check_references(
    chunks: list[Chunk], files: Any, *, file: str = "", chunk_lines: Optional[list[int]] = None,
    skill_id: Optional[str] = None, omitted: Iterable[str] = (),
) -> list[Finding]:
    """Warnings for relative markdown links to bundled files the skill does not have.

    Args:
        chunks: the skill's chunks (their content is searched for links).
        files: the bundled files (a mapping keyed by relative posix path).
        chunk_lines: file line where each chunk starts (for the findings' lines).
        omitted: bundled paths that exist but whose content was not kept.
    """
    present = set(files) if isinstance(files, dict) else set()
    present |= set(omitted)
    folders = {"/".join(p.split("/")[:i]) for p in present for i in range(1, p.count("/") + 1)}
    found: list[Finding] = []
    for index, chunk in enumerate(chunks):
        for offset, target in _link_targets(chunk.content):
            path = _normal(target)
            if path is None or path in ("SKILL.md", "skill.md") or path in present or path.rstrip("/") in folders:
                continue
            line = (chunk_lines[index] + offset) if chunk_lines and index < len(chunk_lines) else 1
            found.append(Finding(WARNING, "broken-reference", f"links to {target!r}, which is not a file of "
                                 "this skill; bundle it or fix the link", file, line, skill_id))
    return found


def check_chunk_sizes(
    chunks: list[Chunk], tokens: list[int], *, file: str = "", chunk_lines: Optional[list[int]] = None,
    skill_id: Optional[str] = None, limit: int = MAX_CHUNK_TOKENS,
) -> list[Finding]:
    """Warnings for chunks over ``limit`` tokens (``tokens[i]`` is chunk i's count)."""
    found = []
    for index, (chunk, count) in enumerate(zip(chunks, tokens)):
        if count > limit:
            line = chunk_lines[index] if chunk_lines and index < len(chunk_lines) else 1
            found.append(Finding(WARNING, "chunk-too-long", f"section {chunk.section!r} is {count} tokens; "
                                 f"over {limit} it rarely fits a prompt budget: split it with sub-headings",
                                 file, line, skill_id))
    return found
