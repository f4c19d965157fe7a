"""A whole library as rows that either backend reads and writes (``skillvault copy``).

Sections come in :data:`SECTIONS` order (a section's rows may refer to those of earlier
ones) as tuples of the columns in :data:`COLUMNS`. Values are neutral: JSON text for
tags, metadata, flags, details and snapshots (both backends store them so), Python lists
for dependencies, bools for flags that SQLite keeps as 0/1, float32 numpy arrays for
vectors. What a backend derives (word indexes, card texts, HNSW graphs) is rebuilt by
the writer, not copied.
"""

from __future__ import annotations

SECTIONS = ("meta", "skills", "chunks", "cards", "versions", "audit", "usage", "agent_usage", "usage_notes",
            "embedding_cache")
COLUMNS = {
    "meta": ("key", "value"),
    "skills": ("id", "name", "source", "status", "confidence", "extracted_from", "description", "tags", "version",
               "revises", "metadata", "created_at", "updated_at", "flags", "author"),
    # vector: the chunk's embedding (in the searched index for non-draft skills, apart for drafts)
    "chunks": ("pk", "id", "skill_id", "position", "section", "content", "tokens", "priority", "required",
               "dependencies", "embed_hash", "vector"),
    "cards": ("skill_id", "embed_hash", "vector"),
    "versions": ("skill_id", "version", "snapshot", "created_at"),
    "audit": ("at", "actor", "action", "skill_id", "reason", "details"),
    "usage": ("skill_id", "uses", "helpful", "unhelpful", "last_used"),
    # agent: the agent role's name on PostgreSQL, "agent" from SQLite (which keeps one row per skill)
    "agent_usage": ("skill_id", "agent", "uses", "helpful", "unhelpful", "last_used"),
    "usage_notes": ("skill_id", "at", "actor", "helpful", "note"),
    "embedding_cache": ("embed_hash", "vector", "created_at"),
}
#: Meta keys copied (the others are a backend's own bookkeeping).
COPIED_META = ("embedder_name", "embedder_dim", "null_vectors")
#: What :func:`counts` reports, compared after a copy.
COUNTED = ("skills", "chunks", "vectors", "cards", "card_vectors", "versions", "audit", "uses", "agent_uses",
           "usage_notes", "embedding_cache")
BATCH_ROWS = 1000


def columns(section: str) -> str:
    """The section's columns as an SQL list."""
    return ", ".join(COLUMNS[section])
