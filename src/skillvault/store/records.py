"""Review records kept by the SQLite store: audit log, version snapshots, usage counts.

A mixin of :class:`~skillvault.store.sqlite.SQLiteStore`: it uses the store's
``conn``, ``transaction()`` and, for an agent's usage, its draft-writing connection.
Writers marked ``requires_transaction`` join the caller's transaction (the audited
change's).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Optional

from ..models import Skill, utc_now
from .base import requires_transaction


class ReviewRecords:
    """Audit entries, kept versions and usage counts of skills."""

    @requires_transaction
    def add_audit(self, actor: str, action: str, skill_id: str, reason: str = "", details: Optional[dict] = None) -> None:
        """Append an audit entry (call inside the transaction of the audited change)."""
        self.add_audits([(actor, action, skill_id, reason, details)])

    @requires_transaction
    def add_audits(self, entries: list[tuple[str, str, str, str, Optional[dict]]]) -> None:
        """Append audit entries ``(actor, action, skill_id, reason, details)`` in one statement."""
        now = utc_now().isoformat()
        self.conn.executemany(
            "INSERT INTO audit_log(at, actor, action, skill_id, reason, details) VALUES (?,?,?,?,?,?)",
            [(now, actor, action, skill_id, reason, json.dumps(details or {}))
             for actor, action, skill_id, reason, details in entries],
        )

    def audit_entries(self, skill_id: str) -> list[dict]:
        """Return the audit entries of a skill, oldest first."""
        rows = self.conn.execute(
            "SELECT at, actor, action, skill_id, reason, details FROM audit_log WHERE skill_id = ? ORDER BY id",
            (skill_id,),
        ).fetchall()
        return [
            {"at": r[0], "actor": r[1], "action": r[2], "skill_id": r[3], "reason": r[4], "details": json.loads(r[5])}
            for r in rows
        ]

    def audit_actions(self, actions: tuple[str, ...], skill_id_prefix: str = "") -> list[tuple[str, str]]:
        """Return ``(at, action)`` of the audit entries with one of ``actions`` about skills
        whose id starts with ``skill_id_prefix``, in one query."""
        marks = ",".join("?" * len(actions))
        rows = self.conn.execute(
            f"SELECT at, action FROM audit_log WHERE skill_id LIKE ? AND action IN ({marks})",
            (skill_id_prefix + "%", *actions),
        ).fetchall()
        return [(at, action) for at, action in rows]

    @requires_transaction
    def save_versions(self, skills: list[Skill]) -> None:
        """Keep a snapshot of each of ``skills`` under its version number, in one statement."""
        now = utc_now().isoformat()
        self.conn.executemany(
            "INSERT INTO skill_versions(skill_id, version, snapshot, created_at) VALUES (?,?,?,?)",
            [(skill.id, skill.version, json.dumps(skill.to_dict(), ensure_ascii=False), now) for skill in skills],
        )

    def get_version(self, skill_id: str, version: int) -> Optional[Skill]:
        """Return the kept snapshot of a skill version, or None."""
        row = self.conn.execute(
            "SELECT snapshot FROM skill_versions WHERE skill_id = ? AND version = ?", (skill_id, version)
        ).fetchone()
        return Skill.from_json(row[0]) if row else None

    def versions(self, skill_id: str) -> list[int]:
        """Return the kept version numbers of a skill, ascending."""
        return [
            row[0]
            for row in self.conn.execute(
                "SELECT version FROM skill_versions WHERE skill_id = ? ORDER BY version", (skill_id,)
            )
        ]

    def record_usage(self, skill_ids: list[str], helpful: Optional[bool] = None, note: Optional[str] = None) -> None:
        """Count one use of each skill (and a helpful/unhelpful vote, and a note), in one transaction.

        An agent's counts go to ``agent_usage`` through its draft-writing connection:
        they are advisory and never reach the counts humans' processes keep. A ``note``
        (checked and redacted by the caller) is kept in ``usage_notes`` with the actor.
        """
        if not skill_ids:
            return
        if self.agent and not self._is_draft_writer:
            self._draft_writer().record_usage(skill_ids, helpful, note)
            return
        table = "agent_usage" if self.agent else "usage"
        now = utc_now().isoformat()
        with self.transaction():
            self.conn.executemany(
                f"""INSERT INTO {table}(skill_id, uses, helpful, unhelpful, last_used) VALUES (?, 1, ?, ?, ?)
                   ON CONFLICT(skill_id) DO UPDATE SET uses = uses + 1, helpful = helpful + excluded.helpful,
                     unhelpful = unhelpful + excluded.unhelpful, last_used = excluded.last_used""",
                [(skill_id, int(helpful is True), int(helpful is False), now) for skill_id in skill_ids],
            )
            if note:
                actor = "agent" if self.agent else "human"
                self.conn.executemany(
                    "INSERT INTO usage_notes(skill_id, at, actor, helpful, note) VALUES (?,?,?,?,?)",
                    [(skill_id, now, actor, None if helpful is None else int(helpful), note) for skill_id in skill_ids],
                )

    def usage_of(self, skill_id: str, notes: int = 20) -> dict:
        """Return a skill's usage: ``{"uses", "helpful", "unhelpful", "last_used"}`` counted
        by everyone, ``"by_agents"``: the part of it agents reported (zeros if unused), and
        ``"notes"``: the latest ``notes`` notes, newest first, as ``{"at", "actor", "helpful", "note"}``."""
        counts = {}
        for table in ("usage", "agent_usage"):
            row = self.conn.execute(
                f"SELECT uses, helpful, unhelpful, last_used FROM {table} WHERE skill_id = ?", (skill_id,)
            ).fetchone()
            counts[table] = row or (0, 0, 0, None)
        human, agent = counts["usage"], counts["agent_usage"]
        last_used = max((value for value in (human[3], agent[3]) if value), default=None)
        latest = self.conn.execute(
            "SELECT at, actor, helpful, note FROM usage_notes WHERE skill_id = ? ORDER BY id DESC LIMIT ?",
            (skill_id, notes),
        ).fetchall()
        return {
            "uses": human[0] + agent[0], "helpful": human[1] + agent[1], "unhelpful": human[2] + agent[2],
            "last_used": last_used, "by_agents": {"uses": agent[0], "helpful": agent[1], "unhelpful": agent[2]},
            "notes": [{"at": at, "actor": actor, "helpful": None if helpful is None else bool(helpful), "note": note}
                      for at, actor, helpful, note in latest],
        }

    def skill_ids_untouched_since(self, status: str, cutoff: datetime) -> list[str]:
        """Return ids of skills in ``status`` whose last change is older than ``cutoff``."""
        return [
            row[0]
            for row in self.conn.execute(
                "SELECT id FROM skills WHERE status = ? AND updated_at < ? ORDER BY id", (status, cutoff.isoformat())
            )
        ]
