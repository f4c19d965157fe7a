"""The PostgreSQL store's one-statement queries: search candidates and dependency expansion.

:func:`candidates` returns a query's nearest chunk vectors (cosine, through the HNSW
index) and its best word matches (``ts_rank_cd`` over the GIN-indexed ``tsvector``), both
filtered to the wanted statuses before their top ``k``, in one round trip. They are fused
by the retrieval layer, as on SQLite, so both backends rank alike.
:func:`dependency_closure` follows chunk dependencies transitively with a recursive CTE.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .vectors import VectorLayout

#: Dependency levels followed at most by default (as retrieval/pack.py does).
MAX_DEPENDENCY_DEPTH = 3


def _candidates_sql(layout: VectorLayout, words: bool) -> str:
    distance = layout.distance("v.embedding", "%(vector)s")
    nearest = f"""SELECT 'vector' AS list, pk, score, row_number() OVER (ORDER BY score DESC, pk) AS rank FROM (
            SELECT c.pk, 1 - {distance} AS score
            FROM chunk_vectors v JOIN chunks c ON c.pk = v.chunk_pk JOIN skills s ON s.id = c.skill_id
            WHERE s.status = ANY(%(statuses)s)
            ORDER BY {distance}, c.pk LIMIT %(k)s) knn"""
    if not words:
        return nearest + " ORDER BY rank"
    return f"""{nearest}
        UNION ALL
        SELECT 'words', pk, score, row_number() OVER (ORDER BY score DESC, pk) FROM (
            SELECT c.pk, ts_rank_cd(c.words, q) AS score
            FROM chunks c JOIN skills s ON s.id = c.skill_id, to_tsquery('english', %(text)s) q
            WHERE c.words @@ q AND s.status = ANY(%(statuses)s) AND s.status <> 'draft'
            ORDER BY score DESC, c.pk LIMIT %(k)s) matched
        ORDER BY list, rank"""


def candidates(conn, layout: VectorLayout, vector, text: str, k: int,
               statuses: Sequence[str] = ("canonical",)) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """Return ``(vector_hits, word_hits)``: up to ``k`` ``(chunk pk, score)`` pairs each, best first.

    Args:
        conn: a connection with pgvector's types registered (see :func:`~.connection.connect`).
        layout: the library's :class:`~.vectors.VectorLayout` (its width and index kind).
        vector: the query's embedding (``layout.dim`` floats).
        text: ``to_tsquery`` text (e.g. ``"(rebase) | (branch)"``); "" searches vectors only.
        k: candidates per list.
        statuses: only chunks of skills in these statuses (drafts never match words).
    """
    params = {"vector": np.asarray(vector, dtype=np.float32), "text": text, "statuses": list(statuses), "k": k}
    vector_hits: list[tuple[int, float]] = []
    word_hits: list[tuple[int, float]] = []
    for kind, pk, score, _rank in conn.execute(_candidates_sql(layout, bool(text)), params).fetchall():
        (vector_hits if kind == "vector" else word_hits).append((int(pk), float(score)))
    return vector_hits, word_hits


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
        WHERE c.id = dep.id AND s.status = ANY(%(statuses)s)
        UNION ALL
        SELECT c.pk, c.position FROM chunks c JOIN skills s ON s.id = c.skill_id
        WHERE c.skill_id = dep.id AND s.status = ANY(%(statuses)s)) target
    WHERE w.depth < %(max_depth)s AND target.pk <> ALL (w.trail)
)
SELECT root, pk FROM (
    SELECT DISTINCT ON (root, pk) root, pk, depth, sort_key FROM walk WHERE depth > 0
    ORDER BY root, pk, depth, sort_key) first_reached
ORDER BY root, depth, sort_key"""


def dependency_closure(conn, roots: Sequence[int], *, statuses: Sequence[str] = ("canonical",),
                       max_depth: int = MAX_DEPENDENCY_DEPTH) -> dict[int, list[int]]:
    """Return, for each root chunk, the chunks it depends on, transitively, in one statement.

    Chunk-id dependencies stand for that chunk, skill-id dependencies for all of that
    skill's chunks. A chunk already on the path is not followed again, so cycles end;
    each chunk is listed once per root, at the first level it is reached.

    Args:
        conn: an open connection.
        roots: primary keys of the chunks to expand.
        statuses: only chunks of skills in these statuses are followed.
        max_depth: dependency levels followed at most.

    Returns:
        ``{root pk: [dependency pks, breadth first]}`` with every root present.
    """
    closure: dict[int, list[int]] = {int(pk): [] for pk in roots}
    rows = conn.execute(_CLOSURE_SQL, {"roots": list(closure), "statuses": list(statuses), "max_depth": max_depth})
    for root, pk in rows.fetchall():
        closure[root].append(pk)
    return closure
