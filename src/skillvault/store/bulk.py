"""Writing many skills at once: one transaction per batch, set operations across skills.

A mixin of :class:`~skillvault.store.sqlite.SQLiteStore` (it uses the store's ``conn``,
``transaction()``, ``write_skill``, index helpers and index tracker). New skills of a
batch are checked with a few set queries (ids taken, chunk ids owned, kept versions) and
written with one ``executemany`` per table; a skill that replaces a stored one, or that
the checks cannot clear, goes through the store's one-skill writer in a nested
transaction (a savepoint). Either way each skill lands whole or not at all.
"""

from __future__ import annotations

import json
from typing import Callable, Iterator, Optional

import numpy as np

from ..errors import ValidationError
from ..models import MAX_VERSION, Skill, Status, utc_now
from .base import requires_transaction
from .guard import AGENT_ACTOR

SKILL_COLUMNS = (
    "id, name, source, status, confidence, extracted_from, description, tags, "
    "version, revises, metadata, created_at, updated_at, flags"
)
UPSERT_SKILL = f"""INSERT INTO skills ({SKILL_COLUMNS}, author) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
    ON CONFLICT(id) DO UPDATE SET name=excluded.name, source=excluded.source,
      status=excluded.status, confidence=excluded.confidence,
      extracted_from=excluded.extracted_from, description=excluded.description,
      tags=excluded.tags, version=excluded.version, revises=excluded.revises,
      metadata=excluded.metadata, created_at=excluded.created_at,
      updated_at=excluded.updated_at, flags=excluded.flags, author=excluded.author"""
INSERT_CHUNK = """INSERT INTO chunks (pk, id, skill_id, position, section, content, tokens, priority,
    required, dependencies, embed_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)"""
#: Chunks written per transaction by :meth:`BulkWrites.save_skills_batched`: large enough
#: that the commit (and FTS5 segment merging) is paid rarely, small enough to bound memory.
BATCH_CHUNKS = 5000
_IN_LIMIT = 400  # ids per IN (...) list


def skill_row(skill: Skill, now: str, author: str) -> tuple:
    """The ``skills`` row of ``skill`` (parameters of :data:`UPSERT_SKILL`)."""
    return (
        skill.id, skill.name, skill.source, skill.status, float(skill.confidence),
        skill.extracted_from, skill.description, json.dumps(skill.tags), skill.version,
        skill.revises, json.dumps(skill.metadata), skill.created_at.isoformat(), now,
        json.dumps(skill.flags), author,
    )


def chunk_rows(skill_id: str, prepared: list, pks: list[int]) -> list[tuple]:
    """The ``chunks`` rows of one skill's prepared chunks (parameters of :data:`INSERT_CHUNK`)."""
    return [
        (pk, item.chunk.id, skill_id, position, item.chunk.section, item.chunk.content, item.chunk.tokens,
         item.chunk.priority, int(item.chunk.required), json.dumps(item.chunk.dependencies), item.embed_hash)
        for position, (pk, item) in enumerate(zip(pks, prepared))
    ]


def batch_bounds(items: list, batch_chunks: int) -> Iterator[tuple[int, int]]:
    """Yield ``(start, stop)`` slices of ``items`` (``(skill, prepared)`` pairs) holding
    about ``batch_chunks`` chunks each (at least one skill)."""
    start, size = 0, 0
    for index, (_skill, prepared) in enumerate(items):
        size += len(prepared)
        if size >= batch_chunks:
            yield start, index + 1
            start, size = index + 1, 0
    if start < len(items):
        yield start, len(items)


class BulkWrites:
    """Batched skill writes (see the module docstring)."""

    def save_skills_batched(
        self, items: list, embedder_name: str, actor: str = "human", action: str = "register",
        batch_chunks: Optional[int] = None, progress: Optional[Callable[[int, int], None]] = None,
    ) -> dict[int, ValidationError]:
        """Write ``(skill, prepared)`` pairs in order, ~``batch_chunks`` chunks per transaction,
        then :meth:`~.base.Store.refresh_statistics`.

        Each skill is atomic: one the store refuses (a chunk id another skill owns, a
        version past the limit) is left out and the others are written. The same id
        twice is written twice, in order (the second is a new version), as
        :meth:`save_skill` called once per item would.

        Args:
            items: validated skills with their prepared chunks.
            embedder_name / actor / action: as for :meth:`save_skill`.
            batch_chunks: chunks per transaction (default :data:`BATCH_CHUNKS`).
            progress: called as ``progress(skills_written, total)`` after each batch.

        Returns:
            ``{index in items: the ValidationError}`` for the skills not written (fields
            as for one skill, e.g. ``skill.chunks[0].id``).

        Raises:
            StorageFullError, StorageIOError, DatabaseBusyError: the failing batch is
                rolled back; the batches before it stay written.
        """
        refused: dict[int, ValidationError] = {}
        for start, stop in batch_bounds(items, batch_chunks or BATCH_CHUNKS):
            with self.transaction():
                refused.update(self.write_skills(items[start:stop], embedder_name, actor, action, offset=start))
            if progress:
                progress(stop, len(items))
        self.refresh_statistics(sum(len(prepared) for _skill, prepared in items))
        return refused

    @requires_transaction
    def write_skills(
        self, items: list, embedder_name: str, actor: str, action: str, offset: int = 0, strict: bool = False
    ) -> dict[int, ValidationError]:
        """Write ``(skill, prepared)`` pairs inside the caller's transaction, each atomic.

        Args:
            offset: added to the indexes of the result (the items' place in a longer list).
            strict: raise the first refusal (its field located at ``skills[i]``) instead
                of leaving that skill out; the caller's transaction then rolls back.

        Returns:
            ``{offset + index: the ValidationError}`` (fields as for one skill:
            ``skill.chunks[0].id``) for the skills not written.
        """
        vectors = [prepared[0].vector for _skill, prepared in items if prepared]
        if vectors:
            self._ensure_vector_table(embedder_name, int(vectors[0].shape[0]))
        taken, owners, kept = self._batch_facts(items)
        refused: dict[int, ValidationError] = {}
        run: list[tuple[Skill, list]] = []
        claimed: dict[str, str] = {}  # chunk id -> id of the skill of this batch that holds it
        for index, (skill, prepared) in enumerate(items):
            fresh = (
                skill.id not in taken and kept.get(skill.id, 0) < MAX_VERSION
                and all(owners.get(c.id) is None and claimed.get(c.id, skill.id) == skill.id for c in skill.chunks)
            )
            if fresh:
                run.append((skill, prepared))
            else:  # replaces a stored skill, or may be refused: the one-skill writer decides
                self._insert_new_skills(run, kept, actor, action)
                run = []
                error = self._write_one(skill, prepared, embedder_name, actor, action)
                if error is not None:
                    if strict:
                        raise error.within(f"skills[{offset + index}]")
                    refused[offset + index] = error
                    continue
            taken.add(skill.id)
            claimed.update((c.id, skill.id) for c in skill.chunks)
        self._insert_new_skills(run, kept, actor, action)
        return refused

    def _batch_facts(self, items: list) -> tuple[set[str], dict[str, str], dict[str, int]]:
        """Return the skill ids of ``items`` already stored, the owners of their chunk ids,
        and the highest kept version of each id (a few set queries)."""
        ids = list({skill.id for skill, _prepared in items})
        chunk_ids = list({c.id for skill, _prepared in items for c in skill.chunks})
        taken: set[str] = set()
        kept: dict[str, int] = {}
        for batch in _slices(ids):
            marks = ",".join("?" * len(batch))
            taken.update(row[0] for row in self.conn.execute(f"SELECT id FROM skills WHERE id IN ({marks})", batch))
            kept.update(self.conn.execute(
                f"SELECT skill_id, MAX(version) FROM skill_versions WHERE skill_id IN ({marks}) GROUP BY skill_id", batch
            ).fetchall())
        return taken, self.chunk_owners(chunk_ids), kept

    def chunk_owners(self, chunk_ids: list[str]) -> dict[str, str]:
        """Return ``{chunk id: id of the skill that holds it}`` for those of ``chunk_ids`` stored."""
        owners: dict[str, str] = {}
        for batch in _slices(list(chunk_ids)):
            marks = ",".join("?" * len(batch))
            owners.update(self.conn.execute(f"SELECT id, skill_id FROM chunks WHERE id IN ({marks})", batch).fetchall())
        return owners

    def _write_one(self, skill: Skill, prepared: list, embedder_name: str, actor: str, action: str) -> Optional[ValidationError]:
        """Write one skill with the one-skill writer in a nested transaction; return its refusal, if any."""
        try:
            with self.transaction():
                self.write_skill(skill, prepared, embedder_name)
                self.add_audit(actor, action, skill.id, details={"version": skill.version})
        except ValidationError as exc:
            return exc
        return None

    def _insert_new_skills(self, run: list, kept: dict[str, int], actor: str, action: str) -> None:
        """Insert skills whose ids and chunk ids are free, one statement per table.

        ``kept``: the highest kept version of each id (new versions continue after it).
        """
        if not run:
            return
        author = AGENT_ACTOR if self.agent else "human"
        now = utc_now().isoformat()
        for skill, _prepared in run:
            skill.version = max(skill.version, kept.get(skill.id, 0) + 1)
        self.conn.executemany(UPSERT_SKILL, [skill_row(skill, now, author) for skill, _prepared in run])
        pk = self.conn.execute("SELECT COALESCE(MAX(pk), 0) + 1 FROM chunks").fetchone()[0]
        rows, drafts, indexed = [], [], []
        for skill, prepared in run:
            pks = list(range(pk, pk + len(prepared)))
            pk += len(prepared)
            rows.extend(chunk_rows(skill.id, prepared, pks))
            if skill.status == Status.DRAFT:
                drafts.extend((p, np.asarray(item.vector, dtype=np.float32).tobytes()) for p, item in zip(pks, prepared))
            else:
                indexed.extend(
                    (p, skill.name, item.chunk.section, item.chunk.content, np.asarray(item.vector, dtype=np.float32))
                    for p, item in zip(pks, prepared)
                )
        self.conn.executemany(INSERT_CHUNK, rows)
        if drafts:
            self.conn.executemany("INSERT INTO draft_vectors(chunk_pk, embedding) VALUES (?, ?)", drafts)
        if indexed:
            self._index_chunks(indexed)
        public = [(skill, prepared) for skill, prepared in run if skill.status != Status.DRAFT]
        if public:
            self._index_cards([(skill, getattr(prepared, "card", None)) for skill, prepared in public])
            self.save_versions([skill for skill, _prepared in public])
            self._tracker.touched()
        self.add_audits([(actor, action, skill.id, "", {"version": skill.version}) for skill, _prepared in run])


def _slices(items: list) -> Iterator[list]:
    for start in range(0, len(items), _IN_LIMIT):
        yield items[start:start + _IN_LIMIT]
