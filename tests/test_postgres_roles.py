"""The PostgreSQL agent role, attacked with plain SQL on a connection logged in as that role.

Every attack must fail (or touch no row) and leave every table, grant and policy as it was.
"""

from __future__ import annotations

import uuid

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from pg_fixtures import new_database
from pg_rows import NOW, add_skill, axis, open_library
from skillvault.errors import SkillPermissionError, ValidationError
from skillvault.store.postgres.connection import connect
from skillvault.store.postgres.migrations import SECURED_TABLES
from skillvault.store.postgres.roles import create_agent_role
from skillvault.store.postgres.search import candidates, dependency_closure
from skillvault.store.postgres.vectors import ensure_vector_columns, vector_layout

PASSWORD = "s3cret pass:word@/"
NEW_DRAFT = ("INSERT INTO skills (id, name, source, status, confidence, created_at, updated_at, author) "
             "VALUES (%s, 'n', 'extracted', %s, 0.5, 'now', 'now', %s)")


class Library:
    """A library with one skill in each state, its owner's connection and an agent's."""

    def __init__(self, owner, agent, role: str):
        self.owner, self.agent, self.role = owner, agent, role

    def close(self) -> None:
        self.agent.close()
        self.owner.close()

    def state(self) -> dict:
        """Every row of every table, the grants, policies and roles: what no attack may change."""
        tables = {table: self.owner.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in SECURED_TABLES}
        tables["grants"] = self.owner.execute(
            "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE table_schema = 'public' ORDER BY 1, 2, 3").fetchall()
        tables["column_grants"] = self.owner.execute(
            "SELECT grantee, table_name, column_name, privilege_type FROM information_schema.column_privileges "
            "WHERE table_schema = 'public' ORDER BY 1, 2, 3, 4").fetchall()
        tables["policies"] = self.owner.execute("SELECT * FROM pg_policies ORDER BY 1, 2, 3").fetchall()
        tables["security"] = self.owner.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "ORDER BY 1").fetchall()
        tables["roles"] = self.owner.execute("SELECT rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb "
                                             "FROM pg_roles ORDER BY 1").fetchall()
        tables["relations"] = self.owner.execute("SELECT relname, relkind FROM pg_class ORDER BY 1").fetchall()
        tables["functions"] = self.owner.execute("SELECT count(*) FROM pg_proc").fetchall()
        return tables


def _library(server, url: str) -> Library:
    owner = open_library(url)
    add_skill(owner, "canon", chunks=[("Deploy", "deploy with the blue green hook", axis(0)),
                                      ("Rollback", "roll back the release", axis(1))])
    add_skill(owner, "draft::approved", chunks=[("Body", "an approved draft keeps its id", axis(2))])
    add_skill(owner, "old", "archived", chunks=[("Body", "archived deploy advice", axis(0))])
    add_skill(owner, "draft::bad", "rejected", source="extracted", chunks=[("Body", "rejected deploy advice", axis(0))])
    add_skill(owner, "draft::human", "draft", chunks=[("Body", "a human's draft", axis(3))])
    add_skill(owner, "draft::mine", "draft", author="agent", source="extracted",
              chunks=[("Body", "an agent's draft", axis(4))])
    owner.execute("INSERT INTO audit_log (at, actor, action, skill_id) VALUES (%s, 'human', 'approve', 'canon')", (NOW,))
    owner.execute("INSERT INTO usage (skill_id, uses) VALUES ('canon', 3)")
    owner.execute("INSERT INTO embedding_cache VALUES ('h', %s, 0)", (axis(5),))
    owner.execute("INSERT INTO skill_files VALUES ('canon', 'notes.md', 'notes'), ('old', 'old.md', 'old notes')")
    owner.execute("INSERT INTO agent_usage (skill_id, agent, uses) VALUES ('canon', 'someone', 2)")
    role = f"agent_{uuid.uuid4().hex[:8]}"
    create_agent_role(owner, role, PASSWORD)
    agent = connect(server.url(conninfo_to_dict(url)["dbname"], role, PASSWORD))
    return Library(owner, agent, role)


@pytest.fixture
def library(pg_server, pg_url):
    """A library of one's own, for tests that write."""
    built = _library(pg_server, pg_url)
    yield built
    built.close()


@pytest.fixture(scope="module")
def attacked(pg_server):
    """One library for every attack: each test checks that its attack changed nothing."""
    with new_database(pg_server) as url:
        built = _library(pg_server, url)
        yield built
        built.close()


# Statements an agent may not run at all: each raises insufficient_privilege.
REFUSED = {
    "delete a canonical skill": "DELETE FROM skills WHERE id = 'canon'",
    "delete its own draft": "DELETE FROM skills WHERE id = 'draft::mine'",
    "make its draft canonical": "UPDATE skills SET status = 'canonical' WHERE id = 'draft::mine'",
    "make its draft canonical through a CTE":
        "WITH promoted AS (UPDATE skills SET status = 'canonical' WHERE id = 'draft::mine' RETURNING id) "
        "SELECT * FROM promoted",
    "pass its draft off as a human's": "UPDATE skills SET author = 'human' WHERE id = 'draft::mine'",
    "rename its draft": "UPDATE skills SET id = 'draft::other' WHERE id = 'draft::mine'",
    "insert a canonical skill":
        "INSERT INTO skills (id, name, source, status, confidence, created_at, updated_at, author) "
        "VALUES ('draft::new', 'n', 'extracted', 'canonical', 1, 'now', 'now', 'agent')",
    "insert a human's draft":
        "INSERT INTO skills (id, name, source, status, confidence, created_at, updated_at, author) "
        "VALUES ('draft::new', 'n', 'extracted', 'draft', 1, 'now', 'now', 'human')",
    "insert a draft without the draft:: id":
        "INSERT INTO skills (id, name, source, status, confidence, created_at, updated_at, author) "
        "VALUES ('plain', 'n', 'extracted', 'draft', 1, 'now', 'now', 'agent')",
    "overwrite a canonical skill by upsert":
        "INSERT INTO skills (id, name, source, status, confidence, created_at, updated_at, author) "
        "VALUES ('draft::approved', 'n', 'extracted', 'draft', 1, 'now', 'now', 'agent') "
        "ON CONFLICT (id) DO UPDATE SET name = 'pwned'",
    "promote its draft by upsert":
        "INSERT INTO skills (id, name, source, status, confidence, created_at, updated_at, author) "
        "VALUES ('draft::mine', 'n', 'extracted', 'draft', 1, 'now', 'now', 'agent') "
        "ON CONFLICT (id) DO UPDATE SET status = 'canonical'",
    "edit a canonical chunk": "UPDATE chunks SET content = 'pwned' WHERE skill_id = 'canon'",
    "move its draft's chunk into a canonical skill": "UPDATE chunks SET skill_id = 'canon' WHERE skill_id = 'draft::mine'",
    "add a chunk to a canonical skill":
        "INSERT INTO chunks (id, skill_id, position, section, content, tokens, priority, required, embed_hash) "
        "VALUES ('canon::9', 'canon', 9, 's', 'injected', 1, 0, false, 'h')",
    "add a chunk to a human's draft":
        "INSERT INTO chunks (id, skill_id, position, section, content, tokens, priority, required, embed_hash) "
        "VALUES ('draft::human::9', 'draft::human', 9, 's', 'injected', 1, 0, false, 'h')",
    "choose a chunk's primary key":
        "INSERT INTO chunks (pk, id, skill_id, position, section, content, tokens, priority, required, embed_hash) "
        "VALUES (100000, 'draft::mine::9', 'draft::mine', 9, 's', 'x', 1, 0, false, 'h')",
    "put its draft's vector in the search index":
        "INSERT INTO chunk_vectors SELECT chunk_pk, embedding FROM draft_vectors",
    "delete canonical vectors": "DELETE FROM chunk_vectors",
    "give a canonical chunk a draft vector":
        "INSERT INTO draft_vectors SELECT pk, '[1,0,0,0,0,0,0,0]' FROM chunks WHERE skill_id = 'canon'",
    "snapshot a canonical skill": "INSERT INTO skill_versions VALUES ('canon', 99, '{}', 'now')",
    "snapshot a canonical skill with a draft id": "INSERT INTO skill_versions VALUES ('draft::approved', 99, '{}', 'now')",
    "delete version snapshots": "DELETE FROM skill_versions",
    "write an audit row as a human": "INSERT INTO audit_log (at, actor, action, skill_id) VALUES ('now', 'human', 'approve', 'x')",
    "read the audit log": "SELECT * FROM audit_log",
    "delete audit rows": "DELETE FROM audit_log",
    "rewrite audit rows": "UPDATE audit_log SET actor = 'agent'",
    "count a human use": "INSERT INTO usage (skill_id, uses) VALUES ('draft::mine', 100)",
    "inflate human usage": "UPDATE usage SET uses = 100",
    "count uses as another agent": "INSERT INTO agent_usage (skill_id, agent, uses) VALUES ('canon', 'someone', 1)",
    "write a note as a human": "INSERT INTO usage_notes (skill_id, at, actor, note) VALUES ('canon', 'now', 'human', 'n')",
    "read the notes": "SELECT * FROM usage_notes",
    "write meta": "INSERT INTO meta VALUES ('embedder_name', 'other')",
    "change the schema version": "DELETE FROM schema_version",
    "read the embedding cache": "SELECT * FROM embedding_cache",
    "truncate skills": "TRUNCATE skills CASCADE",
    "truncate the audit log": "TRUNCATE audit_log",
    "create a table": "CREATE TABLE stolen (a int)",
    "create a temporary table": "CREATE TEMP TABLE scratch (a int)",
    "create a view": "CREATE VIEW everything AS SELECT * FROM skills",
    "create a security definer function":
        "CREATE FUNCTION promote() RETURNS void LANGUAGE sql SECURITY DEFINER AS "
        "$$ UPDATE skills SET status = 'canonical' $$",
    "alter a table": "ALTER TABLE skills ADD COLUMN pwned int",
    "turn row security off": "ALTER TABLE skills DISABLE ROW LEVEL SECURITY",
    "drop a policy": "DROP POLICY skills_read ON skills",
    "add a policy": "CREATE POLICY everything ON skills FOR ALL USING (true)",
    "drop a table": "DROP TABLE audit_log",
    "drop an index": "DROP INDEX chunk_vectors_hnsw",
    "become the owner": "SET ROLE postgres",
    "become the owner by set_config": "SELECT set_config('role', 'postgres', false)",
    "become the owner by session authorization": "SET SESSION AUTHORIZATION postgres",
    "make itself superuser": "ALTER ROLE CURRENT_USER SUPERUSER",
    "bypass row security": "ALTER ROLE CURRENT_USER BYPASSRLS",
    "create a role": "CREATE ROLE helper LOGIN SUPERUSER",
    "read a server file": "SELECT pg_read_file('/etc/passwd')",
    "import a server file as a large object": "SELECT lo_import('/etc/passwd')",
    "run a program through COPY": "COPY skills TO PROGRAM 'id'",
    "load the extension's functions into its own schema": "CREATE SCHEMA mine",
}

# Statements an agent may run but that reach no row: row security hides the targets.
FILTERED = {
    "update a canonical skill": "UPDATE skills SET name = 'pwned' WHERE id = 'canon'",
    "update a canonical skill through a CTE":
        "WITH hit AS (UPDATE skills SET name = 'pwned' WHERE id = 'canon' RETURNING id) SELECT * FROM hit",
    "update an archived skill back into a draft": "UPDATE skills SET name = 'x' WHERE id = 'old'",
    "delete a canonical skill's chunks": "DELETE FROM chunks WHERE skill_id = 'canon'",
    "delete an archived skill's chunks": "DELETE FROM chunks WHERE skill_id = 'old'",
    "delete a canonical skill's chunks through a CTE":
        "WITH gone AS (DELETE FROM chunks WHERE skill_id IN ('canon', 'draft::approved') RETURNING pk) SELECT * FROM gone",
    "delete drafts' vectors of canonical chunks":
        "DELETE FROM draft_vectors WHERE chunk_pk IN (SELECT pk FROM chunks WHERE skill_id = 'canon')",
    "edit another agent's counts": "UPDATE agent_usage SET uses = 1000",
}


@pytest.mark.parametrize("attack", list(REFUSED))
def test_agent_is_refused(attacked, attack):
    before = attacked.state()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        attacked.agent.execute(REFUSED[attack]).fetchall()
    assert attacked.state() == before


@pytest.mark.parametrize("attack", list(FILTERED))
def test_agent_reaches_no_row(attacked, attack):
    before = attacked.state()
    cursor = attacked.agent.execute(FILTERED[attack])
    assert cursor.rowcount == 0 or cursor.fetchall() == []
    assert attacked.state() == before


def test_granting_itself_more_does_nothing(attacked):
    library = attacked
    before = library.state()
    for statement in ("GRANT ALL ON skills TO CURRENT_USER", "GRANT ALL ON audit_log TO PUBLIC",
                      "GRANT postgres TO CURRENT_USER"):
        try:
            library.agent.execute(statement)  # the GRANTs only warn that nothing was granted
        except psycopg.errors.InsufficientPrivilege:
            pass
    assert library.state() == before


def test_agent_copy_into_skills_is_refused(attacked):
    library = attacked
    before = library.state()
    with pytest.raises(psycopg.Error) as caught:
        with library.agent.cursor().copy("COPY skills (id, name, source, status, confidence, created_at, updated_at) "
                                         "FROM STDIN") as copy:
            copy.write_row(("pwned", "n", "manual", "canonical", 1, "now", "now"))
    assert caught.value.sqlstate in ("42501", "0A000")
    assert library.state() == before


def test_agent_reads_canonical_skills_and_drafts_only(attacked):
    library = attacked
    agent = library.agent
    assert {row[0] for row in agent.execute("SELECT id FROM skills")} == {
        "canon", "draft::approved", "draft::human", "draft::mine"}
    assert {row[0] for row in agent.execute("SELECT DISTINCT skill_id FROM chunks")} == {
        "canon", "draft::approved", "draft::human", "draft::mine"}
    searchable = agent.execute("SELECT DISTINCT c.skill_id FROM chunk_vectors v JOIN chunks c ON c.pk = v.chunk_pk")
    assert {row[0] for row in searchable} == {"canon", "draft::approved"}
    assert {row[0] for row in agent.execute("SELECT skill_id FROM skill_cards")} == {"canon", "draft::approved"}
    assert agent.execute("SELECT skill_id, path FROM skill_files").fetchall() == [("canon", "notes.md")]
    assert {row[0] for row in agent.execute("SELECT skill_id FROM skill_versions")} == {"canon", "draft::approved"}
    # The queries query() runs see only canonical chunks as well.
    by_vector, by_words = candidates(agent, vector_layout(agent), axis(0), "(deploy) | (advice)", 10)
    assert {pk for pk, _ in by_vector + by_words} == {row[0] for row in library.owner.execute(
        "SELECT c.pk FROM chunks c JOIN skills s ON s.id = c.skill_id WHERE s.status = 'canonical'")}
    assert agent.execute("SELECT pg_has_role('postgres', 'MEMBER')").fetchone()[0] is False


def test_agent_writes_a_draft_with_its_records_and_merges_into_drafts(library):
    agent = library.agent
    with agent.transaction():
        agent.execute(NEW_DRAFT, ("draft::new", "draft", "agent"))
        agent.execute("UPDATE skills SET source = 'extracted' WHERE id = 'draft::new'")
        pk = agent.execute(
            "INSERT INTO chunks (id, skill_id, position, section, content, tokens, priority, required, embed_hash, "
            "skill_name) VALUES ('draft::new::0', 'draft::new', 0, 's', 'new text', 2, 0, false, 'h', 'n') RETURNING pk"
        ).fetchone()[0]
        agent.execute("INSERT INTO draft_vectors VALUES (%s, %s)", (pk, axis(6)))
        agent.execute("INSERT INTO skill_versions VALUES ('draft::new', 1, '{}', 'now')")
        agent.execute("INSERT INTO audit_log (at, actor, action, skill_id) VALUES ('now', 'agent', 'extract', 'draft::new')")
    # A merge into a human's draft: its content is rewritten and it becomes an agent's draft.
    with agent.transaction():
        agent.execute("INSERT INTO skill_versions VALUES ('draft::human', 2, '{}', 'now')")
        agent.execute("UPDATE skills SET name = 'merged', author = 'agent', source = 'extracted', version = 3 "
                      "WHERE id = 'draft::human'")
        agent.execute("DELETE FROM chunks WHERE skill_id = 'draft::human'")
    owner = library.owner
    assert owner.execute("SELECT status, author FROM skills WHERE id = 'draft::new'").fetchone() == ("draft", "agent")
    assert owner.execute("SELECT count(*) FROM draft_vectors WHERE chunk_pk = %s", (pk,)).fetchone()[0] == 1
    assert owner.execute("SELECT name, author FROM skills WHERE id = 'draft::human'").fetchone() == ("merged", "agent")
    assert owner.execute("SELECT count(*) FROM chunks WHERE skill_id = 'draft::human'").fetchone()[0] == 0
    assert owner.execute("SELECT actor, action FROM audit_log WHERE skill_id = 'draft::new'").fetchall() == [
        ("agent", "extract")]


def test_agent_counts_its_own_usage_and_leaves_notes(library):
    agent, owner = library.agent, library.owner
    count = ("INSERT INTO agent_usage (skill_id, uses, helpful) VALUES ('canon', 1, 1) "
             "ON CONFLICT (skill_id, agent) DO UPDATE SET uses = agent_usage.uses + 1, helpful = agent_usage.helpful + 1")
    agent.execute(count)
    agent.execute(count)
    agent.execute("INSERT INTO usage_notes (skill_id, at, actor, helpful, note) VALUES ('canon', 'now', 'agent', true, 'ok')")
    assert owner.execute("SELECT agent, uses, helpful FROM agent_usage ORDER BY agent").fetchall() == [
        (library.role, 2, 2), ("someone", 2, 0)]
    assert owner.execute("SELECT actor, written_by, note FROM usage_notes").fetchall() == [("agent", library.role, "ok")]
    assert owner.execute("SELECT uses FROM usage WHERE skill_id = 'canon'").fetchone()[0] == 3
    assert agent.execute("SELECT uses FROM usage WHERE skill_id = 'canon'").fetchone()[0] == 3


def test_agent_dependency_expansion_stays_in_canonical_skills(library):
    owner = library.owner
    pk = add_skill(owner, "needs", chunks=[("Body", "needs others", axis(7), ["old", "canon::1", "draft::mine"])])[0]
    assert dependency_closure(library.agent, [pk]) == {pk: [owner.execute(
        "SELECT pk FROM chunks WHERE id = 'canon::1'").fetchone()[0]]}


def test_schema_holds_no_security_definer_function(attacked):
    library = attacked
    assert library.owner.execute(
        "SELECT proname FROM pg_proc WHERE prosecdef AND pronamespace = 'public'::regnamespace").fetchall() == []


def test_role_creation_checks_its_arguments_and_needs_the_right(library, pg_server, pg_url):
    for name in ("Robert'); DROP TABLE skills;--", "pg_agent", "", "9lives", "x" * 64):
        with pytest.raises(ValidationError, match="role_name"):
            create_agent_role(library.owner, name, PASSWORD)
    with pytest.raises(ValidationError, match="password"):
        create_agent_role(library.owner, "agent_ok", "")
    with pytest.raises(SkillPermissionError):
        create_agent_role(library.agent, "agent_helper", PASSWORD)
    # Creating it again re-grants it and sets the new password.
    create_agent_role(library.owner, library.role, "another password")
    with pytest.raises(SkillPermissionError, match="login"):
        connect(pg_server.url(conninfo_to_dict(pg_url)["dbname"], library.role, PASSWORD))
    assert connect(pg_server.url(conninfo_to_dict(pg_url)["dbname"], library.role, "another password")).closed is False


def test_passwords_are_not_sent_in_clear(attacked):
    library = attacked
    stored = library.owner.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (library.role,)).fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$") and PASSWORD not in stored


def test_agent_cannot_fix_the_vector_width(pg_server, pg_url):
    owner = open_library(pg_url, dim=None)
    create_agent_role(owner, "agent_early", PASSWORD)
    agent = connect(pg_server.url(conninfo_to_dict(pg_url)["dbname"], "agent_early", PASSWORD))
    with pytest.raises(SkillPermissionError):
        ensure_vector_columns(agent, 8)
    assert vector_layout(owner) is None
    ensure_vector_columns(owner, 8)
    assert ensure_vector_columns(agent, 8).dim == 8  # once it is set, an agent's opening only checks it
