"""Human review: the queue, approve / reject, restore, rollback, and the audit trail.

Every action is written in the same transaction as the change it records, with who
did it, when, and why. Every write of a non-draft skill keeps a snapshot of that
version (the store does this), so any version can be restored with :func:`rollback`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from . import library
from .embed.service import EmbeddingService
from .errors import NotFoundError, ValidationError
from .formats.chunking import section_title
from .models import MAX_CONTENT_CHARS, MAX_DESCRIPTION_CHARS, MAX_VERSION, Chunk, Skill, Status, slugify, validate_id
from .store import PreparedChunk, Store
from .validation import check_int, check_text

HUMAN = "human"
MAX_REASON_CHARS = 2_000

#: What a revision does to one section (see :func:`merge_revision`).
CHANGED, ADDED, UNCHANGED = "changed", "added", "unchanged"


@dataclass
class SectionChange:
    """What approving a revision does to one section of the canonical skill.

    Attributes:
        section: the section's title (without a part suffix such as ``" (2/3)"``).
        change: ``"changed"`` (the draft's section replaces it), ``"added"`` (a section
            the canonical skill does not have, appended) or ``"unchanged"`` (kept as
            it is: the draft does not touch it, or brings the same text).
        before: ids of the canonical skill's chunks of this section (empty if added).
        after: ids of the chunks of this section in the revised skill.
    """

    section: str
    change: str
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"section": self.section, "change": self.change, "before": list(self.before), "after": list(self.after)}


@dataclass
class Revision:
    """The canonical skill a revision draft would make, and what changes per section.

    Attributes:
        skill: the revised skill (id, name, description, tags, metadata of the canonical
            skill; not validated, version not yet bumped).
        changes: one :class:`SectionChange` per section, in the revised skill's order.
        origin: for each chunk id of ``skill``, ``("target" | "draft", chunk id there)``.
    """

    skill: Skill
    changes: list[SectionChange]
    origin: dict[str, tuple[str, str]]

    @property
    def changed(self) -> bool:
        """True if approving changes any section."""
        return any(change.change != UNCHANGED for change in self.changes)


def _section_key(section: str) -> str:
    return " ".join(section_title(section).lower().split())


def _sections(chunks: list[Chunk]) -> list[tuple[str, list[Chunk]]]:
    """Group chunks into sections: consecutive chunks of one title (e.g. the parts of a split section)."""
    groups: list[tuple[str, list[Chunk]]] = []
    for chunk in chunks:
        if groups and _section_key(groups[-1][0]) == _section_key(chunk.section):
            groups[-1][1].append(chunk)
        else:
            groups.append((section_title(chunk.section), [chunk]))
    return groups


def _same_text(a: list[Chunk], b: list[Chunk]) -> bool:
    return [c.content.strip() for c in a] == [c.content.strip() for c in b]


def merge_revision(target: Skill, draft: Skill) -> Revision:
    """Apply a revision draft to the canonical skill it revises, section by section.

    Sections are matched by title, ignoring case, runs of whitespace and a part suffix
    (``"Common pitfalls (2/3)"`` is section ``"Common pitfalls"``); consecutive chunks of
    one title are one section. Then:

    * a draft section whose title the canonical skill has replaces that section in
      place (the n-th same-titled draft section replaces the n-th canonical one). Its
      chunks take the replaced section's chunk id (``<id>``, then ``<id>.2`` ...), so
      dependencies on the section still hold;
    * a draft section the canonical skill lacks is appended, in the draft's order, its
      chunk ids renamed to the canonical skill (``<skill>::<part>``, ``-2`` ... if taken);
    * every other canonical section is kept in place, unchanged.

    Dependencies on chunks that moved or were replaced follow them. Name, description,
    ``created_at`` and metadata stay the canonical skill's (except for a draft made from
    an edited skill folder, ``metadata["sync_from"]``: its description and
    ``metadata["agent_skill"]`` — front matter, bundled files — are taken, and ``source``
    stays); tags are the union. When
    anything changed, ``source`` becomes ``"extracted"`` (the skill now holds text an
    LLM extracted) and ``metadata["revised_from"]`` names the draft; the source it had
    before its first extracted revision is kept in ``metadata["source_before_revision"]``.

    Args:
        target: the canonical skill.
        draft: the draft revising it.

    Returns:
        A :class:`Revision`; neither argument is modified.
    """
    target, draft = target.copy(), draft.copy()
    draft_sections = _sections(draft.chunks)
    target_sections = _sections(target.chunks)
    unmatched = list(range(len(draft_sections)))
    replacement: dict[int, int] = {}  # target section index -> draft section index
    for t_index, (title, _chunks) in enumerate(target_sections):
        for d_index in unmatched:
            if _section_key(draft_sections[d_index][0]) == _section_key(title):
                replacement[t_index] = d_index
                unmatched.remove(d_index)
                break

    taken = {chunk.id for i, (_t, chunks) in enumerate(target_sections) if i not in replacement for chunk in chunks}
    renamed: dict[str, str] = {}  # old id (draft or replaced target chunk) -> new id

    def free(candidate: str) -> str:
        base, number = candidate, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        taken.add(candidate)
        return candidate

    planned: list[tuple[str, str, list[tuple[str, Chunk]], list[str]]] = []  # title, change, [(origin, chunk)], before
    for t_index, (title, chunks) in enumerate(target_sections):
        before = [c.id for c in chunks]
        if t_index not in replacement:
            planned.append((title, UNCHANGED, [("target", c) for c in chunks], before))
            continue
        d_title, d_chunks = draft_sections[replacement[t_index]]
        if _same_text(chunks, d_chunks):
            planned.append((title, UNCHANGED, [("target", c) for c in chunks], before))
            taken.update(before)
            continue
        first = free(chunks[0].id)
        for number, chunk in enumerate(d_chunks, start=1):
            renamed[chunk.id] = first if number == 1 else free(f"{first}.{number}")
        for chunk in chunks:
            renamed.setdefault(chunk.id, first)
        planned.append((title, CHANGED, [("draft", c) for c in d_chunks], before))
    for d_index in unmatched:
        d_title, d_chunks = draft_sections[d_index]
        for chunk in d_chunks:
            renamed[chunk.id] = free(f"{target.id}::{chunk.id.split('::')[-1]}")
        planned.append((d_title, ADDED, [("draft", c) for c in d_chunks], []))

    chunks_out: list[Chunk] = []
    changes: list[SectionChange] = []
    origin: dict[str, tuple[str, str]] = {}
    for title, change, members, before in planned:
        after = []
        for where, chunk in members:
            new_id = renamed.get(chunk.id, chunk.id) if where == "draft" else chunk.id
            deps = [renamed.get(dep, dep) for dep in chunk.dependencies]
            deps = list(dict.fromkeys(dep for dep in deps if dep != new_id))
            chunks_out.append(replace(chunk, id=new_id, skill_id=target.id, dependencies=deps))
            origin[new_id] = (where, chunk.id)
            after.append(new_id)
        changes.append(SectionChange(title, change, before, after))

    skill = replace(
        target, chunks=chunks_out, tags=list(dict.fromkeys(target.tags + draft.tags)),
        status=Status.CANONICAL, flags=[], revises=None,
    )
    revision = Revision(skill, changes, origin)
    edited_folder = isinstance(draft.metadata.get("sync_from"), dict)
    if edited_folder:
        # A person's edit of a synced skill folder (skillvault.sync_from): its description,
        # front matter and bundled files are part of the edit; the text is a person's.
        skill.description = draft.description
        if isinstance(draft.metadata.get("agent_skill"), dict):
            skill.metadata = {**skill.metadata, "agent_skill": draft.metadata["agent_skill"]}
        if revision.changed or skill.metadata != target.metadata or skill.description != target.description:
            skill.metadata = {**skill.metadata, "revised_from": draft.id}
    elif revision.changed:
        skill.metadata = {**skill.metadata, "revised_from": draft.id}
        skill.metadata.setdefault("source_before_revision", target.source)
        skill.source = "extracted"
        if draft.extracted_from:
            skill.extracted_from = draft.extracted_from
    return revision


def review_queue(store: Store) -> list[Skill]:
    """Return drafts, newest first, with confidence, ``revises`` and ``flags`` filled."""
    drafts = store.list_skills(status=Status.DRAFT)
    return sorted(drafts, key=lambda s: (s.created_at, s.id), reverse=True)


def _skill_in_status(store: Store, skill_id: str, status: str, field: str, wanted: str) -> Skill:
    """Return the skill, or raise NotFoundError / ValidationError if it is missing or not in ``status``."""
    skill_id = validate_id(skill_id, field)
    skill = store.get_skill(skill_id)
    if skill is None:
        raise NotFoundError(f"no skill with id {skill_id!r}")
    if skill.status != status:
        raise ValidationError(field, f"{skill_id!r} is not {wanted} (its status is {skill.status!r})")
    return skill


def _draft(store: Store, draft_id: str) -> Skill:
    return _skill_in_status(store, draft_id, Status.DRAFT, "draft_id", "a draft")


def _check_reason(reason: Optional[str], field: str, required: bool) -> str:
    if reason is None and not required:
        return ""
    if not isinstance(reason, str) or (required and not reason.strip()):
        raise ValidationError(field, "must be a non-empty string saying why")
    return check_text(reason, field, MAX_REASON_CHARS).strip()


def canonical_id_for(store: Store, draft: Skill) -> str:
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
    store: Store,
    embeddings: EmbeddingService,
    draft_id: str,
    reviewer: Optional[str] = None,
    note: Optional[str] = None,
    action: str = "approve",
) -> str:
    """Make a draft canonical: a new skill, or a new version of the skill it revises.

    A revision is applied section by section (:func:`merge_revision`): the draft's
    sections replace the same-titled sections of the canonical skill, new ones are
    appended, the others are kept. The audit entries record ``revises``,
    ``from_version`` and ``sections`` (``{title: "changed" | "added" | "unchanged"}``).

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
        details = {"draft": draft.id, "confidence": draft.confidence}
        if target is not None and target.status == Status.CANONICAL:
            # A revision changes the sections it is about and keeps the rest.
            revision = merge_revision(target, ready)
            skill, prepared = revision.skill, _revision_prepared(revision, ready, prepared, target, embeddings)
            skill.version = target.version
            skill.validate()  # e.g. too many chunks: refused here, inside, so nothing is written
            details.update(revises=target.id, from_version=target.version,
                           sections={change.section: change.change for change in revision.changes})
        else:
            skill, prepared = library.rename_prepared(ready, prepared, canonical_id_for(store, draft))
            skill.version, target = 1, None  # a new skill; the draft's own versions stay with the draft
            skill.revises = None
            skill.status, skill.flags = Status.CANONICAL, []
        skill.metadata = {**skill.metadata, "approved_from": draft.id, "approved_by": actor}
        details["skill"] = skill.id
        store.delete_skill(draft.id)
        store.write_skill(skill, prepared, embeddings.name, create=target is None)
        store.add_audit(actor, action, skill.id, reason=note, details={**details, "version": skill.version})
        store.add_audit(actor, action, draft.id, reason=note, details=details)
    return skill.id


def _revision_prepared(
    revision: Revision, draft: Skill, draft_prepared: list[PreparedChunk], target: Skill, embeddings: EmbeddingService
) -> list[PreparedChunk]:
    """Prepared chunks of a revised skill: the draft's vectors for its chunks, the stored
    ones (looked up by content hash, not embedded again) for the canonical skill's."""
    by_id = {("draft", item.chunk.id): item for item in draft_prepared}
    if any(where == "target" for where, _ in revision.origin.values()):
        by_id.update({("target", item.chunk.id): item for item in library.prepare(target, embeddings)[1]})
    result = []
    for chunk in revision.skill.chunks:
        item = by_id[revision.origin[chunk.id]]
        chunk.tokens = item.chunk.tokens
        result.append(PreparedChunk(chunk, item.embed_hash, item.vector))
    return result


def edit_and_approve(
    store: Store,
    embeddings: EmbeddingService,
    draft_id: str,
    chunks: Optional[dict],
    description: Optional[str],
    reviewer: Optional[str] = None,
    note: Optional[str] = None,
) -> str:
    """Edit a draft (:func:`edit_draft`), then approve it (:func:`approve`), in one
    transaction: if the approval fails, the edit is undone too.

    Returns:
        The id of the canonical skill.

    Raises:
        Whatever :func:`edit_draft` or :func:`approve` raises; nothing is written then.
    """
    with store.transaction():
        edit_draft(store, embeddings, draft_id, chunks, description, reviewer)
        return approve(store, embeddings, draft_id, reviewer, note)


def edit_draft(
    store: Store,
    embeddings: EmbeddingService,
    draft_id: str,
    chunks: Optional[dict] = None,
    description: Optional[str] = None,
    reviewer: Optional[str] = None,
) -> Skill:
    """Change the text of a draft before approving it (a reviewer's edit).

    Only the given chunks' content and the description change; ids, sections, confidence,
    ``revises`` and provenance stay. The draft's previous content is kept as a version
    snapshot (the store does this) and an ``edit`` audit entry names the chunks changed.

    Args:
        store / embeddings: the library and its embedder (edited chunks are embedded again).
        draft_id: the draft.
        chunks: ``{chunk id: new markdown}`` for the chunks to change.
        description: the new description, or None to keep it.
        reviewer: who edits (recorded); defaults to ``"human"``.

    Returns:
        The draft as stored now (unchanged when the edit changes nothing: nothing is written).

    Raises:
        NotFoundError: no such skill. ValidationError: not a draft, an unknown chunk id,
            empty or oversized text, or the draft changed while it was being edited
            (nothing is written then).
    """
    draft = _draft(store, draft_id)
    actor = _check_reason(reviewer, "reviewer", required=False) or HUMAN
    edited = draft.copy()
    changed = _edited_chunks(edited, chunks)
    if description is not None:
        description = check_text(description, "description", MAX_DESCRIPTION_CHARS).strip()
        changed_description = description != draft.description
        edited.description = description
    else:
        changed_description = False
    if not changed and not changed_description:
        return draft
    ready, prepared = library.prepare(edited, embeddings)
    with store.transaction():
        if _draft(store, draft_id).to_dict() != draft.to_dict():  # e.g. an agent merged new text into it
            raise ValidationError("draft_id", f"{draft_id!r} changed while it was being edited; reload it and edit again")
        store.write_skill(ready, prepared, embeddings.name)
        store.add_audit(actor, "edit", draft_id, details={"chunks": changed, "description": changed_description})
    return ready


def _edited_chunks(draft: Skill, chunks: Optional[dict]) -> list[str]:
    """Put the new texts of ``chunks`` into ``draft``'s chunks; return the ids whose text changed."""
    if chunks is None:
        return []
    if not isinstance(chunks, dict):
        raise ValidationError("chunks", "must be a dict {chunk id: new text}")
    by_id = {chunk.id: chunk for chunk in draft.chunks}
    changed = []
    for chunk_id, text in chunks.items():
        field = f"chunks[{chunk_id!r}]"
        if chunk_id not in by_id:
            raise ValidationError(field, f"the draft has no such chunk; its chunks are {sorted(by_id)}")
        text = check_text(text, field, MAX_CONTENT_CHARS, allow_empty=False).strip()
        if not text:
            raise ValidationError(field, "must not be blank; leave the chunk out to keep its text")
        if text != by_id[chunk_id].content.strip():
            by_id[chunk_id].content = text
            changed.append(chunk_id)
    return changed


def reject(store: Store, draft_id: str, reason: str, reviewer: Optional[str] = None) -> None:
    """Reject a draft, keeping it (status ``rejected``) with the reason.

    Raises:
        NotFoundError, ValidationError: unknown id, not a draft, or an empty reason.
    """
    _draft(store, draft_id)
    reason = _check_reason(reason, "reason", required=True)
    actor = _check_reason(reviewer, "reviewer", required=False) or HUMAN
    with store.transaction():
        draft = _draft(store, draft_id)  # again inside: another process may have handled it
        store.change_status(draft.id, Status.REJECTED, flags=draft.flags + [f"rejected: {reason}"])
        store.add_audit(actor, "reject", draft.id, reason=reason)


def archive(store: Store, skill_id: str, actor: str = HUMAN, reason: str = "") -> None:
    """Archive a skill (kept, no longer served or reviewed).

    Raises:
        NotFoundError: no such skill.
    """
    skill_id = validate_id(skill_id, "skill_id")
    with store.transaction():
        store.change_status(skill_id, Status.ARCHIVED)
        store.add_audit(actor, "archive", skill_id, reason=reason)


def restore(store: Store, skill_id: str) -> str:
    """Bring an archived skill back: a draft that expired returns to the queue, others to canonical.

    Returns:
        The new status.

    Raises:
        NotFoundError: no such skill. ValidationError: it is not archived.
    """
    _skill_in_status(store, skill_id, Status.ARCHIVED, "skill_id", "archived")
    with store.transaction():
        skill = _skill_in_status(store, skill_id, Status.ARCHIVED, "skill_id", "archived")  # still, inside
        status = (Status.DRAFT if skill.source == "extracted" and skill.id.startswith("draft::") else Status.CANONICAL).value
        flags = [flag for flag in skill.flags if not flag.startswith("expired")]
        store.change_status(skill_id, status, flags=flags)
        store.add_audit(HUMAN, "restore", skill_id, details={"status": status})
    return status


def rollback(
    store: Store, embeddings: EmbeddingService, skill_id: str, version: int, reviewer: Optional[str] = None
) -> int:
    """Restore the content of a kept version, as a new version.

    Args:
        reviewer: who rolls back (recorded); defaults to ``"human"``.

    Returns:
        The new version number.

    Raises:
        NotFoundError: no such skill or version. ValidationError: bad version.
    """
    skill_id = validate_id(skill_id, "skill_id")
    check_int(version, "version", 1, MAX_VERSION)
    actor = _check_reason(reviewer, "reviewer", required=False) or HUMAN
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
        store.add_audit(actor, "rollback", skill_id, details={"to_version": version, "version": ready.version})
    return ready.version


def history(store: Store, skill_id: str) -> list[dict]:
    """Return the audit entries of a skill, oldest first (who, when, what, why).

    Each entry is ``{"at", "actor", "action", "skill_id", "reason", "details"}``.
    """
    skill_id = validate_id(skill_id, "skill_id")
    return store.audit_entries(skill_id)
