"""register_many and the batched writer: the same library as one register() per skill,
each skill atomic, a transaction per batch, all-or-nothing validation."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from skillvault import SkillManager
from skillvault.errors import SkillPermissionError, StorageFullError, ValidationError
from skillvault.models import Chunk, Skill
from skillvault.store import bulk

from conftest import CountingEmbed, make_skill

WHEN = datetime(2026, 1, 2, tzinfo=timezone.utc)
TABLES = ("skills", "chunks", "chunk_fts", "chunk_vec", "draft_vectors", "skill_cards", "card_fts", "file_fts",
          "skill_versions", "audit_log")


def corpus() -> list[Skill]:
    """Skills covering the write paths: canonical, archived, draft, a forward dependency,
    bundled files, an id given twice."""
    skills = [
        make_skill("deploy", ("When to use", "Shipping the web service to production"),
                   ("Steps", "Run the migrations, then roll the pods one zone at a time")),
        make_skill("rollback", ("Steps", "Revert the release tag and redeploy the previous image")),
        make_skill("old-deploy", ("Steps", "Copy the tarball over ssh and restart the daemon")),
        Skill(id="draft::notes", name="Notes", status="draft", source="extracted",
              chunks=[Chunk(id="draft::notes::0", section="Tip", content="Watch the error budget while deploying")]),
        make_skill("deploy", ("When to use", "Shipping the web service to production"),
                   ("Steps", "Run the migrations, roll the pods one zone at a time, watch the dashboard")),
        make_skill("bundle", ("Steps", "Read the reference before touching the schema")),
    ]
    skills[0].chunks[1].dependencies = ["rollback::0"]
    skills[4].chunks[1].dependencies = ["rollback::0", "later::0"]  # "later" comes in the same call, after it
    skills[2].status = "archived"
    skills[5].metadata = {"agent_skill": {"files": {"references/schema.md": "the schema lives in db/schema.sql"}}}
    skills.append(make_skill("later", ("Checks", "Compare the error rate before and after the deploy")))
    for skill in skills:
        skill.created_at = WHEN
    return skills


def state(sm: SkillManager) -> dict:
    """Everything a caller can see, without write times."""
    skills = {}
    for skill in sm.list():
        audit = [{k: v for k, v in entry.items() if k != "at"} for entry in sm.store.audit_entries(skill.id)]
        versions = {v: sm.store.get_version(skill.id, v).to_dict() for v in sm.store.versions(skill.id)}
        skills[skill.id] = {"skill": skill.to_dict(), "audit": audit, "versions": versions}
    return {
        "skills": skills,
        "query": sm.query("how do I deploy the web service and roll back", budget=400),
        "search": [(h.chunk.id, round(h.fused_score, 6)) for h in sm.search("roll the pods", k=5)],
        "skill_search": [h.id for h in sm.search_skills("schema reference", k=3)],
        "unresolved": sm.store.unresolved_dependencies(),
        "counts": {t: sm.store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES},
    }


def open_library(path) -> SkillManager:
    return SkillManager(path, embed_fn=CountingEmbed(), auto_promote=None)


def test_register_many_writes_what_register_one_by_one_writes(tmp_path):
    one = open_library(tmp_path / "one.db")
    for skill in corpus():
        one.register(skill)
    many = open_library(tmp_path / "many.db")
    ids = many.register_many(corpus())
    assert ids == [skill.id for skill in corpus()]
    assert state(many) == state(one)
    assert many.store.versions("deploy") == [1, 2]  # the id given twice is written twice
    assert "watch the dashboard" in many.get("deploy").chunks[1].content
    assert many.store.unresolved_dependencies() == []  # "later::0" resolved within the call
    assert "Compare the error rate" in many.query("roll the pods one zone at a time and watch the dashboard", budget=2000)


def test_each_text_is_embedded_once_in_one_pass(tmp_path):
    sm = open_library(tmp_path / "lib.db")
    embed = sm.embeddings.embedder.fn
    before = len(embed.calls)
    sm.register_many(corpus())
    texts = embed.calls[before:]
    assert len(texts) == len(set(texts))  # the repeated deploy text is embedded once


def test_the_callers_skills_are_not_changed(tmp_path):
    skills = corpus()
    before = [skill.to_dict() for skill in skills]
    open_library(tmp_path / "lib.db").register_many(skills)
    assert [skill.to_dict() for skill in skills] == before


@pytest.mark.parametrize("bad, field", [
    (lambda s: setattr(s.chunks[0], "content", ""), "skills[2].chunks[0].content"),
    (lambda s: setattr(s, "status", "gone"), "skills[2].status"),
    (lambda s: setattr(s.chunks[0], "id", "deploy::0"), "skills[2].chunks[0].id"),  # held by skills[0]
])
def test_one_bad_skill_refuses_the_call_and_writes_nothing(tmp_path, bad, field):
    sm = open_library(tmp_path / "lib.db")
    sm.register(make_skill("kept", ("Steps", "already here")))
    before = state(sm)
    skills = corpus()
    bad(skills[2])
    with pytest.raises(ValidationError) as caught:
        sm.register_many(skills)
    assert caught.value.field == field
    assert state(sm) == before


def test_a_chunk_id_held_by_a_stored_skill_is_refused_before_writing(tmp_path):
    sm = open_library(tmp_path / "lib.db")
    sm.register(make_skill("owner", ("Steps", "mine")))
    before = state(sm)
    with pytest.raises(ValidationError, match="already belongs to skill 'owner'") as caught:
        sm.register_many([make_skill("fine", ("Steps", "ok")),
                          Skill(id="thief", name="Thief", chunks=[Chunk(id="owner::0", content="taken")])])
    assert caught.value.field == "skills[1].chunks[0].id"
    assert state(sm) == before


def test_a_skill_replaced_earlier_in_the_call_frees_its_chunk_ids(tmp_path):
    sm = open_library(tmp_path / "lib.db")
    sm.register(make_skill("owner", ("Steps", "mine")))
    moved = Skill(id="owner", name="Owner", chunks=[Chunk(id="owner::new", content="moved on")])
    taker = Skill(id="taker", name="Taker", chunks=[Chunk(id="owner::0", content="free now")])
    assert sm.register_many([moved, taker]) == ["owner", "taker"]
    assert sm.get("taker").chunks[0].content == "free now"


def test_a_skill_the_store_refuses_is_left_out_and_the_others_are_written(tmp_path, monkeypatch):
    """Another writer takes a chunk id between the check and the write: that skill alone
    is not written (no row of it anywhere), the error names it and says the rest were."""
    sm = open_library(tmp_path / "lib.db")
    sm.register(make_skill("owner", ("Steps", "mine")))
    monkeypatch.setattr("skillvault.library._check_chunk_owners", lambda store, skills: None)  # the race
    skills = [make_skill("first", ("Steps", "one")),
              Skill(id="thief", name="Thief", chunks=[Chunk(id="owner::0", content="taken")]),
              make_skill("third", ("Steps", "three"))]
    with pytest.raises(ValidationError, match="1 skill.* not written; the other 2 were") as caught:
        sm.register_many(skills)
    assert caught.value.field == "skills[1].chunks[0].id"
    assert {s.id for s in sm.list()} == {"owner", "first", "third"}
    conn = sm.store.conn
    assert conn.execute("SELECT COUNT(*) FROM audit_log WHERE skill_id = 'thief'").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM skill_versions WHERE skill_id = 'thief'").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM skill_cards WHERE skill_id = 'thief'").fetchone()[0] == 0
    assert sm.get("owner").chunks[0].content == "mine"
    assert sm.store.integrity_check() == ["ok"]


def test_batch_boundaries(tmp_path, monkeypatch):
    """N+1 skills with a batch of N chunks: two transactions, everything written, and the
    same library as one big batch."""
    monkeypatch.setattr(bulk, "BATCH_CHUNKS", 3)
    skills = [make_skill(f"s{i}", ("Steps", f"step number {i} of the runbook")) for i in range(4)]
    sm = open_library(tmp_path / "small.db")
    sm.embeddings.null_vectors()  # the embedder's record (its own transaction) is not counted
    commits = []
    real = sm.store.transaction

    def counted():
        commits.append(1)
        return real()

    monkeypatch.setattr(sm.store, "transaction", counted)
    written = []
    sm.register_many(skills, progress=lambda done, total: written.append((done, total)))
    assert len(commits) == 2
    assert written[-3:] == [(0, 4), (3, 4), (4, 4)]  # the writing stage: one step per batch
    monkeypatch.setattr(bulk, "BATCH_CHUNKS", 1000)
    big = open_library(tmp_path / "big.db")
    big.register_many(skills)
    assert state(sm) == state(big)


def test_bulk_pks_continue_after_the_stored_chunks(tmp_path):
    sm = open_library(tmp_path / "lib.db")
    sm.register(make_skill("first", ("Steps", "one"), ("More", "two")))
    sm.register_many([make_skill("second", ("Steps", "three"))])
    sm.register(make_skill("third", ("Steps", "four")))
    pks = [row[0] for row in sm.store.conn.execute("SELECT pk FROM chunks ORDER BY skill_id, position")]
    assert sorted(pks) == list(range(1, 5))


def test_empty_list_and_wrong_types(tmp_path):
    sm = open_library(tmp_path / "lib.db")
    assert sm.register_many([]) == []
    with pytest.raises(ValidationError, match="skills: must be a list"):
        sm.register_many(make_skill("x", ("a", "b")))
    with pytest.raises(ValidationError) as caught:
        sm.register_many([make_skill("x", ("a", "b")), {"id": "y"}])
    assert caught.value.field == "skills[1]"
    with pytest.raises(ValidationError, match="progress"):
        sm.register_many([make_skill("x", ("a", "b"))], progress="yes")
    assert sm.list() == []


def test_agent_mode_is_refused(tmp_path):
    path = tmp_path / "lib.db"
    open_library(path).close()
    agent = SkillManager(path, embed_fn=CountingEmbed(), mode="agent")
    with pytest.raises(SkillPermissionError, match="register_many is not allowed in agent mode"):
        agent.register_many([make_skill("x", ("a", "b"))])
    assert agent.list() == []


def test_a_full_disk_rolls_back_the_batch_it_hits_and_keeps_the_ones_before(tmp_path, monkeypatch):
    """SQLite's page limit fills up during the second batch: the first stays written, the
    second is rolled back whole (rows, pending index changes), the library still answers."""
    monkeypatch.setattr(bulk, "BATCH_CHUNKS", 2)
    sm = open_library(tmp_path / "lib.db")
    sm.register(make_skill("kept", ("Steps", "deploy with care")))
    conn = sm.store.conn
    conn.execute("VACUUM")
    text = "Roll the deployment back when the error rate climbs. " * 40
    skills = [make_skill(f"big{i}", ("Steps", f"{i} {text}"), ("Checks", f"{i} {text}")) for i in range(3)]

    def fill_after_first_batch(done, total):
        if done == 1 and total == 3:  # the writing stage, after the first batch
            conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")

    with pytest.raises(StorageFullError):
        sm.register_many(skills, progress=fill_after_first_batch)
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert sorted(s.id for s in sm.list()) == ["big0", "kept"]
    assert sm.store._tracker.pending() == []
    assert sm.store.integrity_check() == ["ok"]
    served = {hit.skill_id for hit in sm.search("roll the deployment back when the error rate climbs", k=20)}
    assert "big0" in served and "big1" not in served
    assert sm.register_many(skills[1:]) == ["big1", "big2"]  # and with space again the rest goes in
    assert sorted(s.id for s in sm.list()) == ["big0", "big1", "big2", "kept"]


def test_import_writes_in_batches_and_keeps_its_report(tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "BATCH_CHUNKS", 2)
    source = tmp_path / "lib.json"
    source.write_text(json.dumps({"skills": [s.to_dict() for s in corpus() if s.id != "draft::notes"][:5]}))
    sm = open_library(tmp_path / "lib.db")
    sm.register(make_skill("thief", ("Steps", "x")))
    sm.store.conn.execute("UPDATE chunks SET id = 'rollback::0' WHERE skill_id = 'thief'")  # a taken chunk id
    report = sm.import_report(source)
    assert report.imported == ["deploy", "old-deploy", "bundle"]
    assert [f.skill_id for f in report.skipped] == ["deploy", "rollback"]  # the repeated id, the taken chunk id
    assert "rollback::0" in report.skipped[1].message
    again = sm.import_report(source)
    assert again.unchanged == ["deploy", "old-deploy", "bundle"] and again.imported == []
