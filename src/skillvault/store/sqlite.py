"""The SQLite store: skills, chunks, sqlite-vec vectors and FTS5 rows in one file.

All SQL of the embedded backend lives here. Every public write runs in one
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), so a skill lands with all its chunks,
vectors and FTS rows, or not at all.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Callable, Iterable, Iterator, Optional

import numpy as np

from ..errors import NotFoundError, SkillPermissionError, ValidationError
from ..models import Chunk, Skill, Status, check_transition, utc_now
from .base import PreparedChunk, Store, StoredChunk, file_by_dependency, requires_transaction
from .connection import DriverInfo, connect
from .db_errors import rollback, translate
from .guard import AGENT_ACTOR, GUARD_MESSAGE, install_reader_guard, install_writer_guard, is_guard_refusal
from .migrations import MIGRATIONS, migrate
from ..bundle import bundled_files
from .cards import card_fields
from .bulk import INSERT_CHUNK, SKILL_COLUMNS as _SKILL_COLUMNS, UPSERT_SKILL, BulkWrites, chunk_rows, skill_row
from .index_tracker import IndexTracker
from .side_read import SideRead
from .meta import read_meta, write_meta
from .records import ReviewRecords
from .search import SearchIndex
from .vector_cache import META_EPOCH
from .versioning import settle_version

_CHUNK_COLUMNS = "c.pk, c.id, c.skill_id, c.position, c.section, c.content, c.tokens, c.priority, c.required, c.dependencies"

META_EMBEDDER_NAME = "embedder_name"
META_EMBEDDER_DIM = "embedder_dim"
META_NULL_VECTORS = "null_vectors"
# vec0 stores vectors in blocks of chunk_size rows and rewrites a block per insert; its
# default (1024) makes an insert ~0.5 ms and a full read ~0.45 ms a row at 1536-d. 64 rows
# make both ~20x cheaper (measured); its own KNN scan is not used (see vector_index.py).
VEC0_CHUNK_SIZE = 64


class SQLiteStore(SearchIndex, ReviewRecords, BulkWrites, Store):
    """The :class:`~.base.Store` on SQLite with sqlite-vec and FTS5.

    Its parts: :class:`~.search.SearchIndex` (searching), :class:`~.records.ReviewRecords`
    (audit log, versions, usage) and :class:`~.bulk.BulkWrites` (batched writes) are
    mixins over this class's ``conn`` and :class:`~.index_tracker.IndexTracker`.

    Args:
        path: database file; created (with its folder) when missing.
        agent: open with agent rights: the connection is read-only at the SQLite level,
            and drafts and usage are written only through :meth:`draft_transaction` and
            :meth:`record_usage` on a private connection confined by
            :mod:`skillvault.store.guard`. The file must exist and be migrated already
            (a human opens it first).

    Raises:
        SkillPermissionError: in agent mode, if the file is missing or needs migrating.
    """

    def __init__(self, path: str, agent: bool = False, _draft_writer: bool = False):
        self.agent = agent
        self._is_draft_writer = _draft_writer
        if path != ":memory:":
            if agent and not os.path.exists(path):
                raise SkillPermissionError(
                    f"agent mode cannot create a library: {path!r} does not exist; create it in human mode first"
                )
            folder = os.path.dirname(os.path.abspath(path))
            if not agent and not os.path.isdir(folder):
                os.makedirs(folder, exist_ok=True)
        self.path = path
        self.conn, self.driver = connect(path, read_only=agent and not _draft_writer)
        self._sql = importlib.import_module(self.driver.module)  # sqlite3 or sqlean, for its exceptions
        self._lock = threading.RLock()
        self._tracker = IndexTracker(self, self._lock)
        self._side_read = SideRead("skillvault-words")
        self._depth = 0  # nesting of transaction(): 1 is the outermost, more are savepoints
        self._tx_thread: Optional[int] = None  # the thread inside transaction()
        self._writer: Optional[SQLiteStore] = None
        #: True when a human's library could only be opened read-only (queries work, writes raise).
        self.read_only = not agent and self.driver.access != "read-write" and path != ":memory:"
        if agent:
            self.schema_version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if self.schema_version != len(MIGRATIONS):
                self.conn.close()
                raise SkillPermissionError(
                    f"{path!r} has schema version {self.schema_version}, this skillvault needs "
                    f"{len(MIGRATIONS)}; open it once in human mode to upgrade it"
                )
            if _draft_writer:
                install_writer_guard(self.conn, self._sql)
            else:
                self._create_vocabulary()
                install_reader_guard(self.conn, self._sql)
        else:
            try:
                self.schema_version = migrate(self.conn, read_only=self.read_only)
            except BaseException:
                self.conn.close()
                raise
            self._create_vocabulary()

    def _create_vocabulary(self) -> None:
        # A per-connection view of the FTS index's terms with their document counts.
        self.conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunk_terms USING fts5vocab(main, chunk_fts, 'row')")

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        """Close the connection (and an agent's draft-writing connection)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._tracker.close()
        self._side_read.close()
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block in one write transaction; roll back on any exception.

        Nested blocks are savepoints: an inner block that raises undoes only its own
        writes and re-raises; the outermost block commits everything. SQLite's storage
        failures (disk full, I/O error, read-only file, lock held too long) at BEGIN, in
        the block or at COMMIT are raised as the clear errors of
        :func:`.db_errors.translate`; nothing of the transaction is kept then.

        Raises:
            SkillPermissionError: on an agent's store (use :meth:`draft_transaction`),
                or a read-only file.
        """
        if self.agent and not self._is_draft_writer:
            raise SkillPermissionError(f"{GUARD_MESSAGE} (this connection is read-only)")
        if self.read_only:
            raise self._read_only_error()
        with self._lock:
            with self._savepoint() if self._depth else self._outermost():
                yield

    def in_transaction(self) -> bool:
        """Return True inside :meth:`transaction` (in the calling thread)."""
        return self._tx_thread == threading.get_ident()

    @contextmanager
    def _outermost(self) -> Iterator[None]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except self._sql.Error as exc:
            self._raise_storage_error(exc)
        self._depth, self._tx_thread = 1, threading.get_ident()
        try:
            yield
            self._tracker.log_changes()
            self.conn.execute("COMMIT")
        except BaseException as exc:
            rollback(self.conn)  # SQLite may have rolled back already (e.g. after SQLITE_FULL)
            self._tracker.after_rollback()
            if self.agent and not isinstance(exc, SkillPermissionError) and is_guard_refusal(exc):
                raise SkillPermissionError(f"{GUARD_MESSAGE} ({exc})") from exc
            if isinstance(exc, self._sql.Error):
                self._raise_storage_error(exc)
            raise
        finally:
            self._depth, self._tx_thread = 0, None
        self._tracker.after_commit()

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        name = f"nested_{self._depth}"
        self.conn.execute(f"SAVEPOINT {name}")
        mark = self._tracker.mark()
        self._depth += 1
        try:
            yield
        except BaseException:
            self._tracker.rollback_to(mark)
            try:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
            except self._sql.Error:
                pass  # SQLite rolled the whole transaction back (e.g. disk full): the outermost block reports it
            raise
        else:
            self.conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    def _raise_storage_error(self, exc: Exception) -> None:
        """Raise the clear error for an SQLite failure at BEGIN, in a transaction or at
        COMMIT (disk full, I/O error, read-only, busy); re-raise ``exc`` for anything else."""
        clear = self._read_only_error() if "readonly" in str(exc) else translate(exc, self.path)
        if clear is None:
            raise exc
        raise clear from exc

    def _read_only_error(self) -> SkillPermissionError:
        return SkillPermissionError(
            f"{self.path!r} is read-only (a write-protected file or a read-only folder or mount); "
            "it can be queried but not changed: make it writable to change it"
        )

    @contextmanager
    def draft_transaction(self) -> Iterator["SQLiteStore"]:
        """A write transaction for drafts; yields the store to read and write with in it.

        In human mode that is this store. In agent mode it is a private connection that
        may only add or edit drafts written by agents (plus their audit rows and draft
        history), so reads that decide what to write (e.g. a free id) must go through
        the yielded store to see the transaction's own state.
        """
        target = self._draft_writer() if self.agent else self
        with target.transaction():
            yield target

    def _draft_writer(self) -> "SQLiteStore":
        if self._writer is None:
            writer = SQLiteStore(self.path, agent=True, _draft_writer=True)
            if writer.driver.access != "read-write":
                writer.close()
                raise SkillPermissionError(
                    f"{self.path!r} is read-only (a write-protected file or a read-only folder or mount); "
                    "agents can query it but not add drafts or usage"
                )
            self._writer = writer
        return self._writer

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run the block's reads in one read transaction: a consistent view of the library
        while other processes write (WAL readers see the state as of the first read)."""
        with self._lock:
            if self.conn.in_transaction:  # already inside a transaction: it is the snapshot
                yield
                return
            self.conn.execute("BEGIN")
            try:
                yield
            finally:
                self.conn.execute("COMMIT")

    def backup(self, dest: str, progress: Optional[Callable[[int, int], None]] = None) -> None:
        """Copy the whole library to ``dest`` with SQLite's online backup API.

        Safe while other processes write: the copy is one consistent state.

        Args:
            dest: the new database file (must not exist).
            progress: called as ``progress(pages_done, pages_total)``.
        """
        target = self._sql.connect(dest, isolation_level=None)
        try:
            def report(_status: int, remaining: int, total: int) -> None:
                if progress:
                    progress(total - remaining, total)

            with self._lock:
                self.conn.backup(target, pages=256, progress=report)
            target.execute("PRAGMA journal_mode = WAL")
            # A copy gets its own vector epoch: restored over the original later, it must
            # not be taken for the history a saved vector index was built from.
            target.execute("UPDATE meta SET value = lower(hex(randomblob(8))) WHERE key = ?", (META_EPOCH,))
        finally:
            target.close()

    def get_meta(self, key: str) -> Optional[str]:
        """Return the meta value stored under ``key`` or None."""
        return read_meta(self.conn, key)

    def set_meta(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` in the meta table (in a transaction of its own, or the caller's)."""
        with self.transaction():
            write_meta(self.conn, key, value)

    # ------------------------------------------------------------------ embedder record
    def embedder_record(self) -> tuple[Optional[str], Optional[int]]:
        """Return the ``(name, dim)`` of the embedder this database was built with."""
        values = dict(
            self.conn.execute(
                "SELECT key, value FROM meta WHERE key IN (?, ?)", (META_EMBEDDER_NAME, META_EMBEDDER_DIM)
            ).fetchall()
        )
        dim = values.get(META_EMBEDDER_DIM)
        return values.get(META_EMBEDDER_NAME), (int(dim) if dim else None)

    def record_embedder(self, name: str, dim: int) -> None:
        """Make ``name`` (``dim``-wide vectors) the library's embedder if none is recorded yet
        (an empty library), so that agents, who cannot change the schema, can add drafts."""
        with self.transaction():
            if self.embedder_record()[1] is None:
                self._ensure_vector_table(name, dim)

    def _ensure_vector_table(self, name: str, dim: int) -> None:
        recorded_name, recorded_dim = self.embedder_record()
        if recorded_dim is None:
            self._tracker.new_epoch()  # an index loaded before any vector existed has no width
            self.conn.execute(
                f"CREATE VIRTUAL TABLE chunk_vec USING vec0(embedding float[{int(dim)}] distance_metric=cosine, "
                f"chunk_size={VEC0_CHUNK_SIZE})"
            )
            write_meta(self.conn, META_EMBEDDER_DIM, str(int(dim)))
        if recorded_name != name:
            write_meta(self.conn, META_EMBEDDER_NAME, name)

    # ------------------------------------------------------------------ writes
    def save_skill(
        self, skill: Skill, prepared: list[PreparedChunk], embedder_name: str, actor: str = "human", action: str = "register"
    ) -> None:
        """Write ``skill`` with its chunks, vectors, FTS rows and an audit entry in one
        transaction (see :meth:`.Store.save_skill`). A dependency that names nothing yet is
        kept (see :meth:`unresolved_dependencies`)."""
        with self.transaction():
            self.write_skill(skill, prepared, embedder_name)
            self.add_audit(actor, action, skill.id, details={"version": skill.version})

    def save_skills(
        self, items: list[tuple[Skill, list[PreparedChunk]]], embedder_name: str, actor: str = "human", action: str = "import"
    ) -> None:
        """Write many skills in one transaction (all or none); see :meth:`save_skill`.

        Raises:
            ValidationError: the first skill the store refuses, its field located at
                ``skills[i]``; nothing is written then.
        """
        with self.transaction():
            self.write_skills(items, embedder_name, actor, action, strict=True)

    @requires_transaction
    def write_skill(self, skill: Skill, prepared: list[PreparedChunk], embedder_name: str, create: bool = False) -> None:
        """Insert or replace a skill inside the caller's transaction; see :meth:`save_skill`.

        Args:
            create: the id must be new (chosen inside this transaction); raises
                ValidationError if it exists.
        """
        if prepared:
            self._ensure_vector_table(embedder_name, int(prepared[0].vector.shape[0]))
        self._check_chunk_ownership(skill)
        previous = self.conn.execute("SELECT version, status, author FROM skills WHERE id = ?", (skill.id,)).fetchone()
        if previous is not None and create:
            raise ValidationError("skill.id", f"{skill.id!r} was taken by another writer; try again")
        kept = self.conn.execute("SELECT COALESCE(MAX(version), 0) FROM skill_versions WHERE skill_id = ?", (skill.id,)).fetchone()[0]
        settle_version(self, skill, previous, kept)
        # An agent's words stay marked as an agent's while they are a draft, whoever edits it next.
        is_draft = skill.status == Status.DRAFT
        tainted = previous is not None and previous[2] == AGENT_ACTOR and is_draft
        author = AGENT_ACTOR if self.agent or tainted else "human"
        touches_index = not is_draft or (previous is not None and previous[1] != Status.DRAFT)
        if previous is not None:
            self._delete_chunks_of(skill.id, previous[1])
        self.conn.execute(UPSERT_SKILL, skill_row(skill, utc_now().isoformat(), author))
        # Explicit keys let each table take its rows in one executemany.
        first_pk = self.conn.execute("SELECT COALESCE(MAX(pk), 0) + 1 FROM chunks").fetchone()[0]
        pks = list(range(first_pk, first_pk + len(prepared)))
        self.conn.executemany(INSERT_CHUNK, chunk_rows(skill.id, prepared, pks))
        vectors = [np.asarray(item.vector, dtype=np.float32) for item in prepared]
        if is_draft:
            self.conn.executemany(
                "INSERT INTO draft_vectors(chunk_pk, embedding) VALUES (?, ?)",
                [(pk, vector.tobytes()) for pk, vector in zip(pks, vectors)],
            )
        else:
            self._index_chunks(
                [(pk, skill.name, item.chunk.section, item.chunk.content, vector)
                 for pk, item, vector in zip(pks, prepared, vectors)]
            )
            self._index_card(skill, getattr(prepared, "card", None))
            self.save_versions([skill])
        if touches_index:  # drafts are not in the search indexes
            self._tracker.touched()

    def _index_chunks(self, rows: list[tuple[int, str, str, str, np.ndarray]]) -> None:
        """Add non-draft chunks ``(pk, skill name, section, content, vector)`` to the FTS and
        vector indexes (and, on commit, to the vector index cache)."""
        self.conn.executemany(
            "INSERT INTO chunk_fts(rowid, skill_name, section, content) VALUES (?,?,?,?)",
            [(pk, name, section, content) for pk, name, section, content, _vector in rows],
        )
        self.conn.executemany(
            "INSERT INTO chunk_vec(rowid, embedding) VALUES (?, ?)",
            [(pk, np.asarray(vector, dtype=np.float32).tobytes()) for pk, _n, _s, _c, vector in rows],
        )
        self._tracker.changed([row[0] for row in rows], "add")

    def _index_card(self, skill: Skill, card) -> None:
        """Write the card rows of a non-draft ``skill`` (its old ones are gone already).

        ``card`` is its :class:`~skillvault.store.cards.CardVector`, or None to store
        the card's words without a vector.
        """
        self._index_cards([(skill, card)])

    def _index_cards(self, items: list) -> None:
        """Write the card rows of many non-draft skills: ``(skill, card)`` pairs as for
        :meth:`_index_card`, one statement per table."""
        first_pk = self.conn.execute("SELECT COALESCE(MAX(pk), 0) + 1 FROM skill_cards").fetchone()[0]
        cards, words, files = [], [], []
        for pk, (skill, card) in enumerate(items, first_pk):
            fields = card_fields(skill)
            cards.append((pk, skill.id, None if card is None else card.embed_hash,
                          None if card is None else np.asarray(card.vector, dtype=np.float32).tobytes()))
            words.append((pk, fields.name, fields.description, fields.when_to_use, fields.sections, fields.body))
            files.extend((skill.id, path, text) for path, text in bundled_files(skill).items() if isinstance(text, str))
        self.conn.executemany("INSERT INTO skill_cards(pk, skill_id, embed_hash, embedding) VALUES (?, ?, ?, ?)", cards)
        self.conn.executemany(
            "INSERT INTO card_fts(rowid, name, description, when_to_use, sections, body) VALUES (?,?,?,?,?,?)", words
        )
        if files:
            self.conn.executemany("INSERT INTO file_fts(skill_id, path, content) VALUES (?,?,?)", files)

    def _delete_card(self, skill_id: str) -> None:
        self.conn.execute("DELETE FROM file_fts WHERE skill_id = ?", (skill_id,))
        row = self.conn.execute("SELECT pk FROM skill_cards WHERE skill_id = ?", (skill_id,)).fetchone()
        if row is not None:
            self.conn.execute("DELETE FROM card_fts WHERE rowid = ?", (row[0],))
            self.conn.execute("DELETE FROM skill_cards WHERE pk = ?", (row[0],))

    def _check_chunk_ownership(self, skill: Skill) -> None:
        ids = [chunk.id for chunk in skill.chunks]
        for batch in _batches(ids, 500):
            marks = ",".join("?" * len(batch))
            row = self.conn.execute(
                f"SELECT id, skill_id FROM chunks WHERE id IN ({marks}) AND skill_id != ? LIMIT 1",
                (*batch, skill.id),
            ).fetchone()
            if row:
                index = ids.index(row[0])
                raise ValidationError(
                    f"skill.chunks[{index}].id",
                    f"{row[0]!r} already belongs to skill {row[1]!r}; chunk ids are unique across skills",
                )

    def unresolved_dependencies(self) -> list[dict]:
        """Return the dependencies that name no chunk and no skill in the library.

        Dependencies may point forward (to a skill or chunk not registered yet): they are
        stored as written and resolve when the target arrives (query-time expansion skips
        ids that match nothing). This lists the ones still waiting.

        Returns:
            ``{"skill_id", "chunk_id", "dependency", "status"}`` dicts, ordered by skill
            and chunk position.
        """
        rows = self.conn.execute(
            """SELECT c.skill_id, c.id, c.dependencies, s.status FROM chunks c JOIN skills s ON s.id = c.skill_id
               WHERE c.dependencies != '[]' ORDER BY c.skill_id, c.position"""
        ).fetchall()
        wanted = {dep for row in rows for dep in json.loads(row[2])}
        known = self._existing_ids(wanted) if wanted else set()
        return [
            {"skill_id": skill_id, "chunk_id": chunk_id, "dependency": dep, "status": status}
            for skill_id, chunk_id, deps, status in rows
            for dep in json.loads(deps)
            if dep not in known
        ]

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Return those of ``ids`` that name a chunk or a skill (any status)."""
        return self._existing_ids(ids)

    def _existing_ids(self, ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for batch in _batches(list(ids), 400):
            marks = ",".join("?" * len(batch))
            found.update(
                row[0]
                for row in self.conn.execute(
                    f"SELECT id FROM chunks WHERE id IN ({marks}) UNION SELECT id FROM skills WHERE id IN ({marks})",
                    (*batch, *batch),
                )
            )
        return found

    def _delete_chunks_of(self, skill_id: str, status: str) -> None:
        indexed = status != Status.DRAFT  # drafts have no index rows (their vectors go with the chunks)
        if indexed:
            self._delete_card(skill_id)
        pks = [row[0] for row in self.conn.execute("SELECT pk FROM chunks WHERE skill_id = ?", (skill_id,))]
        if not pks:
            return
        if indexed:
            for batch in _batches(pks, 500):
                marks = ",".join("?" * len(batch))
                self.conn.execute(f"DELETE FROM chunk_fts WHERE rowid IN ({marks})", batch)
                self.conn.execute(f"DELETE FROM chunk_vec WHERE rowid IN ({marks})", batch)
            self._tracker.changed(pks, "remove")
        self.conn.execute("DELETE FROM chunks WHERE skill_id = ?", (skill_id,))

    @requires_transaction
    def change_status(self, skill_id: str, status: str, flags: Optional[list[str]] = None) -> None:
        """Change a skill's status (and optionally its review flags) inside the caller's transaction.

        Moving into or out of ``draft`` moves the chunk vectors between ``draft_vectors``
        and the search indexes (FTS5 + vec0).

        Raises:
            NotFoundError: if there is no such skill.
            ValidationError: if :data:`~skillvault.models.TRANSITIONS` does not allow the
                move; nothing changes.
        """
        row = self.conn.execute("SELECT status, name FROM skills WHERE id = ?", (skill_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no skill with id {skill_id!r}")
        old_status, name = row
        check_transition(old_status, status)
        self.conn.execute(
            "UPDATE skills SET status = ?, updated_at = ?, flags = COALESCE(?, flags) WHERE id = ?",
            (status, utc_now().isoformat(), None if flags is None else json.dumps(flags), skill_id),
        )
        if old_status == Status.DRAFT and status != Status.DRAFT:
            rows = self.conn.execute(
                """SELECT c.pk, c.section, c.content, d.embedding FROM chunks c
                   JOIN draft_vectors d ON d.chunk_pk = c.pk WHERE c.skill_id = ?""",
                (skill_id,),
            ).fetchall()
            self._index_chunks(
                [(pk, name, section, content, np.frombuffer(blob, dtype=np.float32)) for pk, section, content, blob in rows]
            )
            self.conn.executemany("DELETE FROM draft_vectors WHERE chunk_pk = ?", [(row[0],) for row in rows])
            self._delete_card(skill_id)
            self._index_card(self.get_skill(skill_id), None)
        elif old_status != Status.DRAFT and status == Status.DRAFT:
            for pk, blob in self.conn.execute(
                "SELECT v.rowid, v.embedding FROM chunk_vec v JOIN chunks c ON c.pk = v.rowid WHERE c.skill_id = ?",
                (skill_id,),
            ).fetchall():
                self.conn.execute("INSERT INTO draft_vectors(chunk_pk, embedding) VALUES (?, ?)", (pk, blob))
                self.conn.execute("DELETE FROM chunk_vec WHERE rowid = ?", (pk,))
                self.conn.execute("DELETE FROM chunk_fts WHERE rowid = ?", (pk,))
                self._tracker.changed([pk], "remove")
            self._delete_card(skill_id)
        elif old_status != status:
            pks = [row[0] for row in self.conn.execute("SELECT pk FROM chunks WHERE skill_id = ?", (skill_id,))]
            self._tracker.changed(pks, "set_status")
        if old_status != status:
            self._tracker.touched()

    def replace_all_vectors(
        self, embedder_name: str, vectors: dict[int, np.ndarray], hashes: dict[int, str], cards: Optional[dict] = None
    ) -> None:
        """Swap every chunk vector for a new embedder's (reindex), in one transaction.

        Args:
            embedder_name: the new embedder, recorded with its width.
            vectors: chunk pk → unit float32 vector, one for every chunk.
            hashes: chunk pk → new embedding hash.
            cards: skill id → :class:`~skillvault.store.cards.CardVector` for the cards of
                non-draft skills (cards left out lose their vector).
        """
        dim = next(iter(vectors.values())).shape[0] if vectors else None
        with self.transaction():
            self.conn.execute("DROP TABLE IF EXISTS chunk_vec")
            self.conn.execute(
                "DELETE FROM meta WHERE key IN (?, ?, ?)", (META_EMBEDDER_DIM, META_EMBEDDER_NAME, META_NULL_VECTORS)
            )
            if dim is None:
                write_meta(self.conn, META_EMBEDDER_NAME, embedder_name)
            else:
                self._ensure_vector_table(embedder_name, dim)
                self.conn.execute("DELETE FROM draft_vectors")
                draft_pks = {
                    row[0]
                    for row in self.conn.execute(
                        "SELECT c.pk FROM chunks c JOIN skills s ON s.id = c.skill_id WHERE s.status = 'draft'"
                    )
                }
                for pk, vector in vectors.items():
                    table = "draft_vectors(chunk_pk, embedding)" if pk in draft_pks else "chunk_vec(rowid, embedding)"
                    self.conn.execute(f"INSERT INTO {table} VALUES (?, ?)", (pk, vector.astype(np.float32).tobytes()))
                self.conn.executemany(
                    "UPDATE chunks SET embed_hash = ? WHERE pk = ?", ((h, pk) for pk, h in hashes.items())
                )
            self.conn.execute("UPDATE skill_cards SET embed_hash = NULL, embedding = NULL")
            self.conn.executemany(
                "UPDATE skill_cards SET embed_hash = ?, embedding = ? WHERE skill_id = ?",
                [(card.embed_hash, np.asarray(card.vector, dtype=np.float32).tobytes(), skill_id)
                 for skill_id, card in (cards or {}).items()],
            )
            self._tracker.new_epoch()  # every vector changed: saved indexes are stale
            self._tracker.touched()

    # ------------------------------------------------------------------ reads
    def existing_vectors(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Return stored vectors for those embedding hashes that are already in the DB
        (with chunks, cards or drafts, or in the embedding cache of an unfinished import)."""
        found: dict[str, np.ndarray] = {}
        hashes = list(set(hashes))
        for batch in _batches(hashes, 400):
            marks = ",".join("?" * len(batch))
            for embed_hash, blob in self.conn.execute(
                f"SELECT embed_hash, embedding FROM embedding_cache WHERE embed_hash IN ({marks})", batch
            ):
                found[embed_hash] = np.frombuffer(blob, dtype=np.float32)
        if self.embedder_record()[1] is None:
            return found
        for batch in _batches(hashes, 400):
            marks = ",".join("?" * len(batch))
            for embed_hash, blob in self.conn.execute(
                f"""SELECT c.embed_hash, v.embedding FROM chunks c JOIN chunk_vec v ON v.rowid = c.pk
                    WHERE c.embed_hash IN ({marks})
                    UNION ALL
                    SELECT embed_hash, embedding FROM skill_cards WHERE embed_hash IN ({marks})
                    AND embedding IS NOT NULL
                    UNION ALL
                    SELECT c.embed_hash, d.embedding FROM chunks c JOIN draft_vectors d ON d.chunk_pk = c.pk
                    WHERE c.embed_hash IN ({marks})""",
                (*batch, *batch, *batch),
            ):
                found[embed_hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def cache_vectors(self, items: list[tuple[str, np.ndarray]]) -> None:
        """Keep vectors an import has embedded but not written yet (see :meth:`existing_vectors`)."""
        now = time.time()
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO embedding_cache(embed_hash, embedding, created_at) VALUES (?,?,?)",
                [(embed_hash, np.asarray(vector, dtype=np.float32).tobytes(), now) for embed_hash, vector in items],
            )

    def drop_cached_vectors(self, hashes: Optional[Iterable[str]] = None, older_than: Optional[float] = None) -> int:
        """Forget cached vectors: those of ``hashes``, or those cached before ``older_than``
        (a ``time.time()`` value). Returns how many rows were removed."""
        with self.transaction():
            if hashes is not None:
                return sum(
                    self.conn.execute(
                        f"DELETE FROM embedding_cache WHERE embed_hash IN ({','.join('?' * len(batch))})", batch
                    ).rowcount
                    for batch in _batches(list(set(hashes)), 400)
                )
            return self.conn.execute("DELETE FROM embedding_cache WHERE created_at < ?", (older_than or 0.0,)).rowcount

    def get_skill(self, skill_id: str) -> Optional[Skill]:
        """Return the skill with its chunks (in order), or None; read from one snapshot."""
        with self.snapshot():
            row = self.conn.execute(f"SELECT {_SKILL_COLUMNS} FROM skills WHERE id = ?", (skill_id,)).fetchone()
            if row is None:
                return None
            return self._skills_from_rows([row])[0]

    def list_skills(self, status: Optional[str] = None, source: Optional[str] = None) -> list[Skill]:
        """Return skills (with chunks), filtered by status and/or source, oldest first (one snapshot)."""
        sql = f"SELECT {_SKILL_COLUMNS} FROM skills WHERE 1=1"
        params: list[str] = []
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        if source is not None:
            sql += " AND source = ?"
            params.append(source)
        with self.snapshot():
            rows = self.conn.execute(sql + " ORDER BY created_at, id", params).fetchall()
            return self._skills_from_rows(rows)

    def skill_names(self, status: str) -> list[tuple[str, str]]:
        """Return ``(id, name)`` of every skill in ``status`` (no chunks loaded)."""
        return self.conn.execute("SELECT id, name FROM skills WHERE status = ? ORDER BY id", (status,)).fetchall()

    def _skills_from_rows(self, rows: list[tuple]) -> list[Skill]:
        chunks_by_skill: dict[str, list[Chunk]] = {row[0]: [] for row in rows}
        for batch in _batches(list(chunks_by_skill), 400):
            marks = ",".join("?" * len(batch))
            for stored in self._chunk_rows(f"c.skill_id IN ({marks})", batch):
                chunks_by_skill[stored.chunk.skill_id].append(stored.chunk)
        return [
            Skill(
                id=row[0], name=row[1], source=row[2], status=row[3], chunks=chunks_by_skill[row[0]],
                confidence=row[4], extracted_from=row[5], description=row[6], tags=json.loads(row[7]),
                version=row[8], revises=row[9], metadata=json.loads(row[10]),
                created_at=datetime.fromisoformat(row[11]), flags=json.loads(row[13]),
            )
            for row in rows
        ]

    def _chunk_rows(self, where: str, params: Iterable) -> list[StoredChunk]:
        rows = self.conn.execute(
            # CROSS JOIN keeps chunks as the outer loop: the conditions select few chunks,
            # while a status condition tempts the planner to walk every skill first.
            f"""SELECT {_CHUNK_COLUMNS}, s.name FROM chunks c CROSS JOIN skills s ON s.id = c.skill_id
                WHERE {where} ORDER BY c.skill_id, c.position""",
            list(params),
        ).fetchall()
        return [
            StoredChunk(
                pk=row[0],
                chunk=Chunk(
                    id=row[1], skill_id=row[2], section=row[4], content=row[5], tokens=row[6],
                    priority=row[7], required=bool(row[8]), dependencies=json.loads(row[9]),
                ),
                position=row[3],
                skill_name=row[10],
            )
            for row in rows
        ]

    def chunks_by_pk(self, pks: list[int]) -> dict[int, StoredChunk]:
        """Return the chunks with these primary keys."""
        found: dict[int, StoredChunk] = {}
        for batch in _batches(pks, 500):
            marks = ",".join("?" * len(batch))
            found.update((s.pk, s) for s in self._chunk_rows(f"c.pk IN ({marks})", batch))
        return found

    def resolve_dependencies(self, ids: list[str], statuses: tuple[str, ...]) -> dict[str, list[StoredChunk]]:
        """Map each dependency id to the chunks it stands for.

        A chunk id stands for that chunk; a skill id for all of that skill's chunks (in
        section order). Only chunks of skills in ``statuses`` are returned; ids that
        match nothing map to an empty list.
        """
        result: dict[str, list[StoredChunk]] = {dep: [] for dep in ids}
        status_marks = ",".join("?" * len(statuses))
        for batch in _batches(list(result), 400):
            marks = ",".join("?" * len(batch))
            # Two indexed lookups; an OR across both columns would scan every chunk.
            file_by_dependency(result, self._chunk_rows(
                f"""c.pk IN (SELECT pk FROM chunks WHERE id IN ({marks})
                             UNION SELECT pk FROM chunks WHERE skill_id IN ({marks}))
                    AND s.status IN ({status_marks})""",
                (*batch, *batch, *statuses),
            ))
        return result

    def all_chunk_pks(self) -> list[int]:
        """Return the primary keys of every chunk."""
        return [row[0] for row in self.conn.execute("SELECT pk FROM chunks ORDER BY pk")]

    def required_chunks(self, skill_ids: list[str]) -> list[StoredChunk]:
        """Return the ``required`` chunks of these skills, in section order."""
        found: list[StoredChunk] = []
        for batch in _batches(skill_ids, 500):
            marks = ",".join("?" * len(batch))
            found.extend(self._chunk_rows(f"c.required = 1 AND c.skill_id IN ({marks})", batch))
        return found

    @requires_transaction
    def delete_skill(self, skill_id: str) -> None:
        """Delete a skill and its chunks and index rows (inside a transaction)."""
        row = self.conn.execute("SELECT status FROM skills WHERE id = ?", (skill_id,)).fetchone()
        if row is not None:
            self._delete_chunks_of(skill_id, row[0])
        self.conn.execute("DELETE FROM skills WHERE id = ?", (skill_id,))
        self._tracker.touched()

    def is_agent_draft(self, skill_id: str) -> bool:
        """Return True if ``skill_id`` is a draft whose content an agent wrote (or edited)."""
        row = self.conn.execute("SELECT status, author FROM skills WHERE id = ?", (skill_id,)).fetchone()
        return row is not None and row[0] == Status.DRAFT and row[1] == AGENT_ACTOR

    # ------------------------------------------------------------------ stats
    def counts(self) -> dict:
        """Return row counts: skills by status and source, chunks, tokens."""
        by_status = dict(self.conn.execute("SELECT status, COUNT(*) FROM skills GROUP BY status").fetchall())
        by_source = dict(self.conn.execute("SELECT source, COUNT(*) FROM skills GROUP BY source").fetchall())
        chunks, tokens = self.conn.execute("SELECT COUNT(*), COALESCE(SUM(tokens), 0) FROM chunks").fetchone()
        return {"by_status": by_status, "by_source": by_source, "chunks": chunks, "tokens": tokens}

    def size_bytes(self) -> int:
        """Return the size of the database file plus its WAL, in bytes."""
        if self.path == ":memory:":
            page_count = self.conn.execute("PRAGMA page_count").fetchone()[0]
            page_size = self.conn.execute("PRAGMA page_size").fetchone()[0]
            return page_count * page_size
        return sum(os.path.getsize(p) for p in (self.path, self.path + "-wal") if os.path.exists(p))

    def integrity_check(self) -> list[str]:
        """Run SQLite's integrity check; returns its messages (``["ok"]`` when sound)."""
        return [row[0] for row in self.conn.execute("PRAGMA integrity_check")]

    def driver_info(self) -> DriverInfo:
        """Return which SQLite module and extension versions are in use."""
        return self.driver


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

