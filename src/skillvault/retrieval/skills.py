"""Skill-level ranking: which skills a task calls for (level 1 of progressive disclosure).

Each skill is scored by several signals, each a ranked list over skills:

* ``card``: cosine of the query to the skill's card vector (name, description, when-to-use);
* ``chunk``: cosine of the query to the skill's best chunk;
* ``card_words``: FTS5 BM25 over the card (name, description, when-to-use, section titles);
* ``chunk_words``: the best chunk's FTS5 BM25;
* ``file_words``: FTS5 BM25 of the best-matching text file the skill bundles
  (``references/*.md``, scripts): ``SkillHit.files`` names the files that matched.

They are fused by a weighted sum of calibrated scores (:func:`fuse`): the cosines as
they are, each BM25 divided by the query's best BM25 for that signal (so 0..1). On the
evaluation set (benchmarks/retrieval_eval.py) this beat reciprocal rank fusion of the
same signals: rank fusion throws away how far apart two skills are, and the card's
cosine is the most telling signal by a distance. Every signal's value and rank is kept
on the result, so ``why`` says exactly what put a skill where it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..store import Store
from .relevance import RelevanceFloor
from .search import Candidates, chunk_candidates

#: Weight of the bundled files' words (see benchmarks/retrieval_eval.py).
FILE_WEIGHT = 0.02
#: Weight of each signal in the fusion, tuned on benchmarks/retrieval_cases.yaml (even
#: cases; the odd ones held out gave R@1 0.72, keyword-free 0.57).
SIGNAL_WEIGHTS = {"card": 1.0, "chunk": 0.15, "card_words": 0.05, "chunk_words": 0.1, "file_words": FILE_WEIGHT}
#: Signals whose values are BM25 scores (normalised by the query's best before fusion).
WORD_SIGNALS = ("card_words", "chunk_words", "file_words")
#: BM25 weights of the card's name, description, when-to-use, section titles and body.
CARD_FIELD_WEIGHTS = (2.0, 1.5, 1.0, 0.5, 0.2)
#: Chunks taken from each chunk retriever before they are grouped by skill.
CHUNK_CANDIDATES = 300
#: Cards ranked by cosine per query (the rest count as "at most as close as the last").
CARD_CANDIDATES = 100
SIGNAL_LABELS = {
    "card": "card cosine",
    "chunk": "best chunk cosine",
    "card_words": "card words BM25",
    "chunk_words": "chunk words BM25",
    "file_words": "bundled file words BM25",
}


@dataclass
class SkillHit:
    """One skill scored for a query.

    Attributes:
        id / name / description: the skill's card.
        score: the fused score (higher is better).
        relevant: whether its card or a chunk passed the relevance floor.
        signals: signal name → ``(value, rank)`` (rank 1-based) for the signals that found it.
        best_chunk_pk: the pk of its best chunk by cosine, if any.
        why: a one-line account of the signals.
    """

    id: str
    name: str
    description: str
    score: float
    relevant: bool
    signals: dict[str, tuple[float, int]] = field(default_factory=dict)
    best_chunk_pk: Optional[int] = None
    why: str = ""
    files: list[str] = field(default_factory=list)


def rank_skills(
    store: Store,
    query_vector: np.ndarray,
    query_text: str,
    floor: RelevanceFloor,
    statuses: tuple[str, ...],
    embed_texts: Optional[Callable[[list[str]], np.ndarray]] = None,
    weights: Optional[dict[str, float]] = None,
    limit: int = 100,
    found_chunks: Optional[Candidates] = None,
    among: Optional[set[str]] = None,
) -> list[SkillHit]:
    """Return up to ``limit`` skills found by any signal, best first (relevant ones before the rest).

    Args:
        store: where to search.
        query_vector: unit query embedding.
        query_text: the query's words.
        floor: the query's relevance floor.
        statuses: skill statuses searched.
        embed_texts: embeds cards stored without a vector (kept in memory).
        weights: signal weights (default :data:`SIGNAL_WEIGHTS`).
        limit: how many skills to return at most.
        found_chunks: the chunk retrievers' results when already run
            (:data:`CHUNK_CANDIDATES` deep, or as deep as the caller's question needs).
        among: rank only these skills (each signal is then calibrated among them: a
            word score is divided by the best of these skills', not the library's);
            cards' and bundled files' words are then not searched (``why`` says so).
    """
    weights = SIGNAL_WEIGHTS if weights is None else weights
    signals: dict[str, list[tuple[str, float]]] = {}
    # Card cosine over every card (or the named ones).
    ids, matrix, missing = store.card_vectors(statuses, among)
    if missing and embed_texts is not None:
        vectors = embed_texts([text for _index, text in missing])
        for (index, _text), vector in zip(missing, vectors):
            matrix[index] = vector
        missing.clear()
    if ids and among is not None:
        sims = matrix @ query_vector
        has_vector = matrix.any(axis=1).tolist()
        ranked_rows = sorted(enumerate(sims.tolist()), key=lambda row: -row[1])
        signals["card"] = [(ids[row], sim) for row, sim in ranked_rows if has_vector[row]]
    elif ids:
        sims = matrix @ query_vector
        # The best cards only: every skill would otherwise be found, fused and explained
        # on every query (measured: 10x slower at 4k skills). A partition first: sorting
        # every card's score costs more than the product itself at 100k+ skills.
        best = np.arange(len(sims))
        if len(sims) > CARD_CANDIDATES:
            cut = np.partition(sims, len(sims) - CARD_CANDIDATES)[len(sims) - CARD_CANDIDATES]
            best = np.flatnonzero(sims >= cut)  # every row tied at the cut stays a candidate
        order = best[np.lexsort((best, -sims[best]))][:CARD_CANDIDATES]  # ties: lower row first
        has_vector = matrix[order].any(axis=1).tolist()
        signals["card"] = [(ids[i], float(sims[i])) for i, kept in zip(order.tolist(), has_vector) if kept]
    found_chunks = found_chunks or chunk_candidates(store, query_vector, query_text, CHUNK_CANDIDATES, statuses)
    match, vector_hits, lexical_hits = found_chunks.match, found_chunks.vector_hits, found_chunks.lexical_hits
    owner = store.chunk_skills([pk for pk, _ in vector_hits] + [pk for pk, _ in lexical_hits])
    best_chunk: dict[str, int] = {}
    signals["chunk"] = _best_per_skill(vector_hits, owner, best_chunk)
    signals["chunk_words"] = _best_per_skill(lexical_hits, owner, None)
    files: dict[str, list[str]] = {}
    # Focus (``among``) skips the two word searches over whole skills (BM25 over every
    # card or bundled file holding a query word: ~2.7 ms of an 8 ms query at 20k chunks).
    # On the 222 tasks of benchmarks/retrieval_cases.yaml the expected skill was served
    # for 196 without them, 194 with them (first: 137 vs 138).
    if among is None:
        signals["card_words"] = store.card_lexical_search(match, CHUNK_CANDIDATES, statuses, CARD_FIELD_WEIGHTS)
        file_best: list[tuple[str, float]] = []
        for skill_id, path, value in store.file_lexical_search(match, CHUNK_CANDIDATES, statuses):
            if skill_id not in files:
                file_best.append((skill_id, value))
            files.setdefault(skill_id, []).append(path)
        signals["file_words"] = file_best
    else:
        signals = {name: [(skill_id, value) for skill_id, value in ranked if skill_id in among]
                   for name, ranked in signals.items()}
    found: dict[str, dict[str, tuple[float, int]]] = {}
    for name, ranked in signals.items():
        for rank, (skill_id, value) in enumerate(ranked, start=1):
            found.setdefault(skill_id, {})[name] = (value, rank)
    scales = signal_scales(signals, weights)
    fused = {skill_id: fuse(got, scales) for skill_id, got in found.items()}
    strong_words = 0.5 * max((v for _s, v in signals["chunk_words"][:1]), default=0.0)
    judged = []
    for skill_id, score in fused.items():
        got = found[skill_id]
        card_cos = got.get("card", (-1.0, 0))[0]
        chunk_cos = got.get("chunk", (-1.0, 0))[0]
        words = ("card_words" in got) or (got.get("chunk_words", (0.0, 0))[0] >= strong_words > 0)
        judged.append((not floor.admits(max(card_cos, chunk_cos), words), -score, skill_id))
    judged.sort()
    judged = judged[:limit]  # only these are described (cards read, signals explained)
    cards = store.skill_cards_of([skill_id for _irrelevant, _score, skill_id in judged])
    hits = []
    for irrelevant, negative_score, skill_id in judged:
        got, score, relevant = found[skill_id], -negative_score, not irrelevant
        name, description = cards.get(skill_id, (skill_id, ""))
        hit = SkillHit(skill_id, name, description, score, relevant, got, best_chunk.get(skill_id))
        hit.files = files.get(skill_id, [])[:3]
        hit.why = explain_signals(got, weights, set(signals))
        if hit.files:
            hit.why += f"; matching files: {', '.join(hit.files)}"
        hits.append(hit)
    return hits


def signal_scales(
    signals: dict[str, list[tuple[str, float]]], weights: dict[str, float]
) -> list[tuple[str, float, float]]:
    """How each weighted signal that found anything enters :func:`fuse`:
    ``(name, factor, value when it missed the skill)``.

    A word signal is divided by the query's best value for it and counts 0 where it
    missed; a cosine signal counts as it is and, where it missed, as the lowest value it
    reached (the skill is at most that close).
    """
    scales = []
    for name, weight in weights.items():
        ranked = signals.get(name) or []
        if not weight or not ranked:
            continue
        if name in WORD_SIGNALS:
            best = ranked[0][1]
            scales.append((name, weight / best if best > 0 else 0.0, 0.0))
        else:
            scales.append((name, weight, weight * ranked[-1][1]))
    return scales


def fuse(got: dict[str, tuple[float, int]], scales: list[tuple[str, float, float]]) -> float:
    """The fused score of one skill: the weighted sum of its calibrated signal values
    (``scales`` from :func:`signal_scales`)."""
    score = 0.0
    for name, factor, missed in scales:
        value = got.get(name)
        score += missed if value is None else factor * value[0]
    return score


def _best_per_skill(
    ranked: list[tuple[int, float]], owner: dict[int, str], best_chunk: Optional[dict[str, int]]
) -> list[tuple[str, float]]:
    """Group chunk hits (best first) by skill, keeping each skill's best value."""
    result: list[tuple[str, float]] = []
    seen: set[str] = set()
    for pk, value in ranked:
        skill_id = owner.get(pk)
        if skill_id is None or skill_id in seen:
            continue
        seen.add(skill_id)
        result.append((skill_id, value))
        if best_chunk is not None:
            best_chunk[skill_id] = pk
    return result


def explain_signals(
    got: dict[str, tuple[float, int]], weights: dict[str, float], searched: Optional[set[str]] = None
) -> str:
    """One line naming each signal's value and rank, the signals that missed, and those
    not searched (``searched``: the signals that ran; None means all)."""
    parts = []
    for name, label in SIGNAL_LABELS.items():
        if name in got:
            value, rank = got[name]
            weight = f"weight {weights[name]:g}" if weights.get(name) else "not weighted"
            parts.append(f"{label} {value:.3f} (#{rank}, {weight})")
        elif searched is not None and name not in searched:
            parts.append(f"{label}: not searched")
        else:
            parts.append(f"{label}: no match")
    return "; ".join(parts)
