"""The ``meta`` table: one value per key (embedder, vector epoch, index generation...)."""

from __future__ import annotations

from typing import Optional


def read_meta(conn, key: str) -> Optional[str]:
    """Return the value stored under ``key``, or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def write_meta(conn, key: str, value: str) -> None:
    """Store ``value`` under ``key`` (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
