"""Helpers for the PostgreSQL tests: a migrated library, and rows written as its owner."""

from __future__ import annotations

import json
from typing import Optional, Sequence

import numpy as np

from skillvault.store.postgres.connection import connect
from skillvault.store.postgres.migrations import migrate
from skillvault.store.postgres.vectors import ensure_vector_columns

NOW = "2026-01-01T00:00:00+00:00"


def open_library(url: str, dim: Optional[int] = 8):
    """Connect to ``url`` as the owner, migrate, fix the vector width (unless ``dim`` is None)."""
    conn = connect(url, register=False)
    migrate(conn)
    conn.close()
    conn = connect(url)
    if dim is not None:
        ensure_vector_columns(conn, dim, "test-embedder")
    return conn


def axis(i: int, dim: int = 8, tilt: int | None = None) -> np.ndarray:
    """A unit vector along axis ``i`` (leaning a little towards axis ``tilt``)."""
    vector = np.zeros(dim, dtype=np.float32)
    vector[i] = 1.0
    if tilt is not None:
        vector[tilt] = 0.3
    return vector / np.linalg.norm(vector)


def add_skill(conn, skill_id: str, status: str = "canonical", chunks: Sequence[tuple] = (),
              *, author: str = "human", source: str = "manual", name: Optional[str] = None) -> list[int]:
    """Write a skill with ``chunks`` = ``(section, content, vector[, dependencies])`` tuples.

    Vectors go to ``draft_vectors`` for drafts and ``chunk_vectors`` otherwise; non-draft
    skills get a card. Returns the chunks' primary keys, in order.
    """
    name = name or skill_id
    conn.execute(
        """INSERT INTO skills (id, name, source, status, confidence, created_at, updated_at, author)
           VALUES (%s, %s, %s, %s, 0.9, %s, %s, %s)""",
        (skill_id, name, source, status, NOW, NOW, author),
    )
    pks = []
    for position, (section, content, vector, *deps) in enumerate(chunks):
        pk = conn.execute(
            """INSERT INTO chunks (id, skill_id, position, section, content, tokens, priority, required,
                                   dependencies, embed_hash, skill_name)
               VALUES (%s, %s, %s, %s, %s, 10, 0, false, %s, 'h', %s) RETURNING pk""",
            (f"{skill_id}::{position}", skill_id, position, section, content, list(deps[0]) if deps else [], name),
        ).fetchone()[0]
        table = "draft_vectors" if status == "draft" else "chunk_vectors"
        conn.execute(f"INSERT INTO {table} (chunk_pk, embedding) VALUES (%s, %s)", (pk, np.asarray(vector, np.float32)))
        pks.append(pk)
    if status != "draft":
        conn.execute("INSERT INTO skill_cards (skill_id, name, body) VALUES (%s, %s, %s)",
                     (skill_id, name, "\n".join(c[1] for c in chunks)))
        conn.execute("INSERT INTO skill_versions VALUES (%s, 1, %s, %s)", (skill_id, json.dumps({"id": skill_id}), NOW))
    return pks


def bulk_chunks(conn, skill_id: str, status: str, texts: Sequence[str], vectors: np.ndarray) -> list[int]:
    """Write a skill with many chunks and searchable vectors by COPY; return the chunks' keys."""
    conn.execute("INSERT INTO skills (id, name, source, status, confidence, created_at, updated_at) "
                 "VALUES (%s, %s, 'manual', %s, 1, %s, %s)", (skill_id, skill_id, status, NOW, NOW))
    with conn.cursor() as cur:
        with cur.copy("COPY chunks (id, skill_id, position, section, content, tokens, priority, required, embed_hash) "
                      "FROM STDIN") as copy:
            for i, text in enumerate(texts):
                copy.write_row((f"{skill_id}::{i}", skill_id, i, "s", text, 5, 0, False, "h"))
    pks = [row[0] for row in conn.execute("SELECT pk FROM chunks WHERE skill_id = %s ORDER BY position", (skill_id,))]
    with conn.cursor() as cur:
        with cur.copy("COPY chunk_vectors (chunk_pk, embedding) FROM STDIN") as copy:
            for pk, vector in zip(pks, vectors):
                copy.write_row((pk, "[" + ",".join(map(str, vector)) + "]"))
    return pks
