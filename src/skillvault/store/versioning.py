"""The version number a skill write gets, the same on every backend."""

from __future__ import annotations

from typing import Optional

from ..errors import ValidationError
from ..models import MAX_VERSION, Skill, Status


def settle_version(store, skill: Skill, previous: Optional[tuple], kept: int) -> None:
    """Set ``skill.version`` for a write that replaces ``previous`` (inside the write's transaction).

    Version numbers continue after every kept snapshot of this id (it may have been used
    before, e.g. by a draft that was approved), so snapshots never collide. Overwriting a
    skill makes a new version; a draft's earlier content is kept as a snapshot first, so
    merging into a draft never loses text.

    Args:
        store: the store being written (its ``get_skill`` and ``save_versions`` are used).
        skill: the skill about to be written.
        previous: ``(version, status, author)`` of the stored skill with this id, or None.
        kept: the highest kept snapshot version of this id (0 if none).

    Raises:
        ValidationError: if the version would pass :data:`~skillvault.models.MAX_VERSION`.
    """
    if previous is not None and (skill.status != Status.DRAFT or previous[1] == Status.DRAFT):
        if previous[1] == Status.DRAFT:
            old = store.get_skill(skill.id)
            old.version = max(old.version, kept + 1)
            store.save_versions([old])
            kept = old.version
        skill.version = max(previous[0], kept) + 1
    elif previous is None and skill.version <= kept:
        skill.version = kept + 1
    if skill.version > MAX_VERSION:  # the caller's transaction rolls back
        raise ValidationError("skill.version", f"would become {skill.version}; the limit is {MAX_VERSION}. "
                              "Register the content under a new id")
