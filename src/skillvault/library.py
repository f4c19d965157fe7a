"""Writing skills: validate, count tokens, embed (reusing known vectors), store.

The facade (:class:`~skillvault.manager.SkillManager`) calls these; they hold the
registration logic so the facade holds none.
"""

from __future__ import annotations

import logging
from typing import Optional

from .errors import ValidationError
from .embed.service import EmbeddingService, Progress, embedding_text
from .models import Skill
from .store import PreparedChunk, SQLiteStore
from .tokens import count_tokens_many

log = logging.getLogger("skillvault")


def prepare(skill: Skill, embeddings: EmbeddingService) -> tuple[Skill, list[PreparedChunk]]:
    """Validate a copy of ``skill``, fix its token counts and embed its chunks.

    The caller's object is not modified. A given ``Chunk.tokens`` that differs from
    the real cl100k_base count is replaced by the real count (logged at INFO level on
    the ``skillvault`` logger): budgets must be computed from real counts.

    Returns:
        The validated copy and one :class:`PreparedChunk` per chunk.

    Raises:
        ValidationError: naming the bad field.
        EmbeddingError: if the embedder fails or returns unusable vectors.
    """
    skill = skill.copy().validate()
    counts = count_tokens_many([chunk.content for chunk in skill.chunks])
    for chunk, real in zip(skill.chunks, counts):
        if chunk.tokens is not None and chunk.tokens != real:
            log.info("chunk %s: tokens=%s given, real count is %s; using %s", chunk.id, chunk.tokens, real, real)
        chunk.tokens = real
    vectors = embeddings.vectors_for([embedding_text(skill.name, chunk) for chunk in skill.chunks])
    return skill, [PreparedChunk(chunk, h, v) for chunk, (h, v) in zip(skill.chunks, vectors)]


def register(store: SQLiteStore, embeddings: EmbeddingService, skill: Skill) -> str:
    """Validate, embed and store one skill atomically (replacing any previous version).

    Returns:
        The skill id.

    Raises:
        ValidationError, EmbeddingError: nothing is written then.
    """
    embeddings.check_compatible()
    ready, prepared = prepare(skill, embeddings)
    store.save_skill(ready, prepared, embeddings.name)
    return ready.id


def register_many(
    store: SQLiteStore, embeddings: EmbeddingService, skills: list[Skill], progress: Optional[Progress] = None
) -> list[str]:
    """Register many skills in one transaction: all of them or none.

    Skills are written in the given order, so a skill may depend on one before it.

    Raises:
        ValidationError: naming the skill (by index) and field; nothing is written.
    """
    embeddings.check_compatible()
    ids = [skill.id for skill in skills]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValidationError("skills", f"skill ids appear more than once: {sorted(duplicates)}")
    items = []
    for index, skill in enumerate(skills):
        try:
            items.append(prepare(skill, embeddings))
        except ValidationError as exc:
            raise exc.within(f"skills[{index}]") from None
        if progress:
            progress(index + 1, len(skills))
    store.save_skills(items, embeddings.name)
    return ids


def reindex(store: SQLiteStore, embeddings: EmbeddingService, progress: Optional[Progress] = None) -> int:
    """Re-embed every chunk with ``embeddings``' embedder and record it as the DB's embedder.

    Returns:
        The number of chunks re-embedded.

    Raises:
        EmbeddingError: nothing is changed then.
    """
    stored = store.chunks_by_pk(store.all_chunk_pks())
    pks = list(stored)
    texts = [embedding_text(stored[pk].skill_name, stored[pk].chunk) for pk in pks]
    vectors = embeddings.embed(texts, progress, any_width=True)
    store.replace_all_vectors(
        embeddings.name,
        {pk: vectors[i] for i, pk in enumerate(pks)},
        {pk: embeddings.hash_of(texts[i]) for i, pk in enumerate(pks)},
    )
    return len(pks)
