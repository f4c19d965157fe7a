"""The agent boundary on SQLite: what an agent's connections may do, enforced by SQLite.

An agent-mode store holds two connections:

* its **reading connection** (``store.conn``), opened with SQLite's ``mode=ro``: no
  statement on it can write the file, whatever SQL is run through it. An authorizer
  also refuses ATTACH (which could reopen the file writable), schema changes and
  setting PRAGMAs.
* a private **draft-writing connection**, used only by the narrow write path
  (:meth:`~skillvault.store.sqlite.SQLiteStore.draft_transaction` and agent usage
  counts). Its authorizer allows exactly the writes in :data:`AGENT_WRITES`; TEMP
  triggers check the rows, which an authorizer cannot see: a skill row may only be a
  draft written by an agent, chunks and draft vectors only belong to drafts, version
  snapshots only of drafts and never replaced, audit rows and usage notes only as actor
  ``agent`` (never edited or deleted).
  ``recursive_triggers`` is on, so the rows that ``REPLACE`` deletes fire the delete
  triggers too.

Neither connection can make anything canonical, and nothing an agent writes counts
toward auto-promotion unless the operator says so (see docs/security.md). What this
does not stop: code that runs arbitrary Python in the agent's process can open the
file with its own connection. Separate such agents with OS permissions or a server.
"""

from __future__ import annotations

import sqlite3
from types import ModuleType

AGENT_ACTOR = "agent"
GUARD_MESSAGE = "agent mode: agents may read canonical skills and write drafts only"

#: PRAGMAs an agent may read (never set).
READABLE_PRAGMAS = frozenset(
    {"data_version", "user_version", "page_count", "page_size", "compile_options", "journal_mode",
     "busy_timeout", "foreign_keys", "table_info", "table_xinfo", "index_list", "schema_version",
     "integrity_check", "function_list"}
)

_IS_AGENT_DRAFT = (
    "EXISTS (SELECT 1 FROM main.skills s WHERE s.id = {id} AND s.status = 'draft' AND s.author = 'agent')"
)
_CHUNK_OF_DRAFT = (
    "EXISTS (SELECT 1 FROM main.chunks c JOIN main.skills s ON s.id = c.skill_id "
    "WHERE c.pk = {pk} AND s.status = 'draft')"
)
_CHUNK_OF_OTHER = (
    "EXISTS (SELECT 1 FROM main.chunks c JOIN main.skills s ON s.id = c.skill_id "
    "WHERE c.pk = {pk} AND s.status != 'draft')"
)
_AGENT_DRAFT_ROW = "{row}.status = 'draft' AND {row}.source = 'extracted' AND {row}.id LIKE 'draft::%' AND {row}.author = 'agent'"

# (trigger name, event, condition that aborts the statement). Anything not listed here
# and not in AGENT_WRITES is refused by the authorizer before it runs.
_TRIGGERS = [
    ("skills_insert", "INSERT ON skills", "NOT (" + _AGENT_DRAFT_ROW.format(row="NEW") + ")"),
    ("skills_update", "UPDATE ON skills",
     "OLD.status != 'draft' OR NEW.id != OLD.id OR NOT (" + _AGENT_DRAFT_ROW.format(row="NEW") + ")"),
    ("skills_delete", "DELETE ON skills", "1"),  # also what REPLACE would delete
    ("chunks_insert", "INSERT ON chunks", "NOT " + _IS_AGENT_DRAFT.format(id="NEW.skill_id")),
    ("chunks_delete", "DELETE ON chunks",
     "NOT EXISTS (SELECT 1 FROM main.skills s WHERE s.id = OLD.skill_id AND s.status = 'draft')"),
    ("vectors_insert", "INSERT ON draft_vectors", "NOT " + _CHUNK_OF_DRAFT.format(pk="NEW.chunk_pk")),
    ("vectors_delete", "DELETE ON draft_vectors", _CHUNK_OF_OTHER.format(pk="OLD.chunk_pk")),
    ("versions_insert", "INSERT ON skill_versions",
     "NEW.skill_id NOT LIKE 'draft::%' OR NOT EXISTS "
     "(SELECT 1 FROM main.skills s WHERE s.id = NEW.skill_id AND s.status = 'draft')"),
    ("versions_delete", "DELETE ON skill_versions", "1"),
    ("audit_insert", "INSERT ON audit_log", f"NEW.actor != '{AGENT_ACTOR}'"),
    ("audit_delete", "DELETE ON audit_log", "1"),
    ("agent_usage_delete", "DELETE ON agent_usage", "1"),
    ("usage_notes_insert", "INSERT ON usage_notes", f"NEW.actor != '{AGENT_ACTOR}'"),
]


def _agent_writes(m: ModuleType) -> dict[str, frozenset[int]]:
    """Table → the write actions an agent's draft-writing connection may prepare on it."""
    insert, update, delete = m.SQLITE_INSERT, m.SQLITE_UPDATE, m.SQLITE_DELETE
    return {
        "skills": frozenset({insert, update}),
        "chunks": frozenset({insert, delete}),
        "draft_vectors": frozenset({insert, delete}),
        "skill_versions": frozenset({insert}),
        "audit_log": frozenset({insert}),
        "agent_usage": frozenset({insert, update}),
        "usage_notes": frozenset({insert}),
    }


def install_reader_guard(conn: sqlite3.Connection, module: ModuleType) -> None:
    """Confine an agent's (``mode=ro``) reading connection to reads.

    Args:
        conn: an open connection to a migrated database.
        module: the sqlite3-compatible module the connection comes from.
    """
    conn.set_authorizer(_make_authorizer(module, {}))


def install_writer_guard(conn: sqlite3.Connection, module: ModuleType) -> None:
    """Confine an agent's draft-writing connection to adding and editing agent drafts.

    Args:
        conn: an open read-write connection to a migrated database.
        module: the sqlite3-compatible module the connection comes from.
    """
    conn.execute("PRAGMA recursive_triggers = ON")  # REPLACE's deletes fire delete triggers
    for name, event, condition in _TRIGGERS:
        event_kind, table = event.split(" ON ")
        conn.execute(
            f"CREATE TEMP TRIGGER agent_guard_{name} BEFORE {event_kind} ON main.{table} "
            f"WHEN {condition} BEGIN SELECT RAISE(ABORT, '{GUARD_MESSAGE}'); END"
        )
    conn.set_authorizer(_make_authorizer(module, _agent_writes(module)))


def _make_authorizer(m: ModuleType, writable: dict[str, frozenset[int]]):
    always = {m.SQLITE_SELECT, m.SQLITE_READ, m.SQLITE_FUNCTION, m.SQLITE_TRANSACTION, m.SQLITE_SAVEPOINT,
              getattr(m, "SQLITE_RECURSIVE", -1)}
    writes = {m.SQLITE_INSERT, m.SQLITE_UPDATE, m.SQLITE_DELETE}

    def authorize(action: int, arg1, arg2, db_name, _source) -> int:
        if action in always:
            return m.SQLITE_OK
        if action in writes:
            allowed = db_name == "main" and action in writable.get(arg1, ())
            return m.SQLITE_OK if allowed else m.SQLITE_DENY
        if action == m.SQLITE_PRAGMA:
            return m.SQLITE_OK if arg1 in READABLE_PRAGMAS and arg2 is None else m.SQLITE_DENY
        return m.SQLITE_DENY  # CREATE/DROP/ALTER/ATTACH/DETACH/REINDEX/ANALYZE/...

    return authorize


def is_guard_refusal(exc: BaseException) -> bool:
    """Return True if a database error was raised by the agent guard (authorizer or trigger)."""
    text = str(exc)
    return any(marker in text for marker in (GUARD_MESSAGE, "not authorized", "authorization denied", "prohibited"))
