"""Persistence. ``SQLiteStore`` is the embedded default (and the source of truth)."""

from .sqlite import PreparedChunk, SQLiteStore, StoredChunk

__all__ = ["PreparedChunk", "SQLiteStore", "StoredChunk"]
