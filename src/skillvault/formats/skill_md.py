"""Agent Skills folders (``<name>/SKILL.md`` + bundled files) <-> :class:`Skill`.

The format is the one of Anthropic's Agent Skills / https://agentskills.io:

* a folder named like the skill, holding ``SKILL.md``;
* ``SKILL.md`` starts with YAML front matter between two ``---`` lines. Required keys:
  ``name`` (1-64 lower-case letters, digits and hyphens, no leading/trailing/double
  hyphen, equal to the folder name) and ``description`` (1-1024 characters). Optional:
  ``license``, ``compatibility`` (<= 500 characters), ``allowed-tools`` (a space
  separated string or a list of strings) and ``metadata`` (a string -> string map);
* a markdown body after the front matter;
* optional bundled files, usually under ``scripts/``, ``references/`` and ``assets/``.

Reading and writing are lenient where the spec only gives advice (a name that differs
from the folder name or breaks the name format, a missing name — the folder name is
used —, a missing description, one over 1024 characters, a long ``compatibility``):
:mod:`skillvault.formats.spec`, the one validator readers and writers share, reports
them as warnings (logged, or returned by :func:`read_skill_folder_findings` /
:func:`plan_skill_folder`) and the skill is read or written anyway.
:func:`scan_skill_folders` reads a folder of skill folders one by one, so a bad folder
does not sink the others. Anything
that would make the skill unusable is an :class:`~skillvault.errors.ImportFormatError`
whose message starts with ``"<file>:<line>: "``; the exception also carries ``path``
and ``line`` attributes.

What a read skill keeps in ``Skill.metadata["agent_skill"]`` (all JSON-serialisable):

``license``, ``compatibility``, ``allowed-tools``, ``metadata``
    the optional front-matter keys, as written (only when present).
``extra``
    any other front-matter keys, as a mapping (only when there are some).
``key_order``
    the front-matter keys in file order, so that an export writes them back in the
    same order.
``body``
    the exact markdown body (everything after the closing ``---`` line), so that an
    export reproduces it byte for byte.
``body_sha256``
    a fingerprint of the chunks the body was split into; when the chunks are later
    edited the kept body is stale and an export rebuilds the body from the chunks.
``newline``
    ``"\\r\\n"`` when the front matter used CRLF line ends (absent for ``"\\n"``).
``files``
    bundled files, ``{relative posix path: content}``. UTF-8 text files are stored as
    a ``str``; other (binary) files as ``{"base64": "<base64 of the bytes>"}``.
``omitted_files``
    bundled files whose content was not kept (``{"path", "bytes", "reason"}``): files
    over :data:`MAX_BUNDLED_FILE_BYTES`, beyond :data:`MAX_BUNDLED_TOTAL_BYTES` or
    :data:`MAX_BUNDLED_FILES` in all, deeper than :data:`MAX_BUNDLED_DEPTH` folders,
    with a name :func:`skillvault.bundle.check_bundled_name` refuses, or symbolic
    links. An export cannot write them back.

Hidden files and folders (name starting with ``.``) and ``__pycache__`` folders are not
bundled.

Files are untrusted input, so reading is bounded: ``SKILL.md`` at most
:data:`MAX_SKILL_MD_BYTES`, its front matter at most :data:`MAX_FRONT_MATTER_BYTES` and
:data:`MAX_FRONT_MATTER_DEPTH` levels deep, with no YAML aliases (``*name``: their
expansion can turn a few hundred bytes into gigabytes). Symbolic links are never
followed: a symlinked ``SKILL.md`` is an error, a symlinked skill folder is skipped with
a warning, a symlinked bundled file or folder is listed in ``omitted_files``. The folder
given to read may itself be reached through a link (that is the caller's choice).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import stat
from pathlib import Path
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional, Union

import yaml

from ..bundle import (
    MAX_BUNDLED_FILE_BYTES,
    MAX_BUNDLED_FILES,
    MAX_BUNDLED_TOTAL_BYTES,
    check_bundled_files,
    check_bundled_name,
)
from ..errors import ImportFormatError, ValidationError
from ..models import MAX_NAME_LENGTH, MAX_SECTION_LENGTH, Chunk, Skill, Status, slugify, validate_id
from ..tokens import count_tokens_many
from ..validation import json_data
from .chunking import closes_fence, joined_parts, opens_fence, part_ids, section_title, split_section
from .spec import (
    ERROR, MAX_COMPATIBILITY_CHARS, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, Finding, check_chunk_sizes,
    check_front_matter, check_references, spec_name,
)

__all__ = [
    "read_skill_folder",
    "read_skill_folders",
    "read_skill_folder_findings",
    "scan_skill_folders",
    "FolderScan",
    "plan_skill_folder",
    "write_skill_folder",
    "split_body",
    "read_skill_markdown",
    "skill_markdown_body",
    "MAX_BUNDLED_FILE_BYTES",
    "MAX_BUNDLED_TOTAL_BYTES",
    "MAX_BUNDLED_FILES",
    "MAX_BUNDLED_DEPTH",
    "MAX_SKILL_MD_BYTES",
    "MAX_FRONT_MATTER_BYTES",
    "MAX_FRONT_MATTER_DEPTH",
]

log = logging.getLogger(__name__)

SKILL_FILE = "SKILL.md"
#: Largest SKILL.md accepted.
MAX_SKILL_MD_BYTES = 5_000_000
#: Largest front matter (the YAML between the ``---`` lines), in UTF-8 bytes.
MAX_FRONT_MATTER_BYTES = 64 * 1024
#: Deepest nesting of mappings and lists in the front matter (the top mapping is level 1);
#: kept under ``skillvault.models.MAX_METADATA_DEPTH`` with room for ``agent_skill.extra``.
MAX_FRONT_MATTER_DEPTH = 20
#: Deepest folder inside a skill folder whose files are bundled (``a/b/c.txt`` is 2 deep).
MAX_BUNDLED_DEPTH = 16
# MAX_BUNDLED_FILE_BYTES, MAX_BUNDLED_TOTAL_BYTES and MAX_BUNDLED_FILES (most files kept;
# later ones are listed in omitted_files, up to as many again) come from skillvault.bundle.
# Spec limits (MAX_NAME_CHARS, MAX_DESCRIPTION_CHARS, MAX_COMPATIBILITY_CHARS) and their
# checks live in .spec, the one validator every reader and writer uses.
# Front-matter keys in the order an export writes them when the original order is unknown.
_STANDARD_KEYS = ("name", "description", "license", "compatibility", "allowed-tools", "metadata")
_OPTIONAL_KEYS = _STANDARD_KEYS[2:]
# ATX headings of level 1-3 (up to 3 spaces of indent; optional closing #s).
_HEADING = re.compile(r"^ {0,3}(#{1,3})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_OVERVIEW = "Overview"


# --------------------------------------------------------------------------- errors


def _error(path: Union[Path, str], line: int, message: str) -> ImportFormatError:
    """Build an ImportFormatError whose message names the file and the line."""
    exc = ImportFormatError(f"{path}:{line}: {message}")
    exc.path = str(path)  # type: ignore[attr-defined]
    exc.line = line  # type: ignore[attr-defined]
    return exc


# --------------------------------------------------------------------------- YAML


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that front matter does not accept (an alias, deep nesting, a huge number)."""


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe loader that keeps dates as strings (JSON-safe), refuses aliases and nesting
    deeper than :data:`MAX_FRONT_MATTER_DEPTH`, and locates values Python cannot build.

    Refusing aliases outright (rather than bounding their expansion) is what makes
    "billion laughs" documents harmless: without them the data is never larger than the
    text it was read from.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(None, None, f"uses the alias *{event.anchor} (YAML aliases are not "
                           "allowed: their expansion can be huge); write the value out",
                           event.start_mark)
        nests = self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent)
        if nests:
            self._depth += 1
            if self._depth > MAX_FRONT_MATTER_DEPTH:
                raise _Refused(None, None, f"nests deeper than {MAX_FRONT_MATTER_DEPTH} levels; "
                               "flatten it", self.peek_event().start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            if nests:
                self._depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # e.g. an integer of 5000 digits
            raise _Refused(None, None, f"holds a value that cannot be read ({exc})",
                           node.start_mark) from None


_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_front_matter(text: str, path: Path) -> tuple[Any, dict[str, int]]:
    """Parse front-matter YAML; return (data, {top-level key: file line})."""
    try:
        loader = _FrontMatterLoader(text)  # its reader refuses control characters at once
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 2  # +1 for 1-based, +1 for the '---' line
        raise _error(path, line, f"front matter is not valid YAML (character {exc.character:#06x} is "
                     "not allowed; remove it)") from None
    try:
        node = loader.get_single_node()
        key_lines: dict[str, int] = {}
        if isinstance(node, yaml.MappingNode):
            for key_node, _value in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                line = key_node.start_mark.line + 2  # 0-based in front matter, +1 for '---'
                if isinstance(key, str) and key in key_lines:
                    raise _error(
                        path, line, f"front-matter key {key!r} appears twice (first on line "
                        f"{key_lines[key]}); keep one"
                    )
                if isinstance(key, str):
                    key_lines[key] = line
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, _Refused):
            raise _error(path, line, f"front matter {problem}") from None
        context = getattr(exc, "context", None)
        detail = f"{context}: {problem}" if context else problem
        raise _error(path, line, f"front matter is not valid YAML ({detail})") from None
    finally:
        loader.dispose()
    return data, key_lines


def _dump_yaml(data: dict) -> str:
    return yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1_000_000
    )


# --------------------------------------------------------------------------- body split


def _heading_text(line: str) -> Optional[str]:
    """Return the text of a level 1-3 ATX heading line, or None if it is not one."""
    match = _HEADING.match(line.rstrip("\r\n"))
    if not match:
        return None
    return (match.group(2) or "").strip()


def split_body(body: str, skill_id: str, first_line: int = 1) -> list[tuple[Chunk, int]]:
    """Split a markdown body into chunks at level 1-3 headings.

    Headings inside fenced code blocks (````` ``` ````` or ``~~~``) are not headings.
    Text before the first heading, when not blank, becomes an ``"Overview"`` chunk.
    Each heading starts a chunk whose ``section`` is the heading text and whose
    ``content`` begins with the heading line. A chunk holding only its heading line
    (e.g. a document title directly followed by a sub-heading) is merged into the
    chunk that follows it, so no text is lost and no empty chunk is served; a lone
    heading at the very end is kept as its own chunk. Content is stripped of
    leading blank lines and trailing whitespace. Chunk ids are
    ``"<skill_id>::<slug of section>"``, with ``-2``, ``-3`` ... on repeats.

    A section over :data:`~skillvault.formats.chunking.MAX_CHUNK_TOKENS` tokens is
    split into parts by :func:`~skillvault.formats.chunking.split_section` (at
    paragraph boundaries, keeping fenced code blocks whole when it can): ids
    ``<id>``, ``<id>.2``, ``<id>.3`` ..., sections ``"<heading> (k/n)"``, later parts
    starting with a ``"## <heading path> (continued)"`` line and depending on the
    first part. The returned line is where each part's own text starts.

    Args:
        body: the markdown text.
        skill_id: id of the owning skill (prefix of the chunk ids).
        first_line: file line number of the body's first line (for error messages).

    Returns:
        ``(chunk, file line where the chunk starts)`` pairs, in reading order; empty
        when the body has no non-blank text.
    """
    parts: list[list[Any]] = []  # [section, lines, start line, has heading, heading path]
    current: list[Any] = [_OVERVIEW, [], first_line, False, [_OVERVIEW]]
    open_headings: list[tuple[int, str]] = []  # (level, text) of the enclosing headings
    fence: Optional[str] = None
    for offset, line in enumerate(body.splitlines(keepends=True)):
        bare = line.rstrip("\r\n")
        if fence is not None:
            if closes_fence(bare, fence):
                fence = None
            current[1].append(line)
            continue
        opened = opens_fence(bare)
        if opened:
            fence = opened
            current[1].append(line)
            continue
        text = _heading_text(bare)
        if text is not None:
            parts.append(current)
            level = len(bare.lstrip(" ")) - len(bare.lstrip(" ").lstrip("#"))
            open_headings = [h for h in open_headings if h[0] < level] + [(level, text or "Section")]
            current = [text or "Section", [line], first_line + offset, True, [h[1] for h in open_headings]]
            continue
        current[1].append(line)
    parts.append(current)

    cleaned: list[list[Any]] = []
    for section, lines, start, has_heading, path in parts:
        while lines and not lines[0].strip():
            lines.pop(0)
            start += 1
        content = "".join(lines).rstrip()
        if not content:
            continue
        cleaned.append([section, content, start, has_heading, path])

    merged: list[list[Any]] = []
    carry: Optional[list[Any]] = None
    for index, item in enumerate(cleaned):
        heading_only = item[3] and "\n" not in item[1].strip()
        if carry is not None:
            item[1] = carry[1] + "\n\n" + item[1]
            item[2] = carry[2]
            carry = None
        if heading_only and index + 1 < len(cleaned):
            carry = item
            continue
        merged.append(item)

    result: list[tuple[Chunk, int]] = []
    taken: set[str] = set()
    for section, content, start, _has_heading, path in merged:
        section = section[:MAX_SECTION_LENGTH]
        base = chunk_id = f"{skill_id}::{slugify(section)}"
        suffix = 1
        while chunk_id in taken:  # repeats get -2, -3 ... (also past e.g. "A", "A", "A 2")
            suffix += 1
            chunk_id = f"{base}-{suffix}"
        taken.add(chunk_id)
        # Long sections become parts of at most MAX_CHUNK_TOKENS (see formats/chunking.py).
        pieces = split_section(content, path)
        if len(pieces) == 1:
            result.append((Chunk(id=chunk_id, skill_id=skill_id, section=section, content=content), start))
            continue
        ids = part_ids(chunk_id, len(pieces))
        for number, (piece, part_id) in enumerate(zip(pieces, ids), start=1):
            label = f" ({number}/{len(pieces)})"
            result.append((Chunk(
                id=part_id, skill_id=skill_id, section=section[:MAX_SECTION_LENGTH - len(label)] + label,
                content=piece.content, dependencies=[] if number == 1 else [ids[0]],
            ), start + piece.line_offset))
    return result


def _chunks_fingerprint(chunks: list[Chunk]) -> str:
    payload = json.dumps([[c.section, c.content] for c in chunks], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- reading


def _find_skill_md(folder: Path) -> Optional[Path]:
    """The folder's ``SKILL.md`` (or ``skill.md``); a symbolic link is returned too, so
    that reading it can refuse it by name."""
    for name in (SKILL_FILE, "skill.md"):
        candidate = folder / name
        if candidate.is_symlink() or candidate.is_file():
            return candidate
    return None


def _read_regular(path: Path, limit: int, follow_link: bool = False) -> bytes:
    """Read at most ``limit + 1`` bytes of a regular file, by default never through a link.

    ``O_NOFOLLOW`` makes the check and the read one step, so a file swapped for a link
    after it was listed is refused too.

    Raises:
        OSError: the file is a link (unless ``follow_link``), not a regular file (a
            FIFO, a device), or cannot be read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    if not follow_link:
        flags |= getattr(os, "O_NOFOLLOW", 0)
        if not hasattr(os, "O_NOFOLLOW") and path.is_symlink():
            raise OSError(f"{path} is a symbolic link")
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        return handle.read(limit + 1)


def _shown(rel: str) -> str:
    """A file name as valid text (bytes that are not UTF-8 shown as ``\\xNN``)."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _read_bundled_files(folder: Path, skill_md: Path) -> tuple[dict, list]:
    """Read the files of a skill folder, within the limits (see the module docstring)."""
    files: dict[str, Any] = {}
    omitted: list[dict] = []
    total = 0

    def omit(rel: str, size: Optional[int], reason: str) -> None:
        if len(omitted) < MAX_BUNDLED_FILES:
            omitted.append({"path": _shown(rel), "bytes": size, "reason": reason})

    def walk(directory: Path, depth: int) -> None:
        nonlocal total
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            rel = entry.relative_to(folder).as_posix()
            if entry.is_symlink():
                log.warning("%s: symbolic link %s not bundled (links are not followed)", folder, _shown(rel))
                omit(rel, None, "symbolic link; links are not followed")
                continue
            if entry.is_dir():
                if depth >= MAX_BUNDLED_DEPTH:
                    omit(rel, None, f"folder nested deeper than {MAX_BUNDLED_DEPTH} levels; not read")
                else:
                    walk(entry, depth + 1)
                continue
            if not entry.is_file() or entry == skill_md:
                continue
            size = entry.stat().st_size
            try:
                check_bundled_name(rel)
            except ValidationError as exc:
                omit(rel, size, f"file name refused: {exc.message}")
                continue
            if len(files) >= MAX_BUNDLED_FILES:
                omit(rel, size, f"the skill already bundles {MAX_BUNDLED_FILES} files")
                continue
            if size > MAX_BUNDLED_FILE_BYTES:
                omit(rel, size, f"larger than {MAX_BUNDLED_FILE_BYTES} bytes")
                continue
            if total + size > MAX_BUNDLED_TOTAL_BYTES:
                omit(rel, size, f"bundled files exceed {MAX_BUNDLED_TOTAL_BYTES} bytes in all")
                continue
            try:
                data = _read_regular(entry, MAX_BUNDLED_FILE_BYTES)
            except OSError as exc:
                omit(rel, size, f"cannot be read ({exc.strerror or exc})")
                continue
            if len(data) > MAX_BUNDLED_FILE_BYTES or total + len(data) > MAX_BUNDLED_TOTAL_BYTES:
                omit(rel, len(data), "grew past the size limits while being read")
                continue
            total += len(data)
            try:
                files[rel] = data.decode("utf-8")
            except UnicodeDecodeError:
                files[rel] = {"base64": base64.b64encode(data).decode("ascii")}

    walk(folder, 0)
    return files, omitted


def _read_markdown_text(path: Path, follow_link: bool = False) -> str:
    """Read a markdown file as UTF-8 (a BOM is dropped), within the size limit.

    Args:
        path: the file.
        follow_link: read it even if it is a symbolic link (only for a file the caller
            named directly; a file found inside an import root is never followed).
    """
    if not follow_link and path.is_symlink():
        raise _error(path, 1, "is a symbolic link; links are not followed on import (they can "
                     "point outside the folder given); put the file itself there")
    try:
        raw = _read_regular(path, MAX_SKILL_MD_BYTES, follow_link)
    except OSError as exc:
        raise _error(path, 1, f"cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_SKILL_MD_BYTES:
        raise _error(path, 1, f"is {max(len(raw), path.stat().st_size)} bytes; the limit is "
                     f"{MAX_SKILL_MD_BYTES}")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _error(path, line, "is not UTF-8 text") from None


def _parse_front_matter(lines: list[str], path: Path) -> tuple[Any, dict[str, int], str, int, str, int]:
    """Parse the front matter of a file whose first line is ``---``.

    Returns:
        ``(data, key lines, body, body's first file line, newline, index of the closing
        line)``; ``data`` is None for an empty front matter, else a JSON-safe mapping.
    """
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    if close is None:
        raise _error(path, 1, "front matter opened by '---' is never closed; add a '---' line "
                     "after it")
    front_text = "".join(lines[1:close])
    front_bytes = len(front_text.encode("utf-8"))
    if front_bytes > MAX_FRONT_MATTER_BYTES:
        raise _error(path, 1, f"front matter is {front_bytes} bytes; the limit is "
                     f"{MAX_FRONT_MATTER_BYTES}; move long text into the body or a bundled file")
    newline = "\r\n" if lines[close].endswith("\r\n") else "\n"
    body = "".join(lines[close + 1:])
    body_first_line = close + 2

    data, key_lines = _load_front_matter(front_text, path)
    if data is not None:
        if not isinstance(data, dict):
            raise _error(path, 2, f"front matter must be a YAML mapping, got {type(data).__name__}")
        if not all(isinstance(key, str) for key in data):
            raise _error(path, 1, "front-matter keys must be strings")
        for key, value in data.items():  # one key at a time, so the error has its line
            try:
                json_data({key: value}, "front matter", MAX_FRONT_MATTER_DEPTH, MAX_FRONT_MATTER_BYTES,
                          MAX_FRONT_MATTER_BYTES)
            except ValidationError as exc:
                raise _error(path, key_lines.get(key, 1), f"{exc}; front matter holds plain YAML: "
                             "text, numbers, booleans, null, lists and mappings with text keys") from None
    return data, key_lines, body, body_first_line, newline, close


def _agent_metadata(data: dict, body: str, chunks: list[Chunk], newline: str) -> dict[str, Any]:
    """Build ``metadata["agent_skill"]`` (without ``files``) from parsed front matter and body."""
    agent: dict[str, Any] = {key: data[key] for key in _OPTIONAL_KEYS if key in data}
    extra = {key: value for key, value in data.items() if key not in _STANDARD_KEYS}
    if extra:
        agent["extra"] = extra
    agent["key_order"] = list(data.keys())
    agent["body"] = body
    agent["body_sha256"] = _chunks_fingerprint(chunks)
    if newline != "\n":
        agent["newline"] = newline
    return agent


def read_skill_folder(path: Union[str, Path]) -> Skill:
    """Read one Agent Skills folder into a :class:`Skill`.

    The skill's ``id`` and ``name`` are the front-matter ``name`` (a name that differs
    from the folder name is accepted, with a logged warning; a missing one is the
    folder name); ``description`` is the front-matter ``description``; ``source`` is
    ``"imported"`` and ``status`` ``"canonical"``. The body is split into chunks by
    :func:`split_body`. Optional front-matter keys, the exact body and the bundled
    files are kept in ``metadata["agent_skill"]`` (see the module docstring; binary
    bundled files are stored base64-encoded as ``{"base64": ...}``, files over 1 MB
    are listed in ``omitted_files`` without content).

    What the spec only advises (name format, a description of at most 1024
    characters, ...) is checked by :mod:`skillvault.formats.spec`; what breaks it is
    logged as a warning and the skill is read anyway (see :func:`read_skill_folder_findings`
    to get those findings).

    Args:
        path: the skill folder (the one holding ``SKILL.md``).

    Returns:
        The validated skill.

    Raises:
        ImportFormatError: message ``"<file>:<line>: <problem>"`` when the folder or
            ``SKILL.md`` is missing, the file is not UTF-8, the front matter is
            missing, unterminated, not valid YAML, not a mapping or has a duplicate
            key, ``name`` / ``description`` are not strings, the name is not a usable
            id, the body has no text, or the resulting skill fails validation (e.g. a
            chunk over the size limit).
    """
    skill, findings = read_skill_folder_findings(path)
    for finding in findings:
        log.warning("%s", finding)
    return skill


def read_skill_folder_findings(path: Union[str, Path]) -> tuple[Skill, list[Finding]]:
    """Like :func:`read_skill_folder`, but return the spec warnings instead of logging them.

    Returns:
        ``(skill, findings)``: the findings of :func:`skillvault.formats.spec.check_front_matter`,
        :func:`~skillvault.formats.spec.check_references` and
        :func:`~skillvault.formats.spec.check_chunk_sizes`, with file and line.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise _error(folder, 1, "is not a folder; give the folder that holds SKILL.md")
    skill_md = _find_skill_md(folder)
    if skill_md is None:
        raise _error(folder / SKILL_FILE, 1, "SKILL.md not found; an Agent Skills folder must hold one")
    text = _read_markdown_text(skill_md)
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        raise _error(skill_md, 1, "must start with a '---' line opening the YAML front matter "
                     "(name and description)")
    data, key_lines, body, body_first_line, newline, close = _parse_front_matter(lines, skill_md)
    if data is None:
        data = {}
    folder_name = folder.resolve().name

    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise _error(skill_md, key_lines.get(key, 1),
                         f"{key!r} must be a string, got {type(data[key]).__name__}")
    findings = check_front_matter(
        data.get("name") or None, data.get("description"), data.get("compatibility"),
        folder_name=folder_name, file=str(skill_md), key_lines=key_lines,
    )
    name: str = data.get("name") or folder_name
    description: str = data.get("description") or ""
    name_line = key_lines.get("name", 1)
    try:
        validate_id(name, "name")
    except ValidationError as exc:
        raise _error(skill_md, name_line, f"{exc}; use lower-case letters, digits and hyphens, "
                     f"e.g. {slugify(name)!r}") from None
    if "metadata" in data and not isinstance(data["metadata"], dict):
        raise _error(skill_md, key_lines.get("metadata", 1),
                     f"'metadata' must be a mapping, got {type(data['metadata']).__name__}")

    pairs = split_body(body, name, body_first_line)
    if not pairs:
        raise _error(skill_md, body_first_line if body_first_line <= len(lines) else close + 1,
                     "the body after the front matter has no text; write the skill's "
                     "instructions there")
    chunks = [chunk for chunk, _ in pairs]

    files, omitted = _read_bundled_files(folder, skill_md)
    agent = _agent_metadata(data, body, chunks, newline)
    agent["files"] = files
    if omitted:
        agent["omitted_files"] = omitted

    skill = Skill(
        id=name,
        name=name,
        source="imported",
        status=Status.CANONICAL,
        chunks=chunks,
        description=description,
        metadata={"agent_skill": agent},
    )
    skill = _validated(skill, pairs, skill_md)
    chunk_lines = [line for _chunk, line in pairs]
    findings = [replace(f, skill_id=name) for f in findings]
    findings += check_references(chunks, files, file=str(skill_md), chunk_lines=chunk_lines, skill_id=name,
                                 omitted=[o["path"] for o in omitted])
    findings += check_chunk_sizes(chunks, count_tokens_many([c.content for c in chunks]), file=str(skill_md),
                                  chunk_lines=chunk_lines, skill_id=name)
    return skill, findings


def _validated(skill: Skill, pairs: list[tuple[Chunk, int]], path: Path) -> Skill:
    """Validate a skill read from ``path``; an error names the line its chunk starts on."""
    try:
        return skill.validate()
    except ValidationError as exc:
        line = 1
        match = re.match(r"skill\.chunks\[(\d+)\]", exc.field)
        if match and int(match.group(1)) < len(pairs):
            line = pairs[int(match.group(1))][1]
        raise _error(path, line, str(exc)) from None


def read_skill_folders(path: Union[str, Path]) -> list[Skill]:
    """Read one skill folder, or every skill folder directly inside ``path``.

    Args:
        path: a skill folder (holding ``SKILL.md``) or a folder whose immediate
            subfolders are skill folders (subfolders without ``SKILL.md`` are ignored;
            subfolders that are symbolic links are skipped with a logged warning).

    Returns:
        The skills, sorted by folder name. All are read before any is returned: one
        bad folder fails the whole call.

    Raises:
        ImportFormatError: if ``path`` is not a folder, holds no skill folder, any
            skill folder is invalid (see :func:`read_skill_folder`), or two folders
            declare the same ``name``.
    """
    root = Path(path)
    if not root.is_dir():
        raise _error(root, 1, "is not a folder; give a skill folder or a folder of skill folders")
    if _find_skill_md(root) is not None:
        return [read_skill_folder(root)]
    folders = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        if entry.is_symlink():
            log.warning("%s: skipped: it is a symbolic link, and links are not followed on import "
                        "(they can point outside the folder given)", entry)
            continue
        if _find_skill_md(entry):
            folders.append(entry)
    if not folders:
        raise _error(root, 1, "holds no SKILL.md, nor do its immediate subfolders")
    skills: list[Skill] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        skill = read_skill_folder(folder)
        if skill.id in seen:
            raise _error(_find_skill_md(folder), 1, f"name {skill.id!r} is also used by "
                         f"{_find_skill_md(seen[skill.id])}; skill names must be unique")
        seen[skill.id] = folder
        skills.append(skill)
    return skills


@dataclass
class FolderScan:
    """What :func:`scan_skill_folders` found under a root.

    Attributes:
        skills: ``(skill, findings)`` for every folder read, sorted by folder name.
        files: the ``SKILL.md`` each skill was read from, by skill id.
        errors: one ``"error"`` :class:`Finding` per folder that could not be read
            (or whose name another folder already took), with file and line.
        warnings: findings about the root itself (e.g. a skipped symbolic link).
    """

    skills: list[tuple[Skill, list[Finding]]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)


def _as_finding(exc: ImportFormatError, code: str = "unreadable") -> Finding:
    text = str(exc)
    path = getattr(exc, "path", "")
    line = getattr(exc, "line", 1)
    prefix = f"{path}:{line}: "
    message = text[len(prefix):] if path and text.startswith(prefix) else text
    return Finding(ERROR, code, message, path, line)


def scan_skill_folders(
    path: Union[str, Path],
    more_findings: Optional[Callable[[Skill, Path], list[Finding]]] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> FolderScan:
    """Read one skill folder, or every skill folder directly inside ``path``, one by one.

    Unlike :func:`read_skill_folders`, one bad folder does not sink the others: it is
    reported in :attr:`FolderScan.errors` (file, line, reason) and the rest are read.

    Args:
        path: the folder.
        more_findings: called as ``(skill, its SKILL.md)`` after each folder is read;
            what it returns is added to that skill's findings (e.g. secrets).
        progress: called as ``progress(done, total)`` in folders, from ``(0, total)``.

    Raises:
        ImportFormatError: only if ``path`` is not a folder or holds no skill folder.
    """
    root = Path(path)
    if not root.is_dir():
        raise _error(root, 1, "is not a folder; give a skill folder or a folder of skill folders")
    scan = FolderScan()
    if _find_skill_md(root) is not None:
        folders = [root]
    else:
        folders = []
        for entry in sorted(root.iterdir(), key=lambda p: p.name):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            if entry.is_symlink():
                scan.warnings.append(Finding(
                    "warning", "symlink-skipped", "skipped: it is a symbolic link, and links are not followed "
                    "on import (they can point outside the folder given)", str(entry)))
                continue
            if _find_skill_md(entry):
                folders.append(entry)
        if not folders:
            raise _error(root, 1, "holds no SKILL.md, nor do its immediate subfolders")
    seen: dict[str, Path] = {}
    if progress:
        progress(0, len(folders))
    for done, folder in enumerate(folders, 1):
        _scan_folder(folder, scan, seen, more_findings)
        if progress:
            progress(done, len(folders))
    return scan


def _scan_folder(
    folder: Path, scan: FolderScan, seen: dict[str, Path], more_findings: Optional[Callable[[Skill, Path], list[Finding]]]
) -> None:
    try:
        skill, findings = read_skill_folder_findings(folder)
    except ImportFormatError as exc:
        scan.errors.append(_as_finding(exc))
        return
    skill_md = _find_skill_md(folder)
    if skill.id in seen:
        scan.errors.append(Finding(
            ERROR, "duplicate-name", f"name {skill.id!r} is also used by {_find_skill_md(seen[skill.id])}; "
            "skill names must be unique (this one was not read)", str(skill_md), 1, skill.id))
        return
    seen[skill.id] = folder
    scan.skills.append((skill, list(findings) + (more_findings(skill, skill_md) if more_findings else [])))
    scan.files[skill.id] = skill_md


def skill_markdown_body(skill: Skill) -> str:
    """Return the markdown body :func:`write_skill_folder` writes for ``skill``.

    That is the body kept from an imported ``SKILL.md`` when the chunks are unchanged
    since, else the chunks joined by blank lines (a chunk that does not start with a
    heading gets ``## <section>`` first, except a leading ``Overview`` chunk).

    Raises:
        ValidationError: if the skill has no chunks and no kept body.
    """
    agent = skill.metadata.get("agent_skill") if isinstance(skill.metadata, dict) else None
    agent = agent if isinstance(agent, dict) else {}
    body = agent.get("body")
    if isinstance(body, str) and agent.get("body_sha256") == _chunks_fingerprint(skill.chunks):
        return body
    if not skill.chunks:
        raise ValidationError("skill.chunks", "is empty; nothing to write as the SKILL.md body")
    return _body_from_chunks(skill.chunks)


def read_skill_markdown(
    path: Union[str, Path], skill_id: Optional[str] = None, source: str = "manual"
) -> Skill:
    """Read one markdown file (a ``SKILL.md`` or any ``.md``) into a :class:`Skill`.

    Front matter is optional. When present it is read as in :func:`read_skill_folder`
    (same YAML rules and errors) but ``name`` and ``description`` may be left out; its
    keys, the exact body and the line ends are kept in ``metadata["agent_skill"]`` so
    that an export as an Agent Skills folder writes them back. Bundled files are not
    read (give the folder to :func:`read_skill_folder` for those).

    The id is ``skill_id`` if given, else the front-matter ``name``, else the slug of
    the file name without its extension (of the parent folder's name for a file named
    ``SKILL.md``). The name is the front-matter ``name``, else the text of the first
    level-1 heading, else the id. The body is split by :func:`split_body`.

    Args:
        path: the markdown file.
        skill_id: the id to give the skill (overrides the front-matter ``name``).
        source: the skill's ``source`` (``"manual"`` by default: a human added it).

    Returns:
        The validated skill, status ``"canonical"``.

    Raises:
        ImportFormatError: ``"<file>:<line>: <problem>"`` when the file is missing, not
            UTF-8, over 5 MB, has invalid front matter, no body text, or the skill fails
            validation (e.g. a bad id).
    """
    md = Path(path)
    if not md.is_file():
        raise _error(md, 1, "no such file; give a markdown file")
    text = _read_markdown_text(md, follow_link=True)
    lines = text.splitlines(keepends=True)
    data: Optional[dict] = None
    key_lines: dict[str, int] = {}
    body, body_first_line, newline = text, 1, "\n"
    if lines and lines[0].rstrip() == "---":
        parsed, key_lines, body, body_first_line, newline, _close = _parse_front_matter(lines, md)
        data = parsed if parsed is not None else {}
    for key in ("name", "description"):
        if data is not None and key in data and not isinstance(data[key], str):
            raise _error(md, key_lines.get(key, 1), f"{key!r} must be a string, got {type(data[key]).__name__}")
    if data is not None and "metadata" in data and not isinstance(data["metadata"], dict):
        raise _error(md, key_lines.get("metadata", 1),
                     f"'metadata' must be a mapping, got {type(data['metadata']).__name__}")
    front_name = (data or {}).get("name") or None
    if skill_id is None:
        stem = md.resolve().parent.name if md.name.lower() == SKILL_FILE.lower() else md.stem
        skill_id = front_name or slugify(stem)
    try:
        validate_id(skill_id, "skill.id")
    except ValidationError as exc:
        line = key_lines.get("name", 1) if skill_id == front_name else 1
        raise _error(md, line, f"{exc}; e.g. {slugify(skill_id)!r}") from None
    pairs = split_body(body, skill_id, body_first_line)
    if not pairs:
        raise _error(md, body_first_line, "has no text to make a skill of")
    chunks = [chunk for chunk, _ in pairs]
    title = next(
        (m.group(2).strip() for line in body.splitlines()
         if (m := _HEADING.match(line)) and m.group(1) == "#" and m.group(2)),
        None,
    )
    metadata = {}
    if data is not None:
        metadata = {"agent_skill": {**_agent_metadata(data, body, chunks, newline), "files": {}}}
    skill = Skill(
        id=skill_id,
        name=(front_name or title or skill_id)[:MAX_NAME_LENGTH],
        source=source,
        status=Status.CANONICAL,
        chunks=chunks,
        description=(data or {}).get("description") or "",
        metadata=metadata,
    )
    return _validated(skill, pairs, md)


# --------------------------------------------------------------------------- writing


def _body_from_chunks(chunks: list[Chunk]) -> str:
    pieces: list[str] = []
    for index, (chunk, content) in enumerate(joined_parts(chunks)):  # split sections joined again
        content = content.strip("\n")
        first = next((line for line in content.splitlines() if line.strip()), "")
        if _heading_text(first) is not None:
            pieces.append(content)
        elif index == 0 and section_title(chunk.section) == _OVERVIEW:
            pieces.append(content)
        else:
            pieces.append(f"## {section_title(chunk.section) or 'Section'}\n\n{content}")
    return "\n\n".join(pieces) + "\n"


def write_skill_folder(skill: Skill, parent_dir: Union[str, Path]) -> Path:
    """Write a skill as an Agent Skills folder ``<parent_dir>/<name>/``.

    ``<name>`` is :func:`skillvault.formats.spec.spec_name` of the id: the id itself
    when it is a valid Agent Skills name, else a slug of it (``draft::notes`` ->
    ``draft-notes``). ``SKILL.md`` gets front matter (``name`` = that name,
    ``description`` when the skill has one — none is invented, then the ``license`` /
    ``compatibility`` / ``allowed-tools`` / ``metadata`` / other keys kept in
    ``skill.metadata["agent_skill"]``, in their original order when known; dumped with
    ``yaml.safe_dump(sort_keys=False)``) and a body: the kept original body when the
    chunks are unchanged since import, else the chunks' contents joined by blank lines
    (a chunk whose content does not start with a heading gets ``## <section>`` first,
    except a leading ``Overview`` chunk). Bundled files kept in
    ``metadata["agent_skill"]["files"]`` are written back (``{"base64": ...}`` entries
    decoded to bytes). Existing files of the same names are overwritten; other files
    in the folder are left alone. Everything is checked before anything is written.

    What the spec only advises (a description over 1024 characters, no description, a
    renamed id) is logged as a warning, as the readers do; see :func:`plan_skill_folder`.

    Args:
        skill: the skill to write.
        parent_dir: folder in which the skill folder is created (made if missing).

    Returns:
        The skill folder's path.

    Raises:
        ImportFormatError: if the bundled files fail
            :func:`skillvault.bundle.check_bundled_files` (a name that is absolute,
            contains ``..``, would land on SKILL.md, ...; an entry that is not a string
            or ``{"base64": str}``; over the size limits), or a file would land outside
            the skill folder through a symbolic link already there.
        ValidationError: if the skill id is not a valid id, or it has no chunks and no
            kept body.
    """
    folder, outputs, findings = plan_skill_folder(skill, parent_dir)
    for finding in findings:
        log.warning("%s", finding)
    write_planned(outputs)
    return folder


def export_folders(skills: list[Skill], path: Union[str, Path], progress: Any = None) -> Path:
    """Write skills as Agent Skills folders inside ``path``: all of them, or none.

    Every folder is planned (and checked) before anything is written; two skills that
    would share a folder name are refused. A ``path`` that does not exist yet is
    written under a temporary name next to it and renamed at the end.

    Raises:
        ValidationError: naming the skill that cannot be written; nothing is written.
    """
    import shutil
    import tempfile

    target = Path(path)
    fresh = not target.exists()
    if fresh:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    else:
        if not target.is_dir():
            raise ValidationError("path", f"{str(target)!r} exists and is not a folder; give a folder or a .json file")
        staging = target
    try:
        plans = []
        names: dict[str, str] = {}
        for skill in skills:
            try:
                folder, outputs, findings = plan_skill_folder(skill, staging)
            except (ValidationError, ImportFormatError) as exc:
                raise ValidationError("export", f"skill {skill.id!r} cannot be written as a SKILL.md folder "
                                      f"({exc}); nothing was written") from None
            if folder.name in names:
                raise ValidationError("export", f"skills {names[folder.name]!r} and {skill.id!r} would both be "
                                      f"written as the folder {folder.name!r}; export one of them on its own "
                                      "(or as JSON); nothing was written")
            names[folder.name] = skill.id
            plans.append((outputs, findings))
        for done, (outputs, findings) in enumerate(plans, 1):
            for finding in findings:
                log.warning("%s", finding)
            write_planned(outputs)
            if progress:
                progress(done, len(plans))
        if fresh:
            os.replace(staging, target)
    except BaseException:
        if fresh:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def write_planned(outputs: list[tuple[Path, bytes]]) -> None:
    """Write the files a :func:`plan_skill_folder` returned."""
    for target, data in outputs:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def plan_skill_folder(skill: Skill, parent_dir: Union[str, Path]) -> tuple[Path, list[tuple[Path, bytes]], list[Finding]]:
    """Check a skill and compute what :func:`write_skill_folder` would write; write nothing.

    Returns:
        ``(folder, [(file path, bytes)], spec findings)``.

    Raises:
        The errors of :func:`write_skill_folder`.
    """
    validate_id(skill.id, "skill.id")
    name = spec_name(skill.id)
    where = f"library:{skill.id}"
    findings: list[Finding] = []
    if name != skill.id:
        findings.append(Finding("warning", "name-format", f"id {skill.id!r} is not a valid Agent Skills name; "
                                f"written as {name!r}", where, 1, skill.id))
    agent = skill.metadata.get("agent_skill") if isinstance(skill.metadata, dict) else None
    agent = agent if isinstance(agent, dict) else {}

    description = skill.description
    findings += [f for f in check_front_matter(name, description, agent.get("compatibility"), file=where,
                                               skill_id=skill.id)]

    values: dict[str, Any] = {"name": name}
    if description.strip():
        values["description"] = description
    values.update({key: agent[key] for key in _OPTIONAL_KEYS if key in agent})
    extra = agent.get("extra")
    if isinstance(extra, dict):
        values.update({k: v for k, v in extra.items() if k not in values and k not in _STANDARD_KEYS
                       and isinstance(k, str)})
    order = [k for k in agent.get("key_order", []) if isinstance(k, str) and k in values]
    order += [k for k in _STANDARD_KEYS if k in values and k not in order]
    order += [k for k in values if k not in order]
    front = {key: values[key] for key in order}

    body = skill_markdown_body(skill)

    newline = agent.get("newline") if agent.get("newline") in ("\n", "\r\n") else "\n"
    head = "---\n" + _dump_yaml(front) + "---\n"
    if newline != "\n":
        head = head.replace("\n", newline)

    folder = Path(parent_dir) / name
    outputs: list[tuple[Path, bytes]] = [(folder / SKILL_FILE, (head + body).encode("utf-8"))]
    files = agent.get("files") or {}
    try:
        check_bundled_files(files, "metadata['agent_skill']['files']")
    except ValidationError as exc:
        raise _error(folder, 1, str(exc)) from None
    for rel, content in files.items():
        if isinstance(content, str):
            data = content.encode("utf-8")
        else:
            data = base64.b64decode(content["base64"], validate=True)
        outputs.append((folder.joinpath(*rel.split("/")), data))
    folder_abs = folder.resolve()
    for target, _data in outputs:
        if not target.resolve().is_relative_to(folder_abs):  # a symbolic link already there
            raise _error(target, 1, "leads outside the skill folder through a symbolic link; "
                         "remove the link or export elsewhere")
    return folder, outputs, findings
