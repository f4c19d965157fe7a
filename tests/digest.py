"""A digest of every row of every table of a library, to show that a failed call changed nothing."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Union


def table_digest(conn) -> str:
    """Return a sha256 over the rows of every ordinary table, in a stable order.

    Virtual tables (FTS5, vec0) are read through their shadow tables, which are ordinary
    tables holding all of their data, so no extension is needed. A psycopg connection
    (PostgreSQL) is digested over every skillvault table.
    """
    if type(conn).__module__.startswith("psycopg"):
        return _postgres_digest(conn)
    digest = hashlib.sha256()
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
    )]
    for name in names:
        rows = sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{name}"'))
        digest.update(f"{name}:{len(rows)}\n".encode())
        for row in rows:
            digest.update(row.encode("utf-8", "backslashreplace") + b"\n")
    return digest.hexdigest()


def file_digest(path: Union[str, os.PathLike]) -> str:
    """:func:`table_digest` of the library at ``path``, read through a fresh read-only connection
    (a ``postgresql://`` URL: every row of every skillvault table, through a new connection)."""
    if str(path).startswith("postgresql://"):
        import psycopg

        with psycopg.connect(str(path)) as conn:
            return _postgres_digest(conn)
    conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return table_digest(conn)
    finally:
        conn.close()



def _postgres_digest(conn) -> str:
    from skillvault.store.postgres.migrations import SECURED_TABLES

    digest = hashlib.sha256()
    for name in SECURED_TABLES:
        rows = sorted(str(row[0]) for row in conn.execute(f"SELECT t::text FROM {name} t"))
        digest.update(f"{name}:{len(rows)}\n".encode())
        for row in rows:
            digest.update(row.encode("utf-8", "backslashreplace") + b"\n")
    return digest.hexdigest()


class LibraryDigest:
    """The :func:`table_digest` of a library file, kept through one read-only connection.

    It is recomputed only when another connection has committed since the last time
    (``PRAGMA data_version`` tells), so checking "unchanged" after every call stays cheap.
    """

    def __init__(self, path: Union[str, os.PathLike]):
        self.conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
        self._version: object = None
        self._digest = ""

    def __call__(self) -> str:
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._digest, self._version = table_digest(self.conn), version
        return self._digest

    def close(self) -> None:
        self.conn.close()
