"""The on-disk format of the published skillvault 0.1.x (0.1.3), read for migration.

0.1.3 kept one SQLite file with these tables (no ``meta`` table, ``user_version`` 0):

``skills(id, name, source, status, confidence, extracted_from, created_at)``
    ``source`` was ``canonical | draft`` and ``status`` ``active | archived``;
    ``created_at`` an SQLite ``CURRENT_TIMESTAMP`` (UTC, ``YYYY-MM-DD HH:MM:SS``).
``chunks(id, skill_id, section, content, tokens, priority, required, dependencies, score)``
    ids free-form, ``tokens`` estimated as ``len(content) // 4``, ``dependencies`` a JSON
    list never checked against anything, ``score`` unused; reading order = rowid order.
``reviews(id, skill_id, action, feedback, created_at)``
    one row per ``approve`` / ``reject`` (with the reason as ``feedback``). Approving
    only flipped ``source`` to ``canonical`` (the ``draft::`` id stayed); rejecting set
    ``status`` to ``archived``.
``usage_stats(skill_id, query_count, last_used)``
    how often each skill was served by ``query``.
``embeddings(chunk_id, embedding)`` and/or the vec0 table ``vec_chunks(embedding float[1536])``
    float32 vectors of the chunk *content*, from whatever ``embed_fn`` was used (no
    record of which). ``vec_chunks`` (keyed by ``chunks.rowid``) was used when
    sqlite-vec could be loaded, the ``embeddings`` blob table otherwise.

This module only reads that format and maps it onto :mod:`skillvault.models`
(:func:`read_library`), and writes what has no place in a :class:`Skill` (review
records, usage counts) into the current schema (:func:`write_reviews`,
:func:`write_records`). Choosing and
embedding vectors is :mod:`skillvault.upgrade`'s job.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

import numpy as np

from ..errors import DatabaseFileError, ValidationError
from ..models import (
    MAX_CONTENT_CHARS,
    MAX_EXTRACTED_FROM_CHARS,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_SECTION_LENGTH,
    Chunk,
    Skill,
    Status,
    utc_now,
    validate_id,
)

#: The release whose format this module reads (0.1.0 - 0.1.3 share it).
LEGACY_RELEASE = "0.1.3"
#: Added to a library's file name for the copy kept when it is upgraded in place.
BACKUP_SUFFIX = f".{LEGACY_RELEASE}-backup"
#: Who the audit trail names for what migration wrote.
MIGRATION_ACTOR = "migration"
#: What 0.1.3 recorded as the reviewer: it had no notion of one.
LEGACY_REVIEWER = "human"

_SQLITE_HEADER = b"SQLite format 3\x00"
_USER_VERSION_OFFSET = 60
_BAD_ID_CHARS = re.compile(r"[^A-Za-z0-9._:@+-]+")


@dataclass
class LegacyReview:
    """A row of 0.1.3's ``reviews`` table, with the skill id as migrated."""

    skill_id: str
    action: str
    feedback: str
    at: str  # ISO 8601, UTC


@dataclass
class LegacyLibrary:
    """Everything read from a 0.1.3 file, already mapped to current models.

    Attributes:
        skills: valid :class:`Skill` objects (``tokens`` left None: they are recounted).
        vectors: chunk id (as migrated) -> the vector 0.1.3 stored for that chunk's content.
        reviews: the review records, oldest first.
        usage: skill id (as migrated) -> ``(query_count, last_used ISO or None)``.
        renamed: old id -> new id, for skill and chunk ids that are not valid any more.
        cross_links: chunk id -> dependencies that name a skill written after the
            chunk's own skill (cycles between skills); restored by :func:`write_records`.
        notes: what was repaired or left out, and why (one line each).
    """

    skills: list[Skill] = field(default_factory=list)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    reviews: list[LegacyReview] = field(default_factory=list)
    usage: dict[str, tuple[int, Optional[str]]] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    cross_links: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def is_legacy(conn: sqlite3.Connection) -> bool:
    """Return True if ``conn`` is a library in the 0.1.x format (tables, no ``meta``)."""
    if conn.execute("PRAGMA user_version").fetchone()[0] != 0:
        return False
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {"skills", "chunks"} <= tables and "meta" not in tables


def may_be_legacy(path: str) -> bool:
    """Cheap first look at a file's header: False when it surely is no 0.1.x library.

    A current library has a non-zero ``user_version`` in its header (once a checkpoint
    wrote it); a 0.1.x one always has 0. Missing, empty or non-SQLite files are not
    legacy libraries either.
    """
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError:
        return False
    if len(header) < 100 or not header.startswith(_SQLITE_HEADER):
        return False
    return struct.unpack(">I", header[_USER_VERSION_OFFSET : _USER_VERSION_OFFSET + 4])[0] == 0


def free_backup_path(path: str) -> str:
    """Return ``<path>.0.1.3-backup``, or ``...-backup-2`` etc. if that exists already."""
    candidate, number = path + BACKUP_SUFFIX, 1
    while os.path.exists(candidate):
        number += 1
        candidate = f"{path}{BACKUP_SUFFIX}-{number}"
    return candidate


# --------------------------------------------------------------------------- reading


def read_library(conn: sqlite3.Connection, path: str) -> LegacyLibrary:
    """Read a 0.1.x library and map it onto current skills.

    Mapping (see the module docstring for the old schema):

    * ``(canonical, active)`` -> status ``canonical``; ``(draft, active)`` -> ``draft``;
      ``archived`` -> ``archived``, except a draft whose last review is a rejection,
      which becomes ``rejected`` with the reason as a ``rejected: ...`` flag.
    * source ``extracted`` for skills that came from extraction (a ``draft::`` id or an
      ``extracted_from``, so approved drafts too), ``manual`` for the rest.
    * ids that are not valid any more (e.g. a folder name with spaces) get their bad
      characters replaced by ``-``; dependencies follow. Dependencies that name nothing
      (0.1.3 ignored those) or the chunk itself are dropped. The old values are kept
      in ``metadata["migrated_from"]``.
    * a skill without any usable chunk, and chunks without content or without a
      skill, cannot be represented and are left out (they stay in the old file).

    Raises:
        DatabaseFileError: if ``conn`` is not a 0.1.x library.
    """
    if not is_legacy(conn):
        raise DatabaseFileError(f"{path!r} is not a skillvault 0.1.x library (it has no skills/chunks tables, or has a meta table)")
    library = LegacyLibrary()
    skill_rows = conn.execute(
        "SELECT id, name, source, status, confidence, extracted_from, created_at FROM skills ORDER BY rowid"
    ).fetchall()
    chunk_rows = conn.execute(
        "SELECT rowid, id, skill_id, section, content, priority, required, dependencies FROM chunks ORDER BY rowid"
    ).fetchall()
    reviews = _reviews(conn)
    rename = _id_renames([row[0] for row in skill_rows], [row[1] for row in chunk_rows])
    library.renamed = {old: new for old, new in rename.items() if old != new}

    chunks_by_skill: dict[str, list[tuple]] = {}
    for row in chunk_rows:
        chunks_by_skill.setdefault(row[2], []).append(row)
    known_skill_ids = {row[0] for row in skill_rows}
    for skill_id, rows in chunks_by_skill.items():
        if skill_id not in known_skill_ids:
            library.notes.append(f"{len(rows)} chunk(s) of a skill {skill_id!r} that does not exist were left out")

    last_review = {review[0]: review[1] for review in reviews}  # oldest first: the last one wins
    rejection = {review[0]: review[2] for review in reviews if review[1] == "reject"}
    built: list[Skill] = []
    for row in skill_rows:
        skill = _skill(row, chunks_by_skill.get(row[0], []), rename, last_review, rejection, library.notes)
        if skill is not None:
            built.append(skill)
    _fix_dependencies(built, rename, library)
    library.skills = _dependency_order(built, library)
    kept_chunks = {chunk.id for skill in library.skills for chunk in skill.chunks}
    library.vectors = {
        rename[chunk_id]: vector for chunk_id, vector in _vectors(conn).items() if rename.get(chunk_id) in kept_chunks
    }
    kept_skills = {skill.id for skill in library.skills}
    library.reviews = [LegacyReview(rename.get(sid, sid), action, feedback or "", _iso(at)) for sid, action, feedback, at in reviews]
    if "usage_stats" in _tables(conn):
        for skill_id, count, last_used in conn.execute("SELECT skill_id, query_count, last_used FROM usage_stats"):
            new_id = rename.get(skill_id, skill_id)
            if new_id in kept_skills and count:
                library.usage[new_id] = (int(count), _iso(last_used) if last_used else None)
    return library


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _reviews(conn: sqlite3.Connection) -> list[tuple[str, str, Optional[str], Optional[str]]]:
    if "reviews" not in _tables(conn):
        return []
    return conn.execute("SELECT skill_id, action, feedback, created_at FROM reviews ORDER BY id").fetchall()


def _id_renames(skill_ids: list[str], chunk_ids: list[str]) -> dict[str, str]:
    """Map every old id to a valid, unused one (itself when it is valid already)."""
    rename: dict[str, str] = {}
    taken = {i for i in skill_ids + chunk_ids if _valid_id(i)}
    for old in skill_ids + chunk_ids:
        if old in rename:
            continue
        if _valid_id(old):
            rename[old] = old
            continue
        base = _BAD_ID_CHARS.sub("-", str(old)).lstrip("._:@+-")[: MAX_ID_LENGTH - 4] or "skill"
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        taken.add(candidate)
        rename[old] = candidate
    return rename


def _valid_id(value: object) -> bool:
    try:
        validate_id(value, "id")
    except ValidationError:
        return False
    return True


def _skill(
    row: tuple, chunk_rows: list[tuple], rename: dict[str, str], last_review: dict, rejection: dict, notes: list[str]
) -> Optional[Skill]:
    old_id, name, source, status, confidence, extracted_from, created_at = row
    new_id = rename[old_id]
    origin: dict = {"release": LEGACY_RELEASE, "source": source, "status": status}
    if new_id != old_id:
        origin["id"] = old_id
        notes.append(f"skill {old_id!r} is now {new_id!r} (ids may not contain {_bad_chars(old_id)})")
    chunks = []
    for _rowid, chunk_id, _skill_id, section, content, priority, required, deps in chunk_rows:
        if not isinstance(content, str) or not content.strip() or len(content) > MAX_CONTENT_CHARS:
            notes.append(f"chunk {chunk_id!r} of {old_id!r} was left out: its content is empty or over {MAX_CONTENT_CHARS} characters")
            continue
        chunks.append(Chunk(
            id=rename[chunk_id], skill_id=new_id, section=str(section or "")[:MAX_SECTION_LENGTH], content=content,
            tokens=None, priority=_int(priority), required=bool(_int(required)), dependencies=_json_list(deps),
        ))
    if not chunks:
        notes.append(f"skill {old_id!r} was left out: it has no chunk with content")
        return None
    extracted = str(extracted_from or "")
    from_extraction = old_id.startswith("draft::") or bool(extracted) or source == "draft"
    state = Status.DRAFT if source == "draft" and status == "active" else Status.CANONICAL if status == "active" else Status.ARCHIVED
    flags = []
    if state == Status.ARCHIVED and source == "draft" and last_review.get(old_id) == "reject":
        state = Status.REJECTED
        flags.append(f"rejected: {rejection.get(old_id) or 'no reason given'}")
    skill = Skill(
        id=new_id,
        name=str(name or new_id)[:MAX_NAME_LENGTH],
        source="extracted" if from_extraction else "manual",
        status=state,
        chunks=chunks,
        confidence=_confidence(confidence),
        extracted_from=extracted[:MAX_EXTRACTED_FROM_CHARS],
        created_at=_datetime(created_at),
        metadata={"migrated_from": origin},
        flags=flags,
    )
    return skill


def _bad_chars(value: str) -> str:
    return " ".join(repr(char) for char in sorted({char for run in _BAD_ID_CHARS.findall(value) for char in run}))


def _fix_dependencies(skills: list[Skill], rename: dict[str, str], library: LegacyLibrary) -> None:
    """Rename dependencies with their targets; drop those naming nothing or the chunk itself."""
    known = {s.id for s in skills} | {c.id for s in skills for c in s.chunks}
    for skill in skills:
        dropped = []
        for chunk in skill.chunks:
            kept = []
            for dep in chunk.dependencies:
                new = rename.get(dep, dep) if isinstance(dep, str) else None
                if new in known and new != chunk.id and new not in kept:
                    kept.append(new)
                else:
                    dropped.append(dep)
            chunk.dependencies = kept
        if dropped:
            skill.metadata["migrated_from"]["dropped_dependencies"] = dropped
            library.notes.append(f"skill {skill.id!r}: dependencies on {dropped} name nothing in the library and were dropped")


def _dependency_order(skills: list[Skill], library: LegacyLibrary) -> list[Skill]:
    """Order skills so that each comes after the skills its chunks depend on.

    Dependencies that close a cycle between skills cannot be written that way; they are
    taken off the chunk and kept in ``library.cross_links`` to be restored afterwards.
    """
    owner = {c.id: s.id for s in skills for c in s.chunks} | {s.id: s.id for s in skills}
    by_id = {s.id: s for s in skills}
    ordered: list[Skill] = []
    state: dict[str, str] = {}

    def visit(skill: Skill) -> None:
        state[skill.id] = "open"
        for chunk in skill.chunks:
            for dep in chunk.dependencies:
                target = owner[dep]
                if target != skill.id and target not in state:
                    visit(by_id[target])
        state[skill.id] = "done"
        ordered.append(skill)

    for skill in skills:
        if skill.id not in state:
            visit(skill)
    written: set[str] = set()
    for skill in ordered:
        written.add(skill.id)
        for chunk in skill.chunks:
            later = [dep for dep in chunk.dependencies if owner[dep] not in written]
            if later:
                library.cross_links[chunk.id] = list(chunk.dependencies)
                chunk.dependencies = [dep for dep in chunk.dependencies if dep not in later]
    return ordered


def _vectors(conn: sqlite3.Connection) -> dict[str, np.ndarray]:
    """Chunk id -> float32 vector, from ``vec_chunks`` (preferred) and ``embeddings``."""
    found: dict[str, np.ndarray] = {}
    tables = _tables(conn)
    if "embeddings" in tables:
        for chunk_id, blob in conn.execute("SELECT chunk_id, embedding FROM embeddings"):
            vector = _vector(blob)
            if vector is not None:
                found[chunk_id] = vector
    if "vec_chunks" in tables:
        try:
            rows = conn.execute("SELECT c.id, v.embedding FROM vec_chunks v JOIN chunks c ON c.rowid = v.rowid").fetchall()
        except sqlite3.Error:  # pragma: no cover - sqlite-vec is always loaded by connect()
            rows = []
        for chunk_id, blob in rows:
            vector = _vector(blob)
            if vector is not None:
                found[chunk_id] = vector
    return found


def _vector(blob: object) -> Optional[np.ndarray]:
    if not isinstance(blob, bytes) or not blob or len(blob) % 4:
        return None
    vector = np.frombuffer(blob, dtype=np.float32)
    if not np.all(np.isfinite(vector)) or not vector.any():
        return None
    return vector


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


def _json_list(value: object) -> list:
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    return list(parsed) if isinstance(parsed, list) else []


def _confidence(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 1.0
    return min(max(number, 0.0), 1.0) if number == number else 1.0


def _datetime(value: object) -> datetime:
    """An SQLite ``CURRENT_TIMESTAMP`` (UTC) or ISO text as an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return utc_now()
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _iso(value: object) -> str:
    return _datetime(value).isoformat()


# --------------------------------------------------------------------------- writing


def write_reviews(store, library: LegacyLibrary) -> None:
    """Write 0.1.3's review records into the audit log of ``store``, with their own times.

    Call before the skills are written, so that a skill's history reads in order. One
    transaction.

    Args:
        store: a :class:`~skillvault.store.SQLiteStore` (a new library).
        library: what :func:`read_library` returned.
    """
    with store.transaction():
        store.conn.executemany(
            "INSERT INTO audit_log(at, actor, action, skill_id, reason, details) VALUES (?,?,?,?,?,?)",
            [
                (r.at, LEGACY_REVIEWER, r.action, r.skill_id, r.feedback, json.dumps({"migrated_from": LEGACY_RELEASE}))
                for r in library.reviews
            ],
        )


def write_records(store, library: LegacyLibrary) -> None:
    """Write usage counts and the dependencies that close cycles between skills.

    Call after the skills are written. One transaction.

    Args:
        store: a :class:`~skillvault.store.SQLiteStore` holding the migrated skills.
        library: what :func:`read_library` returned.
    """
    with store.transaction():
        store.conn.executemany(
            "INSERT INTO usage(skill_id, uses, helpful, unhelpful, last_used) VALUES (?, ?, 0, 0, ?)",
            [(skill_id, count, last_used) for skill_id, (count, last_used) in library.usage.items()],
        )
        store.conn.executemany(
            "UPDATE chunks SET dependencies = ? WHERE id = ?",
            [(json.dumps(deps), chunk_id) for chunk_id, deps in library.cross_links.items()],
        )
