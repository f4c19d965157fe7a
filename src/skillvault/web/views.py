"""What the API returns and the pages show, built from the manager's answers.

Shapes shared with the command line (skill summaries, search hits, query packing) come
from :mod:`skillvault.cli.output`; the section diff of a draft from
:func:`skillvault.cli.review.draft_diff`, as ``skillvault review`` shows it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from ..bundle import bundled_files
from ..models import Status
from ..cli.output import hit_dict, packing_dict, skill_summary

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..manager import SkillManager
    from ..models import Skill

__all__ = ["skill_detail", "draft_review", "hit_dict", "packing_dict", "skill_summary", "skill_hit_dict"]

#: Longest provenance excerpt shown with a draft.
PROVENANCE_CHARS = 1_200


def skill_detail(skill: "Skill", usage: Optional[dict] = None) -> dict:
    """A skill with its text: the summary plus tags, bundled file names and chunks (provenance,
    redacted, only with a draft: :func:`draft_review`)."""
    return {
        **skill_summary(skill, usage),
        "tags": list(skill.tags),
        "files": sorted(bundled_files(skill)),
        "chunks": [
            {"id": chunk.id, "section": chunk.section, "content": chunk.content, "tokens": chunk.tokens,
             "dependencies": list(chunk.dependencies)}
            for chunk in skill.chunks
        ],
    }


def skill_hit_dict(rank: int, hit) -> dict:
    """The ``search-skills`` shape of one skill found: id, name, score, description, why."""
    return {"rank": rank, "id": hit.id, "name": hit.name, "score": round(hit.score, 4),
            "description": hit.description, "why": hit.why}


_SECTION_HEADER = re.compile(r"@@ (.*): (changed|added|unchanged) @@")
_HUNK_HEADER = re.compile(r"@@ -\d+(,\d+)? \+\d+(,\d+)? @@")


def _sections_of_diff(lines: list[str]) -> list[dict]:
    """Split :func:`draft_diff` lines into ``{"section", "change", "lines"}`` per section
    (the unified diff's own hunk headers left out)."""
    sections: list[dict] = []
    for line in lines[2:]:  # after the ---/+++ header
        header = _SECTION_HEADER.fullmatch(line)
        if header:
            sections.append({"section": header.group(1), "change": header.group(2), "lines": []})
        elif sections and not _HUNK_HEADER.fullmatch(line):
            sections[-1]["lines"].append(line)
    return sections


def provenance_excerpt(text: str) -> str:
    """The start of a draft's provenance, redacted again before it is shown."""
    from ..growth.redact import redact

    excerpt = text[:PROVENANCE_CHARS]
    return redact(excerpt).text + ("…" if len(text) > PROVENANCE_CHARS else "")


def draft_review(sm: "SkillManager", draft: "Skill") -> dict:
    """Everything a reviewer needs about one draft (human-mode manager).

    Returns:
        The draft's :func:`skill_detail` plus ``uses``, ``provenance`` (redacted excerpt),
        ``lint`` (findings), ``target`` (the canonical skill it revises, or None) and
        ``sections``: per section of the revised skill ``{"section", "change", "lines"}``
        (unified diff lines), or, for a new skill, each section as added text.
    """
    from ..cli.review import draft_diff

    usage = sm.usage(draft.id)
    target = sm.get(draft.revises) if draft.revises else None
    if target is not None and target.status != Status.CANONICAL:
        target = None
    if target is not None:
        sections = _sections_of_diff(draft_diff(draft, target))
    else:
        sections = [{"section": chunk.section, "change": "added", "lines": ["+" + line for line in chunk.content.splitlines()]}
                    for chunk in draft.chunks]
    return {
        **skill_detail(draft, usage),
        "provenance": provenance_excerpt(draft.extracted_from),
        "lint": [finding.to_dict() for finding in sm.lint([draft.id])],
        "target": skill_detail(target) if target is not None else None,
        "sections": sections,
    }
