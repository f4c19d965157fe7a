"""Review records of the PostgreSQL store: audit log, version snapshots, usage counts.

A mixin of :class:`~.store.PostgresStore` (it uses the store's ``conn``, ``agent`` and
``transaction()``/``draft_transaction()``). An agent role's usage goes to ``agent_usage``
under its own login name (row-level security lets it touch only its own rows).
"""

from __future__ import annotations

import json
from typing import Optional

from ...models import Skill, utc_now
from ..base import requires_transaction


class PgRecords:
    """Audit entries, kept versions and usage counts of skills."""

    @requires_transaction
    def add_audit(self, actor: str, action: str, skill_id: str, reason: str = "", details: Optional[dict] = None) -> None:
        """Append an audit entry (call inside the transaction of the audited change)."""
        self.add_audits([(actor, action, skill_id, reason, details)])

    @requires_transaction
    def add_audits(self, entries: list) -> None:
        """Append audit entries ``(actor, action, skill_id, reason, details)``."""
        now = utc_now().isoformat()
        self.conn.cursor().executemany(
            "INSERT INTO audit_log(at, actor, action, skill_id, reason, details) VALUES (%s,%s,%s,%s,%s,%s)",
            [(now, actor, action, skill_id, reason, json.dumps(details or {}))
             for actor, action, skill_id, reason, details in entries])

    def audit_entries(self, skill_id: str) -> list[dict]:
        """Return the audit entries of a skill, oldest first."""
        rows = self.conn.execute("SELECT at, actor, action, skill_id, reason, details FROM audit_log "
                                 "WHERE skill_id = %s ORDER BY id", (skill_id,)).fetchall()
        return [{"at": r[0], "actor": r[1], "action": r[2], "skill_id": r[3], "reason": r[4], "details": json.loads(r[5])}
                for r in rows]

    def audit_actions(self, actions: tuple[str, ...], skill_id_prefix: str = "") -> list[tuple[str, str]]:
        """Return ``(at, action)`` of the audit entries with one of ``actions`` about skills
        whose id starts with ``skill_id_prefix``, in one query."""
        return [tuple(row) for row in self.conn.execute(
            "SELECT at, action FROM audit_log WHERE starts_with(skill_id, %s) AND action = ANY(%s)",
            (skill_id_prefix, list(actions))).fetchall()]

    @requires_transaction
    def save_versions(self, skills: list[Skill]) -> None:
        """Keep a snapshot of each of ``skills`` under its version number."""
        now = utc_now().isoformat()
        self.conn.cursor().executemany(
            "INSERT INTO skill_versions(skill_id, version, snapshot, created_at) VALUES (%s,%s,%s,%s)",
            [(skill.id, skill.version, json.dumps(skill.to_dict(), ensure_ascii=False), now) for skill in skills])

    def get_version(self, skill_id: str, version: int) -> Optional[Skill]:
        """Return the kept snapshot of a skill version, or None."""
        row = self.conn.execute("SELECT snapshot FROM skill_versions WHERE skill_id = %s AND version = %s",
                                (skill_id, version)).fetchone()
        return Skill.from_json(row[0]) if row else None

    def versions(self, skill_id: str) -> list[int]:
        """Return the kept version numbers of a skill, ascending."""
        return [row[0] for row in self.conn.execute(
            "SELECT version FROM skill_versions WHERE skill_id = %s ORDER BY version", (skill_id,))]

    def record_usage(self, skill_ids: list[str], helpful: Optional[bool] = None, note: Optional[str] = None) -> None:
        """Count one use of each skill (and a helpful/unhelpful vote, and a note), in one transaction.

        An agent's counts go to ``agent_usage`` (its own row per skill); a ``note`` (checked
        and redacted by the caller) is kept in ``usage_notes`` with the actor.
        """
        if not skill_ids:
            return
        table = "agent_usage" if self.agent else "usage"
        conflict = "(skill_id, agent)" if self.agent else "(skill_id)"
        now = utc_now().isoformat()
        # Counting is an upsert per skill, safe without the write lock that would queue every
        # query behind a writer; sorted ids take row locks in one order, so two counts cannot deadlock.
        with self._counting():
            self.conn.cursor().executemany(
                f"""INSERT INTO {table} AS t (skill_id, uses, helpful, unhelpful, last_used) VALUES (%s, 1, %s, %s, %s)
                    ON CONFLICT {conflict} DO UPDATE SET uses = t.uses + 1, helpful = t.helpful + excluded.helpful,
                      unhelpful = t.unhelpful + excluded.unhelpful, last_used = excluded.last_used""",
                [(skill_id, int(helpful is True), int(helpful is False), now) for skill_id in sorted(skill_ids)])
            if note:
                actor = "agent" if self.agent else "human"
                self.conn.cursor().executemany(
                    "INSERT INTO usage_notes(skill_id, at, actor, helpful, note) VALUES (%s,%s,%s,%s,%s)",
                    [(skill_id, now, actor, helpful, note) for skill_id in skill_ids])

    def usage_of(self, skill_id: str, notes: int = 20) -> dict:
        """Return a skill's usage as :meth:`SQLiteStore.usage_of` does: everyone's counts,
        ``"by_agents"`` (the agents' part) and the latest ``notes`` notes, newest first."""
        human = self.conn.execute("SELECT uses, helpful, unhelpful, last_used FROM usage WHERE skill_id = %s",
                                  (skill_id,)).fetchone() or (0, 0, 0, None)
        agent = self.conn.execute(
            """SELECT COALESCE(sum(uses), 0), COALESCE(sum(helpful), 0), COALESCE(sum(unhelpful), 0), max(last_used)
               FROM agent_usage WHERE skill_id = %s""", (skill_id,)).fetchone()
        human, agent = [int(v) for v in human[:3]] + [human[3]], [int(v) for v in agent[:3]] + [agent[3]]
        latest = self.conn.execute("SELECT at, actor, helpful, note FROM usage_notes WHERE skill_id = %s "
                                   "ORDER BY id DESC LIMIT %s", (skill_id, notes)).fetchall() if not self.agent else []
        return {
            "uses": human[0] + agent[0], "helpful": human[1] + agent[1], "unhelpful": human[2] + agent[2],
            "last_used": max((v for v in (human[3], agent[3]) if v), default=None),
            "by_agents": {"uses": agent[0], "helpful": agent[1], "unhelpful": agent[2]},
            "notes": [{"at": at, "actor": actor, "helpful": helpful, "note": note} for at, actor, helpful, note in latest],
        }
