"""Numbered schema migrations for the SQLite store.

``PRAGMA user_version`` holds the number of migrations applied. Each migration is a
function of the connection, run in its own transaction; add new ones at the end of
:data:`MIGRATIONS`, never edit a released one.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Callable

from ..errors import LegacyDatabaseError, SchemaVersionError
from .db_errors import rollback, translate
from .legacy import LEGACY_RELEASE, is_legacy

#: Longest usage note (characters); a released migration's bound, never change it.
MAX_USAGE_NOTE_CHARS = 1_000


def _usage_table(name: str) -> str:
    """The statement creating a usage-count table (the human and the agent counts)."""
    return f"""CREATE TABLE {name} (
            skill_id TEXT PRIMARY KEY,
            uses INTEGER NOT NULL DEFAULT 0,
            helpful INTEGER NOT NULL DEFAULT 0,
            unhelpful INTEGER NOT NULL DEFAULT 0,
            last_used TEXT
        )"""


def _m001_initial(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute(
        """
        CREATE TABLE skills (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            source TEXT NOT NULL,
            status TEXT NOT NULL,
            confidence REAL NOT NULL,
            extracted_from TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '[]',
            version INTEGER NOT NULL DEFAULT 1,
            revises TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX skills_by_status ON skills(status)")
    conn.execute(
        """
        CREATE TABLE chunks (
            pk INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            skill_id TEXT NOT NULL REFERENCES skills(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            section TEXT NOT NULL,
            content TEXT NOT NULL,
            tokens INTEGER NOT NULL,
            priority INTEGER NOT NULL,
            required INTEGER NOT NULL,
            dependencies TEXT NOT NULL,
            embed_hash TEXT NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX chunks_by_skill ON chunks(skill_id, position)")
    conn.execute("CREATE INDEX chunks_by_embed_hash ON chunks(embed_hash)")
    # Standalone FTS5 table whose rowid is chunks.pk; kept in step in the same
    # transaction as the chunk rows. Porter stemming so "hooks" finds "hook".
    conn.execute(
        "CREATE VIRTUAL TABLE chunk_fts USING fts5("
        "skill_name, section, content, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    # The vec0 table (chunk_vec) is created on the first write, once the embedder's
    # width is known.


def _m002_review(conn: sqlite3.Connection) -> None:
    # Drafts keep their chunk vectors here, not in chunk_vec/chunk_fts: virtual tables
    # cannot carry the triggers that confine agent-mode writes to drafts (see guard.py),
    # and drafts are never searched by query() anyway. Approval moves them over.
    conn.execute(
        """CREATE TABLE draft_vectors (
            chunk_pk INTEGER PRIMARY KEY REFERENCES chunks(pk) ON DELETE CASCADE,
            embedding BLOB NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE skill_versions (
            skill_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            snapshot TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (skill_id, version)
        )"""
    )
    conn.execute(
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            skill_id TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}'
        )"""
    )
    conn.execute("CREATE INDEX audit_by_skill ON audit_log(skill_id, id)")
    conn.execute(_usage_table("usage"))
    conn.execute("ALTER TABLE skills ADD COLUMN flags TEXT NOT NULL DEFAULT '[]'")


def _m003_agent_boundary(conn: sqlite3.Connection) -> None:
    # Who wrote a skill row's current content: an agent's drafts are told apart from
    # everyone else's, so that nothing an agent wrote is promoted without a human.
    conn.execute("ALTER TABLE skills ADD COLUMN author TEXT NOT NULL DEFAULT 'human'")
    conn.execute(
        "UPDATE skills SET author = 'agent' WHERE status = 'draft' AND id IN "
        "(SELECT skill_id FROM audit_log WHERE actor = 'agent')"
    )
    # Usage reported by agents is advisory and kept apart from usage counted by humans'
    # processes; agents cannot write the human counts at all.
    conn.execute(_usage_table("agent_usage"))


def _m004_skill_cards(conn: sqlite3.Connection) -> None:
    # Skill cards (see store/cards.py): one row per non-draft skill, kept in step with
    # its chunks. The vector may be NULL (a skill promoted without re-embedding): the
    # retriever then embeds the card in memory.
    conn.execute(
        """CREATE TABLE skill_cards (
            pk INTEGER PRIMARY KEY,
            skill_id TEXT NOT NULL UNIQUE,
            embed_hash TEXT,
            embedding BLOB
        )"""
    )
    conn.execute(
        "CREATE VIRTUAL TABLE card_fts USING fts5("
        "name, description, when_to_use, sections, body, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    # Text files bundled with skills (references/*.md, scripts/...), searchable by word.
    conn.execute(
        "CREATE VIRTUAL TABLE file_fts USING fts5("
        "skill_id UNINDEXED, path UNINDEXED, content, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    # Existing libraries: cards from what is stored (vectors come with the next reindex
    # or write; until then the retriever embeds them in memory).
    rows = conn.execute("SELECT id, name, description, metadata FROM skills WHERE status != 'draft'").fetchall()
    for skill_id, name, description, metadata in rows:
        try:
            files = (json.loads(metadata).get("agent_skill") or {}).get("files") or {}
        except (ValueError, AttributeError):
            files = {}
        if isinstance(files, dict):
            conn.executemany(
                "INSERT INTO file_fts(skill_id, path, content) VALUES (?,?,?)",
                [(skill_id, path, text) for path, text in files.items() if isinstance(text, str)],
            )
        chunks = conn.execute(
            "SELECT section, content FROM chunks WHERE skill_id = ? ORDER BY position", (skill_id,)).fetchall()
        sections = [row[0] for row in chunks]
        when = [r[0] for r in conn.execute(
            "SELECT content FROM chunks WHERE skill_id = ? AND lower(section) LIKE 'when%use%' ORDER BY position",
            (skill_id,))]
        cur = conn.execute("INSERT INTO skill_cards(skill_id) VALUES (?)", (skill_id,))
        conn.execute(
            "INSERT INTO card_fts(rowid, name, description, when_to_use, sections, body) VALUES (?,?,?,?,?,?)",
            (cur.lastrowid, name, description, "\n".join(when)[:2000], "\n".join(dict.fromkeys(s for s in sections if s)),
             "\n".join(row[1] for row in chunks)),
        )


def _m005_embedding_cache(conn: sqlite3.Connection) -> None:
    # Vectors an import has embedded but not yet written: an interrupted import resumes
    # without embedding them again. Keyed like chunk vectors (embedder + text hash).
    conn.execute(
        """CREATE TABLE embedding_cache (
            embed_hash TEXT PRIMARY KEY,
            embedding BLOB NOT NULL,
            created_at REAL NOT NULL
        )"""
    )


def _m006_usage_notes(conn: sqlite3.Connection) -> None:
    # What a user of a skill said about it (e.g. an agent's report_outcome over MCP):
    # advisory text for reviewers, bounded here and redacted before it is stored.
    conn.execute(
        f"""CREATE TABLE usage_notes (
            id INTEGER PRIMARY KEY,
            skill_id TEXT NOT NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            helpful INTEGER,
            note TEXT NOT NULL CHECK (length(note) BETWEEN 1 AND {MAX_USAGE_NOTE_CHARS})
        )"""
    )
    conn.execute("CREATE INDEX usage_notes_by_skill ON usage_notes(skill_id, id)")


def _m007_card_hash_index(conn: sqlite3.Connection) -> None:
    # Every write looks its card's text up by hash (a known card is not embedded again);
    # without this index each lookup read every card vector (7.8 ms per register at 4k skills).
    conn.execute("CREATE INDEX skill_cards_by_embed_hash ON skill_cards(embed_hash)")


def _m008_vector_log(conn: sqlite3.Connection) -> None:
    # Every change to the searchable chunk vectors, numbered: the vector index cache
    # beside the database records the last number it holds and replays newer ones
    # (see store/vector_cache.py). The epoch names the set of vectors the numbers
    # belong to; a reindex starts a new one.
    conn.execute(
        """CREATE TABLE vector_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            chunk_pk INTEGER NOT NULL,
            op TEXT NOT NULL
        )"""
    )
    conn.execute("INSERT INTO meta(key, value) VALUES ('vector_epoch', lower(hex(randomblob(8))))")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m001_initial, _m002_review, _m003_agent_boundary, _m004_skill_cards, _m005_embedding_cache,
    _m006_usage_notes, _m007_card_hash_index, _m008_vector_log,
]


def migrate(conn: sqlite3.Connection, read_only: bool = False) -> int:
    """Apply every migration the database has not seen yet.

    Args:
        conn: an autocommit connection.
        read_only: the file cannot be written: only check that it needs nothing.

    Returns:
        The schema version after migrating.

    Raises:
        SchemaVersionError: if the database is newer than this version of skillvault, or
            needs upgrading but is read-only.
        LegacyDatabaseError: if it is a skillvault 0.1.x file (see :mod:`skillvault.upgrade`).
    """
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        raise SchemaVersionError(
            f"the database has schema version {current} but this skillvault knows only "
            f"{len(MIGRATIONS)}; upgrade skillvault"
        )
    if current == 0 and is_legacy(conn):
        raise LegacyDatabaseError(
            f"the database was written by skillvault {LEGACY_RELEASE} (0.1.x format); upgrade it with "
            "`skillvault migrate PATH` or skillvault.migrate(path), or open it with SkillManager in human "
            "mode, which upgrades it in place and keeps a backup"
        )
    if read_only and current < len(MIGRATIONS):
        raise SchemaVersionError(
            f"the database has schema version {current} and this skillvault needs {len(MIGRATIONS)}, but the "
            "file is read-only; open it once where it can be written to upgrade it"
        )
    for number in range(current, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[number](conn)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException as exc:
            rollback(conn)
            translated = translate(exc, None)
            if translated is not None:
                raise translated from exc
            raise
    return len(MIGRATIONS)
