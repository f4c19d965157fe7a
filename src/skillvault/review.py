"""Human review: the queue, approve / reject, restore, rollback, and the audit trail.

Every action is written in the same transaction as the change it records, with who
did it, when, and why. Every write of a non-draft skill keeps a snapshot of that
version (the store does this), so any version can be restored with :func:`rollback`.
"""

from __future__ import annotations

from typing import Optional

from . import library
from .embed.service import EmbeddingService
from .errors import NotFoundError, ValidationError
from .models import MAX_VERSION, Skill, slugify, validate_id
from .store import SQLiteStore
from .validation import check_int, check_text

HUMAN = "human"
MAX_REASON_CHARS = 2_000


def review_queue(store: SQLiteStore) -> list[Skill]:
    """Return drafts, newest first, with confidence, ``revises`` and ``flags`` filled."""
    drafts = store.list_skills(status="draft")
    return sorted(drafts, key=lambda s: (s.created_at, s.id), reverse=True)


def _skill_in_status(store: SQLiteStore, skill_id: str, status: str, field: str, wanted: str) -> Skill:
    """Return the skill, or raise NotFoundError / ValidationError if it is missing or not in ``status``."""
    skill_id = validate_id(skill_id, field)
    skill = store.get_skill(skill_id)
    if skill is None:
        raise NotFoundError(f"no skill with id {skill_id!r}")
    if skill.status != status:
        raise ValidationError(field, f"{skill_id!r} is not {wanted} (its status is {skill.status!r})")
    return skill


def _draft(store: SQLiteStore, draft_id: str) -> Skill:
    return _skill_in_status(store, draft_id, "draft", "draft_id", "a draft")


def _check_reason(reason: Optional[str], field: str, required: bool) -> str:
    if reason is None and not required:
        return ""
    if not isinstance(reason, str) or (required and not reason.strip()):
        raise ValidationError(field, "must be a non-empty string saying why")
    return check_text(reason, field, MAX_REASON_CHARS).strip()


def canonical_id_for(store: SQLiteStore, draft: Skill) -> str:
    """Return a free canonical id for a draft: its slug without ``draft::`` (``-2``... if taken).

    Call it inside the write transaction that uses the id.
    """
    base = slugify(draft.name)
    candidate, number = base, 1
    while store.get_skill(candidate) is not None:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def approve(
    store: SQLiteStore,
    embeddings: EmbeddingService,
    draft_id: str,
    reviewer: Optional[str] = None,
    note: Optional[str] = None,
    action: str = "approve",
) -> str:
    """Make a draft canonical: a new skill, or a new version of the skill it revises.

    The canonical id is chosen and written in one transaction, and the draft is checked
    again inside it: two approvals at once never share an id, and a draft approved
    twice at once becomes one skill (the second approval finds no draft).

    Args:
        store / embeddings: where the skill lives and how its chunks are embedded.
        draft_id: the draft.
        reviewer: who approves (recorded); defaults to ``"human"``.
        note: why (recorded).
        action: the audit action name (``"auto-promote"`` for automatic promotion).

    Returns:
        The id of the canonical skill.

    Raises:
        NotFoundError: no such skill. ValidationError: it is not a draft, or bad args.
    """
    draft = _draft(store, draft_id)
    actor = _check_reason(reviewer, "reviewer", required=False) or HUMAN
    note = _check_reason(note, "note", required=False)
    ready, prepared = library.prepare(draft, embeddings)  # the draft's vectors are stored: no embedding
    with store.transaction():
        current = _draft(store, draft_id)
        if current.to_dict() != draft.to_dict():  # changed since we read it (e.g. a merge): use what is there now
            ready, prepared = library.prepare(current, embeddings)
            draft = current
        target = store.get_skill(draft.revises) if draft.revises else None
        if target is not None and target.status == "canonical":
            skill, prepared = library.rename_prepared(ready, prepared, target.id)
            skill.name, skill.description = target.name, target.description
            skill.source, skill.created_at = target.source, target.created_at
            skill.tags = list(dict.fromkeys(target.tags + draft.tags))
        else:
            skill, prepared = library.rename_prepared(ready, prepared, canonical_id_for(store, draft))
            skill.version, target = 1, None  # a new skill; the draft's own versions stay with the draft
        skill.revises = None
        skill.status, skill.flags = "canonical", []
        skill.metadata = {**skill.metadata, "approved_from": draft.id, "approved_by": actor}
        details = {"draft": draft.id, "skill": skill.id, "confidence": draft.confidence}
        store.delete_skill(draft.id)
        store.write_skill(skill, prepared, embeddings.name, create=target is None)
        store.add_audit(actor, action, skill.id, reason=note, details={**details, "version": skill.version})
        store.add_audit(actor, action, draft.id, reason=note, details=details)
    return skill.id


def reject(store: SQLiteStore, draft_id: str, reason: str, reviewer: Optional[str] = None) -> None:
    """Reject a draft, keeping it (status ``rejected``) with the reason.

    Raises:
        NotFoundError, ValidationError: unknown id, not a draft, or an empty reason.
    """
    _draft(store, draft_id)
    reason = _check_reason(reason, "reason", required=True)
    actor = _check_reason(reviewer, "reviewer", required=False) or HUMAN
    with store.transaction():
        draft = _draft(store, draft_id)  # again inside: another process may have handled it
        store.change_status(draft.id, "rejected", flags=draft.flags + [f"rejected: {reason}"])
        store.add_audit(actor, "reject", draft.id, reason=reason)


def archive(store: SQLiteStore, skill_id: str, actor: str = HUMAN, reason: str = "") -> None:
    """Archive a skill (kept, no longer served or reviewed).

    Raises:
        NotFoundError: no such skill.
    """
    skill_id = validate_id(skill_id, "skill_id")
    with store.transaction():
        store.change_status(skill_id, "archived")
        store.add_audit(actor, "archive", skill_id, reason=reason)


def restore(store: SQLiteStore, skill_id: str) -> str:
    """Bring an archived skill back: a draft that expired returns to the queue, others to canonical.

    Returns:
        The new status.

    Raises:
        NotFoundError: no such skill. ValidationError: it is not archived.
    """
    _skill_in_status(store, skill_id, "archived", "skill_id", "archived")
    with store.transaction():
        skill = _skill_in_status(store, skill_id, "archived", "skill_id", "archived")  # still, inside
        status = "draft" if skill.source == "extracted" and skill.id.startswith("draft::") else "canonical"
        flags = [flag for flag in skill.flags if not flag.startswith("expired")]
        store.change_status(skill_id, status, flags=flags)
        store.add_audit(HUMAN, "restore", skill_id, details={"status": status})
    return status


def rollback(store: SQLiteStore, embeddings: EmbeddingService, skill_id: str, version: int) -> int:
    """Restore the content of a kept version, as a new version.

    Returns:
        The new version number.

    Raises:
        NotFoundError: no such skill or version. ValidationError: bad version.
    """
    skill_id = validate_id(skill_id, "skill_id")
    check_int(version, "version", 1, MAX_VERSION)
    current = store.get_skill(skill_id)
    if current is None:
        raise NotFoundError(f"no skill with id {skill_id!r}")
    snapshot = store.get_version(skill_id, version)
    if snapshot is None:
        kept = store.versions(skill_id)
        raise NotFoundError(f"{skill_id!r} has no version {version}; kept versions: {kept}")
    snapshot.status, snapshot.flags = current.status, current.flags
    ready, prepared = library.prepare(snapshot, embeddings)
    with store.transaction():
        store.write_skill(ready, prepared, embeddings.name)
        store.add_audit(HUMAN, "rollback", skill_id, details={"to_version": version, "version": ready.version})
    return ready.version


def history(store: SQLiteStore, skill_id: str) -> list[dict]:
    """Return the audit entries of a skill, oldest first (who, when, what, why).

    Each entry is ``{"at", "actor", "action", "skill_id", "reason", "details"}``.
    """
    skill_id = validate_id(skill_id, "skill_id")
    return store.audit_entries(skill_id)
