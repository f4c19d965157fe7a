"""Hybrid retrieval: vector KNN and FTS5 BM25 fused by reciprocal rank fusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..models import Chunk
from ..store import SQLiteStore, StoredChunk
from .lexical import match_expression
from .relevance import RelevanceFloor

#: The RRF constant of Cormack et al. (2009): damps the weight of the top ranks.
RRF_K = 60
#: How many candidates each retriever contributes before fusion.
CANDIDATES = 50
#: Each point of chunk priority multiplies its fused score by (1 + this); negative lowers it.
PRIORITY_BOOST = 0.05
SERVED_STATUSES = ("canonical",)


@dataclass
class Hit:
    """One scored search result.

    Attributes:
        chunk: the chunk.
        skill_id: its skill's id.
        skill_name: its skill's name.
        vector_score: cosine similarity between query and chunk (-1..1).
        lexical_score: FTS5 BM25 score (higher is better), None if no word matched.
        fused_score: reciprocal-rank-fusion score of both lists, with the priority boost.
        relevant: whether it passed the relevance floor.
        position: the chunk's place in its skill (0-based).
        pk: the chunk's row key in the store.
    """

    chunk: Chunk
    skill_id: str
    skill_name: str
    vector_score: float
    lexical_score: Optional[float]
    fused_score: float
    relevant: bool
    position: int
    pk: int


def hybrid_search(
    store: SQLiteStore,
    query_vector: np.ndarray,
    query_text: str,
    floor: RelevanceFloor,
    statuses: tuple[str, ...] = SERVED_STATUSES,
    candidates: int = CANDIDATES,
) -> list[Hit]:
    """Return fused hits (relevant or not), best first.

    Args:
        store: where to search.
        query_vector: unit-length query embedding.
        query_text: the query's words, for FTS5.
        floor: the relevance floor for this query.
        statuses: skill statuses to search.
        candidates: depth of each retriever's list.
    """
    vector_hits = store.vector_search(query_vector, candidates, statuses)
    lexical_hits = store.lexical_search(match_expression(query_text), candidates, statuses)
    fused: dict[int, float] = {}
    for ranked in (vector_hits, lexical_hits):
        for rank, (pk, _score) in enumerate(ranked):
            fused[pk] = fused.get(pk, 0.0) + 1.0 / (RRF_K + rank + 1)
    if not fused:
        return []
    stored = store.chunks_by_pk(list(fused))
    lexical = dict(lexical_hits)
    vector = dict(vector_hits)
    missing_vector = [pk for pk in fused if pk not in vector]
    if missing_vector:
        vector.update(store.vector_scores(query_vector, missing_vector))
    hits = [
        _make_hit(stored[pk], vector[pk], lexical.get(pk), fused[pk], floor)
        for pk in fused
        if pk in stored
    ]
    hits.sort(key=lambda hit: (-hit.fused_score, hit.chunk.id))
    return hits


def _make_hit(stored: StoredChunk, vector_score: float, lexical_score: Optional[float], rrf: float, floor: RelevanceFloor) -> Hit:
    chunk = stored.chunk
    return Hit(
        chunk=chunk,
        skill_id=chunk.skill_id,
        skill_name=stored.skill_name,
        vector_score=vector_score,
        lexical_score=lexical_score,
        fused_score=rrf * (1.0 + PRIORITY_BOOST) ** chunk.priority,
        relevant=floor.admits(vector_score, lexical_score is not None),
        position=stored.position,
        pk=stored.pk,
    )
