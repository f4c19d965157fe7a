"""Hybrid retrieval: vector KNN and FTS5 BM25 fused by reciprocal rank fusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..models import Chunk, Status
from ..store import Store, StoredChunk
from ..store.base import TermCounter
from .lexical import common_limit, informative_terms, match_expression, query_terms
from .relevance import RelevanceFloor

#: The RRF constant of Cormack et al. (2009): damps the weight of the top ranks.
RRF_K = 60
#: How many candidates each retriever contributes before fusion.
CANDIDATES = 50
#: Each point of chunk priority multiplies its fused score by (1 + this); negative lowers it.
PRIORITY_BOOST = 0.05
SERVED_STATUSES = (Status.CANONICAL.value,)
#: A word match is evidence of relevance when its BM25 score is at least this fraction
#: of the query's best word match.
LEXICAL_EVIDENCE = 0.5
#: Hits below the relevance floor kept for ``explain`` output.
EXPLAINED_IRRELEVANT = 10


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
        note: why a hit that passed the floor was still left out (see :mod:`.focus`).
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
    note: Optional[str] = None


@dataclass
class Candidates:
    """Each chunk retriever's best chunks for one query, best first.

    Attributes:
        match: the FTS5 MATCH expression made of the query's informative words.
        vector_hits: ``(chunk pk, cosine)`` pairs.
        lexical_hits: ``(chunk pk, -bm25)`` pairs.
    """

    match: str
    vector_hits: list[tuple[int, float]]
    lexical_hits: list[tuple[int, float]]


def chunk_candidates(
    store: Store, query_vector: np.ndarray, query_text: str, depth: int, statuses: tuple[str, ...]
) -> Candidates:
    """Run both chunk retrievers once, ``depth`` deep (chunk search and skill ranking share them)."""
    budget = store.word_postings_budget
    match, vector_hits, lexical_hits = store.hybrid_candidates(
        query_vector, lambda count, total: informative_match(query_text, count, total, budget), depth, statuses)
    return Candidates(match, vector_hits, lexical_hits)


def informative_match(query_text: str, count: TermCounter, total: int, budget: int) -> str:
    """Return the MATCH expression of the query's informative words.

    Args:
        count: how many of the ``total`` searchable chunks hold each term.
        budget: most postings (summed over the words kept) one word search reads.
    """
    terms = query_terms(query_text)
    limit = common_limit(total)
    counts = count(terms, limit)  # past the limit a word is common: no need to count on
    if terms and all(counts.get(term, 0) > limit for term in terms):
        counts = count(terms, None)  # every word is common: the rarest is kept, by exact counts
    return match_expression(informative_terms(terms, counts, total, budget))


def hybrid_search(
    store: Store,
    query_vector: np.ndarray,
    query_text: str,
    floor: RelevanceFloor,
    statuses: tuple[str, ...] = SERVED_STATUSES,
    candidates: int = CANDIDATES,
    irrelevant: int = EXPLAINED_IRRELEVANT,
    found: Optional[Candidates] = None,
) -> list[Hit]:
    """Return the relevant hits, best first, followed by the best few irrelevant ones.

    Args:
        store: where to search.
        query_vector: unit-length query embedding.
        query_text: the query's words, for FTS5.
        floor: the relevance floor for this query.
        statuses: skill statuses to search.
        candidates: depth of each retriever's list.
        irrelevant: how many hits below the floor to return too (for explanations).
        found: the retrievers' results when already run (at least ``candidates`` deep).
    """
    found = found or chunk_candidates(store, query_vector, query_text, candidates, statuses)
    vector_hits, lexical_hits = found.vector_hits[:candidates], found.lexical_hits[:candidates]
    fused: dict[int, float] = {}
    for ranked in (vector_hits, lexical_hits):
        for rank, (pk, _score) in enumerate(ranked):
            fused[pk] = fused.get(pk, 0.0) + 1.0 / (RRF_K + rank + 1)
    if not fused:
        return []
    lexical = dict(lexical_hits)
    vector = dict(vector_hits)
    missing_vector = [pk for pk in fused if pk not in vector]
    if missing_vector:
        vector.update(store.vector_scores(query_vector, missing_vector))
    # Words count as evidence only for chunks matching about as well as the best match:
    # a chunk sharing one common word with the query is not "about" it.
    strong_lexical = LEXICAL_EVIDENCE * max(lexical.values(), default=0.0)
    relevant = {
        pk: floor.admits(vector.get(pk, -1.0), lexical.get(pk, -1.0) >= strong_lexical and pk in lexical)
        for pk in fused
    }
    # Only relevant chunks (and a few others, to explain) are read from the database.
    below = sorted((pk for pk in fused if not relevant[pk]), key=lambda pk: -fused[pk])[:irrelevant]
    stored = store.chunks_by_pk([pk for pk in fused if relevant[pk]] + below)
    hits = [
        _make_hit(stored[pk], vector.get(pk, -1.0), lexical.get(pk), fused[pk], relevant[pk])
        for pk in fused
        if pk in stored
    ]
    hits.sort(key=lambda hit: (not hit.relevant, -hit.fused_score, hit.chunk.id))
    return hits


def _make_hit(stored: StoredChunk, vector_score: float, lexical_score: Optional[float], rrf: float, relevant: bool) -> Hit:
    chunk = stored.chunk
    return Hit(
        chunk=chunk,
        skill_id=chunk.skill_id,
        skill_name=stored.skill_name,
        vector_score=vector_score,
        lexical_score=lexical_score,
        fused_score=rrf * (1.0 + PRIORITY_BOOST) ** chunk.priority,
        relevant=relevant,
        position=stored.position,
        pk=stored.pk,
    )
