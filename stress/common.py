"""Helpers shared by the stress scripts: cheap embedders, content markers, database checks.

Nothing here is part of skillvault. The checks read the database through a plain
connection with sqlite-vec loaded (``skillvault.store.connection.connect``), never
through ``SkillManager``, so what they see is what is on disk.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections import Counter
from typing import Iterable, Optional

import numpy as np

from skillvault.store.connection import connect

DIM = 256

#: Every piece of content the scripts write carries one marker; all chunks of one
#: write carry the same marker, so chunks of different writes can be told apart.
MARKER_RE = re.compile(r"NONCE-[a-z]+-[0-9a-z]+-[0-9]+")


def _hashed_words(text: str, salt: str, dim: int) -> list[float]:
    vector = np.zeros(dim)
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.sha256((salt + word).encode()).digest()
        for i in range(3):
            index = int.from_bytes(digest[4 * i : 4 * i + 4], "little") % dim
            vector[index] += 1.0 if digest[20 + i] & 1 else -1.0
    if not vector.any():
        vector[0] = 1.0
    return vector.tolist()


def embed_a(text: str) -> list[float]:
    """Deterministic bag-of-hashed-words embedder (texts sharing words are similar)."""
    return _hashed_words(text, "a:", DIM)


def embed_b(text: str) -> list[float]:
    """Same idea and width as :func:`embed_a`, different hashing: a second embedder."""
    return _hashed_words(text, "b:", DIM)


EMBEDDERS = {"a": embed_a, "b": embed_b}


def markers(text: str) -> set[str]:
    """Return the content markers found in ``text``."""
    return set(MARKER_RE.findall(text))


def open_raw(db_path: str) -> sqlite3.Connection:
    """Open the library with a plain connection (sqlite-vec loaded), for checking."""
    conn, _driver = connect(db_path)
    return conn


def integrity_problems(conn) -> list[str]:
    """``PRAGMA integrity_check`` and ``foreign_key_check``; empty when sound."""
    problems = [f"integrity_check: {row[0]}" for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
    problems += [f"foreign_key_check: {tuple(row)}" for row in conn.execute("PRAGMA foreign_key_check")]
    return problems


def _table_exists(conn, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def index_problems(conn) -> list[str]:
    """Check the search indexes against the chunks; returns one line per problem.

    Every chunk of a non-draft skill has exactly one FTS row (same name, section and
    text) and one vector, and no draft vector; every chunk of a draft has one draft
    vector and no FTS row or vector; no index row belongs to no chunk; every skill
    has at least one chunk and every chunk a skill.
    """
    chunks = {
        pk: (status, name, section, content)
        for pk, status, name, section, content in conn.execute(
            "SELECT c.pk, s.status, s.name, c.section, c.content FROM chunks c JOIN skills s ON s.id = c.skill_id"
        )
    }
    problems = []
    orphans = conn.execute("SELECT COUNT(*) FROM chunks WHERE skill_id NOT IN (SELECT id FROM skills)").fetchone()[0]
    if orphans:
        problems.append(f"{orphans} chunk(s) belong to no skill")
    empty = [row[0] for row in conn.execute("SELECT id FROM skills WHERE id NOT IN (SELECT skill_id FROM chunks)")]
    problems += [f"skill {skill_id!r} has no chunks" for skill_id in empty]
    fts = {}
    for rowid, name, section, content in conn.execute("SELECT rowid, skill_name, section, content FROM chunk_fts"):
        fts.setdefault(rowid, []).append((name, section, content))
    vec = Counter(row[0] for row in conn.execute("SELECT rowid FROM chunk_vec")) if _table_exists(conn, "chunk_vec") else Counter()
    drafts = Counter(row[0] for row in conn.execute("SELECT chunk_pk FROM draft_vectors"))
    for pk, (status, name, section, content) in chunks.items():
        if status == "draft":
            if pk in fts or pk in vec:
                problems.append(f"draft chunk pk={pk} is in the search indexes")
            if drafts[pk] != 1:
                problems.append(f"draft chunk pk={pk} has {drafts[pk]} draft vectors")
            continue
        rows = fts.get(pk, [])
        if len(rows) != 1:
            problems.append(f"{status} chunk pk={pk} has {len(rows)} FTS rows")
        elif rows[0] != (name, section, content):
            problems.append(f"{status} chunk pk={pk}: FTS row differs from the chunk (stale name/section/text)")
        if vec[pk] != 1:
            problems.append(f"{status} chunk pk={pk} has {vec[pk]} vectors")
        if drafts[pk]:
            problems.append(f"{status} chunk pk={pk} also has a draft vector")
    for table, rows in (("FTS", fts), ("vector", vec), ("draft vector", drafts)):
        stray = sorted(set(rows) - set(chunks))
        if stray:
            problems.append(f"{len(stray)} {table} row(s) belong to no chunk (e.g. rowid {stray[0]})")
    return problems


def snapshots(conn) -> dict[str, dict[int, dict]]:
    """Return every kept version snapshot: ``{skill_id: {version: skill dict}}``."""
    found: dict[str, dict[int, dict]] = {}
    for skill_id, version, snapshot in conn.execute("SELECT skill_id, version, snapshot FROM skill_versions"):
        found.setdefault(skill_id, {})[version] = json.loads(snapshot)
    return found


def print_table(title: str, header: list[str], rows: Iterable[list]) -> None:
    """Print a plain aligned table."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  " + "  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        print("  " + "  ".join(cell.rjust(w) if cell.replace(".", "").isdigit() else cell.ljust(w)
                               for cell, w in zip(row, widths)))


def first(items: Iterable, default: Optional[object] = None):
    """Return the first item of ``items`` or ``default``."""
    return next(iter(items), default)
