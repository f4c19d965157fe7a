"""Extraction: conversation → redacted text → LLM → checked knowledge → draft skill.

A draft is stored as a skill with ``status="draft"``, ``source="extracted"`` and an id
``draft::<slug>``; one chunk per section (playbook, examples, when to use). Before it
is written it is compared with what exists (see :func:`place_draft`): a near-duplicate
of a draft is merged into it; something close to a canonical skill becomes a proposed
revision of that skill (``revises``).

``extract`` never raises for what the LLM did (errors, bad JSON, junk fields): it logs
the reason and returns None. It raises only for bad *input* from the caller.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from .. import library
from ..embed.service import EmbeddingService
from ..formats.chunking import split_skill_chunks
from ..models import Chunk, Skill, Status, slugify
from ..store import Store
from .conversation import conversation_text, trim_to_tokens
from .knowledge import Knowledge, Rejected, answer_text, parse_knowledge, plain_answer
from .redact import redact, redact_value

log = logging.getLogger("skillvault")

DEFAULT_MAX_INPUT_TOKENS = 100_000
EXCERPT_CHARS = 300
#: Similarity above the null-text baseline, as a fraction of the way to 1.0, at which a
#: new draft is the same knowledge as an existing draft (merge) ...
DUPLICATE_SIMILARITY = 0.85
#: ... or close enough to a canonical skill to be a proposed revision of it.
REVISION_SIMILARITY = 0.70
MAX_MERGE_SOURCES = 20


@dataclass
class Placement:
    """Where a new draft goes: merged into ``merge_into``, or new (maybe revising)."""

    merge_into: Optional[str] = None
    revises: Optional[str] = None
    reason: str = ""


def extract(
    store: Store,
    embeddings: EmbeddingService,
    llm: Callable[[str], Any],
    conversation: Any,
    min_confidence: float,
    actor: str,
    max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS,
) -> Optional[str]:
    """Run the extraction pipeline and store (or merge) a draft.

    Args:
        store: the skill store.
        embeddings: the embedding service.
        llm: ``text -> dict`` (the user's ``llm_fn`` or a built-in adapter).
        conversation: messages or text.
        min_confidence: drafts below this confidence are not stored.
        actor: who is extracting, for the audit log (``"agent"`` in agent mode).
        max_input_tokens: the conversation is trimmed (keeping its end) to this.

    Returns:
        The draft id (new or merged into), or None.

    Raises:
        ValidationError: if ``conversation`` has the wrong shape.
    """
    text = conversation_text(conversation)
    redacted = redact(text)
    if redacted.findings:
        log.info("extract: redacted %d secret(s) before calling the LLM", len(redacted.findings))
    prompt_text = trim_to_tokens(redacted.text, max_input_tokens)
    try:
        answer = llm(prompt_text)
    except Exception as exc:  # the LLM is remote or user code; keep the caller's flow alive
        log.warning("extract: the LLM call failed (%s: %s); no draft", type(exc).__name__, exc)
        return None
    try:
        # Text is redacted whole before it is parsed (a rejection quotes it in the log); any
        # other object becomes plain JSON data first, so that every string in it is checked.
        answer, found = answer_text(answer), 0
        if isinstance(answer, str):
            answer, text_findings = redact_value(answer)
            found = len(text_findings)
        clean_answer, answer_findings = redact_value(plain_answer(answer))
        found += len(answer_findings)
        if found:
            log.info("extract: redacted %d secret(s) from the LLM's answer", found)
        knowledge = parse_knowledge(clean_answer)
    except Rejected as exc:
        log.warning("extract: LLM answer rejected: %s", exc)
        return None
    if knowledge is None:
        log.info("extract: the LLM found no reusable knowledge")
        return None
    if knowledge.confidence < min_confidence:
        log.info("extract: confidence %.2f below min_confidence %.2f; no draft", knowledge.confidence, min_confidence)
        return None
    knowledge.dependencies = _known_skill_ids(store, knowledge.dependencies)
    provenance = _provenance(redacted.text)
    try:
        return store_draft(store, embeddings, knowledge, provenance, actor)
    except Exception as exc:  # embedding API down, DB busy...: log, keep the caller alive
        log.warning("extract: could not store the draft (%s: %s)", type(exc).__name__, exc)
        return None


def _known_skill_ids(store: Store, ids: list[str]) -> list[str]:
    known = [skill_id for skill_id in ids if (s := store.get_skill(skill_id)) is not None and s.status == Status.CANONICAL]
    dropped = set(ids) - set(known)
    if dropped:
        log.info("extract: dropped dependencies on unknown or non-canonical skills: %s", sorted(dropped))
    return known


def _provenance(redacted_text: str) -> str:
    digest = hashlib.sha256(redacted_text.encode("utf-8")).hexdigest()
    excerpt = " ".join(redacted_text.split())[:EXCERPT_CHARS]
    return f"sha256:{digest}\n{excerpt}"


def draft_skill(knowledge: Knowledge, draft_id: str, provenance: str) -> Skill:
    """Build the draft :class:`Skill` for ``knowledge`` under ``draft_id``."""
    sections = [("playbook", "Playbook", knowledge.playbook), ("examples", "Examples", knowledge.examples),
                ("when-to-use", "When to use", knowledge.when_to_use)]
    chunks = [
        Chunk(id=f"{draft_id}::{part}", section=title, content=f"## {title}\n\n{body}")
        for part, title, body in sections
        if body.strip()
    ]
    chunks[0].dependencies = list(knowledge.dependencies)
    draft = Skill(
        id=draft_id, name=knowledge.title, source="extracted", status=Status.DRAFT, chunks=chunks,
        confidence=knowledge.confidence, extracted_from=provenance, tags=list(knowledge.tags),
        metadata={"confidence_estimated": knowledge.confidence_estimated},
    )
    # A long playbook becomes parts like a long SKILL.md section (formats/chunking.py).
    return split_skill_chunks(draft)


def unique_draft_id(store: Store, title: str) -> str:
    """Return a free ``draft::<slug>`` id; titles that slug alike get a suffix from their own hash.

    Call it inside the write transaction that uses the id: only there is "free" still
    true when the row is written.
    """
    base = f"draft::{slugify(title)}"
    candidate = base
    attempt = 0
    while store.get_skill(candidate) is not None:
        attempt += 1
        digest = hashlib.sha256(f"{title}\n{attempt}".encode("utf-8")).hexdigest()[:6]
        candidate = f"{base}-{digest}"
    return candidate


def same_title(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def place_draft(store: Store, embeddings: EmbeddingService, skill: Skill, vector: np.ndarray) -> Placement:
    """Decide whether a new draft merges into a draft, revises a canonical skill, or is new.

    Similarity is measured between skill vectors (mean of chunk vectors) and rescaled
    against the null-text baseline, ``(s - null_mean) / (1 - null_mean)``, so one
    threshold works across embedders. A same-titled draft or skill counts as a match.
    """
    null_mean = float((embeddings.null_vectors() @ vector).mean())

    def rescaled(similarity: float) -> float:
        return (similarity - null_mean) / max(1e-6, 1.0 - null_mean)

    for status, threshold in ((Status.DRAFT, DUPLICATE_SIMILARITY), (Status.CANONICAL, REVISION_SIMILARITY)):
        ids, matrix = store.skill_vectors((status,))
        best_id, best = None, -1.0
        if ids:
            scores = matrix @ vector
            index = int(np.argmax(scores))
            best_id, best = ids[index], rescaled(float(scores[index]))
        titled = [sid for sid, name in store.skill_names(status) if same_title(name, skill.name)]
        if titled:
            best_id, best = titled[0], 1.0
        if best_id is not None and best >= threshold:
            reason = f"similarity {best:.2f} to {status} skill {best_id}"
            if status == Status.DRAFT:
                return Placement(merge_into=best_id, reason=reason)
            return Placement(revises=best_id, reason=reason)
    return Placement()


def store_draft(store: Store, embeddings: EmbeddingService, knowledge: Knowledge, provenance: str, actor: str) -> str:
    # Embed first (slow, maybe remote), then decide and write inside one write transaction:
    # two processes extracting alike titles at once must not pick the same id.
    draft = draft_skill(knowledge, f"draft::{slugify(knowledge.title)}", provenance)
    ready, prepared = library.prepare(draft, embeddings)
    vector = np.mean([p.vector for p in prepared], axis=0)
    vector /= np.linalg.norm(vector)
    with store.draft_transaction() as writer:
        placement = place_draft(writer, embeddings, ready, vector)
        if placement.merge_into:
            target_id = _merge(writer, embeddings, ready, prepared, placement, actor)
        else:
            ready, prepared = library.rename_prepared(ready, prepared, unique_draft_id(writer, knowledge.title))
            ready.revises = placement.revises
            if placement.revises:
                ready.flags = [f"revises {placement.revises}: {placement.reason}"]
            writer.write_skill(ready, prepared, embeddings.name, create=True)
            writer.add_audit(actor, "extract", ready.id, details={"confidence": ready.confidence, "revises": ready.revises})
            return ready.id
    store.record_usage([target_id])  # re-discovering knowledge is evidence it is used
    return target_id


def _merge(
    writer: Store, embeddings: EmbeddingService, new: Skill, prepared: list, placement: Placement, actor: str
) -> str:
    """Fold a re-discovered draft into the existing one (inside the caller's transaction).

    The more confident text wins; the other is not lost: the draft's previous content
    is kept as a version snapshot by the store.
    """
    target = writer.get_skill(placement.merge_into)
    sources = list(target.metadata.get("merged_from", []))[-(MAX_MERGE_SOURCES - 1):] + [new.extracted_from[:80]]
    if new.confidence > target.confidence:
        merged, merged_prepared = library.rename_prepared(new, prepared, target.id)
        merged.revises = target.revises
    else:
        merged, merged_prepared = library.prepare(target, embeddings)  # its vectors are stored: no embedding
    merged.metadata = {**merged.metadata, "merged_from": sources, "merges": int(target.metadata.get("merges", 0)) + 1}
    merged.confidence = max(new.confidence, target.confidence)
    merged.extracted_from = target.extracted_from
    merged.created_at = target.created_at
    merged.flags = target.flags
    writer.write_skill(merged, merged_prepared, embeddings.name)
    writer.add_audit(actor, "merge", target.id, reason=placement.reason, details={"confidence": new.confidence})
    return target.id
