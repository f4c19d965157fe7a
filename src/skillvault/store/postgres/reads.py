"""Reads of the PostgreSQL store: skills with their chunks, ids, dependencies, stored vectors.

A mixin of :class:`~.store.PostgresStore` (it uses the store's ``conn``, ``agent`` and
``snapshot()``). Id lists travel as one array parameter (``= ANY(%s)``), never spliced in.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable, Optional

import numpy as np

from ...models import Chunk, Skill
from ..guard import AGENT_ACTOR
from ..base import StoredChunk, file_by_dependency
from .search import dependency_closure
from .vectors import to_array

_SKILL_COLUMNS = ("id, name, source, status, confidence, extracted_from, description, tags, version, revises, "
                  "metadata, created_at, flags")
_CHUNK_COLUMNS = ("c.pk, c.id, c.skill_id, c.position, c.section, c.content, c.tokens, c.priority, c.required, "
                  "c.dependencies, s.name")


class PgReads:
    """Skill, chunk and id reads."""

    def get_skill(self, skill_id: str) -> Optional[Skill]:
        """Return the skill with its chunks (in order), or None; read from one snapshot."""
        with self.snapshot():
            row = self.conn.execute(f"SELECT {_SKILL_COLUMNS} FROM skills WHERE id = %s", (skill_id,)).fetchone()
            return None if row is None else self._skills_from_rows([row])[0]

    def list_skills(self, status: Optional[str] = None, source: Optional[str] = None) -> list[Skill]:
        """Return skills (with chunks), filtered by status and/or source, oldest first (one snapshot)."""
        with self.snapshot():
            rows = self.conn.execute(
                f"""SELECT {_SKILL_COLUMNS} FROM skills WHERE (%(status)s::text IS NULL OR status = %(status)s)
                    AND (%(source)s::text IS NULL OR source = %(source)s) ORDER BY created_at, id""",
                {"status": status, "source": source}).fetchall()
            return self._skills_from_rows(rows)

    def skill_names(self, status: str) -> list[tuple[str, str]]:
        """Return ``(id, name)`` of every skill in ``status`` (no chunks loaded)."""
        return [tuple(row) for row in self.conn.execute(
            "SELECT id, name FROM skills WHERE status = %s ORDER BY id", (status,)).fetchall()]

    def _skills_from_rows(self, rows: list) -> list[Skill]:
        chunks: dict[str, list[Chunk]] = {row[0]: [] for row in rows}
        for stored in self._chunk_rows("c.skill_id = ANY(%s)", [list(chunks)]):
            chunks[stored.chunk.skill_id].append(stored.chunk)
        return [
            Skill(id=row[0], name=row[1], source=row[2], status=row[3], chunks=chunks[row[0]], confidence=row[4],
                  extracted_from=row[5], description=row[6], tags=json.loads(row[7]), version=row[8],
                  revises=row[9], metadata=json.loads(row[10]), created_at=datetime.fromisoformat(row[11]),
                  flags=json.loads(row[12]))
            for row in rows
        ]

    def _chunk_rows(self, where: str, params: list) -> list[StoredChunk]:
        rows = self.conn.execute(f"""SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN skills s ON s.id = c.skill_id
                                     WHERE {where} ORDER BY c.skill_id, c.position""", params).fetchall()
        return [
            StoredChunk(pk=row[0], chunk=Chunk(id=row[1], skill_id=row[2], section=row[4], content=row[5],
                                               tokens=row[6], priority=row[7], required=bool(row[8]),
                                               dependencies=list(row[9])),
                        position=row[3], skill_name=row[10])
            for row in rows
        ]

    def chunks_by_pk(self, pks: list[int]) -> dict[int, StoredChunk]:
        """Return the chunks with these primary keys."""
        return {stored.pk: stored for stored in self._chunk_rows("c.pk = ANY(%s)", [list(pks)])}

    def resolve_dependencies(self, ids: list[str], statuses: tuple[str, ...]) -> dict[str, list[StoredChunk]]:
        """Map each dependency id (a chunk id, or a skill id standing for all its chunks) to
        its chunks of skills in ``statuses``; ids that match nothing map to an empty list."""
        result: dict[str, list[StoredChunk]] = {dep: [] for dep in ids}
        wanted = list(result)
        file_by_dependency(result, self._chunk_rows(
            "(c.id = ANY(%s) OR c.skill_id = ANY(%s)) AND s.status = ANY(%s)", [wanted, wanted, list(statuses)]))
        return result

    def dependency_closure(
        self, roots: list[StoredChunk], statuses: tuple[str, ...], max_depth: int
    ) -> dict[int, list[StoredChunk]]:
        """Return, for each root chunk, the chunks it depends on (breadth-first, deduplicated):
        the recursive CTE of :func:`.search.dependency_closure`, then the chunks' rows."""
        if not any(root.chunk.dependencies for root in roots):
            return {root.pk: [] for root in roots}
        pks = dependency_closure(self.conn, [root.pk for root in roots], statuses=statuses, max_depth=max_depth)
        found = self.chunks_by_pk(sorted({pk for listed in pks.values() for pk in listed}))
        return {root: [found[pk] for pk in listed] for root, listed in pks.items()}

    def all_chunk_pks(self) -> list[int]:
        """Return the primary keys of every chunk."""
        return [row[0] for row in self.conn.execute("SELECT pk FROM chunks ORDER BY pk")]

    def required_chunks(self, skill_ids: list[str]) -> list[StoredChunk]:
        """Return the ``required`` chunks of these skills, in section order."""
        return self._chunk_rows("c.required AND c.skill_id = ANY(%s)", [list(skill_ids)])

    def is_agent_draft(self, skill_id: str) -> bool:
        """Return True if ``skill_id`` is a draft whose content an agent wrote (or edited)."""
        row = self.conn.execute("SELECT status, author FROM skills WHERE id = %s", (skill_id,)).fetchone()
        return row is not None and row[0] == "draft" and row[1] == AGENT_ACTOR

    def unresolved_dependencies(self) -> list[dict]:
        """Return the dependencies that name no chunk and no skill in the library, as
        ``{"skill_id", "chunk_id", "dependency", "status"}`` dicts by skill and chunk position."""
        rows = self.conn.execute(
            """SELECT c.skill_id, c.id, d.dep, s.status FROM chunks c JOIN skills s ON s.id = c.skill_id
               CROSS JOIN LATERAL unnest(c.dependencies) WITH ORDINALITY AS d(dep, ord)
               WHERE NOT EXISTS (SELECT 1 FROM chunks x WHERE x.id = d.dep)
                 AND NOT EXISTS (SELECT 1 FROM skills y WHERE y.id = d.dep)
               ORDER BY c.skill_id, c.position, d.ord""").fetchall()
        return [{"skill_id": skill_id, "chunk_id": chunk_id, "dependency": dep, "status": status}
                for skill_id, chunk_id, dep, status in rows]

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Return those of ``ids`` that name a chunk or a skill (any status the login may see)."""
        wanted = list(ids)
        return {row[0] for row in self.conn.execute(
            "SELECT id FROM chunks WHERE id = ANY(%s) UNION SELECT id FROM skills WHERE id = ANY(%s)",
            (wanted, wanted))}

    def chunk_owners(self, chunk_ids: list[str]) -> dict[str, str]:
        """Return ``{chunk id: id of the skill that holds it}`` for those of ``chunk_ids`` stored."""
        return dict(self.conn.execute("SELECT id, skill_id FROM chunks WHERE id = ANY(%s)",
                                      (list(chunk_ids),)).fetchall())

    def existing_vectors(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Return stored vectors for those embedding hashes already in the database (chunks,
        cards, drafts, or the embedding cache of an unfinished import)."""
        wanted = list(set(hashes))
        cache = "" if self.agent else "UNION ALL SELECT embed_hash, embedding FROM embedding_cache WHERE embed_hash = ANY(%(h)s)"
        rows = self.conn.execute(
            f"""SELECT c.embed_hash, v.embedding FROM chunks c JOIN chunk_vectors v ON v.chunk_pk = c.pk
                WHERE c.embed_hash = ANY(%(h)s)
                UNION ALL SELECT embed_hash, embedding FROM skill_cards
                WHERE embed_hash = ANY(%(h)s) AND embedding IS NOT NULL
                UNION ALL SELECT c.embed_hash, d.embedding FROM chunks c JOIN draft_vectors d ON d.chunk_pk = c.pk
                WHERE c.embed_hash = ANY(%(h)s) {cache}""", {"h": wanted}, binary=True).fetchall()
        return {embed_hash: to_array(vector) for embed_hash, vector in rows}

    def skill_ids_untouched_since(self, status: str, cutoff: datetime) -> list[str]:
        """Return ids of skills in ``status`` whose last change is older than ``cutoff``."""
        return [row[0] for row in self.conn.execute(
            "SELECT id FROM skills WHERE status = %s AND updated_at < %s ORDER BY id", (status, cutoff.isoformat()))]

    def chunk_skills(self, pks: list[int]) -> dict[int, str]:
        """Return the skill id of each given chunk pk."""
        return dict(self.conn.execute("SELECT pk, skill_id FROM chunks WHERE pk = ANY(%s)", (list(pks),)).fetchall())

    def skill_cards_of(self, skill_ids: list[str]) -> dict[str, tuple[str, str]]:
        """Return ``{skill id: (name, description)}`` for these skills."""
        return {row[0]: (row[1], row[2]) for row in self.conn.execute(
            "SELECT id, name, description FROM skills WHERE id = ANY(%s)", (list(skill_ids),))}
