"""One-statement queries of the PostgreSQL store: hybrid search and dependency expansion.

:func:`hybrid_search` fuses the nearest chunk vectors (cosine, through the HNSW index) with
the best word matches (``ts_rank_cd`` over the GIN-indexed ``tsvector``) by reciprocal
rank fusion, all filtered to one status before the top ``k`` are taken, in one round trip.
:func:`dependency_closure` follows chunk dependencies transitively with a recursive CTE.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

from .vectors import VectorLayout

#: Reciprocal rank fusion constant: a hit at rank r scores 1 / (RRF_K + r) per list.
RRF_K = 60
#: Candidates taken from each list (vectors, words) before fusing.
CANDIDATES = 50
#: Dependency levels followed at most (as retrieval/pack.py does).
MAX_DEPENDENCY_DEPTH = 3


class Hit(NamedTuple):
    """One fused search result: the chunk's primary key, its RRF score and its rank in each
    list (None where it was not a candidate)."""

    pk: int
    score: float
    vector_rank: Optional[int]
    word_rank: Optional[int]


def _hybrid_sql(layout: VectorLayout) -> str:
    distance = layout.distance("v.embedding", "%(vector)s")
    # The word query ORs the stemmed query words (plainto_tsquery would AND them).
    return f"""
    WITH nearest AS (
        SELECT pk, row_number() OVER (ORDER BY distance, pk) AS rank FROM (
            SELECT c.pk, {distance} AS distance
            FROM chunk_vectors v JOIN chunks c ON c.pk = v.chunk_pk JOIN skills s ON s.id = c.skill_id
            WHERE s.status = %(status)s
            ORDER BY {distance} LIMIT %(candidates)s) knn),
    words AS (
        SELECT pk, row_number() OVER (ORDER BY score DESC, pk) AS rank FROM (
            SELECT c.pk, ts_rank_cd(c.words, q.query) AS score
            FROM chunks c JOIN skills s ON s.id = c.skill_id,
                 (SELECT replace(plainto_tsquery('english', %(text)s)::text, ' & ', ' | ')::tsquery AS query) q
            WHERE c.words @@ q.query AND s.status = %(status)s
            ORDER BY score DESC, c.pk LIMIT %(candidates)s) matched)
    SELECT pk, sum(1.0 / ({RRF_K} + rank))::float8 AS score, min(vector_rank), min(word_rank)
    FROM (SELECT pk, rank, rank AS vector_rank, NULL::bigint AS word_rank FROM nearest
          UNION ALL SELECT pk, rank, NULL, rank FROM words) ranked
    GROUP BY pk ORDER BY score DESC, pk LIMIT %(k)s"""


def hybrid_search(conn, layout: VectorLayout, vector, text: str, k: int = 10, *,
                  status: str = "canonical", candidates: int = CANDIDATES) -> list[Hit]:
    """Return the ``k`` chunks of skills in ``status`` that best match ``vector`` and ``text``.

    Args:
        conn: a connection with pgvector's types registered (see :func:`~.connection.connect`).
        layout: the library's :class:`~.vectors.VectorLayout` (its width and index kind).
        vector: the query's embedding (a sequence or numpy array of ``layout.dim`` floats).
        text: the query's words (English stemming; any word may match).
        k: results wanted.
        status: only chunks of skills in this status are ranked (``query`` serves canonical).
        candidates: how many chunks each list contributes before fusion.

    Returns:
        :class:`Hit` rows, best first (ties by primary key).
    """
    import numpy as np

    params = {"vector": np.asarray(vector, dtype=np.float32), "text": text, "status": status,
              "candidates": max(candidates, k), "k": k}
    return [Hit(*row) for row in conn.execute(_hybrid_sql(layout), params).fetchall()]


_CLOSURE_SQL = """
WITH RECURSIVE walk(root, pk, depth, trail, sort_key) AS (
    SELECT pk, pk, 0, ARRAY[pk], ARRAY[]::bigint[] FROM chunks WHERE pk = ANY(%(roots)s)
    UNION ALL
    SELECT w.root, target.pk, w.depth + 1, w.trail || target.pk, w.sort_key || dep.ord || target.position::bigint
    FROM walk w
    JOIN chunks parent ON parent.pk = w.pk
    CROSS JOIN LATERAL unnest(parent.dependencies) WITH ORDINALITY AS dep(id, ord)
    -- a dependency names a chunk, or a skill (standing for all its chunks): two indexed lookups
    CROSS JOIN LATERAL (
        SELECT c.pk, c.position FROM chunks c JOIN skills s ON s.id = c.skill_id
        WHERE c.id = dep.id AND s.status = %(status)s
        UNION ALL
        SELECT c.pk, c.position FROM chunks c JOIN skills s ON s.id = c.skill_id
        WHERE c.skill_id = dep.id AND s.status = %(status)s) target
    WHERE w.depth < %(max_depth)s AND target.pk <> ALL (w.trail)
)
SELECT root, pk FROM (
    SELECT DISTINCT ON (root, pk) root, pk, depth, sort_key FROM walk WHERE depth > 0
    ORDER BY root, pk, depth, sort_key) first_reached
ORDER BY root, depth, sort_key"""


def dependency_closure(conn, roots: Sequence[int], *, status: str = "canonical",
                       max_depth: int = MAX_DEPENDENCY_DEPTH) -> dict[int, list[int]]:
    """Return, for each root chunk, the chunks it depends on, transitively, in one statement.

    Chunk-id dependencies stand for that chunk, skill-id dependencies for all of that
    skill's chunks. A chunk already on the path is not followed again, so cycles end;
    each chunk is listed once per root, at the first level it is reached.

    Args:
        conn: an open connection.
        roots: primary keys of the chunks to expand.
        status: only chunks of skills in this status are followed.
        max_depth: dependency levels followed at most.

    Returns:
        ``{root pk: [dependency pks, breadth first]}`` with every root present.
    """
    closure: dict[int, list[int]] = {int(pk): [] for pk in roots}
    rows = conn.execute(_CLOSURE_SQL, {"roots": list(closure), "status": status, "max_depth": max_depth})
    for root, pk in rows.fetchall():
        closure[root].append(pk)
    return closure
