"""Fix the width of the vector columns once the embedder is known, and index them (HNSW, cosine).

The tables are created with untyped ``vector`` columns (the width is unknown until the
library is first written with an embedder). :func:`ensure_vector_columns` gives them their
width, builds the HNSW indexes and records the width in ``meta`` (``embedder_dim``, as the
SQLite store does); a later call with another width is refused.

pgvector's HNSW indexes ``vector`` up to 2,000 dimensions and ``halfvec`` up to 4,000:
wider embedders (e.g. 3,072-d) are indexed as ``halfvec`` through an expression index;
beyond 4,000 there is no HNSW index and search is exact (a sequential scan).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...errors import EmbedderMismatchError, ValidationError
from .errors import translate
from .migrations import SCHEMA_LOCK_KEY

META_EMBEDDER_NAME = "embedder_name"
META_EMBEDDER_DIM = "embedder_dim"
#: Widest ``vector`` / ``halfvec`` that pgvector's HNSW indexes, and widest ``vector`` at all.
HNSW_MAX_VECTOR_DIM = 2_000
HNSW_MAX_HALFVEC_DIM = 4_000
MAX_DIM = 16_000
#: Tables whose ``embedding`` column holds vectors of the embedder's width.
VECTOR_TABLES = ("chunk_vectors", "draft_vectors", "skill_cards", "embedding_cache")
#: Searched by nearest neighbour, so HNSW-indexed.
INDEXED_TABLES = ("chunk_vectors", "skill_cards")
#: Most memory (MB) an index build asks the server for (``maintenance_work_mem``).
BUILD_MEMORY_CAP_MB = 1024


@dataclass(frozen=True)
class VectorLayout:
    """How the library's vectors are stored and searched.

    Attributes:
        dim: the embedder's width.
        index: ``"hnsw"`` (vector), ``"hnsw-halfvec"`` (indexed as half precision) or
            ``"exact"`` (too wide for HNSW).
    """

    dim: int
    index: str

    def distance(self, column: str, param: str) -> str:
        """The cosine distance between ``column`` and the query parameter ``param``, written
        the way the HNSW index was built so that the planner can use it."""
        if self.index == "hnsw-halfvec":
            return f"({column}::halfvec({self.dim}) <=> {param}::vector::halfvec({self.dim}))"
        return f"({column} <=> {param}::vector)"


def to_array(value) -> np.ndarray:
    """Return a vector read from the server (pgvector's ``Vector`` or a sequence) as float32 numpy."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


def layout_for(dim: int) -> VectorLayout:
    """Return the :class:`VectorLayout` used for vectors of ``dim`` dimensions."""
    if dim <= HNSW_MAX_VECTOR_DIM:
        return VectorLayout(dim, "hnsw")
    if dim <= HNSW_MAX_HALFVEC_DIM:
        return VectorLayout(dim, "hnsw-halfvec")
    return VectorLayout(dim, "exact")


def vector_layout(conn) -> Optional[VectorLayout]:
    """Return the library's :class:`VectorLayout`, or None while no width is recorded."""
    row = conn.execute("SELECT value FROM meta WHERE key = %s", (META_EMBEDDER_DIM,)).fetchone()
    return None if row is None else layout_for(int(row[0]))


def ensure_vector_columns(conn, dim: int, embedder_name: Optional[str] = None) -> VectorLayout:
    """Give the vector columns their width and build the HNSW indexes, once.

    Safe to call from many processes at once (it takes the schema's advisory lock) and
    cheap when the width is already recorded.

    Args:
        conn: an autocommit connection to a migrated database, as its owner.
        dim: the embedder's width.
        embedder_name: recorded as ``embedder_name`` in ``meta`` when the width is set.

    Returns:
        The library's :class:`VectorLayout`.

    Raises:
        ValidationError: if ``dim`` is not between 1 and 16,000.
        EmbedderMismatchError: if the library's vectors have another width.
        SkillPermissionError: if the role may not change the schema (an agent role).
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= MAX_DIM:
        raise ValidationError("dim", f"must be a whole number of dimensions from 1 to {MAX_DIM}, got {dim!r}")
    recorded = vector_layout(conn)
    if recorded is None:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                recorded = vector_layout(conn)  # another process may have set it while we waited
                if recorded is None:
                    recorded = _set_width(conn, dim, embedder_name)
        except Exception as exc:
            translated = translate(exc, None)
            if translated is None:
                raise
            raise translated from exc
    if recorded.dim != dim:
        raise EmbedderMismatchError(
            f"the library's vectors have {recorded.dim} dimensions but the embedder gives {dim}; use the "
            "embedder the library was built with, or re-embed the library with `skillvault reindex`"
        )
    return recorded


def _set_width(conn, dim: int, embedder_name: Optional[str]) -> VectorLayout:
    layout = layout_for(dim)
    for table in VECTOR_TABLES:
        conn.execute(f"ALTER TABLE {table} ALTER COLUMN embedding TYPE vector({dim})")
    create_vector_indexes(conn, layout)
    conn.execute("INSERT INTO meta(key, value) VALUES (%s, %s)", (META_EMBEDDER_DIM, str(dim)))
    if embedder_name is not None:
        conn.execute("INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                     (META_EMBEDDER_NAME, embedder_name))
    return layout


def create_vector_indexes(conn, layout: VectorLayout, rows: int = 0) -> None:
    """Build the HNSW indexes of :data:`INDEXED_TABLES` for ``layout`` (none for exact search).

    Args:
        rows: vectors already in the tables. A graph built at once is several times
            faster than one grown a vector at a time, and faster again when it fits in
            ``maintenance_work_mem``: for this transaction that is raised to the graph's
            estimated size, up to :data:`BUILD_MEMORY_CAP_MB` (never lowered).
    """
    if layout.index == "exact":
        return
    if rows:
        wanted = int(rows * (layout.dim * 4 + 300) * 1.3 / 2**20)
        current = conn.execute("SELECT setting::bigint / 1024 FROM pg_settings WHERE name = 'maintenance_work_mem'"
                               ).fetchone()[0]
        if wanted > current:
            conn.execute(f"SET LOCAL maintenance_work_mem = '{min(wanted, BUILD_MEMORY_CAP_MB)}MB'")
    operators = "halfvec_cosine_ops" if layout.index == "hnsw-halfvec" else "vector_cosine_ops"
    column = f"(embedding::halfvec({layout.dim}))" if layout.index == "hnsw-halfvec" else "embedding"
    for table in INDEXED_TABLES:
        conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} USING hnsw ({column} {operators})")


def drop_vector_indexes(conn) -> None:
    """Drop the HNSW indexes (inside a transaction that builds them again, or changes the width)."""
    conn.execute("DROP INDEX IF EXISTS " + ", ".join(f"{table}_hnsw" for table in INDEXED_TABLES))
