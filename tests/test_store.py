"""Store: extensions, pragmas, migrations, atomic writes, replacement without stale rows."""

from __future__ import annotations

import sqlite3

import pytest

import skillvault.store.connection as connection
from skillvault import SkillManager
from skillvault.errors import EmbeddingError, ExtensionError, ValidationError
from skillvault.models import Chunk, Skill
from skillvault.store.migrations import MIGRATIONS

from conftest import make_skill


def row_counts(sm: SkillManager) -> dict:
    conn = sm.store.conn
    tables = ["skills", "chunks", "chunk_fts"]
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunk_vec'").fetchone():
        tables.append("chunk_vec")
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


def test_sqlite_vec_and_fts5_are_active(sm):
    info = sm.store.driver_info()
    assert info.vec_version.startswith("v")
    assert info.fts5
    # stdlib sqlite3 here cannot load extensions, so the drop-in must be in use
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        assert info.module == "sqlean"
    assert sm.store.conn.execute("SELECT vec_length(vec_f32('[1,2,3]'))").fetchone()[0] == 3


def test_wal_busy_timeout_and_schema_version(sm):
    conn = sm.store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == connection.BUSY_TIMEOUT_MS
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_every_vector_lookup_by_text_hash_uses_an_index(sm):
    # A write looks up each text's vector by hash in every table that holds one; a table
    # scan there read every card vector on every register (found by profiling).
    sm.register(make_skill("git", ("Rebase", "git rebase main")))
    lookups = {
        "chunks": "SELECT pk FROM chunks WHERE embed_hash IN ('a', 'b')",
        "skill_cards": "SELECT embedding FROM skill_cards WHERE embed_hash IN ('a', 'b') AND embedding IS NOT NULL",
        "embedding_cache": "SELECT embedding FROM embedding_cache WHERE embed_hash IN ('a', 'b')",
    }
    for table, sql in lookups.items():
        plan = " ".join(row[-1] for row in sm.store.conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "USING" in plan and f"SCAN {table}" not in plan, (table, plan)


def test_query_statements_start_from_their_few_rows(sm):
    # Every statement a query runs must start from the rows it names (chunk pks, skill
    # ids, FTS hits), never walk a table or every skill of a status: joined the wrong
    # way, reading 50 named cards walked all 4k canonical skills (3 ms of a 15 ms query).
    for index in range(40):
        sm.register(make_skill(f"tool-{index}", ("Install", f"pip install tool{index} then run it"),
                               ("Usage", f"tool{index} --verbose prints progress")))
    statements: list[str] = []
    sm.store.conn.set_trace_callback(statements.append)
    sm.query("install tool7 and print progress", budget=500)
    sm.store.conn.set_trace_callback(None)
    selects = {s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))}
    assert any("skill_cards" in s for s in selects)  # the card read is among them
    real_tables = {row[0] for row in sm.store.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' AND name NOT LIKE 'sqlite_%'")}
    for sql in selects:
        plan = [row[-1] for row in sm.store.conn.execute("EXPLAIN QUERY PLAN " + sql)]
        walks = [step for step in plan if step.startswith("SCAN ") and step.split()[1] in real_tables]
        assert not walks and not any("skills_by_status" in step for step in plan), (sql, plan)


def test_no_silent_fallback_when_sqlite_vec_cannot_load(monkeypatch, db_path):
    import sqlite_vec

    def broken_load(conn):
        raise OSError("vec0.so: cannot open shared object file")

    monkeypatch.setattr(sqlite_vec, "load", broken_load)
    with pytest.raises(ExtensionError, match="sqlite-vec"):
        SkillManager(db_path, embed_fn=lambda t: [1.0, 0.0])


def test_newer_schema_is_refused(db_path, embed):
    SkillManager(db_path, embed_fn=embed).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="upgrade skillvault"):
        SkillManager(db_path, embed_fn=embed)


def test_reregister_replaces_chunks_vectors_and_fts_rows(sm):
    sm.register(make_skill("git", ("Rebase", "git rebase main"), ("Merge", "git merge main"), ("Tags", "git tag v1")))
    assert row_counts(sm) == {"skills": 1, "chunks": 3, "chunk_fts": 3, "chunk_vec": 3}
    sm.register(make_skill("git", ("Rebase", "git rebase --onto main")))
    assert row_counts(sm) == {"skills": 1, "chunks": 1, "chunk_fts": 1, "chunk_vec": 1}
    assert [c.content for c in sm.get("git").chunks] == ["git rebase --onto main"]
    # the FTS rows of the old chunks are gone: their words no longer match
    assert sm.store.lexical_search('"tag"', 10, ("canonical",)) == []


def test_failure_mid_register_leaves_nothing(db_path):
    calls = {"n": 0}

    def flaky(text):
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("embedding API went away")
        return [1.0, float(calls["n"]), 0.5]

    sm = SkillManager(db_path, embed_fn=flaky)
    with pytest.raises(EmbeddingError, match="went away"):
        sm.register(make_skill("s", ("a", "one"), ("b", "two"), ("c", "three")))
    assert row_counts(sm) == {"skills": 0, "chunks": 0, "chunk_fts": 0}
    assert sm.get("s") is None


def test_failure_inside_the_write_transaction_rolls_back(sm):
    sm.register(make_skill("base", ("Intro", "base skill text")))
    before = row_counts(sm)
    bad = make_skill("dependent", ("Use", "needs things"))

    def fail(*args, **kwargs):
        raise ValidationError("skill.version", "refused for the test")

    sm.store.save_versions = fail  # runs after the rows were inserted: all of them must be rolled back
    with pytest.raises(ValidationError, match="refused for the test"):
        sm.register(bad)
    del sm.store.save_versions
    assert row_counts(sm) == before
    assert sm.get("dependent") is None


def test_forward_dependencies_are_kept_and_resolve_when_the_target_arrives(sm):
    dependent = make_skill("dependent", ("Use", "needs things"))
    dependent.chunks[0].dependencies = ["base::0", "nowhere::9"]
    sm.register(dependent)
    assert sm.get("dependent").chunks[0].dependencies == ["base::0", "nowhere::9"]
    assert [d["dependency"] for d in sm.store.unresolved_dependencies()] == ["base::0", "nowhere::9"]
    sm.register(make_skill("base", ("Intro", "base skill text")))
    assert [d["dependency"] for d in sm.store.unresolved_dependencies()] == ["nowhere::9"]


def test_chunk_id_owned_by_another_skill_is_refused(sm):
    sm.register(make_skill("one", ("A", "alpha text")))
    thief = Skill(id="two", name="Two", chunks=[Chunk(id="one::0", content="beta text")])
    with pytest.raises(ValidationError, match="already belongs to skill 'one'"):
        sm.register(thief)
    assert sm.get("one").chunks[0].content == "alpha text"
    assert sm.get("two") is None


def test_register_does_not_modify_the_callers_skill(sm):
    skill = Skill(id="x", name="X", chunks=[Chunk(id="x::a", content="some words here", tokens=999)])
    sm.register(skill)
    assert skill.chunks[0].skill_id == ""
    assert skill.chunks[0].tokens == 999


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    from skillvault.errors import DatabaseFileError

    path = tmp_path / "notes.db"
    path.write_text("just some notes, not SQLite\n" * 100)
    with pytest.raises(DatabaseFileError, match="cannot be opened as a skill library"):
        SkillManager(str(path), embed_fn=lambda t: [1.0, 0.0])
    assert path.read_text().startswith("just some notes")


def test_a_write_lock_held_elsewhere_is_a_clear_error(db_path, embed, monkeypatch):
    from skillvault.errors import DatabaseBusyError

    monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", 50)
    sm = SkillManager(db_path, embed_fn=embed)
    blocker, _info = connection.connect(db_path)  # same SQLite build as the store's
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseBusyError, match="another process"):
            sm.register(make_skill("a", ("x", "alpha")))
    finally:
        blocker.execute("ROLLBACK")
    sm.register(make_skill("a", ("x", "alpha")))
    assert sm.get("a") is not None


def test_a_query_is_answered_even_when_its_usage_cannot_be_counted(db_path, embed, monkeypatch, caplog):
    import logging

    monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", 50)
    sm = SkillManager(db_path, embed_fn=embed)
    sm.register(make_skill("git", ("Rebase", "git rebase main")))
    sm.query("git rebase", budget=100)  # loads the matrix and null vectors before the lock
    blocker, _info = connection.connect(db_path)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with caplog.at_level(logging.WARNING, logger="skillvault"):
            assert "git rebase main" in sm.query("git rebase", budget=100)
    finally:
        blocker.execute("ROLLBACK")
    assert any("usage of ['git'] not recorded" in r.getMessage() for r in caplog.records)
    assert sm.usage("git")["uses"] == 1


def test_a_new_version_past_the_limit_is_refused_and_changes_nothing(sm):
    from skillvault.models import MAX_VERSION

    top = make_skill("top", ("A", "text"))
    top.version = MAX_VERSION
    sm.register(top)  # (forward dependencies made this reachable in the property tests)
    before = row_counts(sm)
    with pytest.raises(ValidationError, match=r"skill\.version: would become 2147483648"):
        sm.register(make_skill("top", ("A", "new text")))
    assert row_counts(sm) == before and sm.get("top").validate().version == MAX_VERSION
