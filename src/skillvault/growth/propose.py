"""Proposals: knowledge written directly by an agent or a person, stored as a draft.

A proposal takes the path an extraction takes after the LLM (redaction, the same draft
shape, near-duplicate merge, revision detection, the review queue) but its fields come
from the caller, so they are checked strictly: bad input raises and nothing is stored.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Optional

from ..embed.service import EmbeddingService
from ..errors import ValidationError
from ..models import Status, validate_id
from ..store import Store
from ..validation import check_text, shown
from .extract import store_draft
from .knowledge import MAX_DEPENDENCIES, MAX_FIELD_CHARS, MAX_TAGS, MAX_TITLE_CHARS, Knowledge, estimate_confidence
from .redact import redact


def proposal_knowledge(
    store: Store,
    title: Any,
    playbook: Any,
    examples: Any = "",
    when_to_use: Any = "",
    dependencies: Any = None,
    tags: Any = None,
    confidence: Any = None,
) -> tuple[Knowledge, int]:
    """Check a proposal's fields and redact secrets from its text.

    Returns:
        The knowledge and how many secrets were redacted.

    Raises:
        ValidationError: naming the field (wrong type, empty title or playbook, too long,
            a dependency that is not a canonical skill, confidence outside 0..1).
    """
    title = check_text(title, "title", MAX_TITLE_CHARS, allow_empty=False)
    if "\n" in title.strip():
        raise ValidationError("title", "must be one line")
    texts = {
        "title": " ".join(title.split()),
        "playbook": check_text(playbook, "playbook", MAX_FIELD_CHARS, allow_empty=False).strip(),
        "examples": check_text(examples if examples is not None else "", "examples", MAX_FIELD_CHARS).strip(),
        "when_to_use": check_text(when_to_use if when_to_use is not None else "", "when_to_use", MAX_FIELD_CHARS).strip(),
    }
    redacted = {name: redact(text) for name, text in texts.items()}
    knowledge = Knowledge(
        **{name: r.text for name, r in redacted.items()},
        dependencies=_canonical_dependencies(store, dependencies),
        tags=_tags(tags),
    )
    if confidence is None:
        knowledge.confidence = estimate_confidence(knowledge)
        knowledge.confidence_estimated = True
    elif isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not (
        math.isfinite(confidence) and 0.0 <= confidence <= 1.0
    ):
        raise ValidationError("confidence", f"must be a number from 0 to 1 or None, got {shown(confidence)}")
    else:
        knowledge.confidence = float(confidence)
    return knowledge, sum(len(r.findings) for r in redacted.values())


def propose(store: Store, embeddings: EmbeddingService, knowledge: Knowledge, actor: str) -> str:
    """Store checked proposal ``knowledge`` as a draft (or merge it into a near-duplicate).

    Returns:
        The draft id.
    """
    fields = json.dumps([knowledge.title, knowledge.playbook, knowledge.examples, knowledge.when_to_use])
    digest = hashlib.sha256(fields.encode("utf-8")).hexdigest()
    provenance = f"sha256:{digest}\nproposed by {actor}: {knowledge.title}"
    return store_draft(store, embeddings, knowledge, provenance, actor)


def _canonical_dependencies(store: Store, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ValidationError("dependencies", f"must be a list of canonical skill ids, got {type(value).__name__}")
    if len(value) > MAX_DEPENDENCIES:
        raise ValidationError("dependencies", f"has {len(value)} items; the limit is {MAX_DEPENDENCIES}")
    ids: list[str] = []
    for index, item in enumerate(value):
        field = f"dependencies[{index}]"
        skill_id = validate_id(item, field)
        skill = store.get_skill(skill_id)
        if skill is None or skill.status != Status.CANONICAL:
            raise ValidationError(
                field, f"{skill_id!r} is not a canonical skill; a draft may depend only on reviewed skills (see search_skills)"
            )
        if skill_id not in ids:
            ids.append(skill_id)
    return ids


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(tag, str) for tag in value):
        raise ValidationError("tags", f"must be a list of strings, got {shown(value)}")
    if len(value) > MAX_TAGS:
        raise ValidationError("tags", f"has {len(value)} items; the limit is {MAX_TAGS}")
    return [check_text(tag, f"tags[{index}]", 40, allow_empty=False).strip() for index, tag in enumerate(value)]
