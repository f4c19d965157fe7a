"""Pack what is relevant, not whatever fits.

The relevance floor (:mod:`.relevance`) tells related text from unrelated text, but a
query about one thing still clears it for chunks of neighbouring skills, which then fill
the budget. :func:`focus` keeps, among the hits that passed the floor, only

1. chunks of the skills the query calls for: a skill's evidence (its card's or best
   chunk's cosine, above the null texts' mean) must be at least :data:`SKILL_SHARE` of
   the best skill's, and at most :data:`MAX_SKILLS` skills are served;
2. chunks about as close as the best hit: a chunk's cosine above the null mean must be
   at least :data:`CHUNK_SHARE` of the best hit's, unless its words match the query as
   well as the best word match does.

Every hit it drops says why (``Hit.note``), and ``query(..., explain=True)`` shows it.
"""

from __future__ import annotations

from .relevance import RelevanceFloor
from .search import Hit
from .skills import SkillHit

#: A skill is served when its evidence is at least this share of the best skill's.
SKILL_SHARE = 0.7
#: A chunk is packed when its cosine is at least this share of the best hit's (above the null mean).
CHUNK_SHARE = 0.6
#: Most skills one answer draws on.
MAX_SKILLS = 3


def skill_evidence(skill: SkillHit) -> float:
    """The closest the query came to a skill: its card's or best chunk's cosine."""
    return max(skill.signals.get("card", (-1.0, 0))[0], skill.signals.get("chunk", (-1.0, 0))[0])


def focus(hits: list[Hit], skills: list[SkillHit], floor: RelevanceFloor) -> list[Hit]:
    """Mark the hits that are off the query's focus as not relevant (in place); return ``hits``.

    Args:
        hits: chunk hits (relevant ones first), from :func:`.search.hybrid_search`.
        skills: the skill ranking for the same query, from :func:`.skills.rank_skills`.
        floor: the query's relevance floor (its null mean is the zero of the shares).
    """
    relevant = [hit for hit in hits if hit.relevant]
    if not relevant:
        return hits
    by_id = {skill.id: skill for skill in skills}
    zero = floor.null_mean
    # Skills in the order of the skill ranking, those with a relevant hit only.
    with_hits = {hit.skill_id for hit in relevant}
    ranked = [skill for skill in skills if skill.id in with_hits]
    best_skill = max((skill_evidence(s) for s in ranked), default=None)
    admitted: dict[str, str] = {}
    refused: dict[str, str] = {}
    for skill in ranked:
        evidence = skill_evidence(skill)
        if best_skill is not None and evidence - zero < SKILL_SHARE * (best_skill - zero):
            refused[skill.id] = (
                f"skill {skill.id} is off focus: its best cosine {evidence:.3f} is under {SKILL_SHARE:.0%} "
                f"of the best skill's {best_skill:.3f} (above the null mean {zero:.3f})"
            )
        elif len(admitted) >= MAX_SKILLS:
            refused[skill.id] = f"skill {skill.id} is off focus: {MAX_SKILLS} better-ranked skills are served"
        else:
            admitted[skill.id] = skill.why
    kept = [hit for hit in relevant if hit.skill_id in admitted or hit.skill_id not in by_id]
    best_vector = max((hit.vector_score for hit in kept), default=zero)
    best_words = max((hit.lexical_score or 0.0 for hit in kept), default=0.0)
    for hit in relevant:
        if hit.skill_id in refused:
            hit.relevant, hit.note = False, refused[hit.skill_id]
        elif hit.vector_score - zero < CHUNK_SHARE * (best_vector - zero) and not (
            hit.lexical_score is not None and best_words > 0 and hit.lexical_score >= 0.9 * best_words
        ):
            hit.relevant = False
            hit.note = (
                f"off focus: cosine {hit.vector_score:.3f} is under {CHUNK_SHARE:.0%} of the best hit's "
                f"{best_vector:.3f} (above the null mean {zero:.3f}) and its words match less"
            )
    hits.sort(key=lambda hit: (not hit.relevant, -hit.fused_score, hit.chunk.id))
    return hits
