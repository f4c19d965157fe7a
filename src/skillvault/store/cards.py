"""Skill cards: what a skill is for, indexed next to its chunks.

An Agent Skill is triggered by its front matter's ``description``; extracted skills say
when to use them in a "when to use" section. A skill's **card** gathers that text (name,
description, when-to-use) with its section titles and, weighted least, the text of all its chunks (BM25 over
the whole skill). Each non-draft skill has one row in
``skill_cards`` (its card vector) and one in ``card_fts`` (its card's words), written in
the same transaction as the skill and its chunks; drafts have neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..models import Skill

_WHEN = re.compile(r"^\s*(when[\s_-]*(to[\s_-]*use|should|this)|use[\s_-]*when|triggers?)\b", re.IGNORECASE)
#: Most characters of when-to-use text kept on a card.
MAX_WHEN_CHARS = 2000


@dataclass(frozen=True)
class CardFields:
    """The text of one skill's card, by field (FTS5 columns in this order)."""

    name: str
    description: str
    when_to_use: str
    sections: str
    body: str = ""

    def embedding_text(self) -> str:
        """The text embedded as the card vector: name, description, when-to-use."""
        readable_name = self.name.replace("-", " ").replace("_", " ")
        parts = [readable_name, self.description, self.when_to_use[:MAX_WHEN_CHARS // 2]]
        return "\n".join(part for part in parts if part.strip())


def card_fields(skill: Skill) -> CardFields:
    """Return the card of ``skill`` (a pure function of its name, description and chunks)."""
    when = [c.content for c in skill.chunks if _WHEN.match(c.section or "")]
    sections = []
    for chunk in skill.chunks:
        title = (chunk.section or "").strip()
        if title and title not in sections:
            sections.append(title)
    return CardFields(
        name=skill.name,
        description=skill.description or "",
        when_to_use="\n".join(when)[:MAX_WHEN_CHARS],
        sections="\n".join(sections),
        body="\n".join(chunk.content for chunk in skill.chunks),
    )


@dataclass
class CardVector:
    """A card's embedding, ready to store: its cache hash and unit vector."""

    embed_hash: str
    vector: np.ndarray


class PreparedChunks(list):
    """The prepared chunks of one skill (a list of ``PreparedChunk``) and its card vector.

    Every writer gets its chunks from :func:`skillvault.library.prepare` and passes them
    to the store unchanged; the card vector travels with them. A plain list is accepted
    too: the card is then stored without a vector and the retriever embeds it when
    needed (in memory only).
    """

    def __init__(self, items=(), card: Optional[CardVector] = None):
        super().__init__(items)
        self.card = card
