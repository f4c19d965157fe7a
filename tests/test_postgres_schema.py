"""PostgreSQL schema: migrations (idempotent, concurrent), vector width, indexes and their use, ids."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import psycopg
import pytest

from pg_rows import add_skill, axis, bulk_chunks, open_library
from skillvault.errors import EmbedderMismatchError, SchemaVersionError, ValidationError
from skillvault.store.postgres.connection import connect
from skillvault.store.postgres.migrations import MIGRATIONS, SCHEMA_LOCK_KEY, applied_version, migrate
from skillvault.store.postgres import search
from skillvault.store.postgres.search import candidates
from skillvault.store.postgres.vectors import ensure_vector_columns, vector_layout

SRC = os.path.join(os.path.dirname(__file__), "..", "src")
TABLES = {"schema_version", "meta", "skills", "chunks", "chunk_vectors", "draft_vectors", "skill_versions", "audit_log",
          "usage", "agent_usage", "usage_notes", "skill_cards", "skill_files", "embedding_cache"}


def _tables(conn) -> set[str]:
    return {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}


def _indexes(conn) -> dict[str, str]:
    return dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()").fetchall())


def test_migrations_create_every_table_once_and_are_idempotent(pg_url):
    conn = connect(pg_url, register=False)
    assert applied_version(conn) == 0
    assert migrate(conn) == len(MIGRATIONS)
    assert _tables(conn) == TABLES
    assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0] >= "0.8"
    before = conn.execute("SELECT version, applied_at FROM schema_version ORDER BY version").fetchall()
    assert migrate(conn) == len(MIGRATIONS)
    assert conn.execute("SELECT version, applied_at FROM schema_version ORDER BY version").fetchall() == before
    assert [row[0] for row in before] == list(range(1, len(MIGRATIONS) + 1))
    # Every table is under row-level security (policies bind every role but the owner).
    unsecured = conn.execute("SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace "
                             "AND NOT relrowsecurity").fetchall()
    assert unsecured == []


def test_the_searchable_chunk_count_is_kept_by_triggers_and_set_when_migrating(pg_url):
    conn = open_library(pg_url)
    count = lambda: int(conn.execute("SELECT value FROM meta WHERE key = 'searchable_chunks'").fetchone()[0])  # noqa: E731
    add_skill(conn, "a", chunks=[("s", "alpha", axis(0)), ("t", "beta", axis(1))])
    bulk_chunks(conn, "b", "canonical", ["x"] * 5, np.eye(8, dtype=np.float32)[:5])  # COPY counts too
    add_skill(conn, "d", status="draft", chunks=[("s", "draft", axis(2))])  # drafts are not searched
    assert count() == 7
    conn.execute("DELETE FROM chunks WHERE skill_id = 'a'")  # vectors go by cascade
    assert count() == 5
    # A library made before the triggers (schema version 5) gets the count when it migrates.
    conn.execute("DROP FUNCTION count_searchable_chunks() CASCADE")
    conn.execute("DELETE FROM meta WHERE key = 'searchable_chunks'")
    conn.execute("DELETE FROM schema_version WHERE version = 6")
    assert migrate(conn) == len(MIGRATIONS) and count() == 5
    conn.execute("TRUNCATE chunk_vectors")
    assert count() == 0


def test_a_newer_schema_is_refused(pg_url):
    conn = open_library(pg_url, dim=None)
    conn.execute("INSERT INTO schema_version(version) VALUES (%s)", (len(MIGRATIONS) + 1,))
    with pytest.raises(SchemaVersionError, match="upgrade skillvault"):
        migrate(conn)


def test_migrate_needs_an_autocommit_connection(pg_url):
    with psycopg.connect(pg_url) as conn, pytest.raises(ValueError, match="autocommit"):
        migrate(conn)


def test_two_processes_migrating_at_once_both_succeed(pg_url):
    script = ("import sys; from skillvault.store.postgres.connection import connect; "
              "from skillvault.store.postgres.migrations import migrate; "
              "print(migrate(connect(sys.argv[1], register=False)))")
    env = {**os.environ, "PYTHONPATH": SRC}
    holder = psycopg.connect(pg_url, autocommit=True)
    # Hold the schema lock so that both processes reach it and wait: they then race for it.
    holder.execute("BEGIN")
    holder.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
    procs = [subprocess.Popen([sys.executable, "-c", script, pg_url], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    deadline = time.monotonic() + 20
    while _advisory_waiters(pg_url) < 2:
        assert time.monotonic() < deadline, "the migrating processes never waited for the schema lock"
        time.sleep(0.05)
    holder.execute("COMMIT")
    outputs = [proc.communicate(timeout=30) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert [out.strip() for out, _err in outputs] == [str(len(MIGRATIONS))] * 2
    versions = [row[0] for row in holder.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))


def _advisory_waiters(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0]


def test_vector_width_is_recorded_and_another_refused(pg_url):
    conn = open_library(pg_url, dim=None)
    assert vector_layout(conn) is None
    layout = ensure_vector_columns(conn, 8, "test-embedder")
    assert (layout.dim, layout.index) == (8, "hnsw")
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    assert meta == {"embedder_dim": "8", "embedder_name": "test-embedder", "searchable_chunks": "0"}
    types = dict(conn.execute("SELECT attrelid::regclass::text, format_type(atttypid, atttypmod) FROM pg_attribute "
                              "WHERE attname = 'embedding' AND attrelid::regclass::text IN "
                              "('chunk_vectors', 'draft_vectors', 'skill_cards', 'embedding_cache')").fetchall())
    assert set(types.values()) == {"vector(8)"} and len(types) == 4
    assert ensure_vector_columns(conn, 8) == layout  # the same width again: nothing to do
    with pytest.raises(EmbedderMismatchError, match="8 dimensions but the embedder gives 16"):
        ensure_vector_columns(conn, 16)
    with pytest.raises(ValidationError, match="dim"):
        ensure_vector_columns(conn, 0)
    # The column itself refuses a vector of another width.
    pk = add_skill(conn, "a", chunks=[("s", "text", axis(0))])[0]
    with pytest.raises(psycopg.errors.DataException, match="expected 8 dimensions"):
        conn.execute("UPDATE chunk_vectors SET embedding = %s WHERE chunk_pk = %s", (np.ones(9, np.float32), pk))


def test_hnsw_and_gin_indexes_exist(pg_url):
    conn = open_library(pg_url)
    indexes = _indexes(conn)
    for name, table in (("chunk_vectors_hnsw", "chunk_vectors"), ("skill_cards_hnsw", "skill_cards")):
        assert f"ON public.{table} USING hnsw (embedding vector_cosine_ops)" in indexes[name]
    for name, table in (("chunks_words", "chunks"), ("skill_cards_words", "skill_cards"),
                        ("skill_files_words", "skill_files")):
        assert f"ON public.{table} USING gin (words)" in indexes[name]


def test_wide_vectors_are_indexed_as_halfvec_and_widest_are_searched_exactly(pg_server):
    import psycopg as pg

    with pg.connect(pg_server.url(), autocommit=True) as admin:
        for name in ("wide_a", "wide_b"):
            admin.execute(f"CREATE DATABASE {name}")
    try:
        wide = open_library(pg_server.url("wide_a"), dim=3072)
        assert vector_layout(wide).index == "hnsw-halfvec"
        assert "USING hnsw (((embedding)::halfvec(3072)) halfvec_cosine_ops)" in _indexes(wide)["chunk_vectors_hnsw"]
        add_skill(wide, "a", chunks=[("s", "alpha", axis(0, 3072)), ("t", "beta", axis(1, 3072))])
        assert candidates(wide, vector_layout(wide), axis(1, 3072), "nothing", 1)[0][0][0] == 2
        widest = open_library(pg_server.url("wide_b"), dim=4096)
        assert vector_layout(widest).index == "exact"
        assert "chunk_vectors_hnsw" not in _indexes(widest)
        wide.close()
        widest.close()
    finally:
        with pg.connect(pg_server.url(), autocommit=True) as admin:
            for name in ("wide_a", "wide_b"):
                admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_knn_and_word_queries_use_the_indexes_at_a_few_thousand_rows(pg_url):
    conn = open_library(pg_url, dim=32)
    rng = np.random.default_rng(7)
    words = ["deploy", "rollback", "cache", "index", "vector", "review", "draft", "hook", "queue", "token"]
    texts = [f"{words[i % 10]} text number {i}" + (" zebra" if i % 1000 == 0 else "") for i in range(4000)]
    zebras = {pk for pk, text in zip(bulk_chunks(conn, "big", "canonical", texts, _random(rng, 4000)), texts)
              if "zebra" in text}
    conn.execute("ANALYZE")
    query = _random(rng, 1)[0]
    plan = _plan(conn, "SELECT chunk_pk FROM chunk_vectors ORDER BY embedding <=> %s::vector LIMIT 10", (query,))
    assert "Index Scan using chunk_vectors_hnsw" in plan
    plan = _plan(conn, "SELECT pk FROM chunks WHERE words @@ to_tsquery('english', 'zebra')", ())
    assert "chunks_words" in plan
    # The one statement a query's candidates come from walks both indexes, canonical skills only.
    plan = _plan(conn, search._candidates_sql(vector_layout(conn), True),
                 {"vector": query, "text": "zebra", "statuses": ["canonical"], "k": 10})
    assert "chunk_vectors_hnsw" in plan and "chunks_words" in plan
    by_vector, by_words = candidates(conn, vector_layout(conn), query, "zebra", 10)
    assert len(by_vector) == 10 and {pk for pk, _ in by_words} == zebras


def test_knn_keeps_walking_the_graph_past_hidden_neighbours(pg_url):
    # 3,000 archived chunks crowd the query's neighbourhood; the 10 canonical ones are
    # found through the HNSW index only because the scan goes on (hnsw.iterative_scan).
    conn = open_library(pg_url, dim=32)
    rng = np.random.default_rng(11)
    bulk_chunks(conn, "old", "archived", ["old"] * 3000, _random(rng, 3000))
    served = set(bulk_chunks(conn, "served", "canonical", ["served"] * 10, _random(rng, 10)))
    conn.execute("ANALYZE")
    query = _random(rng, 1)[0]
    params = {"vector": query, "text": "", "statuses": ["canonical"], "k": 10}
    assert "chunk_vectors_hnsw" in _plan(conn, search._candidates_sql(vector_layout(conn), False), params)
    assert {pk for pk, _ in candidates(conn, vector_layout(conn), query, "", 10)[0]} == served
    conn.execute("SET hnsw.iterative_scan = off")  # what the setting saves us from
    assert len(candidates(conn, vector_layout(conn), query, "", 10)[0]) < 10


def _random(rng, rows: int) -> np.ndarray:
    return rng.normal(size=(rows, 32)).astype(np.float32)


def _plan(conn, sql: str, params) -> str:
    return "\n".join(row[0] for row in conn.execute("EXPLAIN " + sql, params).fetchall())


def test_concurrent_inserts_of_one_id_leave_one_row(pg_url):
    open_library(pg_url).close()
    first, second = psycopg.connect(pg_url), psycopg.connect(pg_url)
    insert = ("INSERT INTO skills (id, name, source, status, confidence, created_at, updated_at) "
              "VALUES ('same', %s, 'manual', 'canonical', 1, 'now', 'now')")
    first.execute(insert, ("first",))
    errors: list[BaseException] = []

    def racing_insert():
        try:
            second.execute(insert, ("second",))  # waits for the first transaction's row
            second.commit()
        except psycopg.Error as exc:
            errors.append(exc)

    thread = threading.Thread(target=racing_insert)
    thread.start()
    time.sleep(0.3)
    first.commit()
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], psycopg.errors.UniqueViolation)
    assert first.execute("SELECT name FROM skills WHERE id = 'same'").fetchall() == [("first",)]


def test_ids_and_statuses_are_checked_by_the_schema(pg_url):
    conn = open_library(pg_url)
    for skill_id, status in (("bad id", "canonical"), ("../x", "canonical"), ("x" * 201, "canonical"), ("ok", "live")):
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO skills (id, name, source, status, confidence, created_at, updated_at) "
                         "VALUES (%s, 'n', 'manual', %s, 1, 'now', 'now')", (skill_id, status))
    assert conn.execute("SELECT count(*) FROM skills").fetchone()[0] == 0


def test_openers_racing_to_fix_the_width_agree_on_one(pg_url):
    open_library(pg_url, dim=None).close()
    holder = psycopg.connect(pg_url, autocommit=True)
    holder.execute("BEGIN")
    holder.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
    outcomes: dict[int, object] = {}

    def open_with(dim: int) -> None:
        conn = connect(pg_url)
        try:
            outcomes[dim] = ensure_vector_columns(conn, dim).dim
        except EmbedderMismatchError as exc:
            outcomes[dim] = exc
        finally:
            conn.close()

    threads = [threading.Thread(target=open_with, args=(dim,)) for dim in (8, 16)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while _advisory_waiters(pg_url) < 2:
        assert time.monotonic() < deadline, "the openers never waited for the schema lock"
        time.sleep(0.05)
    holder.execute("COMMIT")
    for thread in threads:
        thread.join(20)
    winners = [dim for dim, outcome in outcomes.items() if outcome == dim]
    losers = [outcome for outcome in outcomes.values() if isinstance(outcome, EmbedderMismatchError)]
    assert len(winners) == 1 and len(losers) == 1
    assert vector_layout(holder).dim == winners[0]
    assert len([name for name in _indexes(holder) if name.endswith("_hnsw")]) == 2
