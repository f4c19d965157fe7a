"""Shared fixtures: a deterministic word-hashing embedder and fresh databases."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from skillvault import SkillManager
from skillvault.models import Chunk, Skill

WORD_DIM = 4096


def word_vector(text: str, dim: int = WORD_DIM) -> list[float]:
    """Hashed bag of word stems: texts sharing words are similar, others ~orthogonal."""
    vector = np.zeros(dim)
    for word in re.findall(r"\w+", text.lower()):
        stem = word[:-1] if word.endswith("s") and len(word) > 3 else word
        digest = hashlib.sha256(stem.encode()).digest()
        for i in range(3):
            index = int.from_bytes(digest[4 * i : 4 * i + 4], "little") % dim
            vector[index] += 1.0 if digest[20 + i] & 1 else -1.0
    if not vector.any():
        vector[0] = 1.0
    return vector.tolist()


class CountingEmbed:
    """embed_fn that records every text it is asked to embed."""

    def __init__(self, dim: int = WORD_DIM):
        self.dim = dim
        self.calls: list[str] = []

    def __call__(self, text: str) -> list[float]:
        self.calls.append(text)
        return word_vector(text, self.dim)


@pytest.fixture
def embed() -> CountingEmbed:
    return CountingEmbed()


#: Test modules whose ``db_path`` / ``sm`` tests run on both backends (SQLite and
#: PostgreSQL). A test of such a module that is inherently SQLite carries
#: ``@pytest.mark.sqlite_only("why")``.
BOTH_BACKENDS = {
    "test_query", "test_review", "test_growth", "test_revisions", "test_agent_mode", "test_bad_input", "test_stats",
    "test_import_export_json", "test_edit_draft", "test_propose", "test_cards", "test_duplicates", "test_lexical",
    "test_bulk_ingest", "test_import_report", "test_sync", "test_hostile_input", "test_id_races", "test_store_interface",
}
AGENT_ROLE = "skillvault_test_agent"
AGENT_PASSWORD = "agent pass:word@/"


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): runs on SQLite only (the reason says why)")


def pytest_generate_tests(metafunc):
    if "backend" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    both = module in BOTH_BACKENDS and metafunc.definition.get_closest_marker("sqlite_only") is None
    # a module may name its own backends (BACKENDS = ("postgres",))
    backends = getattr(metafunc.module, "BACKENDS", ("sqlite", "postgres") if both else ("sqlite",))
    metafunc.parametrize("backend", list(backends))


@pytest.fixture
def db_path(backend, tmp_path, request):
    """The library under test: an SQLite file, or (backend "postgres") a new PostgreSQL
    database's URL as its owner."""
    if backend == "sqlite":
        yield str(tmp_path / "skills.db")
        return
    from pg_fixtures import new_database

    with new_database(request.getfixturevalue("pg_server")) as url:
        yield url


@pytest.fixture
def agent_path(db_path, backend):
    """Where agents open the library of ``db_path``: the same file on SQLite; on
    PostgreSQL the URL of an agent role (created in that database; open ``db_path`` in
    human mode first so that the schema exists)."""
    if backend == "sqlite":
        return db_path
    from urllib.parse import quote

    from skillvault.store.postgres.connection import connect
    from skillvault.store.postgres.migrations import migrate
    from skillvault.store.postgres.roles import create_agent_role

    conn = connect(db_path, register=False)
    try:
        migrate(conn)
        create_agent_role(conn, AGENT_ROLE, AGENT_PASSWORD)
    finally:
        conn.close()
    return db_path.replace("postgres@", f"{AGENT_ROLE}:{quote(AGENT_PASSWORD, safe='')}@", 1)


@pytest.fixture
def sm(db_path, embed):
    manager = SkillManager(db_path, embed_fn=embed)
    yield manager
    manager.close()


def make_skill(skill_id: str, *sections: tuple[str, str], name: str | None = None, **chunk_options) -> Skill:
    """Build a skill with one chunk per (section, content) pair."""
    chunks = [
        Chunk(id=f"{skill_id}::{i}", section=section, content=content, **chunk_options)
        for i, (section, content) in enumerate(sections)
    ]
    return Skill(id=skill_id, name=name or skill_id.replace("-", " ").title(), chunks=chunks)


from standins.fixtures import anthropic_standin, openai_standin  # noqa: E402,F401  (shared fixtures)
from pg_fixtures import pg_server, pg_url  # noqa: E402,F401  (PostgreSQL server and databases)


def run_sql(store, query: str, params: tuple = ()):
    """Run one SQL statement written with ``?`` placeholders on either backend's connection
    (tests that set up a state no public call makes, e.g. an old timestamp)."""
    if store.__class__.__name__ == "PostgresStore":
        query = query.replace("?", "%s")
    return store.conn.execute(query, params)


def stored_bytes(store, db_path: str) -> bytes:
    """Everything the library holds, as bytes: the SQLite files (checkpointed), or every
    row of every PostgreSQL table as text."""
    from pathlib import Path

    if store.__class__.__name__ != "PostgresStore":
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return b"".join(p.read_bytes() for p in Path(db_path).parent.glob(Path(db_path).name + "*"))
    from skillvault.store.postgres.migrations import SECURED_TABLES

    return "".join(
        str(store.conn.execute(f"SELECT string_agg(t::text, '\n') FROM {table} t").fetchone()[0] or "")
        for table in SECURED_TABLES).encode()

