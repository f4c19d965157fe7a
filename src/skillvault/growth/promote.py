"""Auto-promotion of well-used, confident drafts, and expiry of forgotten ones.

A draft is promoted without a human when its usage count reaches
``auto_promote["usage"]`` and its confidence ``auto_promote["confidence"]`` — unless
it conflicts with a canonical skill: it proposes a revision of one, has the same title
as one, or is close to one (rescaled similarity ≥ the revision threshold). Such a
draft stays in the queue flagged ``conflict: ...`` for a human. Promotions are audited
with the action ``auto-promote``.

What agents write is advisory. By default a draft whose content an agent wrote (or
edited) is never promoted without a human, and only usage counted by human-mode
processes counts: an agent can forge its draft's confidence and its own usage reports,
so neither may make anything canonical. ``auto_promote={..., "trust_agents": True}``
lets agents' drafts and usage reports count too.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Optional

import numpy as np

from .. import review
from ..embed.service import EmbeddingService
from ..errors import NotFoundError, ValidationError
from ..models import Skill, Status, utc_now
from ..store import Store
from .extract import REVISION_SIMILARITY, same_title

log = logging.getLogger("skillvault")

AUTO_PROMOTER = "auto-promote"
MAINTENANCE = "maintenance"


def conflict_reason(store: Store, embeddings: EmbeddingService, draft: Skill) -> Optional[str]:
    """Return why ``draft`` conflicts with a canonical skill, or None if it does not."""
    if draft.revises:
        return f"it proposes a revision of canonical skill {draft.revises}"
    for skill_id, name in store.skill_names(Status.CANONICAL):
        if same_title(name, draft.name):
            return f"same title as canonical skill {skill_id}"
    draft_ids, draft_vectors = store.skill_vectors((Status.DRAFT,))
    canonical_ids, canonical_vectors = store.skill_vectors((Status.CANONICAL,))
    if draft.id not in draft_ids or not canonical_ids:
        return None
    vector = draft_vectors[draft_ids.index(draft.id)]
    null_mean = float((embeddings.null_vectors() @ vector).mean())
    scores = (canonical_vectors @ vector - null_mean) / max(1e-6, 1.0 - null_mean)
    best = int(np.argmax(scores))
    if scores[best] >= REVISION_SIMILARITY:
        return f"close to canonical skill {canonical_ids[best]} (similarity {scores[best]:.2f})"
    return None


def promote_ready_drafts(
    store: Store, embeddings: EmbeddingService, thresholds: Optional[dict], only: Optional[list[str]] = None
) -> list[str]:
    """Promote every draft (or those in ``only``) that meets the thresholds without conflict.

    Returns:
        The ids of the canonical skills created or updated.
    """
    if not thresholds:
        return []
    promoted = []
    if only is None:
        drafts = store.list_skills(status=Status.DRAFT)
    else:
        drafts = [skill for skill in map(store.get_skill, only) if skill is not None and skill.status == Status.DRAFT]
    trust_agents = bool(thresholds.get("trust_agents"))
    for draft in drafts:
        if not trust_agents and store.is_agent_draft(draft.id):
            continue
        usage = store.usage_of(draft.id)
        uses = usage["uses"] if trust_agents else usage["uses"] - usage["by_agents"]["uses"]
        if uses < thresholds["usage"] or draft.confidence < thresholds["confidence"]:
            continue
        reason = conflict_reason(store, embeddings, draft)
        if reason:
            _flag_conflict(store, draft.id, reason)
            continue
        note = f"usage {uses} >= {thresholds['usage']}, confidence {draft.confidence:.2f} >= {thresholds['confidence']}"
        try:
            promoted.append(review.approve(store, embeddings, draft.id, reviewer=AUTO_PROMOTER, note=note, action="auto-promote"))
        except (NotFoundError, ValidationError) as exc:  # another process approved or rejected it meanwhile
            log.info("auto-promotion of %s skipped: %s", draft.id, exc)
            continue
        log.info("auto-promoted %s (%s)", draft.id, note)
    return promoted


def _flag_conflict(store: Store, draft_id: str, reason: str) -> None:
    """Flag a draft that may not be promoted, if it is still a draft without that flag."""
    flag = f"conflict: {reason}"
    with store.transaction():
        current = store.get_skill(draft_id)  # read inside: another process may have handled it
        if current is None or current.status != Status.DRAFT or flag in current.flags:
            return
        store.change_status(draft_id, Status.DRAFT, flags=current.flags + [flag])
        store.add_audit(AUTO_PROMOTER, "flag-conflict", draft_id, reason=reason)


def expire_drafts(store: Store, ttl_days: float) -> list[str]:
    """Archive drafts untouched for ``ttl_days``; returns their ids (restore brings them back)."""
    cutoff = utc_now() - timedelta(days=ttl_days)
    expired = store.skill_ids_untouched_since(Status.DRAFT, cutoff)
    archived = []
    for draft_id in expired:
        with store.transaction():
            draft = store.get_skill(draft_id)  # read inside: another process may have handled it
            if draft is None or draft.status != Status.DRAFT:
                continue
            store.change_status(draft_id, Status.ARCHIVED, flags=draft.flags + [f"expired: untouched for {ttl_days:g} days"])
            store.add_audit(MAINTENANCE, "expire", draft_id, reason=f"untouched for {ttl_days:g} days")
            archived.append(draft_id)
    return archived
