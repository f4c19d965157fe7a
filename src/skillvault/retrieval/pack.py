"""Dependency expansion and token-budget packing.

Order of consideration:
1. ``required`` chunks of every skill that had a relevant hit (skills in hit order);
2. relevant hits by fused score.
A search hit that is a near-duplicate of a hit already taken (the same boilerplate in
another skill, see :mod:`.duplicates`) is left out. A chunk is taken together with its
not-yet-taken dependencies (expanded transitively,
cycle-safe, up to ``max_depth`` levels) as one unit, and only if the whole unit fits:
a chunk without what it depends on would mislead. So the dependencies of a chosen
chunk always come before any lower-ranked hit. The budget counts the rendered text
(tags and separators included) and is never exceeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..store import Store, StoredChunk
from ..tokens import count_tokens
from .duplicates import NEAR_DUPLICATE, copies, shingles
from .render import SEPARATOR_TOKENS, block_overhead_tokens, render_blocks
from .search import SERVED_STATUSES, Hit

MAX_DEPENDENCY_DEPTH = 3


@dataclass
class Decision:
    """Why one chunk was taken or dropped by :func:`pack`.

    Attributes:
        chunk_id: the chunk.
        skill_id: its skill.
        taken: True if it is in the output.
        reason: a short human-readable explanation.
        tokens: the chunk's token count.
        fused_score: its search score, None for chunks reached only as dependencies.
    """

    chunk_id: str
    skill_id: str
    taken: bool
    reason: str
    tokens: int
    fused_score: Optional[float] = None


@dataclass
class Packing:
    """The result of packing: rendered text plus every decision made."""

    text: str
    budget: int
    used_tokens: int
    decisions: list[Decision] = field(default_factory=list)
    served_skill_ids: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"budget {self.budget} tokens, used {self.used_tokens}"]
        for d in self.decisions:
            mark = "+" if d.taken else "-"
            score = "" if d.fused_score is None else f" score={d.fused_score:.4f}"
            lines.append(f"{mark} {d.chunk_id} ({d.tokens} tok{score}): {d.reason}")
        return "\n".join(lines)


@dataclass
class _Candidate:
    stored: StoredChunk
    reason: str
    score: Optional[float]


def pack(
    store: Store, hits: list[Hit], budget: int, explain_dropped: int = 10
) -> Packing:
    """Choose chunks for ``budget`` tokens and render them.

    Args:
        store: to fetch required chunks and dependencies.
        hits: search hits, best first; those not ``relevant`` are only explained.
        budget: the most tokens the rendered text may have.
        explain_dropped: how many irrelevant hits to list in the decisions.

    Returns:
        A :class:`Packing` (text "" when nothing relevant fits).
    """
    relevant = [hit for hit in hits if hit.relevant]
    candidates = _candidates(store, relevant)
    closure = store.dependency_closure([c.stored for c in candidates], SERVED_STATUSES, MAX_DEPENDENCY_DEPTH)
    decisions: list[Decision] = []
    taken: dict[int, StoredChunk] = {}
    units: list[list[int]] = []
    skills_open: set[str] = set()
    remaining = budget
    packed_hits: list[tuple[str, frozenset]] = []  # (chunk id, shingles) of the hits taken
    for candidate in candidates:
        stored = candidate.stored
        if stored.pk in taken:
            continue
        if candidate.score is not None:  # a search hit (required chunks and dependencies are kept)
            words = shingles(stored.chunk.content)
            copy_of = next(((chunk_id, share) for chunk_id, other in packed_hits
                            if (share := copies(words, other)) >= NEAR_DUPLICATE), None)
            if copy_of is not None:
                decisions.append(_decision(stored, False, f"{candidate.reason}; near-duplicate of {copy_of[0]} "
                                           f"({copy_of[1]:.0%} of word sequences shared)", candidate.score))
                continue
        unit = [stored] + [dep for dep in closure.get(stored.pk, []) if dep.pk not in taken]
        cost = _unit_cost(unit, skills_open)
        if cost > remaining:
            extra = f" with {len(unit) - 1} dependencies" if len(unit) > 1 else ""
            decisions.append(_decision(stored, False, f"{candidate.reason}; needs {cost} tokens{extra}, {remaining} left", candidate.score))
            continue
        remaining -= cost
        for index, member in enumerate(unit):
            taken[member.pk] = member
            skills_open.add(member.chunk.skill_id)
            reason = candidate.reason if index == 0 else f"dependency of {stored.chunk.id}"
            decisions.append(_decision(member, True, reason, candidate.score if index == 0 else None))
        units.append([member.pk for member in unit])
        if candidate.score is not None:
            packed_hits.append((stored.chunk.id, words))
    text, used = _render_within_budget(taken, units, budget, decisions)
    off_focus = [h for h in hits if not h.relevant and h.note]
    for hit in off_focus + [h for h in hits if not h.relevant and not h.note][: max(0, explain_dropped - len(off_focus))]:
        lexical = "no word match" if hit.lexical_score is None else f"BM25 {hit.lexical_score:.2f}"
        reason = hit.note or f"below relevance floor (vector {hit.vector_score:.3f}, {lexical})"
        decisions.append(Decision(hit.chunk.id, hit.skill_id, False, reason, hit.chunk.tokens or 0, hit.fused_score))
    served = list(dict.fromkeys(s.chunk.skill_id for s in taken.values()))
    return Packing(text, budget, used, decisions, served)


def _candidates(store: Store, relevant: list[Hit]) -> list[_Candidate]:
    skill_order = list(dict.fromkeys(hit.skill_id for hit in relevant))
    required = store.required_chunks(skill_order)
    rank_of_skill = {skill_id: rank for rank, skill_id in enumerate(skill_order)}
    required.sort(key=lambda s: (rank_of_skill[s.chunk.skill_id], s.position))
    candidates = [_Candidate(s, f"required chunk of {s.chunk.skill_id}", None) for s in required]
    by_pk = {s.pk: s for s in required}
    for rank, hit in enumerate(relevant, start=1):
        stored = by_pk.get(hit.pk) or StoredChunk(hit.pk, hit.chunk, hit.position, hit.skill_name)
        candidates.append(_Candidate(stored, f"search rank {rank}", hit.fused_score))
    return candidates


def _unit_cost(unit: list[StoredChunk], skills_open: set[str]) -> int:
    cost = 0
    new_skills: set[str] = set()
    for member in unit:
        cost += (member.chunk.tokens or 0) + SEPARATOR_TOKENS
        skill_id = member.chunk.skill_id
        if skill_id not in skills_open and skill_id not in new_skills:
            new_skills.add(skill_id)
            cost += block_overhead_tokens(skill_id)
    return cost


def _render(taken: dict[int, StoredChunk]) -> str:
    by_skill: dict[str, list[StoredChunk]] = {}
    for stored in taken.values():
        by_skill.setdefault(stored.chunk.skill_id, []).append(stored)
    blocks = [
        (skill_id, [s.chunk.content for s in sorted(chunks, key=lambda s: s.position)])
        for skill_id, chunks in by_skill.items()
    ]
    return render_blocks(blocks)


def _render_within_budget(
    taken: dict[int, StoredChunk], units: list[list[int]], budget: int, decisions: list[Decision]
) -> tuple[str, int]:
    """Render; if the real count overshoots the estimate, drop the last units until it fits."""
    while True:
        text = _render(taken)
        used = count_tokens(text) if text else 0
        if used <= budget or not units:
            return text, used
        for pk in units.pop():
            dropped = taken.pop(pk)
            for decision in decisions:
                if decision.chunk_id == dropped.chunk.id and decision.taken:
                    decision.taken = False
                    decision.reason += "; dropped: the rendered text went over budget"


def _decision(stored: StoredChunk, taken: bool, reason: str, score: Optional[float]) -> Decision:
    return Decision(stored.chunk.id, stored.chunk.skill_id, taken, reason, stored.chunk.tokens or 0, score)
