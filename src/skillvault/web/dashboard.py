"""The dashboard's numbers: counts, drafts per week, approval rate, most- and never-used skills."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..models import Status

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..manager import SkillManager

WEEKS = 12
TOP = 10
_CREATED = ("extract", "sync-from")
_APPROVED = ("approve", "auto-promote")
_REJECTED = ("reject",)


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _draft_events(sm: "SkillManager") -> list[tuple[str, str]]:
    """``(at, action)`` of the audit entries about drafts: created, approved, rejected.

    One read-only query on the audit log (the facade reads it one skill at a time).
    """
    return sm.store.audit_actions(_CREATED + _APPROVED + _REJECTED, skill_id_prefix="draft::")


def dashboard(sm: "SkillManager", today: date | None = None) -> dict:
    """Return the dashboard of a human-mode manager's library.

    Returns:
        ``{"stats", "weeks": [{"week", "drafts"}] (oldest first, :data:`WEEKS` of them),
        "approved", "rejected", "approval_rate" (0..1 or None), "most_used": [{"id",
        "name", "uses"}], "never_used": [{"id", "name"}], "max_week", "max_uses"}``.
    """
    today = today or datetime.now(timezone.utc).date()
    events = _draft_events(sm)
    first_week = _week_start(today) - timedelta(weeks=WEEKS - 1)
    per_week: Counter = Counter()
    for at, action in events:
        if action in _CREATED:
            week = _week_start(datetime.fromisoformat(at).date())
            if week >= first_week:
                per_week[week] += 1
    weeks = [{"week": (first_week + timedelta(weeks=n)).isoformat(), "drafts": per_week[first_week + timedelta(weeks=n)]}
             for n in range(WEEKS)]
    approved = sum(1 for _at, action in events if action in _APPROVED)
    rejected = sum(1 for _at, action in events if action in _REJECTED)
    canonical = sm.list(status=Status.CANONICAL)
    used = [{"id": s.id, "name": s.name, "uses": sm.usage(s.id)["uses"]} for s in canonical]
    most_used = sorted((row for row in used if row["uses"]), key=lambda row: (-row["uses"], row["id"]))[:TOP]
    return {
        "stats": sm.stats(),
        "weeks": weeks,
        "max_week": max([row["drafts"] for row in weeks] + [1]),
        "approved": approved,
        "rejected": rejected,
        "approval_rate": approved / (approved + rejected) if approved + rejected else None,
        "most_used": most_used,
        "max_uses": max([row["uses"] for row in most_used] + [1]),
        "never_used": [{"id": row["id"], "name": row["name"]} for row in used if not row["uses"]],
    }
