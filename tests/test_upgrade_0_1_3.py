"""Libraries written by the published skillvault 0.1.3 open (upgraded in place) or migrate.

The fixtures in tests/data were made by the real 0.1.3 (see make_skillvault_0_1_3_db.py):
``skillvault-0.1.3.db`` keeps 256-d vectors in 0.1.3's ``embeddings`` blob table,
``skillvault-0.1.3-vec.db.gz`` 1536-d vectors in its sqlite-vec ``vec_chunks`` table.
Expected values are read from the fixture itself with the stdlib sqlite3 module.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from skillvault import SkillManager, migrate
from skillvault.embed.null_texts import NULL_TEXTS
from skillvault.embed.service import embedding_text
from skillvault.errors import EmbeddingError, LegacyDatabaseError, SkillPermissionError, ValidationError
from skillvault.store import SQLiteStore

from conftest import CountingEmbed, word_vector
from data.make_skillvault_0_1_3_db import embed as fixture_embed

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "skillvault-0.1.3.db"
VEC_FIXTURE = DATA / "skillvault-0.1.3-vec.db.gz"
RENAMED = {"deploy notes": "deploy-notes", "deploy notes::main": "deploy-notes::main"}
STATUS = {  # (0.1.3 source, status) -> ours; rejected drafts are recognised by their review
    ("canonical", "active"): "canonical",
    ("draft", "active"): "draft",
    ("canonical", "archived"): "archived",
}


class FixtureEmbed:
    """The embed_fn the fixture was built with (so its vectors can be carried over)."""

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.calls: list[str] = []

    def __call__(self, text: str) -> list[float]:
        self.calls.append(text)
        return fixture_embed(text, self.dim)


@pytest.fixture
def old_db(tmp_path) -> Path:
    path = tmp_path / "skills.db"
    shutil.copyfile(FIXTURE, path)
    return path


def legacy_rows(path: Path) -> dict:
    """Everything 0.1.3 kept, read straight from its tables."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return {
            "skills": [dict(r) for r in conn.execute("SELECT * FROM skills ORDER BY rowid")],
            "chunks": [dict(r) for r in conn.execute("SELECT * FROM chunks ORDER BY rowid")],
            "reviews": [dict(r) for r in conn.execute("SELECT * FROM reviews ORDER BY id")],
            "usage": {r["skill_id"]: r["query_count"] for r in conn.execute("SELECT * FROM usage_stats")},
            "vectors": {r["chunk_id"]: np.frombuffer(r["embedding"], dtype=np.float32)
                        for r in conn.execute("SELECT * FROM embeddings")},
        }
    finally:
        conn.close()


def new_id(old: str) -> str:
    return RENAMED.get(old, old)


def chunk_vector(sm: SkillManager, chunk_id: str) -> np.ndarray:
    row = sm.store.conn.execute(
        """SELECT COALESCE(v.embedding, d.embedding) FROM chunks c LEFT JOIN chunk_vec v ON v.rowid = c.pk
           LEFT JOIN draft_vectors d ON d.chunk_pk = c.pk WHERE c.id = ?""", (chunk_id,)).fetchone()
    return np.frombuffer(row[0], dtype=np.float32)


def assert_everything_kept(sm: SkillManager, old: dict) -> None:
    """Every skill, chunk, status, confidence, dependency, review and usage count of ``old``."""
    rejected = {r["skill_id"]: r["feedback"] for r in old["reviews"] if r["action"] == "reject"}
    assert len(sm.list()) == len(old["skills"])
    for row in old["skills"]:
        skill = sm.get(new_id(row["id"]))
        assert skill is not None, row["id"]
        assert skill.name == row["name"]
        assert skill.confidence == row["confidence"]
        assert skill.extracted_from == row["extracted_from"]
        assert skill.created_at == datetime.fromisoformat(row["created_at"]).replace(tzinfo=timezone.utc)
        if row["id"] in rejected:
            assert skill.status == "rejected"
            assert skill.flags == [f"rejected: {rejected[row['id']]}"]
        else:
            assert skill.status == STATUS[(row["source"], row["status"])]
        assert skill.source == ("extracted" if row["id"].startswith("draft::") else "manual")
        assert skill.metadata["migrated_from"]["source"] == row["source"]
        assert skill.metadata["migrated_from"]["status"] == row["status"]
        old_chunks = [c for c in old["chunks"] if c["skill_id"] == row["id"]]
        assert [c.id for c in skill.chunks] == [new_id(c["id"]) for c in old_chunks]
        for chunk, old_chunk in zip(skill.chunks, old_chunks):
            assert chunk.section == old_chunk["section"]
            assert chunk.content == old_chunk["content"]
            assert chunk.priority == old_chunk["priority"]
            assert chunk.required == bool(old_chunk["required"])
            kept = [d for d in json.loads(old_chunk["dependencies"]) if d != "old-skill::gone"]
            assert chunk.dependencies == kept
            assert chunk.tokens > 0  # recounted with the real tokenizer (0.1.3 guessed len // 4)
        assert sm.usage(skill.id)["uses"] == old["usage"].get(row["id"], 0)
    assert sm.get("git-rebase").metadata["migrated_from"]["dropped_dependencies"] == ["old-skill::gone"]
    assert sm.get("deploy-notes").metadata["migrated_from"]["id"] == "deploy notes"
    for review in old["reviews"]:
        entries = [e for e in sm.history(new_id(review["skill_id"])) if e["action"] == review["action"]]
        assert [(e["reason"], e["actor"]) for e in entries] == [(review["feedback"], "human")]
        assert entries[0]["at"] == datetime.fromisoformat(review["created_at"]).replace(tzinfo=timezone.utc).isoformat()
    stats = sm.stats()
    assert (stats["canonical"], stats["draft"], stats["archived"], stats["rejected"]) == (4, 1, 1, 1)
    assert stats["chunks"] == len(old["chunks"])


def test_fixture_is_what_0_1_3_writes():
    old = legacy_rows(FIXTURE)
    assert len(old["skills"]) == 7 and len(old["chunks"]) == 14 and len(old["vectors"]) == 14
    assert {(s["source"], s["status"]) for s in old["skills"]} == {
        ("canonical", "active"), ("canonical", "archived"), ("draft", "active"), ("draft", "archived")}
    assert [r["action"] for r in old["reviews"]] == ["approve", "reject"]
    assert len(set(old["usage"].values())) > 3


def test_human_mode_upgrades_in_place_keeping_everything(old_db, caplog):
    original = old_db.read_bytes()
    old = legacy_rows(old_db)
    embed = FixtureEmbed()
    with caplog.at_level("WARNING", logger="skillvault"):
        sm = SkillManager(old_db, embed_fn=embed)
    try:
        backup = old_db.with_name("skills.db.0.1.3-backup")
        assert backup.read_bytes() == original
        assert any("0.1.3" in r.message and str(backup) in r.message for r in caplog.records)
        assert_everything_kept(sm, old)
        # Same embedder, same width: the stored vectors were carried over, not re-embedded.
        chunk_texts = {c["content"] for c in old["chunks"]}
        assert len([t for t in embed.calls if t in chunk_texts]) <= 3  # the probes only
        for chunk_id, vector in old["vectors"].items():
            carried = chunk_vector(sm, new_id(chunk_id))
            assert np.allclose(carried, vector / np.linalg.norm(vector), atol=1e-6)
        text = sm.query("how do I rebase my branch on main", budget=500)
        assert '<skill name="git-rebase">' in text
        assert "Rebase replays your commits" in text
        assert sm.usage("git-rebase")["uses"] == old["usage"]["git-rebase"] + 1
    finally:
        sm.close()
    with SkillManager(old_db, embed_fn=FixtureEmbed()) as again:  # now a current library
        assert len(again.list()) == 7
    assert not old_db.with_name("skills.db.0.1.3-backup-2").exists()


def test_vectors_are_reembedded_when_the_width_differs(old_db):
    embed = CountingEmbed()  # 4096-d
    with SkillManager(old_db, embed_fn=embed) as sm:
        assert_everything_kept(sm, legacy_rows(FIXTURE))
        assert sm.stats()["embedder"]["dim"] == 4096
        embedded = set(embed.calls)
        assert all(embedding_text(s.name, c) in embedded for s in sm.list() for c in s.chunks)  # every chunk
        assert "git-rebase" in sm.query("rebase commits on another branch", budget=500)


def test_same_width_but_another_embedder_reembeds(old_db):
    other = CountingEmbed(dim=256)  # 256-d like the fixture, but a different function
    with SkillManager(old_db, embed_fn=other) as sm:
        vector = chunk_vector(sm, "git-rebase::overview")
        expected = np.asarray(word_vector(sm.get("git-rebase").name + "\nOverview\n" + sm.get("git-rebase").chunks[0].content, 256))
        assert np.allclose(vector, expected / np.linalg.norm(expected), atol=1e-6)


def test_vectors_in_0_1_3_vec0_table_are_carried_over(tmp_path):
    path = tmp_path / "vec.db"
    path.write_bytes(gzip.decompress(VEC_FIXTURE.read_bytes()))
    embed = FixtureEmbed(dim=1536)
    with SkillManager(path, embed_fn=embed) as sm:
        assert sm.stats()["embedder"]["dim"] == 1536
        assert len(sm.list()) == 7
        vector = chunk_vector(sm, "git-rebase::steps")
        expected = np.asarray(fixture_embed(sm.get("git-rebase").chunks[1].content, 1536))
        assert np.allclose(vector, expected / np.linalg.norm(expected), atol=1e-6)
        assert len([t for t in embed.calls if t not in NULL_TEXTS]) <= 3
        assert "git-rebase" in sm.query("how do I rebase my branch on main", budget=500)


def test_agent_mode_refuses_with_the_fix_and_human_mode_then_works(old_db):
    original = old_db.read_bytes()
    with pytest.raises(SkillPermissionError, match="skillvault migrate") as caught:
        SkillManager(old_db, embed_fn=FixtureEmbed(), mode="agent")
    assert "human mode" in str(caught.value)
    assert old_db.read_bytes() == original
    assert not old_db.with_name("skills.db.0.1.3-backup").exists()
    SkillManager(old_db, embed_fn=FixtureEmbed()).close()
    with SkillManager(old_db, embed_fn=FixtureEmbed(), mode="agent") as agent:
        assert {s.id for s in agent.list()} == {"git-rebase", "shell-basics", "deploy-notes", "draft::ea434d1e"}


def test_opening_the_store_directly_names_the_fix(old_db):
    with pytest.raises(LegacyDatabaseError, match="skillvault migrate"):
        SQLiteStore(str(old_db))


@pytest.mark.parametrize("to_new_file", [False, True])
def test_a_failure_midway_changes_nothing(old_db, to_new_file):
    original = old_db.read_bytes()
    calls = {"n": 0}

    def dies_midway(text):
        calls["n"] += 1
        if calls["n"] > len(NULL_TEXTS) + 5:
            raise ConnectionError("embedding API went away")
        return word_vector(text, 64)  # another width: every chunk must be re-embedded

    with pytest.raises(EmbeddingError, match="went away"):
        if to_new_file:
            migrate(old_db, old_db.with_name("new.db"), embed_fn=dies_midway)
        else:
            SkillManager(old_db, embed_fn=dies_midway)
    assert calls["n"] > len(NULL_TEXTS) + 5
    assert old_db.read_bytes() == original
    assert sorted(p.name for p in old_db.parent.iterdir()) == ["skills.db"]  # no backup, no temp file
    with SkillManager(old_db, embed_fn=FixtureEmbed()) as sm:  # and it still upgrades
        assert_everything_kept(sm, legacy_rows(FIXTURE))


def test_migrate_to_a_new_file_leaves_the_old_one(old_db):
    original = old_db.read_bytes()
    report = migrate(old_db, old_db.with_name("new.db"), embed_fn=FixtureEmbed())
    assert old_db.read_bytes() == original
    assert (report.skills, report.chunks, report.vectors_carried, report.vectors_embedded) == (7, 14, 14, 0)
    assert (report.reviews, report.usage, report.backup) == (2, 7, None)
    assert report.renamed == RENAMED
    with SkillManager(old_db.with_name("new.db"), embed_fn=FixtureEmbed()) as sm:
        assert_everything_kept(sm, legacy_rows(FIXTURE))
    with pytest.raises(ValidationError, match="exists already"):
        migrate(old_db, old_db.with_name("new.db"), embed_fn=FixtureEmbed())


def test_cycles_orphans_and_empty_skills(old_db):
    conn = sqlite3.connect(old_db)
    conn.execute("UPDATE chunks SET dependencies = '[\"git-rebase::steps\"]' WHERE id = 'shell-basics::quoting'")
    conn.execute("INSERT INTO chunks(id, skill_id, section, content, tokens) VALUES ('lost::a', 'lost', 'A', 'x', 1)")
    conn.execute("INSERT INTO skills(id, name) VALUES ('hollow', 'No chunks')")
    conn.commit()
    conn.close()
    report = migrate(old_db, old_db.with_name("new.db"), embed_fn=FixtureEmbed())
    assert any("'lost'" in note for note in report.notes)
    assert any("'hollow'" in note for note in report.notes)
    with SkillManager(old_db.with_name("new.db"), embed_fn=FixtureEmbed()) as sm:
        # shell-basics and git-rebase depend on each other: both links survive
        assert sm.get("shell-basics").chunks[0].dependencies == ["git-rebase::steps"]
        assert sm.get("git-rebase").chunks[1].dependencies == ["shell-basics::quoting"]
        assert sm.get("hollow") is None
        text = sm.query("quote variables with spaces in file names", budget=2000)
        assert "git rebase origin/main" in text  # the dependency is served


def test_migrate_refuses_what_it_cannot_migrate(tmp_path, old_db):
    with pytest.raises(ValueError, match="no such file"):
        migrate(tmp_path / "missing.db", embed_fn=FixtureEmbed())
    migrate(old_db, embed_fn=FixtureEmbed())
    with pytest.raises(ValueError, match="current format already"):
        migrate(old_db, embed_fn=FixtureEmbed())


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLVAULT_")}
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "-m", "skillvault.cli", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=120)


def test_cli_migrate_in_a_subprocess(old_db):
    original = old_db.read_bytes()
    agent = cli(["--agent", "--db", "skills.db", "list"], old_db.parent)
    assert agent.returncode == 4 and "Traceback" not in agent.stderr
    assert "skillvault migrate" in agent.stderr and len(agent.stderr.strip().splitlines()) == 1

    to_new = cli(["migrate", "skills.db", "--to", "new.db"], old_db.parent)
    assert to_new.returncode == 0, to_new.stderr
    assert "Traceback" not in to_new.stderr
    assert "7 skills, 14 chunks" in to_new.stdout and "deploy-notes" in to_new.stdout
    assert old_db.read_bytes() == original

    in_place = cli(["migrate", "skills.db"], old_db.parent)
    assert in_place.returncode == 0 and "Traceback" not in in_place.stderr
    assert "skills.db.0.1.3-backup" in in_place.stdout
    assert old_db.with_name("skills.db.0.1.3-backup").read_bytes() == original
    listed = cli(["--db", "skills.db", "--agent", "list", "--json"], old_db.parent)
    assert listed.returncode == 0, listed.stderr
    assert {s["id"] for s in json.loads(listed.stdout)} == {"git-rebase", "shell-basics", "deploy-notes", "draft::ea434d1e"}

    again = cli(["migrate", "skills.db"], old_db.parent)
    assert again.returncode == 0 and "nothing to migrate" in again.stdout
    missing = cli(["migrate", "nothere.db"], old_db.parent)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and "no such file" in missing.stderr
