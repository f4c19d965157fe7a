"""Agent mode: what works, what is refused, and bypass attempts an attacker would try."""

from __future__ import annotations

import pytest

from skillvault import SkillManager, review
from skillvault.errors import SkillPermissionError, ValidationError

from conftest import make_skill
from test_growth import ASYNC_ANSWER, ScriptedLLM

GUARDED = "agent mode|not authorized|authorization denied|prohibited|readonly database"


@pytest.fixture
def library(db_path, embed):
    """A human-made library with one canonical skill and one draft."""
    human = SkillManager(db_path, embed_fn=embed, llm_fn=ScriptedLLM(ASYNC_ANSWER), auto_promote=None)
    human.register(make_skill("git", ("Rebase", "git rebase main keeps history linear")))
    draft_id = human.extract("user: async errors?")
    yield human, draft_id
    human.close()


@pytest.fixture
def agent(library, agent_path, embed):
    llm = ScriptedLLM({**ASYNC_ANSWER, "title": "Retrying flaky HTTP calls", "playbook": "- retry with backoff\n- cap attempts",
                       "examples": "", "when_to_use": "calls to flaky upstream services"})
    manager = SkillManager(agent_path, embed_fn=library[0].embeddings.embedder.fn, llm_fn=llm, mode="agent")
    yield manager
    manager.close()


def test_agent_reads_canonical_skills_and_writes_drafts(agent, library):
    human, draft_id = library
    assert "git rebase main" in agent.query("git rebase", budget=200)
    assert agent.search("git rebase")[0].skill_id == "git"
    assert agent.get("git").status == "canonical"
    assert agent.get(draft_id) is None  # drafts are not the agent's to read through the API
    assert [s.id for s in agent.list()] == ["git"]
    new_draft = agent.extract([{"role": "user", "content": "the upstream API times out"}])
    assert new_draft == "draft::retrying-flaky-http-calls"
    assert human.get(new_draft).status == "draft"
    assert human.history(new_draft)[0]["actor"] == "agent"
    agent.record_usage("git", helpful=True)
    assert human.usage("git")["helpful"] == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda sm, d, tmp: sm.register(make_skill("evil", ("x", "obey me"))),
        lambda sm, d, tmp: sm.approve(d),
        lambda sm, d, tmp: sm.reject(d, reason="no"),
        lambda sm, d, tmp: sm.archive("git"),
        lambda sm, d, tmp: sm.rollback("git", 1),
        lambda sm, d, tmp: sm.import_(tmp / "x.json"),
        lambda sm, d, tmp: sm.restore("git"),
        lambda sm, d, tmp: sm.reindex(),
        lambda sm, d, tmp: sm.maintenance(),
        lambda sm, d, tmp: sm.review_queue(),
        lambda sm, d, tmp: sm.export("git", tmp / "git.json"),
        lambda sm, d, tmp: sm.list(status="draft"),
        lambda sm, d, tmp: sm.history("git"),
    ],
)
def test_human_actions_raise_permission_error(agent, library, tmp_path, call):
    with pytest.raises(PermissionError):
        call(agent, library[1], tmp_path)


def snapshot(human):
    return [s.to_dict() for s in human.store.list_skills()], human.stats()["chunks"]


def test_store_methods_are_guarded_too(agent, library):
    human, draft_id = library
    before = snapshot(human)
    evil = make_skill("evil", ("x", "obey me"))
    ready = evil.validate()
    from skillvault.library import prepare

    with pytest.raises(SkillPermissionError):
        agent.store.save_skill(*prepare(ready, agent.embeddings), agent.embeddings.name)
    with pytest.raises(SkillPermissionError):
        with agent.store.transaction():
            agent.store.change_status(draft_id, "canonical")
    with pytest.raises(SkillPermissionError):
        with agent.store.transaction():
            agent.store.change_status("git", "archived")
    with pytest.raises(SkillPermissionError):
        review.approve(agent.store, agent.embeddings, draft_id)  # the facade's check skipped
    with pytest.raises(SkillPermissionError):
        review.archive(agent.store, "git")
    with pytest.raises(SkillPermissionError):
        agent.store.set_meta("embedder_name", "something-else")
    assert snapshot(human) == before


def agent_connection(agent, which):
    """The agent's reading connection, or its private draft-writing one (reachable from
    Python in the same process, so it must hold on its own too)."""
    return agent.store.conn if which == "reader" else agent.store._draft_writer().conn


@pytest.mark.sqlite_only("attacks the SQLite connections and authorizer; test_postgres_roles.py attacks the agent role")
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE skills SET status = 'canonical' WHERE id LIKE 'draft::%'",
        "UPDATE skills SET name = 'pwned' WHERE id = 'git'",
        "UPDATE chunks SET content = 'ignore previous instructions' WHERE skill_id = 'git'",
        "DELETE FROM skills WHERE id = 'git'",
        "DELETE FROM chunks WHERE skill_id = 'git'",
        "INSERT INTO skills(id, name, source, status, confidence, created_at, updated_at) "
        "VALUES ('evil', 'e', 'manual', 'canonical', 1, 'x', 'x')",
        "INSERT INTO skills(id, name, source, status, confidence, created_at, updated_at) "
        "VALUES ('draft::sneaky', 'e', 'manual', 'draft', 1, 'x', 'x')",
        "INSERT INTO chunks(id, skill_id, position, section, content, tokens, priority, required, dependencies, embed_hash) "
        "VALUES ('git::evil', 'git', 9, 's', 'obey me', 2, 99, 1, '[]', 'h')",
        "UPDATE chunks SET skill_id = 'git' WHERE skill_id LIKE 'draft::%'",
        "UPDATE skills SET id = 'git2' WHERE id LIKE 'draft::%'",
        "DELETE FROM chunk_vec",
        "UPDATE chunk_fts SET content = 'obey me'",
        "INSERT INTO chunk_fts(rowid, skill_name, section, content) VALUES (999, 'git', 's', 'obey me')",
        "DELETE FROM meta",
        "DELETE FROM skill_versions",
        "DELETE FROM audit_log",
        "UPDATE audit_log SET actor = 'ann'",
        "INSERT INTO audit_log(at, actor, action, skill_id) VALUES ('now', 'ann', 'approve', 'git')",
        "DROP TRIGGER temp.agent_guard_skills_update",
        "CREATE TRIGGER main.backdoor AFTER INSERT ON usage BEGIN UPDATE skills SET status = 'canonical'; END",
        "CREATE TEMP TRIGGER backdoor AFTER INSERT ON usage BEGIN SELECT 1; END",
        "PRAGMA writable_schema = ON",
        "PRAGMA foreign_keys = OFF",
        "PRAGMA user_version = 0",
        "ATTACH DATABASE 'file:skills.db' AS other",
        "DROP TABLE skills",
        "ALTER TABLE skills ADD COLUMN pwned TEXT",
        "CREATE TABLE main.stash(x)",
        "VACUUM",
        "PRAGMA recursive_triggers = 0",
        "SELECT load_extension('/tmp/evil.so')",
        "INSERT INTO skill_versions(skill_id, version, snapshot, created_at) VALUES ('git', 99, '{}', 'x')",
        "CREATE TEMP VIEW stash AS SELECT 1",
        "INSERT INTO usage_notes(skill_id, at, actor, note) VALUES ('git', 'now', 'ann', 'approved by ann')",
        "UPDATE usage_notes SET actor = 'ann'",
        "DELETE FROM usage_notes",
    ],
)
@pytest.mark.parametrize("which", ["reader", "writer"])
def test_raw_sql_on_the_agent_connections_cannot_touch_canonical_data(agent, library, sql, which):
    human, _ = library
    before = snapshot(human)
    conn = agent_connection(agent, which)
    with pytest.raises(Exception, match=GUARDED if which == "writer" else None):
        conn.execute(sql)
    assert snapshot(human) == before
    assert "git rebase main" in human.query("git rebase", budget=200)


@pytest.mark.sqlite_only("attacks the SQLite connections and authorizer; test_postgres_roles.py attacks the agent role")
@pytest.mark.parametrize("which", ["reader", "writer"])
def test_multi_statement_scripts_are_checked_statement_by_statement(agent, library, which):
    human, _ = library
    before = snapshot(human)
    conn = agent_connection(agent, which)
    with pytest.raises(Exception, match=GUARDED):
        conn.executescript(
            "INSERT INTO agent_usage(skill_id, uses) VALUES ('x', 1); UPDATE skills SET status = 'canonical';"
        )
    conn.execute("ROLLBACK") if conn.in_transaction else None
    assert snapshot(human) == before


@pytest.mark.sqlite_only("attacks the SQLite connections and authorizer; test_postgres_roles.py attacks the agent role")
def test_the_reading_connection_is_read_only_at_the_sqlite_level(agent, library):
    # Even its own draft and the advisory usage table: every write goes through the narrow path.
    human, draft_id = library
    conn = agent.store.conn
    for sql in ("INSERT INTO agent_usage(skill_id, uses) VALUES ('git', 1)",
                f"UPDATE skills SET name = 'x' WHERE id = '{draft_id}'"):
        with pytest.raises(Exception, match=GUARDED):
            conn.execute(sql)
    conn.set_authorizer(None)  # even without the authorizer, SQLite itself refuses
    with pytest.raises(Exception, match="readonly database"):
        conn.execute("UPDATE skills SET name = 'pwned' WHERE id = 'git'")
    assert agent.store.driver_info().access == "read-only"


@pytest.mark.sqlite_only("attacks the SQLite connections and authorizer; test_postgres_roles.py attacks the agent role")
def test_the_draft_writer_allows_what_agents_need(agent, library):
    human, draft_id = library
    conn = agent_connection(agent, "writer")
    conn.execute("INSERT INTO agent_usage(skill_id, uses) VALUES ('git', 1) ON CONFLICT(skill_id) DO UPDATE SET uses = uses + 1")
    assert human.usage("git")["by_agents"]["uses"] == 1
    conn.execute("INSERT INTO usage_notes(skill_id, at, actor, helpful, note) VALUES ('git', 'now', 'agent', 0, 'stale')")
    assert human.usage("git")["notes"][0] == {"at": "now", "actor": "agent", "helpful": False, "note": "stale"}
    # editing a draft makes it the agent's: it then never auto-promotes without a human
    conn.execute(f"UPDATE skills SET name = 'renamed draft', author = 'agent' WHERE id = '{draft_id}'")
    assert human.get(draft_id).name == "renamed draft"
    with pytest.raises(Exception, match=GUARDED):  # an edit that keeps a human's name on it
        conn.execute(f"UPDATE skills SET name = 'again', author = 'human' WHERE id = '{draft_id}'")


def test_usage_notes_are_checked_redacted_and_kept_with_their_actor(agent, library):
    human, _ = library
    agent.record_usage("git", False, note="  step 3 is stale; token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked  ")
    agent.record_usage("git", True, note="   ")  # blank: counted, no note
    human.record_usage("git", True, note="checked: fixed in v2")
    usage = human.usage("git")
    assert usage["by_agents"] == {"uses": 2, "helpful": 1, "unhelpful": 1}
    assert [(n["actor"], n["helpful"]) for n in usage["notes"]] == [("human", True), ("agent", False)]
    assert "ghp_" not in usage["notes"][1]["note"] and usage["notes"][1]["note"].startswith("step 3 is stale")
    before = snapshot(human), human.usage("git")
    for note, field_error in ((5, "must be a string"), ("x" * 1001, "1000")):
        with pytest.raises(ValidationError, match=field_error) as err:
            agent.record_usage("git", True, note=note)
        assert err.value.field == "note"
    assert (snapshot(human), human.usage("git")) == before
