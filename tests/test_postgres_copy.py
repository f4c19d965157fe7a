"""`skillvault copy`: a whole library SQLite -> PostgreSQL -> SQLite, nothing lost, nothing re-embedded."""

from __future__ import annotations

import json

import numpy as np
import psycopg
import pytest
from typer.testing import CliRunner

from pg_fixtures import new_database
from skillvault import SkillManager
from skillvault.cli.app import app
from skillvault.copying import copy_library
from skillvault.embed.null_texts import NULL_TEXTS
from skillvault.errors import DatabaseFileError, ValidationError
from skillvault.store import open_store, sqlite_rows
from skillvault.store.postgres import rows as pg_rows

from conftest import CountingEmbed, make_skill
from test_cards import K8S
from test_growth import ASYNC_ANSWER, ScriptedLLM


def build_library(path: str, embed) -> dict:
    """A library with every kind of record: canonical, draft, archived, several versions,
    bundled files, usage with notes, an agent's usage, a cached embedding."""
    sm = SkillManager(path, embed_fn=embed, llm_fn=ScriptedLLM(ASYNC_ANSWER), auto_promote=None)
    sm.register(make_skill("git", ("Rebase", "git rebase main keeps history linear"), ("Squash", "squash commits")))
    sm.register(make_skill("git", ("Rebase", "git rebase -i main, then push with lease")))  # version 2
    sm.register(K8S)
    sm.register(make_skill("old", ("x", "obsolete advice about floppy disks")))
    sm.archive("old")
    draft = sm.extract("user: how do I handle async errors?")
    sm.record_usage("git", helpful=True, note="worked first time")
    sm.record_usage("k8s-debug", helpful=False)
    sm.store.cache_vectors([("pending-hash", np.full(embed.dim, 1 / np.sqrt(embed.dim), dtype=np.float32))])
    sm.close()
    return {"draft": draft}


def library_state(path: str) -> dict:
    """Everything a copy must keep, read through the public store API of either backend."""
    store = open_store(path)
    try:
        skills = store.list_skills()
        module = pg_rows if store.__class__.__name__ == "PostgresStore" else sqlite_rows
        with store.snapshot():
            chunks = [row for batch in module.read_section(store, "chunks") for row in batch]
        return {
            "skills": [s.to_dict() for s in skills],
            "versions": {s.id: [store.get_version(s.id, v).to_dict() for v in store.versions(s.id)] for s in skills},
            "audit": {s.id: store.audit_entries(s.id) for s in skills},
            "usage": {s.id: store.usage_of(s.id) for s in skills},
            "vectors": {row[1]: np.round(row[11], 6).tolist() for row in chunks},
            "counts": module.counts(store),
            "embedder": store.embedder_record(),
        }
    finally:
        store.close()


def test_round_trip_sqlite_postgres_sqlite_keeps_everything(tmp_path, pg_url):
    embed = CountingEmbed()
    source, back = str(tmp_path / "source.db"), str(tmp_path / "back.db")
    made = build_library(source, embed)
    embedded = len(embed.calls)
    progress: list[tuple[int, int]] = []
    counts = copy_library(source, pg_url, progress=lambda done, total: progress.append((done, total)))
    copy_library(pg_url, back)
    original, on_postgres, returned = library_state(source), library_state(pg_url), library_state(back)
    assert on_postgres == original and returned == original
    assert counts == original["counts"] and counts["skills"] == 4 and counts["versions"] >= 4
    assert progress[-1][0] == progress[-1][1] > 0 and all(d <= t for d, t in progress)
    with psycopg.connect(pg_url) as conn:  # the planner was told what the copy wrote
        assert conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'chunks'::regclass").fetchone()[0] \
            == counts["chunks"]
    # the copies answer like the source; no stored text is embedded again
    for path in (pg_url, back):
        with SkillManager(path, embed_fn=embed) as sm:
            assert "git rebase -i main" in sm.query("git rebase", budget=200)
            assert sm.get(made["draft"]).status == "draft" and sm.review_queue()[0].id == made["draft"]
            assert sm.read_file("k8s-debug", "references/probes.md").startswith("Liveness")
            assert sm.usage("git")["notes"][0]["note"] == "worked first time"
    # (the embedder's probe text is embedded on open to check it is the library's embedder)
    assert set(embed.calls[embedded:]) <= {"git rebase", NULL_TEXTS[0]}, embed.calls[embedded:]


def test_a_copy_builds_the_hnsw_indexes_once_over_all_its_vectors(tmp_path, pg_url):
    """The vectors go in without an index and the graph is built at the end, in the copy's
    transaction (several times faster than growing it a vector at a time)."""
    embed = CountingEmbed(dim=64)  # narrow enough for pgvector's HNSW (4096-d is searched exactly)
    source = str(tmp_path / "source.db")
    with SkillManager(source, embed_fn=embed, auto_promote=None) as sm:
        sm.register_many([make_skill(f"s{i}", ("Body", f"note {i} about topic {i % 7}")) for i in range(300)])
    for force in (False, True):  # into an empty library, then over the copy just made
        copy_library(source, pg_url, force=force)
        with psycopg.connect(pg_url) as conn:
            indexes = dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%%_hnsw'"
                                        ).fetchall())
            assert set(indexes) == {"chunk_vectors_hnsw", "skill_cards_hnsw"}
            assert all("USING hnsw (embedding vector_cosine_ops)" in definition for definition in indexes.values())
            assert conn.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid").fetchone()[0] == 0
        with SkillManager(pg_url, embed_fn=embed) as sm:
            assert "note 42 about topic 0" in sm.query("note 42", budget=300)


def test_copy_refuses_a_library_that_holds_something_unless_forced(tmp_path, pg_url):
    embed = CountingEmbed()
    source = str(tmp_path / "source.db")
    build_library(source, embed)
    with SkillManager(pg_url, embed_fn=embed) as sm:
        sm.register(make_skill("other", ("x", "something already here")))
    with pytest.raises(ValidationError, match="already holds a library.*--force") as caught:
        copy_library(source, pg_url)
    assert caught.value.field == "dest"
    assert [s.id for s in open_store(pg_url).list_skills()] == ["other"]
    copy_library(source, pg_url, force=True)
    assert library_state(pg_url) == library_state(source)


def test_copy_refuses_a_missing_source_and_itself(tmp_path):
    with pytest.raises(DatabaseFileError, match="no library at"):
        copy_library(str(tmp_path / "missing.db"), str(tmp_path / "new.db"))
    with pytest.raises(ValidationError, match="is the source"):
        copy_library(str(tmp_path / "a.db"), str(tmp_path / "a.db"))


def test_cli_copy_reports_counts_and_refuses_without_force(tmp_path, pg_server):
    source = str(tmp_path / "source.db")
    build_library(source, CountingEmbed())
    runner = CliRunner()
    with new_database(pg_server) as url:
        result = runner.invoke(app, ["copy", source, url, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["skills"] == 4
        again = runner.invoke(app, ["copy", source, url])
        assert again.exit_code == 1 and "already holds a library" in again.output and "Traceback" not in again.output
        forced = runner.invoke(app, ["copy", source, url, "--force"])
        assert forced.exit_code == 0 and "Copied 4 skills" in forced.output
