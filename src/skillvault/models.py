"""Skill and Chunk data models, their validation and their dict form. No I/O here.

A :class:`Skill` is a unit of reusable knowledge (a playbook, examples, when-to-use
notes); it is split into :class:`Chunk` objects, the units that retrieval scores and
that budget packing takes or drops.

Compatibility: the constructor argument order and names of skillvault 0.1.x are kept
(``Skill(id, name, source, status, chunks, confidence, extracted_from, created_at)``,
``Chunk(id, skill_id, section, content, tokens, priority, required, dependencies)``).
In 0.1.x ``source`` was ``"canonical" | "draft"`` and ``status`` ``"active" |
"archived"``; here ``status`` carries the life-cycle state and ``source`` says where a
skill came from. :meth:`Skill.from_dict` maps the old values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Optional

from .errors import ValidationError
from .bundle import check_bundled_metadata
from .validation import check_int, check_text, json_data, plain, shown



class Status(str, Enum):
    """A skill's life-cycle state. Members are strings (``Status.DRAFT == "draft"``), so
    stored values and the public API stay plain strings. Only ``canonical`` skills are
    served by ``query``."""

    CANONICAL = "canonical"
    DRAFT = "draft"
    ARCHIVED = "archived"
    REJECTED = "rejected"

    __str__ = str.__str__  # "draft", not "Status.DRAFT", in messages and f-strings
    __format__ = str.__format__


#: Life-cycle states as plain strings, in this order (vector indexes encode them by position).
STATUSES = tuple(status.value for status in Status)

#: The status changes :func:`check_transition` allows (a skill's content may still be
#: replaced wholesale by registering it again). Approval writes the reviewed draft as a
#: canonical skill; staying put only updates a skill's review flags.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.DRAFT, Status.CANONICAL, Status.REJECTED, Status.ARCHIVED}),
    Status.CANONICAL: frozenset({Status.ARCHIVED}),
    Status.ARCHIVED: frozenset({Status.ARCHIVED, Status.CANONICAL, Status.DRAFT}),  # archive again; restore
    Status.REJECTED: frozenset({Status.ARCHIVED}),
}


def check_transition(old: str, new: str) -> None:
    """Raise unless a skill may move from status ``old`` to ``new`` (see :data:`TRANSITIONS`).

    Raises:
        ValidationError: on field ``status``, naming the moves allowed from ``old``.
    """
    if new not in STATUSES:
        raise ValidationError("status", f"must be one of {STATUSES}, got {shown(new)}")
    allowed = TRANSITIONS[Status(old)]
    if new not in allowed:
        choices = ", ".join(sorted(allowed))
        raise ValidationError("status", f"a {old} skill cannot become {new}; it can become: {choices}")

#: Where a skill came from.
SOURCES = ("manual", "extracted", "imported")

MAX_ID_LENGTH = 200
MAX_NAME_LENGTH = 200
MAX_SECTION_LENGTH = 500
MAX_CONTENT_CHARS = 100_000
MAX_CHUNKS_PER_SKILL = 1_000
MAX_DEPENDENCIES = 100
MAX_DESCRIPTION_CHARS = 4_000
MAX_EXTRACTED_FROM_CHARS = 4_000
MAX_TAGS = 100
MAX_TAG_CHARS = 200
MAX_FLAGS = 100
MAX_FLAG_CHARS = 4_000
#: Versions count up from 1; this bound keeps them well inside SQLite's 64-bit INTEGER.
MAX_VERSION = 2**31 - 1
#: Chunk priority range: each point multiplies a chunk's fused score by 1.05 in search,
#: so the range keeps that factor a finite float.
MIN_PRIORITY = -1_000
MAX_PRIORITY = 1_000
MAX_TOKENS = 2**31 - 1
#: ``Skill.metadata``: most levels of nested objects/arrays, most characters and values in
#: all (room for a SKILL.md folder's bundled files, up to 10 MB, base64-encoded).
MAX_METADATA_DEPTH = 32
MAX_METADATA_CHARS = 20_000_000
MAX_METADATA_ITEMS = 1_000_000

# Ids appear in file names (export), XML attributes (query output) and URLs, so they are
# restricted to a conservative alphabet: no slashes, spaces, quotes or angle brackets.
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]*")


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (second precision)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def validate_id(value: Any, field_name: str) -> str:
    """Check that ``value`` is a usable skill or chunk id.

    Args:
        value: the candidate id.
        field_name: name of the field, used in the error message.

    Returns:
        The id (a plain ``str``).

    Raises:
        ValidationError: if it is not a non-empty string of at most 200 characters made
            of letters, digits and ``. _ : @ + -`` (starting with a letter or digit).
    """
    if not isinstance(value, str):
        raise ValidationError(field_name, f"must be a string, got {type(value).__name__}")
    if not value:
        raise ValidationError(field_name, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(
            field_name, f"is {len(value)} characters long; the limit is {MAX_ID_LENGTH}"
        )
    if not _ID_PATTERN.fullmatch(value):
        raise ValidationError(
            field_name,
            f"{shown(value)} has characters that are not allowed; use letters, digits and "
            "'.', '_', ':', '@', '+', '-' (starting with a letter or digit)",
        )
    return plain(value)


def slugify(text: str, max_length: int = 60) -> str:
    """Turn free text into an id-safe slug (lower case, ``-`` separated).

    Args:
        text: any text, e.g. a title.
        max_length: longest slug returned.

    Returns:
        The slug; ``"skill"`` if nothing usable is left.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "skill"


@dataclass
class Chunk:
    """A section of a skill: the unit that is retrieved, budgeted and served.

    Attributes:
        id: unique chunk id, by convention ``"<skill_id>::<part>"``.
        skill_id: id of the owning skill; filled in from the skill when left empty.
        section: heading of the section this chunk holds.
        content: the text (markdown) served to the agent.
        tokens: token count (cl100k_base). Computed when ``None``; a given value that
            differs from the real count is replaced by the real count on register.
        priority: higher is taken earlier when scores tie in budget packing.
        required: served whenever any chunk of its skill is served.
        dependencies: chunk ids or skill ids whose content this chunk needs.
    """

    id: str
    skill_id: str = ""
    section: str = ""
    content: str = ""
    tokens: Optional[int] = None
    priority: int = 0
    required: bool = False
    dependencies: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the JSON-ready dict form (the 0.1.x export shape)."""
        return {
            "id": self.id,
            "skill_id": self.skill_id,
            "section": self.section,
            "content": self.content,
            "tokens": self.tokens,
            "priority": self.priority,
            "required": self.required,
            "dependencies": list(self.dependencies),
        }

    @classmethod
    def from_dict(cls, data: Any, field_name: str = "chunk") -> "Chunk":
        """Build a chunk from its dict form.

        Raises:
            ValidationError: if ``data`` is not a dict or lacks ``id``.
        """
        if not isinstance(data, dict):
            raise ValidationError(field_name, f"must be an object, got {type(data).__name__}")
        if "id" not in data:
            raise ValidationError(f"{field_name}.id", "is missing")
        return cls(
            id=data["id"],
            skill_id=data.get("skill_id", ""),
            section=data.get("section", ""),
            content=data.get("content", ""),
            tokens=data.get("tokens"),
            priority=data.get("priority", 0),
            required=data.get("required", False),
            dependencies=data.get("dependencies", []),
        )


@dataclass
class Skill:
    """A unit of reusable knowledge made of chunks.

    Attributes:
        id: unique skill id (see :func:`validate_id`).
        name: human-readable name.
        source: ``"manual"`` (registered), ``"extracted"`` (by the LLM; also a skill
            whose current version includes an approved extracted revision, see
            :func:`skillvault.review.merge_revision`) or ``"imported"``.
        status: ``"canonical"`` (served), ``"draft"`` (awaiting review), ``"archived"``
            or ``"rejected"``.
        chunks: the sections, in reading order.
        confidence: 0..1, how sure the extractor was (1.0 for human-written skills).
        extracted_from: provenance of an extracted skill (hash + excerpt).
        created_at: creation time (UTC); set on construction when not given.
        description: one-paragraph summary (the Agent Skills ``description``).
        tags: free-form labels.
        version: revision number, starting at 1.
        revises: for a draft, the id of the canonical skill it proposes to change.
        metadata: extra JSON-serialisable data kept with the skill.
        flags: review notes on a draft, e.g. ``"conflict: ..."``, ``"expired: ..."``.
    """

    id: str
    name: str = ""
    source: str = "manual"
    status: str = Status.CANONICAL.value
    chunks: list[Chunk] = field(default_factory=list)
    confidence: float = 1.0
    extracted_from: str = ""
    created_at: Optional[datetime] = None
    description: str = ""
    tags: list[str] = field(default_factory=list)
    version: int = 1
    revises: Optional[str] = None
    metadata: dict = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.created_at is None:
            self.created_at = utc_now()
        if not self.name and isinstance(self.id, str):
            self.name = self.id
        self.source, self.status = _modern_source_status(self.source, self.status)

    def validate(self) -> "Skill":
        """Check every field, fill derived ones and make every field a plain value.

        Chunk ``skill_id`` is filled from the skill; instances of ``str`` / ``int``
        subclasses become plain ``str`` / ``int``; a naive ``created_at`` is taken as UTC;
        ``metadata`` becomes a plain JSON copy (tuples as lists).

        Returns:
            self, for chaining.

        Raises:
            ValidationError: naming the first bad field.
        """
        self.id = validate_id(self.id, "skill.id")
        self.name = check_text(self.name, "skill.name", MAX_NAME_LENGTH, allow_empty=False)
        if self.source not in SOURCES:
            raise ValidationError("skill.source", f"must be one of {SOURCES}, got {shown(self.source)}")
        if self.status not in STATUSES:
            raise ValidationError("skill.status", f"must be one of {STATUSES}, got {shown(self.status)}")
        self.source, self.status = plain(self.source), plain(self.status)
        if isinstance(self.confidence, bool) or not isinstance(self.confidence, (int, float)):
            raise ValidationError("skill.confidence", "must be a number between 0 and 1")
        if not 0 <= self.confidence <= 1:  # NaN fails too; no float(): huge ints would overflow
            raise ValidationError("skill.confidence", f"must be between 0 and 1, got {shown(self.confidence)}")
        self.confidence = plain(self.confidence)
        self.extracted_from = check_text(self.extracted_from, "skill.extracted_from", MAX_EXTRACTED_FROM_CHARS)
        self.description = check_text(self.description, "skill.description", MAX_DESCRIPTION_CHARS)
        if not isinstance(self.created_at, datetime):
            raise ValidationError("skill.created_at", "must be a datetime")
        if self.created_at.utcoffset() is None:  # naive: taken as UTC, so all dates compare
            self.created_at = self.created_at.replace(tzinfo=timezone.utc)
        self.tags = _check_texts(self.tags, "skill.tags", MAX_TAGS, MAX_TAG_CHARS)
        self.flags = _check_texts(self.flags, "skill.flags", MAX_FLAGS, MAX_FLAG_CHARS)
        self.version = check_int(self.version, "skill.version", 1, MAX_VERSION)
        if self.revises is not None:
            self.revises = validate_id(self.revises, "skill.revises")
        if not isinstance(self.metadata, dict):
            raise ValidationError("skill.metadata", "must be a dict")
        self.metadata = json_data(
            self.metadata, "skill.metadata", MAX_METADATA_DEPTH, MAX_METADATA_CHARS, MAX_METADATA_ITEMS
        )
        check_bundled_metadata(self.metadata, "skill.metadata")
        if not isinstance(self.chunks, list):
            raise ValidationError("skill.chunks", "must be a list of Chunk")
        if not self.chunks:
            raise ValidationError("skill.chunks", "must hold at least one chunk")
        if len(self.chunks) > MAX_CHUNKS_PER_SKILL:
            raise ValidationError(
                "skill.chunks", f"has {len(self.chunks)} chunks; the limit is {MAX_CHUNKS_PER_SKILL}"
            )
        seen: set[str] = set()
        for index, chunk in enumerate(self.chunks):
            self._validate_chunk(chunk, f"skill.chunks[{index}]", seen)
        return self

    def _validate_chunk(self, chunk: Any, where: str, seen: set[str]) -> None:
        if not isinstance(chunk, Chunk):
            raise ValidationError(where, f"must be a Chunk, got {type(chunk).__name__}")
        chunk.id = validate_id(chunk.id, f"{where}.id")
        if chunk.id in seen:
            raise ValidationError(f"{where}.id", f"{chunk.id!r} is used twice in this skill")
        seen.add(chunk.id)
        if chunk.skill_id in ("", None) or chunk.skill_id == self.id:
            chunk.skill_id = self.id
        else:
            raise ValidationError(
                f"{where}.skill_id", f"is {shown(chunk.skill_id)} but the chunk belongs to {self.id!r}"
            )
        chunk.section = check_text(chunk.section, f"{where}.section", MAX_SECTION_LENGTH)
        chunk.content = check_text(chunk.content, f"{where}.content", MAX_CONTENT_CHARS, allow_empty=False)
        chunk.tokens = check_int(chunk.tokens, f"{where}.tokens", 0, MAX_TOKENS, optional=True)
        chunk.priority = check_int(chunk.priority, f"{where}.priority", MIN_PRIORITY, MAX_PRIORITY)
        if not isinstance(chunk.required, bool):
            raise ValidationError(f"{where}.required", "must be True or False")
        if not isinstance(chunk.dependencies, list):
            raise ValidationError(f"{where}.dependencies", "must be a list of chunk or skill ids")
        if len(chunk.dependencies) > MAX_DEPENDENCIES:
            raise ValidationError(
                f"{where}.dependencies", f"has {len(chunk.dependencies)} entries; the limit is {MAX_DEPENDENCIES}"
            )
        chunk.dependencies = [validate_id(dep, f"{where}.dependencies[{index}]") for index, dep in enumerate(chunk.dependencies)]
        for index, dep in enumerate(chunk.dependencies):
            if dep == chunk.id:
                raise ValidationError(f"{where}.dependencies[{index}]", "a chunk cannot depend on itself")

    def copy(self) -> "Skill":
        """Return a copy whose lists, dicts and chunks can be changed without touching this one."""
        chunks = self.chunks
        if isinstance(chunks, list):
            chunks = [
                replace(c, dependencies=list(c.dependencies)) if isinstance(c, Chunk) and isinstance(c.dependencies, list) else c
                for c in chunks
            ]
        return replace(
            self,
            chunks=chunks,
            tags=list(self.tags) if isinstance(self.tags, list) else self.tags,
            flags=list(self.flags) if isinstance(self.flags, list) else self.flags,
            metadata=_copied_metadata(self.metadata),
        )

    def renamed(self, new_id: str) -> "Skill":
        """Return a deep copy under ``new_id``, chunk ids renamed to ``<new_id>::<part>``.

        ``<part>`` is what follows the last ``::`` of the old chunk id; dependencies on
        the skill's own chunks follow the rename.
        """
        renamed = {chunk.id: f"{new_id}::{chunk.id.split('::')[-1]}" for chunk in self.chunks}
        copy = Skill.from_dict({**self.to_dict(), "id": new_id})
        for chunk in copy.chunks:
            chunk.id = renamed[chunk.id]
            chunk.skill_id = new_id
            chunk.dependencies = [renamed.get(dep, dep) for dep in chunk.dependencies]
        return copy

    def to_dict(self) -> dict:
        """Return the JSON-ready dict form (a superset of the 0.1.x export shape)."""
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "status": self.status,
            "chunks": [chunk.to_dict() for chunk in self.chunks],
            "confidence": self.confidence,
            "extracted_from": self.extracted_from,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "description": self.description,
            "tags": list(self.tags),
            "version": self.version,
            "revises": self.revises,
            "metadata": dict(self.metadata),
            "flags": list(self.flags),
        }

    @classmethod
    def from_dict(cls, data: Any, field_name: str = "skill") -> "Skill":
        """Build a skill from its dict form, accepting the 0.1.x shape too.

        Raises:
            ValidationError: if the shape is wrong (not a dict, no id, bad date,
                chunks not a list).
        """
        if not isinstance(data, dict):
            raise ValidationError(field_name, f"must be an object, got {type(data).__name__}")
        if "id" not in data:
            raise ValidationError(f"{field_name}.id", "is missing")
        raw_chunks = data.get("chunks", [])
        if not isinstance(raw_chunks, list):
            raise ValidationError(f"{field_name}.chunks", "must be a list")
        chunks = [
            Chunk.from_dict(item, f"{field_name}.chunks[{index}]") for index, item in enumerate(raw_chunks)
        ]
        created_at = data.get("created_at")
        if created_at is not None and not isinstance(created_at, datetime):
            try:
                created_at = datetime.fromisoformat(created_at)
            except (TypeError, ValueError):
                raise ValidationError(
                    f"{field_name}.created_at", f"must be an ISO 8601 date, got {shown(created_at)}"
                ) from None
        return cls(
            id=data["id"],
            name=data.get("name") or data["id"],
            source=data.get("source", "manual"),
            status=data.get("status", Status.CANONICAL.value),
            chunks=chunks,
            confidence=data.get("confidence", 1.0),
            extracted_from=data.get("extracted_from") or "",
            created_at=created_at,
            description=data.get("description") or "",
            tags=data.get("tags") or [],
            version=data.get("version", 1),
            revises=data.get("revises"),
            metadata=data.get("metadata") or {},
            flags=data.get("flags") or [],
        )

    def to_json(self) -> str:
        """Return the skill as pretty-printed JSON."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Skill":
        """Parse a skill from JSON text.

        Raises:
            ValidationError: if the text is not JSON or not a skill object.
        """
        if not isinstance(text, str):
            raise ValidationError("json", f"must be a string, got {type(text).__name__}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError("json", f"is not valid JSON ({exc})") from None
        except RecursionError:
            raise ValidationError("json", "is nested too deeply to be a skill") from None
        return cls.from_dict(data)


def _check_texts(values: Any, field_name: str, most: int, limit: int) -> list[str]:
    """Check a list of at most ``most`` texts of at most ``limit`` characters each; return it plain."""
    if not isinstance(values, list):
        raise ValidationError(field_name, f"must be a list of strings, got {type(values).__name__}")
    if len(values) > most:
        raise ValidationError(field_name, f"has {len(values)} entries; the limit is {most}")
    return [check_text(value, f"{field_name}[{index}]", limit) for index, value in enumerate(values)]


def _copied_metadata(metadata: Any) -> Any:
    """A deep copy of JSON metadata, made without running any code of the objects in it.

    Metadata that is not bounded JSON data is returned as is: :meth:`Skill.validate`
    refuses it, so nothing is written from the copy.
    """
    try:
        return json_data(metadata, "skill.metadata", MAX_METADATA_DEPTH, MAX_METADATA_CHARS, MAX_METADATA_ITEMS)
    except ValidationError:
        return metadata


def _modern_source_status(source: Any, status: Any) -> tuple[Any, Any]:
    """Map 0.1.x values (source ``canonical|draft``, status ``active|archived``)."""
    if source == "canonical":
        source = "manual"
    elif source == "draft":
        source = "extracted"
        if status in ("active", Status.CANONICAL):
            status = Status.DRAFT.value
    if status == "active":
        status = Status.CANONICAL.value
    return source, status
