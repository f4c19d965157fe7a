"""The PostgreSQL store: the same public behaviour as :class:`~skillvault.store.sqlite.SQLiteStore`.

Every public write runs in one transaction that first takes :data:`WRITE_LOCK_KEY`
(a transaction-level advisory lock), so writers on any number of machines are serialised
the way SQLite's ``BEGIN IMMEDIATE`` serialises them: an id found free is still free
when it is written, a draft approved twice at once becomes one version (the second
approval finds no draft), and nothing is lost. Usage counts alone skip the lock: each
is one upsert, which cannot lose a race, and a query counts the skills it served, so
queries would otherwise queue behind every register. Readers never wait (MVCC). Nested
transactions are savepoints.

Humans connect as the tables' owner; agents as an agent role (``skillvault init
--postgres ... --agent-role NAME``), whose rights the server enforces with grants and
row-level security (see :mod:`.roles`). A store opened in agent mode refuses a login
that is not bound by those policies.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from contextlib import contextmanager
from typing import ContextManager, Iterator, Optional

import numpy as np

from ...errors import DatabaseFileError, NotFoundError, SkillPermissionError, ValidationError
from ...models import Skill, Status, check_transition, utc_now
from ..base import Store, requires_transaction
from ...bundle import bundled_files
from ..cards import card_fields
from ..bulk import BulkWrites
from ..connection import DriverInfo
from ..guard import AGENT_ACTOR, GUARD_MESSAGE
from .connection import connect
from .errors import describe, translate
from .migrations import MIGRATIONS, applied_version, migrate
from .reads import PgReads
from .records import PgRecords
from .searching import META_INDEX_GENERATION, PgSearch
from ..versioning import settle_version
from .vectors import META_EMBEDDER_DIM, META_EMBEDDER_NAME, drop_vector_indexes, ensure_vector_columns, vector_layout

_log = logging.getLogger("skillvault")
#: Advisory lock held by every write transaction (see the module docstring).
WRITE_LOCK_KEY = 0x736B_696C_6C77  # "skillw"
META_NULL_VECTORS = "null_vectors"
_SKILL_COLUMNS = ("id, name, source, status, confidence, extracted_from, description, tags, version, revises, "
                  "metadata, created_at, updated_at, flags, author")
_UPSERT_SKILL = f"""INSERT INTO skills ({_SKILL_COLUMNS}) VALUES ({",".join(["%s"] * 15)})
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, source = excluded.source, status = excluded.status,
      confidence = excluded.confidence, extracted_from = excluded.extracted_from,
      description = excluded.description, tags = excluded.tags, version = excluded.version,
      revises = excluded.revises, metadata = excluded.metadata, created_at = excluded.created_at,
      updated_at = excluded.updated_at, flags = excluded.flags, author = excluded.author"""
_INSERT_CHUNK = """INSERT INTO chunks (id, skill_id, position, section, content, tokens, priority, required,
    dependencies, embed_hash, skill_name) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING pk"""


class PostgresStore(PgSearch, PgReads, PgRecords, Store):
    """Persistence for skills on PostgreSQL with pgvector.

    Args:
        url: ``postgresql://user:password@host:port/db``: the owner role's URL for
            humans, an agent role's URL for agents.
        agent: open with agent rights. The schema must be migrated already (a human
            opens the library first), and the login must be bound by row-level
            security (not the tables' owner, a superuser or a BYPASSRLS role).

    Raises:
        DatabaseFileError, StorageIOError, SkillPermissionError, ExtensionError: as
            :func:`~.connection.connect` raises them.
        SkillPermissionError: in agent mode, for an unmigrated database or an owner's login.
    """

    backend = "postgresql"
    # ts_rank_cd scores a matching chunk in ~3 us where FTS5's bm25 takes a fraction of that:
    # 10,000 postings cost a 100k-chunk query ~30 ms, so fewer of the commoner words are searched.
    word_postings_budget = 2_500

    def __init__(self, url: str, agent: bool = False):
        self.url = url
        self.path = describe(url)  # shown in messages: never the password
        self.agent = agent
        self.read_only = False
        self._is_draft_writer = False
        self._lock = threading.RLock()
        self._in_draft = False
        self._write_depth = 0
        self._tx_thread: Optional[int] = None
        self.conn = connect(url, register=False)
        _dump_statuses_as_text(self.conn)
        try:
            self._open(agent)
        except BaseException:
            self.conn.close()
            raise

    def _open(self, agent: bool) -> None:
        from pgvector.psycopg import register_vector

        if agent:
            self.schema_version = applied_version(self.conn)
            if self.schema_version == 0:
                raise SkillPermissionError(f"agent mode cannot create a library: {self.path} holds none; create it "
                                           "in human mode first (with the owner role's URL)")
            if self.schema_version != len(MIGRATIONS):
                raise SkillPermissionError(
                    f"{self.path} has schema version {self.schema_version}, this skillvault needs "
                    f"{len(MIGRATIONS)}; open it once in human mode (the owner role's URL) to set it up"
                )
            self._check_agent_login()
        else:
            self.schema_version = migrate(self.conn)
        register_vector(self.conn)

    def _check_agent_login(self) -> None:
        owner, bypasses = self.conn.execute(
            """SELECT pg_get_userbyid(c.relowner) = current_user, r.rolsuper OR r.rolbypassrls
               FROM pg_class c, pg_roles r WHERE c.oid = 'skills'::regclass AND r.rolname = current_user"""
        ).fetchone()
        if owner or bypasses:
            raise SkillPermissionError(
                f"agent mode needs an agent role's URL, but {self.path} logs in as a role that row-level security "
                "does not bind (the tables' owner, a superuser or BYPASSRLS); create one with "
                "`skillvault init --postgres URL --agent-role NAME` and give agents its URL"
            )

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block in one write transaction (a savepoint when nested); roll back on
        any exception. The outermost one waits for :data:`WRITE_LOCK_KEY`.

        Raises:
            SkillPermissionError: on an agent's store outside :meth:`draft_transaction`,
                or when the server refuses a change (row-level security, grants).
            DatabaseBusyError, StorageFullError, StorageIOError: see :func:`.errors.translate`.
        """
        with self._write(serialised=True):
            yield

    @contextmanager
    def _write(self, serialised: bool) -> Iterator[None]:
        """A write transaction; ``serialised`` ones (outermost) first wait for :data:`WRITE_LOCK_KEY`.
        Unserialised ones suit single-statement upserts that cannot lose a race."""
        if self.agent and not self._in_draft:
            raise SkillPermissionError(f"{GUARD_MESSAGE} (use draft_transaction)")
        import psycopg

        with self._lock:
            try:
                with self.conn.transaction():
                    if not self._write_depth:  # the outermost write (possibly inside a snapshot)
                        if serialised:
                            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
                        self._tx_thread = threading.get_ident()
                    self._write_depth += 1
                    try:
                        yield
                    finally:
                        self._write_depth -= 1
            except psycopg.Error as exc:
                clear = translate(exc, self.url)
                if clear is None:
                    raise
                raise clear from exc

    def in_transaction(self) -> bool:
        """Return True inside this store's :meth:`transaction` (in the calling thread)."""
        return self._write_depth > 0 and self._tx_thread == threading.get_ident()

    @contextmanager
    def draft_transaction(self) -> Iterator["PostgresStore"]:
        """A write transaction for drafts; yields this store (the server confines an agent's login)."""
        with self._draft_write(serialised=True):
            yield self

    def _counting(self) -> ContextManager[None]:
        """A write transaction for usage counts (agents may count too), not serialised with
        other writers: the counts are single-statement upserts."""
        return self._draft_write(serialised=False)

    @contextmanager
    def _draft_write(self, serialised: bool) -> Iterator[None]:
        with self._lock:
            was, self._in_draft = self._in_draft, True
            try:
                with self._write(serialised):
                    yield
            finally:
                self._in_draft = was

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run the block's reads in one repeatable-read transaction (a consistent view)."""
        import psycopg

        with self._lock:
            if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                yield
                return
            with self.conn.transaction():
                self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                yield

    def backup(self, dest: str, progress=None) -> None:
        """Copy the whole library into a new SQLite file ``dest`` (see :mod:`skillvault.copying`)."""
        from ...copying import copy_library

        if os.path.exists(dest):
            raise DatabaseFileError(f"{dest!r} exists; back up to a new file")
        copy_library(self.url, dest, progress=progress)

    def get_meta(self, key: str) -> Optional[str]:
        """Return the meta value stored under ``key`` or None."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` in the meta table, in its own transaction."""
        with self.transaction():
            self._set_meta(key, value)

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES (%s, %s) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def _bump_generation(self) -> None:
        """Mark cached card vectors and counts stale for every connection (inside the write)."""
        if not self.agent:  # agents write drafts only, which no cache holds
            self._set_meta(META_INDEX_GENERATION, os.urandom(8).hex())

    # ------------------------------------------------------------------ embedder record
    def embedder_record(self) -> tuple[Optional[str], Optional[int]]:
        """Return the ``(name, dim)`` of the embedder this database was built with."""
        values = dict(self.conn.execute("SELECT key, value FROM meta WHERE key IN (%s, %s)",
                                        (META_EMBEDDER_NAME, META_EMBEDDER_DIM)).fetchall())
        dim = values.get(META_EMBEDDER_DIM)
        return values.get(META_EMBEDDER_NAME), (int(dim) if dim else None)

    def record_embedder(self, name: str, dim: int) -> None:
        """Make ``name`` (``dim``-wide vectors) the library's embedder if none is recorded yet."""
        with self.transaction():
            if self.embedder_record()[1] is None:
                self._ensure_vector_table(name, dim)

    def _ensure_vector_table(self, name: str, dim: int) -> None:
        ensure_vector_columns(self.conn, int(dim), name)
        self.forget_layout()
        if not self.agent and self.embedder_record()[0] != name:
            self._set_meta(META_EMBEDDER_NAME, name)

    # ------------------------------------------------------------------ writes
    def save_skill(self, skill: Skill, prepared: list, embedder_name: str, actor: str = "human",
                   action: str = "register") -> None:
        """Insert or replace ``skill`` with its chunks, vectors and card, and an audit entry, atomically.

        Raises:
            ValidationError: if a chunk id belongs to another skill (nothing is written).
        """
        with self.transaction():
            self._write_skill(skill, prepared, embedder_name)
            self.add_audit(actor, action, skill.id, details={"version": skill.version})

    def save_skills(self, items: list, embedder_name: str, actor: str = "human", action: str = "import") -> None:
        """Write many skills in one transaction (all or none); see :meth:`save_skill`.

        Raises:
            ValidationError: the first skill refused, its field located at ``skills[i]``.
        """
        with self.transaction():
            self.write_skills(items, embedder_name, actor, action, strict=True)
        self.refresh_statistics(sum(len(prepared) for _skill, prepared in items))

    # Batching is the same on both backends: a transaction per batch, write_skills inside.
    save_skills_batched = BulkWrites.save_skills_batched

    def refresh_statistics(self, chunks_written: int) -> None:
        """``ANALYZE`` the searched tables when ``chunks_written`` is a fifth or more of what the
        planner last counted (or it never counted): with a freshly filled table's default
        estimates the planner scans every vector instead of walking the HNSW index (measured:
        a 20k-chunk query 24 ms before, 16 ms after). Autovacuum would get there, a minute later."""
        if self.agent or not chunks_written:
            return
        counted = self.conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'chunks'::regclass").fetchone()[0]
        if counted < 0 or chunks_written >= 0.2 * counted:
            import psycopg

            try:
                with self._lock, self.conn.transaction():
                    self.conn.execute("ANALYZE skills, chunks, chunk_vectors, skill_cards")
            except psycopg.Error as exc:  # the write is committed; only planning is worse until autovacuum
                _log.warning("skillvault could not refresh the planner's statistics of %s after a bulk write "
                             "(%s); queries may be slow until autovacuum analyzes the tables",
                             self.path, translate(exc, self.url) or exc)

    @requires_transaction
    def write_skills(self, items: list, embedder_name: str, actor: str, action: str, offset: int = 0,
                     strict: bool = False) -> dict[int, ValidationError]:
        """Write ``(skill, prepared)`` pairs inside the caller's transaction, each in a savepoint.

        Returns:
            ``{offset + index: the ValidationError}`` for the skills not written.

        Raises:
            ValidationError: with ``strict``, the first refusal, located at ``skills[i]``.
        """
        refused: dict[int, ValidationError] = {}
        for index, (skill, prepared) in enumerate(items):
            try:
                with self.conn.transaction():
                    self._write_skill(skill, prepared, embedder_name)
                    self.add_audit(actor, action, skill.id, details={"version": skill.version})
            except ValidationError as exc:
                if strict:
                    raise exc.within(f"skills[{offset + index}]")
                refused[offset + index] = exc
        return refused

    @requires_transaction
    def write_skill(self, skill: Skill, prepared: list, embedder_name: str, create: bool = False) -> None:
        """Insert or replace a skill inside the caller's transaction; see :meth:`save_skill`.

        Args:
            create: the id must be new; raises ValidationError if it exists.
        """
        self._write_skill(skill, prepared, embedder_name, create)

    def _write_skill(self, skill: Skill, prepared: list, embedder_name: str, create: bool = False) -> None:
        if prepared:
            self._ensure_vector_table(embedder_name, int(prepared[0].vector.shape[0]))
        self._check_chunk_ownership(skill)
        previous = self.conn.execute("SELECT version, status, author FROM skills WHERE id = %s FOR UPDATE",
                                     (skill.id,)).fetchone()
        if previous is not None and create:
            raise ValidationError("skill.id", f"{skill.id!r} was taken by another writer; try again")
        kept = self.conn.execute("SELECT COALESCE(MAX(version), 0) FROM skill_versions WHERE skill_id = %s",
                                 (skill.id,)).fetchone()[0]
        settle_version(self, skill, previous, kept)
        tainted = previous is not None and previous[2] == AGENT_ACTOR and skill.status == Status.DRAFT
        author = AGENT_ACTOR if self.agent or tainted else "human"
        if previous is not None:
            self._delete_chunks_of(skill.id, previous[1])
        now = utc_now().isoformat()
        self.conn.execute(_UPSERT_SKILL, (
            skill.id, skill.name, skill.source, skill.status, float(skill.confidence), skill.extracted_from,
            skill.description, json.dumps(skill.tags), skill.version, skill.revises, json.dumps(skill.metadata),
            skill.created_at.isoformat(), now, json.dumps(skill.flags), author))
        pks = self._insert_chunks(skill, prepared)
        table = "draft_vectors" if skill.status == Status.DRAFT else "chunk_vectors"
        self.conn.cursor().executemany(
            f"INSERT INTO {table}(chunk_pk, embedding) VALUES (%s, %s)",
            [(pk, np.asarray(item.vector, dtype=np.float32)) for pk, item in zip(pks, prepared)])
        if skill.status != Status.DRAFT:
            self._index_card(skill, getattr(prepared, "card", None))
            self.save_versions([skill])
        if skill.status != Status.DRAFT or (previous is not None and previous[1] != Status.DRAFT):
            self._bump_generation()

    def _insert_chunks(self, skill: Skill, prepared: list) -> list[int]:
        if not prepared:
            return []
        cursor = self.conn.cursor()
        cursor.executemany(_INSERT_CHUNK, [
            (item.chunk.id, skill.id, position, item.chunk.section, item.chunk.content, item.chunk.tokens,
             item.chunk.priority, bool(item.chunk.required), list(item.chunk.dependencies), item.embed_hash,
             skill.name)
            for position, item in enumerate(prepared)], returning=True)
        pks = []
        while True:
            pks.append(cursor.fetchone()[0])
            if not cursor.nextset():
                return pks

    def _index_card(self, skill: Skill, card) -> None:
        """Write the card and bundled-file rows of a non-draft ``skill`` (its old ones are gone)."""
        self._index_card_row(*card_rows(skill, card))

    def _index_card_row(self, row: tuple, files: list[tuple]) -> None:
        """Insert one card row and its files' rows, as :func:`card_rows` makes them."""
        self.conn.execute("""INSERT INTO skill_cards(skill_id, embed_hash, embedding, name, description, when_to_use,
                             sections, body) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)""", row)
        if files:
            self.conn.cursor().executemany("INSERT INTO skill_files(skill_id, path, content) VALUES (%s,%s,%s) "
                                           "ON CONFLICT DO NOTHING", files)

    def _delete_card(self, skill_id: str) -> None:
        self.conn.execute("DELETE FROM skill_files WHERE skill_id = %s", (skill_id,))
        self.conn.execute("DELETE FROM skill_cards WHERE skill_id = %s", (skill_id,))

    def _check_chunk_ownership(self, skill: Skill) -> None:
        ids = [chunk.id for chunk in skill.chunks]
        row = self.conn.execute("SELECT id, skill_id FROM chunks WHERE id = ANY(%s) AND skill_id <> %s LIMIT 1",
                                (ids, skill.id)).fetchone()
        if row:
            raise ValidationError(f"skill.chunks[{ids.index(row[0])}].id",
                                  f"{row[0]!r} already belongs to skill {row[1]!r}; chunk ids are unique across skills")

    def _delete_chunks_of(self, skill_id: str, status: str) -> None:
        if status != Status.DRAFT:
            self._delete_card(skill_id)
        self.conn.execute("DELETE FROM chunks WHERE skill_id = %s", (skill_id,))  # vectors go with them

    @requires_transaction
    def delete_skill(self, skill_id: str) -> None:
        """Delete a skill and its chunks, vectors and card (inside a transaction)."""
        row = self.conn.execute("SELECT status FROM skills WHERE id = %s FOR UPDATE", (skill_id,)).fetchone()
        if row is not None:
            self._delete_chunks_of(skill_id, row[0])
        self.conn.execute("DELETE FROM skills WHERE id = %s", (skill_id,))
        self._bump_generation()

    @requires_transaction
    def change_status(self, skill_id: str, status: str, flags: Optional[list[str]] = None) -> None:
        """Change a skill's status (and optionally its review flags) inside the caller's transaction.

        Into or out of ``draft``, the chunk vectors move between ``draft_vectors`` and the
        searched ``chunk_vectors`` (and the card is written or removed).

        Raises:
            NotFoundError: if there is no such skill.
            ValidationError: if :data:`~skillvault.models.TRANSITIONS` does not allow the move.
        """
        row = self.conn.execute("SELECT status FROM skills WHERE id = %s FOR UPDATE", (skill_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no skill with id {skill_id!r}")
        old_status = row[0]
        check_transition(old_status, status)
        self.conn.execute("UPDATE skills SET status = %s, updated_at = %s, flags = COALESCE(%s, flags) WHERE id = %s",
                          (status, utc_now().isoformat(), None if flags is None else json.dumps(flags), skill_id))
        if (old_status == Status.DRAFT) != (status == Status.DRAFT):
            source, target = ("draft_vectors", "chunk_vectors") if old_status == Status.DRAFT else (
                "chunk_vectors", "draft_vectors")
            self.conn.execute(f"""WITH moved AS (DELETE FROM {source} v USING chunks c
                                    WHERE c.pk = v.chunk_pk AND c.skill_id = %s RETURNING v.chunk_pk, v.embedding)
                                  INSERT INTO {target}(chunk_pk, embedding) SELECT chunk_pk, embedding FROM moved""",
                              (skill_id,))
            self._delete_card(skill_id)
            if status != Status.DRAFT:
                self._index_card(self.get_skill(skill_id), None)
        if old_status != status:
            self._bump_generation()

    def replace_all_vectors(self, embedder_name: str, vectors: dict, hashes: dict, cards: Optional[dict] = None) -> None:
        """Swap every chunk vector for a new embedder's (reindex), in one transaction; a new
        width re-types the vector columns and rebuilds the HNSW indexes."""
        dim = next(iter(vectors.values())).shape[0] if vectors else None
        self.forget_layout()
        with self.transaction():
            layout = vector_layout(self.conn)
            self.conn.execute("DELETE FROM meta WHERE key IN (%s, %s)", (META_EMBEDDER_NAME, META_NULL_VECTORS))
            if dim is not None and layout is not None and layout.dim != dim:
                for table in ("chunk_vectors", "draft_vectors", "embedding_cache"):
                    self.conn.execute(f"DELETE FROM {table}")
                self.conn.execute("UPDATE skill_cards SET embedding = NULL, embed_hash = NULL")
                drop_vector_indexes(self.conn)
                self.conn.execute("DELETE FROM meta WHERE key = %s", (META_EMBEDDER_DIM,))
            if dim is None:
                self._set_meta(META_EMBEDDER_NAME, embedder_name)
            else:
                self._ensure_vector_table(embedder_name, int(dim))
                drafts = {row[0] for row in self.conn.execute(
                    "SELECT c.pk FROM chunks c JOIN skills s ON s.id = c.skill_id WHERE s.status = 'draft'")}
                self.conn.execute("DELETE FROM draft_vectors")
                self.conn.execute("DELETE FROM chunk_vectors")
                cursor = self.conn.cursor()
                for table, wanted in (("draft_vectors", True), ("chunk_vectors", False)):
                    cursor.executemany(f"INSERT INTO {table}(chunk_pk, embedding) VALUES (%s, %s)",
                                       [(pk, np.asarray(v, dtype=np.float32)) for pk, v in vectors.items()
                                        if (pk in drafts) == wanted])
                cursor.executemany("UPDATE chunks SET embed_hash = %s WHERE pk = %s",
                                   [(h, pk) for pk, h in hashes.items()])
            self.conn.execute("UPDATE skill_cards SET embed_hash = NULL, embedding = NULL")
            self.conn.cursor().executemany(
                "UPDATE skill_cards SET embed_hash = %s, embedding = %s WHERE skill_id = %s",
                [(card.embed_hash, np.asarray(card.vector, dtype=np.float32), skill_id)
                 for skill_id, card in (cards or {}).items()])
            self._bump_generation()

    def cache_vectors(self, items: list) -> None:
        """Keep vectors an import has embedded but not written yet (see :meth:`existing_vectors`)."""
        import time

        now = time.time()
        with self.transaction():
            self.conn.cursor().executemany(
                "INSERT INTO embedding_cache(embed_hash, embedding, created_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (embed_hash) DO UPDATE SET embedding = excluded.embedding, created_at = excluded.created_at",
                [(embed_hash, np.asarray(vector, dtype=np.float32), now) for embed_hash, vector in items])

    def drop_cached_vectors(self, hashes=None, older_than: Optional[float] = None) -> int:
        """Forget cached vectors: those of ``hashes``, or those cached before ``older_than``;
        returns how many rows were removed."""
        with self.transaction():
            if hashes is not None:
                return self.conn.execute("DELETE FROM embedding_cache WHERE embed_hash = ANY(%s)",
                                         (list(set(hashes)),)).rowcount
            return self.conn.execute("DELETE FROM embedding_cache WHERE created_at < %s", (older_than or 0.0,)).rowcount

    def create_agent_role(self, name: str, password: str) -> None:
        """Create (or update) the agent login ``name`` with ``password`` on this database; see
        :func:`.roles.create_agent_role` (which raises ValidationError / SkillPermissionError)."""
        from .roles import create_agent_role

        with self._lock:
            create_agent_role(self.conn, name, password)

    # ------------------------------------------------------------------ stats
    def counts(self) -> dict:
        """Return row counts: skills by status and source, chunks, tokens."""
        by_status = dict(self.conn.execute("SELECT status, COUNT(*) FROM skills GROUP BY status").fetchall())
        by_source = dict(self.conn.execute("SELECT source, COUNT(*) FROM skills GROUP BY source").fetchall())
        chunks, tokens = self.conn.execute("SELECT COUNT(*), COALESCE(SUM(tokens), 0) FROM chunks").fetchone()
        return {"by_status": by_status, "by_source": by_source, "chunks": chunks, "tokens": int(tokens)}

    def size_bytes(self) -> int:
        """Return the size of the database on the server, in bytes."""
        return int(self.conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])

    def integrity_check(self) -> list[str]:
        """Check that every chunk's vector is where its skill's status puts it; ``["ok"]`` when sound."""
        problems = [
            f"{count} chunk(s) of {kind} skills have no vector in {table}"
            for kind, table, count in self.conn.execute(
                """SELECT 'draft', 'draft_vectors', count(*) FROM chunks c JOIN skills s ON s.id = c.skill_id
                   WHERE s.status = 'draft' AND NOT EXISTS (SELECT 1 FROM draft_vectors d WHERE d.chunk_pk = c.pk)
                   UNION ALL
                   SELECT 'non-draft', 'chunk_vectors', count(*) FROM chunks c JOIN skills s ON s.id = c.skill_id
                   WHERE s.status <> 'draft' AND NOT EXISTS (SELECT 1 FROM chunk_vectors v WHERE v.chunk_pk = c.pk)""")
            if count]
        return problems or ["ok"]

    def driver_info(self) -> DriverInfo:
        """Return the server and pgvector versions (in the fields SQLite's driver info uses)."""
        import psycopg

        server, vec = self.conn.execute(
            "SELECT current_setting('server_version'), (SELECT extversion FROM pg_extension WHERE extname = 'vector')"
        ).fetchone()
        return DriverInfo(module=f"psycopg {psycopg.__version__}", sqlite_version=f"PostgreSQL {server}",
                          vec_version=f"pgvector {vec}", fts5=False)


def _dump_statuses_as_text(conn) -> None:
    """Send :class:`~skillvault.models.Status` members as their text (psycopg would send an
    Enum's name, ``CANONICAL``)."""
    from psycopg.types.string import StrDumper

    conn.adapters.register_dumper(Status, StrDumper)


def card_rows(skill: Skill, card) -> tuple[tuple, list[tuple]]:
    """Return the ``skill_cards`` row of a non-draft ``skill`` and its ``skill_files`` rows.

    ``card`` is its :class:`~skillvault.store.cards.CardVector`, or None for a card without a vector.
    """
    fields = card_fields(skill)
    row = (skill.id, None if card is None else card.embed_hash,
           None if card is None else np.asarray(card.vector, dtype=np.float32),
           fields.name, fields.description, fields.when_to_use, fields.sections, fields.body)
    files = [(skill.id, path, text) for path, text in bundled_files(skill).items() if isinstance(text, str)]
    return row, files
