"""The store interface: every call the layers above make on a skill store.

:class:`Store` names them; :class:`~skillvault.store.sqlite.SQLiteStore` implements it
(a PostgreSQL store will too). Code outside ``skillvault.store`` types against
:class:`Store` and gets one from :func:`skillvault.store.open_store`.

Transactions: :meth:`Store.transaction` nests (an inner block is a savepoint: its
failure undoes only its own writes and re-raises; the outermost block commits
everything). Methods that write inside the caller's transaction are marked with
:func:`requires_transaction` and raise ``RuntimeError`` when called outside one.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, ContextManager, Iterable, Optional

import numpy as np

from ..models import Chunk, Skill

Progress = Callable[[int, int], None]
#: ``count(terms, at_most)``: how many searchable chunks hold each term (see
#: :meth:`Store.term_document_counts`).
TermCounter = Callable[[list[str], Optional[int]], dict[str, int]]
#: ``choose(count, total)``: the MATCH expression of a query's words, chosen with a term
#: counter and the number of searchable chunks (see :meth:`Store.hybrid_candidates`).
WordChooser = Callable[[TermCounter, int], str]


@dataclass
class StoredChunk:
    """A chunk as read back for retrieval, with where it sits and whose it is."""

    pk: int
    chunk: Chunk
    position: int
    skill_name: str


@dataclass
class PreparedChunk:
    """A chunk ready to be written: real token count, embedding hash and vector."""

    chunk: Chunk
    embed_hash: str
    vector: np.ndarray  # float32, unit length


def file_by_dependency(result: dict[str, list[StoredChunk]], found: Iterable[StoredChunk]) -> None:
    """Append each chunk of ``found`` to the lists in ``result`` of the dependency ids it
    answers: its own id, and its skill's id (which stands for all of that skill's chunks)."""
    for stored in found:
        if stored.chunk.id in result:
            result[stored.chunk.id].append(stored)
        if stored.chunk.skill_id in result:
            result[stored.chunk.skill_id].append(stored)


def requires_transaction(method):
    """Mark a store method that writes inside the caller's transaction: called outside
    ``store.transaction()`` it raises ``RuntimeError`` instead of writing on its own."""

    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        if not self.in_transaction():
            raise RuntimeError(f"{method.__name__} must run inside store.transaction()")
        return method(self, *args, **kwargs)

    return checked


class Store(ABC):
    """A skill library's persistence: skills, chunks, vectors, words, review records.

    Attributes:
        path: where the library lives (a file path, ``":memory:"`` or a URL).
        agent: opened with agent rights (read canonical skills, write own drafts and usage).
        read_only: a human's library that could only be opened read-only (writes raise).
        schema_version: the schema version of the library.
        word_postings_budget: most chunks (summed over a query's words) one word search
            may have to score; the rarest words are kept within it (see
            :func:`~skillvault.retrieval.lexical.informative_terms`).
    """

    path: str
    agent: bool
    read_only: bool
    schema_version: int
    word_postings_budget: int = 10_000

    # ------------------------------------------------------------------ plumbing
    @abstractmethod
    def close(self) -> None:
        """Release the connection(s) and save what caches need saving."""

    @abstractmethod
    def transaction(self) -> ContextManager[None]:
        """Run the block in one write transaction (a savepoint when nested); roll back on
        any exception and re-raise it.

        Raises:
            SkillPermissionError: on an agent's store (see :meth:`draft_transaction`) or a
                read-only library.
            StorageFullError, StorageIOError, DatabaseBusyError: storage failures; nothing
                of the transaction is kept.
        """

    @abstractmethod
    def in_transaction(self) -> bool:
        """Return True inside this store's :meth:`transaction` (in the calling thread)."""

    @abstractmethod
    def draft_transaction(self) -> ContextManager["Store"]:
        """A write transaction for drafts, yielding the store to read and write with in it
        (an agent's writes go through a store confined to its own drafts)."""

    @abstractmethod
    def snapshot(self) -> ContextManager[None]:
        """Run the block's reads against one consistent state of the library."""

    def refresh_statistics(self, chunks_written: int) -> None:
        """Tell the query planner about many rows just written (after a bulk write commits).

        The default does nothing: SQLite's statements here do not depend on table
        statistics. A server whose planner does (PostgreSQL) refreshes them.

        Args:
            chunks_written: how many chunks the bulk write added or replaced.
        """

    @abstractmethod
    def backup(self, dest: str, progress: Optional[Progress] = None) -> None:
        """Copy the whole library to ``dest`` (one consistent state), reporting
        ``progress(done, total)``."""

    @abstractmethod
    def get_meta(self, key: str) -> Optional[str]:
        """Return the library setting stored under ``key``, or None."""

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None:
        """Store a library setting under ``key`` (its own transaction, or the caller's)."""

    @abstractmethod
    def embedder_record(self) -> tuple[Optional[str], Optional[int]]:
        """Return ``(name, dim)`` of the embedder the library was built with (Nones if empty)."""

    @abstractmethod
    def record_embedder(self, name: str, dim: int) -> None:
        """Record ``name`` (``dim``-wide vectors) as the embedder if none is recorded yet."""

    @abstractmethod
    def counts(self) -> dict:
        """Return ``{"by_status", "by_source", "chunks", "tokens"}`` counts."""

    @abstractmethod
    def size_bytes(self) -> int:
        """Return the library's size on disk, in bytes."""

    @abstractmethod
    def integrity_check(self) -> list[str]:
        """Run the database's integrity check; returns its messages (``["ok"]`` when sound)."""

    @abstractmethod
    def driver_info(self):
        """Return which database driver and extension versions are in use."""

    @abstractmethod
    def vector_index_summary(self) -> str:
        """Return one line on what serves vector search, without building anything."""

    # ------------------------------------------------------------------ writing skills
    @abstractmethod
    def save_skill(
        self, skill: Skill, prepared: list[PreparedChunk], embedder_name: str, actor: str = "human",
        action: str = "register",
    ) -> None:
        """Insert or replace ``skill`` with its chunks, vectors and words, and an audit
        entry, in one transaction.

        Args:
            skill: a validated skill.
            prepared: one entry per chunk of ``skill``, in order.
            embedder_name: recorded with the vectors' width on the first write.
            actor / action: who wrote it and how, for the audit log.

        Raises:
            ValidationError: a chunk id belongs to another skill, or the version limit is
                reached; nothing is written.
        """

    @abstractmethod
    def save_skills(self, items: list, embedder_name: str, actor: str = "human", action: str = "import") -> None:
        """Write ``(skill, prepared)`` pairs in one transaction, all or none.

        Raises:
            ValidationError: the first refused skill, its field located at ``skills[i]``.
        """

    @abstractmethod
    def save_skills_batched(
        self, items: list, embedder_name: str, actor: str = "human", action: str = "register",
        batch_chunks: Optional[int] = None, progress: Optional[Progress] = None,
    ) -> dict:
        """Write ``(skill, prepared)`` pairs in order, a batch per transaction, each skill atomic.

        Returns:
            ``{index in items: ValidationError}`` for the skills left out.
        """

    @abstractmethod
    def write_skill(self, skill: Skill, prepared: list[PreparedChunk], embedder_name: str, create: bool = False) -> None:
        """Insert or replace ``skill`` inside the caller's transaction (see :meth:`save_skill`).

        Args:
            create: the id must be new; raises ValidationError if another writer took it.

        Raises:
            RuntimeError: called outside :meth:`transaction`.
        """

    @abstractmethod
    def delete_skill(self, skill_id: str) -> None:
        """Delete a skill with its chunks and index rows, inside the caller's transaction."""

    @abstractmethod
    def change_status(self, skill_id: str, status: str, flags: Optional[list[str]] = None) -> None:
        """Move a skill to ``status`` (and set its review flags) inside the caller's transaction.

        Raises:
            NotFoundError: no such skill.
            ValidationError: :data:`skillvault.models.TRANSITIONS` does not allow the move;
                nothing changes.
        """

    @abstractmethod
    def replace_all_vectors(self, embedder_name: str, vectors: dict, hashes: dict, cards: Optional[dict] = None) -> None:
        """Swap every chunk vector (and card vector) for a new embedder's, in one transaction.

        Args:
            vectors / hashes: chunk pk -> unit vector / embedding hash, for every chunk.
            cards: skill id -> card vector, for the cards of non-draft skills.
        """

    @abstractmethod
    def cache_vectors(self, items: list[tuple[str, np.ndarray]]) -> None:
        """Keep ``(embedding hash, vector)`` pairs an import embedded but has not written yet."""

    @abstractmethod
    def drop_cached_vectors(self, hashes: Optional[Iterable[str]] = None, older_than: Optional[float] = None) -> int:
        """Forget cached vectors of ``hashes``, or cached before ``older_than``; returns how many."""

    # ------------------------------------------------------------------ review records
    @abstractmethod
    def add_audit(self, actor: str, action: str, skill_id: str, reason: str = "", details: Optional[dict] = None) -> None:
        """Append an audit entry inside the caller's transaction (of the audited change)."""

    @abstractmethod
    def audit_entries(self, skill_id: str) -> list[dict]:
        """Return a skill's audit entries ``{"at", "actor", "action", "skill_id", "reason",
        "details"}``, oldest first."""

    @abstractmethod
    def audit_actions(self, actions: tuple[str, ...], skill_id_prefix: str = "") -> list[tuple[str, str]]:
        """Return ``(at, action)`` of the audit entries with one of ``actions`` about skills
        whose id starts with ``skill_id_prefix`` (for summaries across skills)."""

    @abstractmethod
    def get_version(self, skill_id: str, version: int) -> Optional[Skill]:
        """Return the kept snapshot of a skill version, or None."""

    @abstractmethod
    def versions(self, skill_id: str) -> list[int]:
        """Return the kept version numbers of a skill, ascending."""

    @abstractmethod
    def record_usage(self, skill_ids: list[str], helpful: Optional[bool] = None, note: Optional[str] = None) -> None:
        """Count one use of each skill (with a vote and a note), in one transaction."""

    @abstractmethod
    def usage_of(self, skill_id: str, notes: int = 20) -> dict:
        """Return a skill's usage counts, the agents' share and its latest ``notes`` notes."""

    @abstractmethod
    def skill_ids_untouched_since(self, status: str, cutoff: datetime) -> list[str]:
        """Return ids of skills in ``status`` last changed before ``cutoff``."""

    @abstractmethod
    def is_agent_draft(self, skill_id: str) -> bool:
        """Return True if ``skill_id`` is a draft whose content an agent wrote."""

    # ------------------------------------------------------------------ reading skills
    @abstractmethod
    def get_skill(self, skill_id: str) -> Optional[Skill]:
        """Return the skill with its chunks in order, or None."""

    @abstractmethod
    def list_skills(self, status: Optional[str] = None, source: Optional[str] = None) -> list[Skill]:
        """Return skills with their chunks, filtered by status and/or source, oldest first."""

    @abstractmethod
    def skill_names(self, status: str) -> list[tuple[str, str]]:
        """Return ``(id, name)`` of every skill in ``status``, by id."""

    @abstractmethod
    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Return those of ``ids`` that name a chunk or a skill (any status)."""

    @abstractmethod
    def chunk_owners(self, chunk_ids: list[str]) -> dict[str, str]:
        """Return ``{chunk id: id of the skill holding it}`` for the stored ones."""

    @abstractmethod
    def unresolved_dependencies(self) -> list[dict]:
        """Return ``{"skill_id", "chunk_id", "dependency", "status"}`` for every dependency
        that names no chunk and no skill."""

    @abstractmethod
    def existing_vectors(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Return the stored (or cached) vectors of those embedding hashes the library has."""

    @abstractmethod
    def all_chunk_pks(self) -> list[int]:
        """Return the primary keys of every chunk."""

    @abstractmethod
    def chunks_by_pk(self, pks: list[int]) -> dict[int, StoredChunk]:
        """Return the chunks with these primary keys."""

    @abstractmethod
    def required_chunks(self, skill_ids: list[str]) -> list[StoredChunk]:
        """Return the ``required`` chunks of these skills, in section order."""

    @abstractmethod
    def resolve_dependencies(self, ids: list[str], statuses: tuple[str, ...]) -> dict[str, list[StoredChunk]]:
        """Map each dependency id (a chunk id or a skill id) to the chunks of skills in
        ``statuses`` it stands for (an empty list when it matches nothing)."""

    def dependency_closure(
        self, roots: list[StoredChunk], statuses: tuple[str, ...], max_depth: int
    ) -> dict[int, list[StoredChunk]]:
        """Return, for each root chunk, the chunks it depends on (breadth-first, deduplicated).

        Chunk-id dependencies stand for that chunk, skill-id dependencies for all of that
        skill's chunks. Only chunks of skills in ``statuses`` are returned. Cycles end
        where a chunk is met again; expansion stops after ``max_depth`` levels. This
        default asks :meth:`resolve_dependencies` once per level for all roots together;
        a backend may answer in one statement instead (same order).
        """
        resolved: dict[str, list[StoredChunk]] = {}
        frontier = {dep for root in roots for dep in root.chunk.dependencies}
        for _level in range(max_depth):
            unknown = [dep for dep in frontier if dep not in resolved]
            if not unknown:
                break
            resolved.update(self.resolve_dependencies(unknown, statuses))
            frontier = {dep for dep_id in unknown for c in resolved[dep_id] for dep in c.chunk.dependencies}
        closure: dict[int, list[StoredChunk]] = {}
        for root in roots:
            seen = {root.pk}
            ordered: list[StoredChunk] = []
            level = list(root.chunk.dependencies)
            for _depth in range(max_depth):
                next_level: list[str] = []
                for dep_id in level:
                    for dep in resolved.get(dep_id, []):
                        if dep.pk not in seen:
                            seen.add(dep.pk)
                            ordered.append(dep)
                            next_level.extend(dep.chunk.dependencies)
                level = next_level
            closure[root.pk] = ordered
        return closure

    @abstractmethod
    def chunk_skills(self, pks: list[int]) -> dict[int, str]:
        """Return the skill id of each given chunk pk."""

    @abstractmethod
    def skill_cards_of(self, skill_ids: list[str]) -> dict[str, tuple[str, str]]:
        """Return ``{skill id: (name, description)}`` for these skills."""

    # ------------------------------------------------------------------ searching
    @abstractmethod
    def vector_search(self, query: np.ndarray, k: int, statuses: tuple[str, ...]) -> list[tuple[int, float]]:
        """Return up to ``k`` ``(chunk pk, cosine similarity)`` of chunks of skills in
        ``statuses``, best first."""

    @abstractmethod
    def lexical_search(self, match: str, k: int, statuses: tuple[str, ...]) -> list[tuple[int, float]]:
        """Return up to ``k`` ``(chunk pk, score)`` full-text hits (higher is better) for an
        FTS5-style ``match`` expression, best first."""

    @abstractmethod
    def hybrid_candidates(
        self, query: np.ndarray, choose_words: WordChooser, k: int, statuses: tuple[str, ...]
    ) -> tuple[str, list[tuple[int, float]], list[tuple[int, float]]]:
        """Run both chunk retrievers: ``(match, vector hits, lexical hits)``, the hits as
        :meth:`vector_search` and :meth:`lexical_search` would return them.

        Args:
            choose_words: called once as ``choose_words(count, total)`` to get the MATCH
                expression; it may run on another thread (beside the vector search), so it
                must use the store only through ``count``.
        """

    @abstractmethod
    def vector_scores(self, query: np.ndarray, pks: list[int]) -> dict[int, float]:
        """Return the cosine similarity of ``query`` to each given (indexed) chunk."""

    @abstractmethod
    def term_document_counts(self, terms: list[str], at_most: Optional[int] = None) -> dict[str, int]:
        """Return how many indexed chunks contain each term (terms not indexed left out).

        Args:
            at_most: counts above it may be given as any number above it (a backend
                whose counting costs as much as the matches may stop there).
        """

    @abstractmethod
    def indexed_chunk_count(self) -> int:
        """Return the number of searchable (non-draft) chunks."""

    @abstractmethod
    def skill_vectors(self, statuses: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
        """Return skill ids and one unit vector per skill (the mean of its chunk vectors)."""

    @abstractmethod
    def card_vectors(
        self, statuses: tuple[str, ...], skill_ids: Optional[set[str]] = None
    ) -> tuple[list[str], np.ndarray, list[tuple[int, str]]]:
        """Return ``(skill ids, card matrix, missing)``: card vectors of skills in
        ``statuses`` (only ``skill_ids``' if given), and ``(row, card text)`` for cards
        stored without a vector (zero rows; the caller embeds them)."""

    @abstractmethod
    def card_lexical_search(
        self, match: str, k: int, statuses: tuple[str, ...], weights: tuple[float, float, float, float, float]
    ) -> list[tuple[str, float]]:
        """Return up to ``k`` ``(skill id, score)`` full-text hits on skill cards, best first."""

    @abstractmethod
    def file_lexical_search(self, match: str, k: int, statuses: tuple[str, ...]) -> list[tuple[str, str, float]]:
        """Return up to ``k`` ``(skill id, path, score)`` full-text hits on bundled files."""
