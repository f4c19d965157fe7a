"""The agent-mode guard: what an agent's SQLite connection may do, enforced by SQLite.

Two layers, both on the connection itself, so they hold for raw SQL run through the
store's connection as much as for skillvault's own methods:

* an **authorizer** (``set_authorizer``) allows reading, transactions and writes to the
  tables drafts live in; it denies every schema change, ATTACH, writing PRAGMA, and
  writes to the search indexes, meta, versions, or audit rows (audit is insert-only);
* **TEMP triggers** check rows, which an authorizer cannot see: a skill row may only be
  inserted, updated or deleted while it is a draft written by extraction; chunks and
  draft vectors only while their skill is a draft; audit rows only as actor ``agent``.
  The authorizer forbids dropping these triggers.

What this does not stop (see docs/security.md): code that can run arbitrary Python in
the agent's process can remove the authorizer or open the file with its own
connection. Separate such agents with OS permissions or run them through a server.
"""

from __future__ import annotations

import sqlite3
from types import ModuleType

AGENT_ACTOR = "agent"
GUARD_MESSAGE = "agent mode: agents may read canonical skills and write drafts only"

#: Tables an agent may write to (rows further checked by the triggers below).
AGENT_WRITABLE = frozenset({"skills", "chunks", "draft_vectors", "audit_log", "usage"})
#: PRAGMAs an agent may read (never set).
READABLE_PRAGMAS = frozenset(
    {"data_version", "user_version", "page_count", "page_size", "compile_options", "journal_mode",
     "busy_timeout", "foreign_keys", "table_info", "table_xinfo", "index_list", "schema_version",
     "integrity_check"}
)

_IS_DRAFT_SKILL = "EXISTS (SELECT 1 FROM main.skills s WHERE s.id = {id} AND s.status = 'draft')"
_IS_OTHER_SKILL = "EXISTS (SELECT 1 FROM main.skills s WHERE s.id = {id} AND s.status != 'draft')"
_CHUNK_OF_OTHER = (
    "EXISTS (SELECT 1 FROM main.chunks c JOIN main.skills s ON s.id = c.skill_id "
    "WHERE c.pk = {pk} AND s.status != 'draft')"
)
_CHUNK_OF_DRAFT = (
    "EXISTS (SELECT 1 FROM main.chunks c JOIN main.skills s ON s.id = c.skill_id "
    "WHERE c.pk = {pk} AND s.status = 'draft')"
)

# (trigger name, event, condition that aborts the statement)
_TRIGGERS = [
    ("skills_insert", "INSERT ON skills",
     "NEW.status != 'draft' OR NEW.source != 'extracted' OR NEW.id NOT LIKE 'draft::%'"),
    ("skills_update", "UPDATE ON skills",
     "OLD.status != 'draft' OR NEW.status != 'draft' OR NEW.id != OLD.id OR NEW.source != 'extracted'"),
    ("skills_delete", "DELETE ON skills", "OLD.status != 'draft'"),
    ("chunks_insert", "INSERT ON chunks", "NOT " + _IS_DRAFT_SKILL.format(id="NEW.skill_id")),
    ("chunks_update", "UPDATE ON chunks",
     _IS_OTHER_SKILL.format(id="OLD.skill_id") + " OR NOT " + _IS_DRAFT_SKILL.format(id="NEW.skill_id")),
    ("chunks_delete", "DELETE ON chunks", _IS_OTHER_SKILL.format(id="OLD.skill_id")),
    ("vectors_insert", "INSERT ON draft_vectors", "NOT " + _CHUNK_OF_DRAFT.format(pk="NEW.chunk_pk")),
    ("vectors_update", "UPDATE ON draft_vectors",
     _CHUNK_OF_OTHER.format(pk="OLD.chunk_pk") + " OR NOT " + _CHUNK_OF_DRAFT.format(pk="NEW.chunk_pk")),
    ("vectors_delete", "DELETE ON draft_vectors", _CHUNK_OF_OTHER.format(pk="OLD.chunk_pk")),
    ("audit_insert", "INSERT ON audit_log", f"NEW.actor != '{AGENT_ACTOR}'"),
]


def install_agent_guard(conn: sqlite3.Connection, module: ModuleType) -> None:
    """Confine ``conn`` to agent rights: read everything, write drafts only.

    Args:
        conn: an open connection to a migrated database.
        module: the sqlite3-compatible module the connection comes from (for its
            authorizer constants).
    """
    for name, event, condition in _TRIGGERS:
        event_kind, table = event.split(" ON ")
        conn.execute(
            f"CREATE TEMP TRIGGER agent_guard_{name} BEFORE {event_kind} ON main.{table} "
            f"WHEN {condition} BEGIN SELECT RAISE(ABORT, '{GUARD_MESSAGE}'); END"
        )
    conn.set_authorizer(_make_authorizer(module))


def _make_authorizer(m: ModuleType):
    always = {m.SQLITE_SELECT, m.SQLITE_READ, m.SQLITE_FUNCTION, m.SQLITE_TRANSACTION, m.SQLITE_SAVEPOINT,
              getattr(m, "SQLITE_RECURSIVE", -1)}
    writes = {m.SQLITE_INSERT, m.SQLITE_UPDATE, m.SQLITE_DELETE}

    def authorize(action: int, arg1, arg2, db_name, _source) -> int:
        if action in always:
            return m.SQLITE_OK
        if action in writes:
            if db_name != "main" or arg1 not in AGENT_WRITABLE:
                return m.SQLITE_DENY
            if arg1 == "audit_log" and action != m.SQLITE_INSERT:
                return m.SQLITE_DENY
            return m.SQLITE_OK
        if action == m.SQLITE_PRAGMA:
            return m.SQLITE_OK if arg1 in READABLE_PRAGMAS and arg2 is None else m.SQLITE_DENY
        return m.SQLITE_DENY  # CREATE/DROP/ALTER/ATTACH/DETACH/REINDEX/ANALYZE/...

    return authorize


def is_guard_refusal(exc: BaseException) -> bool:
    """Return True if a database error was raised by the agent guard."""
    text = str(exc)
    return GUARD_MESSAGE in text or "not authorized" in text or "authorization denied" in text or "prohibited" in text
