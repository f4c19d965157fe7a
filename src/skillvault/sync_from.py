"""``sync --from DIR``: a person's edits in a synced skills tree become drafts for review.

Each skill folder of DIR is compared with what sync wrote there (the manifest) and with
what the library would write now. A folder equal to either is ``unchanged`` (an old,
unedited copy is not an edit). Otherwise it is read with the one SKILL.md reader and
becomes a draft: ``revise`` when it holds a canonical skill (the draft's ``revises``
names it, and approving merges it section by section, see
:func:`skillvault.review.merge_revision`), ``new`` otherwise. Nothing becomes canonical
without a review. A folder whose content is already a pending draft is ``proposed``
(nothing is written: running ``--from`` twice creates nothing new); a folder edited
again replaces the pending draft it made before. Unreadable folders and links are
``skipped`` with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from . import library
from .embed.service import EmbeddingService
from .errors import ImportFormatError, ValidationError
from .formats.skill_md import read_skill_folder_findings
from .models import Status
from .growth.extract import unique_draft_id
from .store import Store
from .sync import desired_folders, folder_hashes, read_manifest

__all__ = ["FromItem", "FromPlan", "plan_from", "apply_from"]

NEW, REVISE, UNCHANGED, PROPOSED, SKIPPED = "new", "revise", "unchanged", "proposed", "skipped"
#: The key of a draft's metadata that records the folder and content it was made from.
SYNC_FROM = "sync_from"


@dataclass
class FromItem:
    """What ``--from`` does (or would do) with one folder.

    Attributes:
        folder: the folder's name in DIR.
        action: ``new``, ``revise``, ``unchanged``, ``proposed`` or ``skipped``.
        revises: the canonical skill a ``revise`` draft proposes to change.
        draft_id: the draft written (after :func:`apply_from`), or the pending draft
            that already holds this content (``proposed``).
        reason: why a folder was skipped, or which draft holds it already.
    """

    folder: str
    action: str
    revises: Optional[str] = None
    draft_id: Optional[str] = None
    reason: str = ""
    _skill: Any = field(default=None, repr=False)
    _digest: str = field(default="", repr=False)
    _replaces: Optional[str] = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"folder": self.folder, "revises": self.revises, "draft_id": self.draft_id, "reason": self.reason}


@dataclass
class FromPlan:
    """What :func:`plan_from` found; :func:`apply_from` writes the drafts."""

    root: Path
    items: list[FromItem]
    applied: bool = False

    def of(self, action: str) -> list[FromItem]:
        """The items with this action."""
        return [item for item in self.items if item.action == action]

    @property
    def drafts_to_write(self) -> bool:
        """True when a folder holds edits that are not a draft yet."""
        return any(item.action in (NEW, REVISE) for item in self.items)

    def to_dict(self) -> dict:
        """``{"dir", "applied", "new", "revise", "proposed", "unchanged", "skipped"}``."""
        data: dict[str, Any] = {"dir": str(self.root), "applied": self.applied}
        for action in (NEW, REVISE, PROPOSED, UNCHANGED, SKIPPED):
            data[action] = [item.to_dict() for item in self.of(action)]
        return data


def _digest(hashes: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(hashes.items())).encode("utf-8")).hexdigest()


def plan_from(store: Store, path: Union[str, Path]) -> FromPlan:
    """Find the folders of DIR that a person edited or added; write nothing.

    Args:
        store: the library (its canonical skills and pending drafts are read).
        path: DIR, a folder of skill folders (usually one ``sync`` wrote).

    Returns:
        A :class:`FromPlan`, one item per folder of DIR (hidden ones left out).

    Raises:
        ValidationError: DIR is not a folder, or its sync manifest is malformed.
    """
    root = Path(path)
    if not root.is_dir():
        raise ValidationError("from", f"{str(root)!r} is not a folder; give the skills folder holding the edits "
                              "(e.g. .claude/skills)")
    manifest = read_manifest(root)
    canonical = {skill.id: skill for skill in store.list_skills(status=Status.CANONICAL)}
    wanted, _conflicts = desired_folders(list(canonical.values()), manifest)
    pending: dict[str, Any] = {}  # content digest -> draft
    by_folder: dict[tuple[str, Optional[str]], Any] = {}  # (folder, revises) -> draft
    for draft in store.list_skills(status=Status.DRAFT):
        origin = draft.metadata.get(SYNC_FROM) if isinstance(draft.metadata, dict) else None
        if isinstance(origin, dict):
            pending[origin.get("sha256")] = draft
            by_folder[(origin.get("folder"), draft.revises)] = draft
    items: list[FromItem] = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        name = entry.name
        if name.startswith(".") or not (entry.is_dir(follow_symlinks=False) or entry.is_symlink()):
            continue
        if entry.is_symlink():
            items.append(FromItem(name, SKIPPED, reason="a symbolic link; links are not followed"))
            continue
        recorded = manifest.get(name)
        want = wanted.get(name)
        want_hashes = {rel: hashlib.sha256(data).hexdigest() for rel, data in want[1].items()} if want else {}
        disk = folder_hashes(entry.path, set(recorded["files"] if recorded else ()) | set(want_hashes))
        if (recorded and disk == recorded["files"]) or (want and disk == want_hashes):
            items.append(FromItem(name, UNCHANGED))
            continue
        digest = _digest(disk)
        if digest in pending:
            draft = pending[digest]
            items.append(FromItem(name, PROPOSED, draft.revises, draft.id, f"already the pending draft {draft.id}"))
            continue
        try:
            skill, _findings = read_skill_folder_findings(entry.path)
        except ImportFormatError as exc:
            items.append(FromItem(name, SKIPPED, reason=str(exc)))
            continue
        target = recorded["skill"] if recorded and recorded["skill"] in canonical else None
        target = target or (skill.id if skill.id in canonical else None)
        previous = by_folder.get((name, target))
        items.append(FromItem(name, REVISE if target else NEW, target, _skill=skill, _digest=digest,
                              _replaces=previous.id if previous is not None else None))
    return FromPlan(root, items)


def apply_from(store: Store, embeddings: EmbeddingService, plan: FromPlan, actor: str) -> FromPlan:
    """Write a draft for each ``new`` and ``revise`` item of the plan (one transaction each).

    A folder edited again after ``--from`` made a draft from it replaces that draft's
    content (same id) while it is pending; otherwise the draft gets a new
    ``draft::<name>`` id. Drafts are ``source="extracted"`` like every draft (the review
    queue, expiry and the agent boundary treat them alike), confidence 1.0 (a person
    wrote them), ``extracted_from`` naming the folder and the content hash.

    Args:
        store / embeddings: the library.
        plan: from :func:`plan_from`.
        actor: ``"human"`` or ``"agent"``, for the audit log and the draft's author.

    Returns:
        The plan, with ``draft_id`` set on the items written.

    Raises:
        ValidationError: a folder's skill cannot be stored (e.g. too many chunks);
            the drafts written before it are kept.
        SkillPermissionError: the library is read-only, or (agent mode) the draft to
            replace was written by a person.
    """
    if plan.applied:
        raise ValidationError("plan", "was applied already; make a new plan")
    for item in plan.items:
        if item.action not in (NEW, REVISE):
            continue
        origin = f"{plan.root / item.folder}"
        draft = item._skill.renamed(f"draft::{item._skill.id}")
        draft.status, draft.source, draft.confidence = Status.DRAFT, "extracted", 1.0
        draft.revises = item.revises
        draft.extracted_from = f"sha256:{item._digest}\nedited in {origin} (skillvault sync --from)"
        draft.metadata = {**draft.metadata, SYNC_FROM: {"folder": item.folder, "sha256": item._digest}}
        draft.flags = [f"revises {item.revises}: edited in {origin}"] if item.revises else []
        ready, prepared = library.prepare(draft, embeddings)
        with store.draft_transaction() as writer:
            replace_id = item._replaces
            if replace_id is not None:
                current = writer.get_skill(replace_id)
                if current is None or current.status != Status.DRAFT or (actor == "agent" and not writer.is_agent_draft(replace_id)):
                    replace_id = None  # reviewed (or not ours) meanwhile: a new draft
            draft_id = replace_id or unique_draft_id(writer, item._skill.id)
            ready, prepared = library.rename_prepared(ready, prepared, draft_id)
            writer.write_skill(ready, prepared, embeddings.name, create=replace_id is None)
            writer.add_audit(actor, "sync-from", draft_id, details={"folder": item.folder, "revises": item.revises,
                                                                   "replaced": replace_id is not None})
        item.draft_id = draft_id
    plan.applied = True
    return plan
