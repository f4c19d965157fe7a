"""Writing skills: validate, count tokens, embed (reusing known vectors), store.

The facade (:class:`~skillvault.manager.SkillManager`) calls these; they hold the
registration logic so the facade holds none.
"""

from __future__ import annotations

import logging
from typing import Optional

from .errors import EmbedderMismatchError, ValidationError
from .embed.service import EmbeddingService, Progress, embedding_text
from .models import Skill, Status
from .store import PreparedChunk, Store
from .store.cards import CardVector, PreparedChunks, card_fields
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
    ready = checked_copy(skill)
    return ready, embedded([ready], embeddings)[0]


def rename_prepared(skill: Skill, prepared: list[PreparedChunk], new_id: str) -> tuple[Skill, list[PreparedChunk]]:
    """Return ``skill`` and its prepared chunks under ``new_id``, keeping the vectors.

    Ids that must be chosen inside a write transaction (so that two processes never
    pick the same one) are given after the embedding, which happens outside it.
    """
    renamed = skill.renamed(new_id)
    chunks = [PreparedChunk(chunk, item.embed_hash, item.vector) for chunk, item in zip(renamed.chunks, prepared)]
    return renamed, PreparedChunks(chunks, getattr(prepared, "card", None))


def checked_copy(skill: Skill) -> Skill:
    """A validated copy of ``skill`` with real token counts."""
    ready = skill.copy().validate()
    counts = count_tokens_many([chunk.content for chunk in ready.chunks])
    for chunk, real in zip(ready.chunks, counts):
        if chunk.tokens is not None and chunk.tokens != real:
            log.info("chunk %s: tokens=%s given, real count is %s; using %s", chunk.id, chunk.tokens, real, real)
        chunk.tokens = real
    return ready


def embedded(
    skills: list[Skill], embeddings: EmbeddingService, progress: Optional[Progress] = None, resumable: bool = False
) -> list[list[PreparedChunk]]:
    """Embed the chunks and cards of all ``skills`` in one pass (shared batches), per skill in order.

    ``resumable``: see :meth:`EmbeddingService.vectors_for`.
    """
    texts = []
    for skill in skills:
        texts.extend(embedding_text(skill.name, chunk) for chunk in skill.chunks)
        texts.append(card_fields(skill).embedding_text())
    try:
        vectors = iter(embeddings.vectors_for(texts, progress, resumable))
        with_cards = True
    except EmbedderMismatchError:
        # E.g. a library opened without its embedder approving a draft whose chunks are
        # embedded already: the cards are stored without vectors (the retriever embeds
        # them when it can). An embedder that cannot embed the chunks fails below.
        chunk_texts = [text for skill in skills for text in (embedding_text(skill.name, c) for c in skill.chunks)]
        vectors = iter(embeddings.vectors_for(chunk_texts, progress, resumable))
        with_cards = False
    prepared = []
    for skill in skills:
        chunks = [PreparedChunk(chunk, *next(vectors)) for chunk in skill.chunks]
        prepared.append(PreparedChunks(chunks, CardVector(*next(vectors)) if with_cards else None))
    return prepared


def register(store: Store, embeddings: EmbeddingService, skill: Skill) -> str:
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
    store: Store, embeddings: EmbeddingService, skills: list, progress: Optional[Progress] = None
) -> list[str]:
    """Validate all ``skills``, embed them in one pass and write them in batches.

    Validation is all-or-nothing: every skill is checked (fields, chunk ids held by
    another skill, stored or earlier in the list) before anything is embedded or
    written. Writing then goes batch by batch (one transaction each, see
    :meth:`Store.save_skills_batched`), each skill atomic. ``progress(done, total)``
    is called over the texts embedded, then over the skills written (each stage starts
    at 0).

    Returns:
        The ids, in order (an id given twice is written twice: the second is a new version).

    Raises:
        ValidationError: naming ``skills[i]...``; nothing is written. If another writer
            takes a chunk id between the check and the write, that skill alone is left
            out, the others are written, and the error says so.
        EmbeddingError: nothing is written.
        StorageFullError, StorageIOError: the batch being written is rolled back; the
            batches before it stay written.
    """
    if not isinstance(skills, (list, tuple)):
        raise ValidationError("skills", f"must be a list of Skill, got {type(skills).__name__}")
    ready = []
    for index, skill in enumerate(skills):
        if not isinstance(skill, Skill):
            raise ValidationError(f"skills[{index}]", f"must be a Skill, got {type(skill).__name__}")
        try:
            ready.append(checked_copy(skill))
        except ValidationError as exc:
            raise exc.within(f"skills[{index}]") from None
    if not ready:
        return []
    _check_chunk_owners(store, ready)
    embeddings.check_compatible()
    prepared = embedded(ready, embeddings, progress)
    if progress:
        progress(0, len(ready))
    refused = store.save_skills_batched(list(zip(ready, prepared)), embeddings.name, progress=progress)
    if refused:
        index, exc = min(refused.items())
        raise ValidationError(
            exc.within(f"skills[{index}]").field,
            f"{exc.message} ({len(refused)} skill(s) not written; the other {len(ready) - len(refused)} were)",
        )
    return [skill.id for skill in ready]


def _check_chunk_owners(store: Store, skills: list[Skill]) -> None:
    """Raise ValidationError for a chunk id held by another skill (stored, or earlier in
    ``skills``), as registering them one by one would."""
    stored = store.chunk_owners([chunk.id for skill in skills for chunk in skill.chunks])
    claimed: dict[str, str] = {}  # chunk id -> skill earlier in the list
    seen: set[str] = set()
    for index, skill in enumerate(skills):
        if skill.id in seen:  # registered again: its earlier chunk ids are free again
            claimed = {chunk_id: owner for chunk_id, owner in claimed.items() if owner != skill.id}
        for position, chunk in enumerate(skill.chunks):
            owner = claimed.get(chunk.id)
            if owner is None and stored.get(chunk.id) not in seen:  # a skill replaced earlier in the list
                owner = stored.get(chunk.id)
            if owner is not None and owner != skill.id:
                raise ValidationError(
                    f"skills[{index}].chunks[{position}].id",
                    f"{chunk.id!r} already belongs to skill {owner!r}; chunk ids are unique across skills",
                )
        seen.add(skill.id)
        claimed.update((chunk.id, skill.id) for chunk in skill.chunks)


def record_embedder(store: Store, embeddings: EmbeddingService) -> None:
    """Record ``embeddings``' embedder in an empty library (its probe texts are embedded to
    learn the width and kept, as on a first write). Nothing happens once one is recorded."""
    if store.embedder_record()[1] is None:
        store.record_embedder(embeddings.name, int(embeddings.null_vectors().shape[1]))


def reindex(store: Store, embeddings: EmbeddingService, progress: Optional[Progress] = None) -> int:
    """Re-embed every chunk with ``embeddings``' embedder and record it as the DB's embedder.

    Returns:
        The number of chunks re-embedded.

    Raises:
        EmbeddingError: nothing is changed then.
    """
    stored = store.chunks_by_pk(store.all_chunk_pks())
    pks = list(stored)
    texts = [embedding_text(stored[pk].skill_name, stored[pk].chunk) for pk in pks]
    skills = store.list_skills()
    carded = [skill for skill in skills if skill.status != Status.DRAFT]
    card_texts = [card_fields(skill).embedding_text() for skill in carded]
    vectors = embeddings.embed(texts, progress, any_width=True)
    card_vectors = embeddings.embed(card_texts, any_width=True)  # progress counts chunks
    store.replace_all_vectors(
        embeddings.name,
        {pk: vectors[i] for i, pk in enumerate(pks)},
        {pk: embeddings.hash_of(texts[i]) for i, pk in enumerate(pks)},
        {skill.id: CardVector(embeddings.hash_of(text), card_vectors[i])
         for i, (skill, text) in enumerate(zip(carded, card_texts))},
    )
    embeddings.null_vectors(record=True)  # the new embedder's probe: another embed_fn is caught from now on
    return len(pks)
