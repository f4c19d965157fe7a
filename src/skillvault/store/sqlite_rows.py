"""An SQLite library read and written as the neutral rows of :mod:`.rows` (``skillvault copy``).

Writers run inside the caller's ``store.transaction()``; they go through the store's own
index helpers, so FTS5 rows, vec0 rows, cards and the vector change log are made as a
normal write makes them.
"""

from __future__ import annotations

import json
from typing import Iterator

import numpy as np

from .cards import CardVector
from .meta import write_meta
from .rows import BATCH_ROWS, COPIED_META

_READS = {
    "meta": "SELECT key, value FROM meta WHERE key IN ('embedder_name', 'embedder_dim', 'null_vectors') ORDER BY key",
    "skills": "SELECT id, name, source, status, confidence, extracted_from, description, tags, version, revises, "
              "metadata, created_at, updated_at, flags, author FROM skills ORDER BY id",
    "cards": "SELECT skill_id, embed_hash, embedding FROM skill_cards ORDER BY skill_id",
    "versions": "SELECT skill_id, version, snapshot, created_at FROM skill_versions ORDER BY skill_id, version",
    "audit": "SELECT at, actor, action, skill_id, reason, details FROM audit_log ORDER BY id",
    "usage": "SELECT skill_id, uses, helpful, unhelpful, last_used FROM usage ORDER BY skill_id",
    "agent_usage": "SELECT skill_id, 'agent', uses, helpful, unhelpful, last_used FROM agent_usage ORDER BY skill_id",
    "usage_notes": "SELECT skill_id, at, actor, helpful, note FROM usage_notes ORDER BY id",
    "embedding_cache": "SELECT embed_hash, embedding, created_at FROM embedding_cache ORDER BY embed_hash",
}


def _vector(blob) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32).copy()


def _blob(vector) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


def read_section(store, section: str) -> Iterator[list[tuple]]:
    """Yield the rows of ``section`` of an SQLite library, in batches (call inside ``store.snapshot()``)."""
    if section == "chunks":
        yield from _read_chunks(store)
        return
    cursor = store.conn.execute(_READS[section])
    while rows := cursor.fetchmany(BATCH_ROWS):
        if section in ("cards", "embedding_cache"):
            index = 2 if section == "cards" else 1
            rows = [row[:index] + (_vector(row[index]),) + row[index + 1:] for row in rows]
        elif section == "usage_notes":
            rows = [row[:3] + (None if row[3] is None else bool(row[3]), row[4]) for row in rows]
        yield [tuple(row) for row in rows]


def _read_chunks(store) -> Iterator[list[tuple]]:
    has_vec = store.embedder_record()[1] is not None
    vector = "COALESCE(v.embedding, d.embedding)" if has_vec else "d.embedding"
    join = "LEFT JOIN chunk_vec v ON v.rowid = c.pk" if has_vec else ""
    last = 0
    while True:
        rows = store.conn.execute(
            f"""SELECT c.pk, c.id, c.skill_id, c.position, c.section, c.content, c.tokens, c.priority, c.required,
                       c.dependencies, c.embed_hash, {vector}
                FROM chunks c {join} LEFT JOIN draft_vectors d ON d.chunk_pk = c.pk
                WHERE c.pk > ? ORDER BY c.pk LIMIT ?""", (last, BATCH_ROWS)).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield [row[:8] + (bool(row[8]), json.loads(row[9]), row[10], _vector(row[11])) for row in rows]


def counts(store) -> dict[str, int]:
    """Return the :data:`~.rows.COUNTED` figures of an SQLite library."""
    one = lambda sql: store.conn.execute(sql).fetchone()[0] or 0  # noqa: E731
    vectors = one("SELECT COUNT(*) FROM draft_vectors")
    if store.embedder_record()[1] is not None:
        vectors += one("SELECT COUNT(*) FROM chunk_vec")
    return {
        "skills": one("SELECT COUNT(*) FROM skills"), "chunks": one("SELECT COUNT(*) FROM chunks"), "vectors": vectors,
        "cards": one("SELECT COUNT(*) FROM skill_cards"),
        "card_vectors": one("SELECT COUNT(*) FROM skill_cards WHERE embedding IS NOT NULL"),
        "versions": one("SELECT COUNT(*) FROM skill_versions"), "audit": one("SELECT COUNT(*) FROM audit_log"),
        "uses": one("SELECT SUM(uses) FROM usage"), "agent_uses": one("SELECT SUM(uses) FROM agent_usage"),
        "usage_notes": one("SELECT COUNT(*) FROM usage_notes"),
        "embedding_cache": one("SELECT COUNT(*) FROM embedding_cache"),
    }


def clear(store) -> None:
    """Delete everything a copy writes, embedder record included (inside a transaction)."""
    for (skill_id,) in store.conn.execute("SELECT id FROM skills").fetchall():
        store.delete_skill(skill_id)
    for table in ("skill_versions", "audit_log", "usage", "agent_usage", "usage_notes", "embedding_cache"):
        store.conn.execute(f"DELETE FROM {table}")
    store.conn.execute("DROP TABLE IF EXISTS chunk_vec")
    store.conn.execute("DELETE FROM meta WHERE key IN ('embedder_name', 'embedder_dim', 'null_vectors')")
    store._tracker.new_epoch()


def finish(store, state: dict) -> None:
    """End a copy into an SQLite library: nothing to do (its vector index is a cache beside
    the file, built from the database when a query first needs it)."""


def write_section(store, section: str, rows: list[tuple], state: dict) -> None:
    """Write a batch of ``section`` rows into an SQLite library (inside ``store.transaction()``).

    ``state`` carries what later sections need from earlier ones (the meta values, each
    skill's name and status).
    """
    conn = store.conn
    if section == "meta":
        meta = state.setdefault("meta", {})
        meta.update((key, value) for key, value in rows if key in COPIED_META)
        if "embedder_dim" in meta:
            store._ensure_vector_table(meta.get("embedder_name", ""), int(meta["embedder_dim"]))
        if "null_vectors" in meta:
            write_meta(conn, "null_vectors", meta["null_vectors"])
    elif section == "skills":
        state.setdefault("skills", {}).update((row[0], (row[1], row[3])) for row in rows)
        conn.executemany(f"INSERT INTO skills ({_SKILL_COLUMNS}) VALUES ({','.join('?' * 15)})", rows)
    elif section == "chunks":
        _write_chunks(store, rows, state["skills"])
    elif section == "cards":
        store._index_cards([
            (store.get_skill(skill_id), None if vector is None else CardVector(embed_hash, vector))
            for skill_id, embed_hash, vector in rows])
    elif section == "agent_usage":
        conn.executemany(
            """INSERT INTO agent_usage(skill_id, uses, helpful, unhelpful, last_used) VALUES (?,?,?,?,?)
               ON CONFLICT(skill_id) DO UPDATE SET uses = uses + excluded.uses, helpful = helpful + excluded.helpful,
                 unhelpful = unhelpful + excluded.unhelpful, last_used = max(last_used, excluded.last_used)""",
            [(s, uses, helpful, unhelpful, last) for s, _agent, uses, helpful, unhelpful, last in rows])
    elif section == "usage_notes":
        conn.executemany("INSERT INTO usage_notes(skill_id, at, actor, helpful, note) VALUES (?,?,?,?,?)",
                         [row[:3] + (None if row[3] is None else int(row[3]), row[4]) for row in rows])
    elif section == "embedding_cache":
        conn.executemany("INSERT OR REPLACE INTO embedding_cache(embed_hash, embedding, created_at) VALUES (?,?,?)",
                         [(h, _blob(v), at) for h, v, at in rows])
    else:
        conn.executemany(_PLAIN_WRITES[section], rows)
    if section == "chunks" or section == "skills":
        store._tracker.touched()


_SKILL_COLUMNS = ("id, name, source, status, confidence, extracted_from, description, tags, version, revises, "
                  "metadata, created_at, updated_at, flags, author")
_PLAIN_WRITES = {
    "versions": "INSERT INTO skill_versions(skill_id, version, snapshot, created_at) VALUES (?,?,?,?)",
    "audit": "INSERT INTO audit_log(at, actor, action, skill_id, reason, details) VALUES (?,?,?,?,?,?)",
    "usage": "INSERT INTO usage(skill_id, uses, helpful, unhelpful, last_used) VALUES (?,?,?,?,?)",
}


def _write_chunks(store, rows: list[tuple], skills: dict) -> None:
    store.conn.executemany(
        """INSERT INTO chunks (pk, id, skill_id, position, section, content, tokens, priority, required,
           dependencies, embed_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
        [row[:8] + (int(row[8]), json.dumps(row[9]), row[10]) for row in rows])
    drafts, indexed = [], []
    for row in rows:
        name, status = skills[row[2]]
        if status == "draft":
            drafts.append((row[0], _blob(row[11])))
        else:
            indexed.append((row[0], name, row[4], row[5], row[11]))
    store.conn.executemany("INSERT INTO draft_vectors(chunk_pk, embedding) VALUES (?, ?)", drafts)
    if indexed:
        store._index_chunks(indexed)
