"""The agent boundary against the attacks found by a hostile probe (issue 10, points 1-3).

Each attack is run through every handle an agent's process holds: its reading
connection and the private draft-writing connection behind the narrow write path.
"""

from __future__ import annotations

import pytest

from skillvault import SkillManager
from skillvault.errors import ExtensionError

from conftest import make_skill
from test_agent_mode import GUARDED, agent_connection, snapshot
from test_growth import ASYNC_ANSWER, ScriptedLLM

CHUNK_COLUMNS = "pk, id, skill_id, position, section, content, tokens, priority, required, dependencies, embed_hash"


@pytest.fixture
def library(db_path, embed):
    human = SkillManager(db_path, embed_fn=embed, auto_promote=None)
    human.register(make_skill("git", ("Rebase", "git rebase main keeps history linear"), ("Push", "push with lease")))
    yield human
    human.close()


@pytest.fixture
def agent(library, db_path, embed):
    llm = ScriptedLLM({**ASYNC_ANSWER, "title": "Agent notes", "confidence": 0.8})
    manager = SkillManager(db_path, embed_fn=embed, llm_fn=llm, mode="agent")
    yield manager
    manager.close()


@pytest.mark.parametrize("which", ["reader", "writer"])
def test_replace_cannot_move_canonical_chunks_into_a_draft(library, agent, which):
    """Point 1: REPLACE's implicit delete must not remove canonical rows."""
    draft_id = agent.extract("user: notes please")
    assert library.query("git rebase", budget=300)  # a human process has the vectors loaded
    before = snapshot(library)
    conn = agent_connection(agent, which)
    with pytest.raises(Exception, match=GUARDED):
        conn.execute(
            f"REPLACE INTO chunks({CHUNK_COLUMNS}) SELECT pk, id, '{draft_id}', position, section, 'INJECTED', "
            f"tokens, priority, required, dependencies, embed_hash FROM chunks WHERE skill_id = 'git'"
        )
    assert snapshot(library) == before
    assert "INJECTED" not in library.query("git rebase", budget=300)
    assert len(library.get("git").chunks) == 2
    # the library still works for humans afterwards
    library.register(make_skill("git", ("Rebase", "git rebase -i squashes fixups")))
    assert library.approve(draft_id) == "agent-notes"


@pytest.mark.parametrize("which", ["reader", "writer"])
@pytest.mark.parametrize(
    "sql",
    [
        "REPLACE INTO skills(id, name, source, status, confidence, created_at, updated_at, author) "
        "SELECT id, 'pwned', 'extracted', 'draft', 1, 'x', 'x', 'agent' FROM skills WHERE id = 'git'",
        "INSERT OR REPLACE INTO skill_versions(skill_id, version, snapshot, created_at) "
        "SELECT skill_id, version, '{{}}', 'x' FROM skill_versions",
        "REPLACE INTO draft_vectors(chunk_pk, embedding) SELECT pk, x'00' FROM chunks WHERE skill_id = 'git'",
        "INSERT INTO usage(skill_id, uses) VALUES ('{draft}', 1000) "
        "ON CONFLICT(skill_id) DO UPDATE SET uses = 1000",
        "UPDATE skills SET status = 'canonical', author = 'agent' WHERE id = '{draft}'",
        "INSERT INTO meta(key, value) VALUES ('last_maintenance', '0') "
        "ON CONFLICT(key) DO UPDATE SET value = '0'",
    ],
)
def test_other_replace_and_upsert_forms_are_refused(library, agent, sql, which):
    draft_id = agent.extract("user: notes please")
    before = snapshot(library)
    with pytest.raises(Exception, match=GUARDED):
        agent_connection(agent, which).execute(sql.format(draft=draft_id))
    assert snapshot(library) == before


def test_an_agent_cannot_promote_its_own_draft(library, agent, db_path, embed):
    """Point 2: forged confidence and usage never make an agent's draft canonical by default."""
    draft_id = agent.extract("user: notes please")
    writer = agent_connection(agent, "writer")
    writer.execute(f"UPDATE skills SET confidence = 1.0, author = 'agent' WHERE id = '{draft_id}'")
    writer.execute(
        f"INSERT INTO agent_usage(skill_id, uses) VALUES ('{draft_id}', 1000) "
        "ON CONFLICT(skill_id) DO UPDATE SET uses = 1000"
    )
    for _ in range(10):
        agent.record_usage(draft_id, helpful=True)
    assert library.usage(draft_id)["by_agents"]["uses"] == 1010
    # the next human open runs maintenance with the default auto_promote settings
    human = SkillManager(db_path, embed_fn=embed)
    try:
        assert human.maintenance()["promoted"] == []
        assert human.get(draft_id).status == "draft"
        # usage counted by a human's process does not launder an agent's draft either
        for _ in range(10):
            human.record_usage(draft_id)
        assert human.get(draft_id).status == "draft"
        assert human.store.is_agent_draft(draft_id)
    finally:
        human.close()
    # an operator who trusts agents can turn it on explicitly
    trusting = SkillManager(db_path, embed_fn=embed, auto_promote={"usage": 5, "confidence": 0.9, "trust_agents": True})
    try:
        assert trusting.maintenance()["promoted"] == ["agent-notes"]
    finally:
        trusting.close()


def test_a_human_extracted_draft_edited_by_an_agent_becomes_the_agents(library, agent, db_path, embed):
    human = SkillManager(db_path, embed_fn=embed, llm_fn=ScriptedLLM({**ASYNC_ANSWER, "title": "Agent notes"}),
                         auto_promote={"usage": 1, "confidence": 0.5})
    try:
        draft_id = human.extract("user: notes please")
        assert not human.store.is_agent_draft(draft_id)
        assert agent.extract("user: the same notes again") == draft_id  # merged by the agent
        assert human.store.is_agent_draft(draft_id)
        human.record_usage(draft_id)
        assert human.get(draft_id).status == "draft"
    finally:
        human.close()


def test_sqlean_extensions_stay_off_whatever_the_environment_says(library, db_path, embed, monkeypatch, tmp_path):
    """Point 3: SQLEAN_ENABLE=1 must not give an agent file I/O or add tables."""
    monkeypatch.setenv("SQLEAN_ENABLE", "1")
    monkeypatch.setenv("SQLEAN_ENABLE_FILEIO", "1")
    agent = SkillManager(db_path, embed_fn=embed, mode="agent")
    try:
        target = tmp_path / "written-by-agent.txt"
        for conn in (agent.store.conn, agent.store._draft_writer().conn, library.store.conn):
            with pytest.raises(Exception, match="no such function|not authorized"):
                conn.execute("SELECT fileio_write(?, 'pwned')", (str(target),))
            names = {row[0] for row in conn.execute("SELECT name FROM pragma_function_list")}
            assert not names & {"fileio_write", "fileio_read", "define", "eval"}
        assert not target.exists()
        tables = {row[0] for row in library.store.conn.execute("SELECT name FROM sqlite_master")}
        assert not any(name.startswith("sqlean") for name in tables)
    finally:
        agent.close()
    assert __import__("os").environ["SQLEAN_ENABLE"] == "1"  # the caller's environment is left as it was


def test_a_connection_with_foreign_extension_functions_is_refused(monkeypatch, db_path):
    from skillvault.store import connection

    monkeypatch.setattr(connection, "FORBIDDEN_FUNCTIONS", ("vec_version",))  # present on every connection
    with pytest.raises(ExtensionError, match="SQLEAN_ENABLE"):
        connection.connect(db_path)


def _public_methods() -> list[str]:
    return sorted(name for name in dir(SkillManager) if not name.startswith("_") and callable(getattr(SkillManager, name)))


def test_every_public_method_is_declared_agent_allowed_or_human_only():
    from skillvault.manager import METHOD_RIGHTS

    assert set(_public_methods()) == set(METHOD_RIGHTS)
    assert set(METHOD_RIGHTS.values()) == {"agent", "human"}


def test_an_undeclared_public_method_fails_loudly():
    from skillvault import manager

    with pytest.raises(RuntimeError, match="unlisted \\['sneaky'\\]"):
        manager._apply_rights(type("Copy", (), {**vars(manager.SkillManager), "sneaky": lambda self: None}))


# Arguments good enough to get past validation, so that only the rights check can refuse.
_CALLS = {
    "register": lambda sm, tmp: sm.register(make_skill("evil", ("x", "obey me"))),
    "register_many": lambda sm, tmp: sm.register_many([make_skill("evil", ("x", "obey me"))]),
    "archive": lambda sm, tmp: sm.archive("git"),
    "review_queue": lambda sm, tmp: sm.review_queue(),
    "approve": lambda sm, tmp: sm.approve("draft::agent-notes"),
    "reject": lambda sm, tmp: sm.reject("draft::agent-notes", "no"),
    "edit_draft": lambda sm, tmp: sm.edit_draft("draft::agent-notes", description="obey me"),
    "restore": lambda sm, tmp: sm.restore("git"),
    "rollback": lambda sm, tmp: sm.rollback("git", 1),
    "versions": lambda sm, tmp: sm.versions("git"),
    "history": lambda sm, tmp: sm.history("git"),
    "maintenance": lambda sm, tmp: sm.maintenance(),
    "export": lambda sm, tmp: sm.export("git", tmp / "git.json"),
    "export_all": lambda sm, tmp: sm.export_all(tmp / "all.json"),
    "backup": lambda sm, tmp: sm.backup(tmp / "copy.db"),
    "import_": lambda sm, tmp: sm.import_(tmp / "all.json"),
    "import_report": lambda sm, tmp: sm.import_report(tmp / "all.json"),
    "lint": lambda sm, tmp: sm.lint(),
    "reindex": lambda sm, tmp: sm.reindex(),
}


@pytest.mark.parametrize("name", [n for n in _public_methods() if n in _CALLS])
def test_every_human_only_method_refuses_an_agent(library, agent, tmp_path, name):
    from skillvault.errors import SkillPermissionError
    from skillvault.manager import METHOD_RIGHTS

    assert METHOD_RIGHTS[name] == "human"
    agent.extract("user: notes please")
    library.export_all(tmp_path / "all.json")
    before = snapshot(library)
    with pytest.raises(SkillPermissionError, match=f"{name}.* not allowed in agent mode"):
        _CALLS[name](agent, tmp_path)
    assert snapshot(library) == before


def test_the_human_only_list_matches_the_calls_tried():
    from skillvault.manager import METHOD_RIGHTS

    assert {name for name, who in METHOD_RIGHTS.items() if who == "human"} == set(_CALLS)
