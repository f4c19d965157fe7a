"""Fleet stress: N processes share one library file for a bounded time, then a checker
verifies the database against what every process was told.

Run (2-core machine; keep runs bounded):

    PYTHONPATH=src python stress/fleet.py --seconds 120          # 8 processes, 2 of them agents
    PYTHONPATH=src python stress/fleet.py --seconds 30 --workers 4 --agents 1 --keep

Each worker opens its own ``SkillManager`` on the same file and, until the deadline,
mixes (human mode) register / extract / approve / reject / query / get / record_usage /
reopen, or (agent mode, ``mode="agent"``) query / extract. ``extract`` uses a
deterministic fake ``llm_fn``: the conversation names a title family and a body; the
titles of one family slug alike ("X1 Beta g3", "x1-beta g3", "x1 beta! g3", ...) and
bodies are either near-duplicates (they should merge) or distinct (they should become
separate drafts); every 10 s a new generation ("g4") brings new titles and bodies. Every piece of content carries a marker ``NONCE-<kind>-<worker>-<n>``, the same
in every chunk of one write. Each worker logs every operation, with what was
acknowledged (returned id, marker, provenance hash), to ``worker-<i>.jsonl``.

The checker then reports (and the script exits 1 if any invariant fails):

* **lost writes** — an acknowledged write whose effect is gone:
  register: no kept version of the id has its content; extract: its marker is in no
  skill's current chunks or kept versions, and its conversation hash is in no
  ``extracted_from`` / ``merged_from`` (a merge that lost the "more confident wins"
  contest is recorded there, so it is not a loss); approve: no kept version of the
  returned id says ``approved_from`` = the draft; reject: no skill carries the
  ``rejected: <reason>`` flag any more; record_usage: the use count is below the
  number of acknowledged calls. Each loss is printed with the audit trail of its id.
* **duplicate ids** — an ``extract`` audit entry writing a draft id that was a live
  draft (two extractions got the same id) or a rejected one (the rejection record is
  overwritten); a canonical skill whose consecutive versions carry different names
  (an approval took an id that another canonical skill already had).
* **lock errors reaching a caller** (``DatabaseBusyError`` or any ``OperationalError``),
  **other exceptions** (expected conflicts — approving a draft another worker just
  approved — are counted apart), and errors swallowed inside ``extract``/``query``
  (logged on the ``skillvault`` logger: busy ones are a figure, others a failure).
* **torn reads** — ``get`` returning a skill with zero chunks, chunks of several writes,
  or a skill row of another write than its chunks; a ``query`` block mixing writes.
* ``PRAGMA integrity_check`` / ``foreign_key_check`` and **index consistency** (every
  non-draft chunk has exactly one matching FTS row and one vector; drafts none).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import embed_a, index_problems, integrity_problems, markers, open_raw, print_table, snapshots  # noqa: E402

from skillvault import SkillManager  # noqa: E402
from skillvault.errors import DatabaseBusyError, NotFoundError, ValidationError  # noqa: E402
from skillvault.models import Chunk, Skill  # noqa: E402

MAX_MERGE_SOURCES = 20  # growth/extract.py keeps this many merged_from entries

# ---------------------------------------------------------------------- content

#: Titles of one family slug alike; "X1 BETA" is the same title as "X1 Beta".
FAMILIES = [
    ["X1 Beta", "x1-beta", "x1 beta!", "X1_Beta", "X1 BETA"],
    ["Retry Policy", "retry-policy", "Retry policy?", "RETRY_POLICY", "retry POLICY"],
    ["Cache Warmup", "cache-warmup", "Cache warm-up", "cache_warmup", "CACHE WARMUP"],
    ["Log Rotation", "log-rotation", "Log rotation.", "log_rotation", "LOG ROTATION"],
    ["Db Backup", "db-backup", "DB: backup", "db_backup", "DB BACKUP"],
    ["Api Paging", "api-paging", "API paging", "api_paging", "API PAGING"],
    ["Queue Drain", "queue-drain", "Queue drain!", "queue_drain", "QUEUE DRAIN"],
    ["Tls Renewal", "tls-renewal", "TLS renewal", "tls_renewal", "TLS RENEWAL"],
    ["Disk Quota", "disk-quota", "Disk quota?", "disk_quota", "DISK QUOTA"],
    ["Rate Limit", "rate-limit", "Rate-limit", "rate_limit", "RATE LIMIT"],
]
SHARED_IDS = [f"shared-{i}" for i in range(6)]


#: Every 10 s the titles get a new generation suffix (" g3") and new bodies: fresh
#: titles keep arriving, so slug races between new drafts (and between approvals of
#: drafts no canonical skill has yet) happen all through the run, not only at its start.
GENERATION_SECONDS = 10
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def _word_pool(count: int, seed: int = 1234) -> list[str]:
    """Distinct made-up words of three syllables."""
    rng = random.Random(seed)
    words: dict[str, None] = {}
    while len(words) < count:
        words["".join(rng.choice(SYLLABLES) for _ in range(3))] = None
    return list(words)


REGISTER_WORDS, FILLER_WORDS = _word_pool(300), _word_pool(100, seed=99)


def body_words(family: int, variant: int, style: str, generation: int) -> list[str]:
    """24 words (four syllables, so never a register or filler word) of a body: shared by
    every title of a family ("near": they should merge), or one title's own ("distinct")."""
    rng = random.Random(f"{family}/{variant if style == 'distinct' else 'near'}/{generation}")
    return ["".join(rng.choice(SYLLABLES) for _ in range(4)) for _ in range(24)]


def title(family: int, variant: int, generation: int) -> str:
    return f"{FAMILIES[family][variant]} g{generation}"


def conversation(family: int, variant: int, style: str, generation: int, marker: str, rng: random.Random) -> str:
    """A conversation the fake LLM turns into one knowledge dict (see :func:`fake_llm`)."""
    fillers = ",".join(rng.sample(FILLER_WORDS, 2))
    return (
        f"user: how do I handle {FAMILIES[family][0]}?\n"
        f"assistant: SPEC f={family} v={variant} s={style} g={generation} m={marker} x={fillers}\n"
    )


_SPEC = re.compile(r"SPEC f=(\d+) v=(\d+) s=(\w+) g=(\d+) m=(\S+) x=(\S+)")


def fake_llm(text: str) -> dict:
    """Deterministic llm_fn: the SPEC line of the conversation decides the answer."""
    match = _SPEC.search(text)
    if not match:
        return {"has_knowledge": False}
    family, variant, style, generation, marker, fillers = match.groups()
    family, variant, generation = int(family), int(variant), int(generation)
    body = body_words(family, variant, style, generation) + fillers.split(",")
    steps = [" ".join(body[i::3]) for i in range(3)]
    # 230 distinct values: the checker tells concurrent writes apart by the confidence in their audit entry
    confidence = 0.72 + int(hashlib.sha256(marker.encode()).hexdigest()[:6], 16) % 230 / 1000
    return {
        "has_knowledge": True,
        "title": title(family, variant, generation),
        "playbook": "\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1)) + f"\n\n{marker}",
        "examples": f"```\nrun {' '.join(body[:6])}\n```\n{marker}",
        "when_to_use": f"When {' '.join(body[6:12])} matters. {marker}",
        "confidence": round(confidence, 3),
        "dependencies": [],
    }


def register_skill(skill_id: str, marker: str, rng: random.Random) -> Skill:
    """A skill of 2-3 chunks, every chunk (and the description) carrying ``marker``."""
    chunks = [
        Chunk(id=f"{skill_id}::{i}", section=f"Part {i}", required=(i == 0),
              content=" ".join(rng.sample(REGISTER_WORDS, 20)) + f"\n{marker}")
        for i in range(rng.choice((2, 3)))
    ]
    return Skill(id=skill_id, name=skill_id.replace("-", " ").title(), description=marker, chunks=chunks)


# ---------------------------------------------------------------------- torn reads

_BLOCK = re.compile(r'<skill name="([^"]*)">\n(.*?)\n</skill>', re.S)


def torn_skill(skill: Skill) -> Optional[str]:
    """Why a skill read back is not one write's state, or None."""
    if not skill.chunks:
        return "zero chunks"
    found = set().union(*(markers(chunk.content) for chunk in skill.chunks))
    if len(found) > 1:
        return f"chunks of {len(found)} writes: {sorted(found)}"
    described = markers(skill.description)
    if described and "approved_from" not in skill.metadata and described != found:
        return f"skill row of write {sorted(described)} with chunks of {sorted(found)}"
    return None


def torn_blocks(text: str) -> list[str]:
    """Query output blocks whose chunks come from more than one write."""
    torn = []
    for skill_id, body in _BLOCK.findall(text):
        found = markers(body)
        if len(found) > 1:
            torn.append(f"{skill_id}: chunks of {len(found)} writes {sorted(found)}")
    return torn


# ---------------------------------------------------------------------- worker


class WarningTrap(logging.Handler):
    """Collects the skillvault logger's warnings (errors that extract/query swallow)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def drain(self) -> list[str]:
        messages, self.messages = self.messages, []
        return messages


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, DatabaseBusyError) or type(exc).__name__ == "OperationalError"


def is_expected_conflict(kind: str, exc: BaseException) -> bool:
    """Another worker got there first: the draft is gone or no longer a draft."""
    if kind in ("approve", "reject", "usage", "get"):
        return isinstance(exc, NotFoundError) or (isinstance(exc, ValidationError) and "is not a draft" in str(exc))
    return False


class Worker:
    """One process of the fleet: a loop of random operations until the deadline."""

    HUMAN_OPS = {"register": 14, "extract": 26, "approve": 14, "reject": 5, "query": 16, "get": 14, "usage": 10,
                 "reopen": 2}
    AGENT_OPS = {"extract": 50, "query": 50}

    def __init__(self, index: int, mode: str, db: str, log_path: str, seed: int):
        self.index, self.mode, self.db = index, mode, db
        self.name = f"w{index}"
        self.rng = random.Random(seed * 1000 + index)
        self.log = open(log_path, "a", buffering=1, encoding="utf-8")
        self.trap = WarningTrap()
        logging.getLogger("skillvault").addHandler(self.trap)
        self.counter = 0
        self.own_ids: list[str] = []
        self.known_ids: list[str] = list(SHARED_IDS)
        self.last_prompt_hash: Optional[str] = None
        self.started = time.time()
        self.sm = self.open()

    def open(self) -> SkillManager:
        return SkillManager(self.db, embed_fn=embed_a, llm_fn=self.llm, mode=self.mode)

    def llm(self, text: str) -> dict:
        self.last_prompt_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return fake_llm(text)

    def marker(self, kind: str) -> str:
        self.counter += 1
        return f"NONCE-{kind}-{self.name}-{self.counter}"

    def remember(self, skill_id: Optional[str]) -> None:
        if skill_id:
            self.known_ids.append(skill_id)
            del self.known_ids[:-200]

    def run(self, started: float, deadline: float) -> None:
        self.started = started
        ops = self.AGENT_OPS if self.mode == "agent" else self.HUMAN_OPS
        kinds, weights = list(ops), list(ops.values())
        while time.time() < deadline:
            kind = self.rng.choices(kinds, weights)[0]
            self.perform(kind, getattr(self, f"op_{kind}"))
        self.write({"op": "done", "t0": time.time()})
        self.log.close()

    def perform(self, kind: str, action: Callable[[], dict]) -> None:
        """Run one operation; log what it acknowledged or how it failed."""
        self.trap.drain()
        t0, audit_lo = time.time(), self.last_audit_id()
        try:
            record = {"outcome": "ok", **action()}
        except Exception as exc:  # classify everything; a worker never dies of an op
            outcome = ("expected" if is_expected_conflict(kind, exc)
                       else "lock" if is_lock_error(exc) else "other")
            record = {"outcome": outcome, "error": f"{type(exc).__name__}: {exc}"}
            if outcome == "other":
                record["traceback"] = traceback.format_exc(limit=-6)
        record.update(op=kind, t0=t0, t1=time.time(), lo=audit_lo, hi=self.last_audit_id())
        warnings = self.trap.drain()
        if warnings:
            record["warnings"] = warnings
        self.write(record)

    def last_audit_id(self) -> int:
        """The newest audit entry: entries of an operation fall between its before and after values."""
        return self.sm.store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit_log").fetchone()[0]

    def write(self, record: dict) -> None:
        self.log.write(json.dumps({"w": self.index, **record}) + "\n")

    # -- operations: each returns the fields to log (what was acknowledged)
    def op_register(self) -> dict:
        roll = self.rng.random()
        if roll < 0.3:
            skill_id = self.rng.choice(SHARED_IDS)
        elif roll < 0.5 and self.own_ids:
            skill_id = self.rng.choice(self.own_ids)
        else:
            skill_id = f"reg-{self.name}-{self.counter + 1}"
            self.own_ids.append(skill_id)
        marker = self.marker("r")
        skill = register_skill(skill_id, marker, self.rng)
        returned = self.sm.register(skill)
        self.remember(returned)
        return {"id": returned, "asked": skill_id, "marker": marker, "chunks": len(skill.chunks)}

    def op_extract(self) -> dict:
        family = self.rng.randrange(len(FAMILIES))
        variant = self.rng.randrange(len(FAMILIES[family]))
        style = "near" if self.rng.random() < 0.5 else "distinct"
        marker = self.marker("e")
        self.last_prompt_hash = None
        text = conversation(family, variant, style, self.generation(), marker, self.rng)
        answer = fake_llm(text)
        draft_id = self.sm.extract(text)
        self.remember(draft_id)
        return {"id": draft_id, "marker": marker, "hash": self.last_prompt_hash, "title": answer["title"],
                "style": style, "confidence": answer["confidence"]}

    def generation(self) -> int:
        return int(max(0.0, time.time() - self.started) / GENERATION_SECONDS)

    def pick_draft(self) -> Optional[Skill]:
        queue = self.sm.review_queue()
        return self.rng.choice(queue) if queue else None

    def op_approve(self) -> dict:
        draft = self.pick_draft()
        if draft is None:
            return {"id": None}
        skill_id = self.sm.approve(draft.id, reviewer=self.name)
        self.remember(skill_id)
        return {"id": skill_id, "draft": draft.id, "draft_name": draft.name, "revises": draft.revises}

    def op_reject(self) -> dict:
        draft = self.pick_draft()
        if draft is None:
            return {"draft": None}
        reason = f"stress reject {self.marker('j')}"
        self.sm.reject(draft.id, reason=reason, reviewer=self.name)
        return {"draft": draft.id, "reason": reason}

    def op_query(self) -> dict:
        family, generation = self.rng.randrange(len(FAMILIES)), self.rng.randint(0, self.generation())
        vocabulary = self.rng.choice([body_words(family, 0, "near", generation), REGISTER_WORDS])
        text = self.sm.query("how to " + " ".join(self.rng.sample(vocabulary, 4)), budget=self.rng.choice((200, 800)))
        served = [skill_id for skill_id, _body in _BLOCK.findall(text)]
        return {"served": len(served), "torn": torn_blocks(text)}

    def op_get(self) -> dict:
        skill_id = self.rng.choice(self.known_ids)
        skill = self.sm.get(skill_id)
        if skill is None:
            return {"id": skill_id, "found": False}
        problem = torn_skill(skill)
        return {"id": skill_id, "found": True, "torn": [f"{skill_id} v{skill.version}: {problem}"] if problem else []}

    def op_usage(self) -> dict:
        skill_id = self.rng.choice(self.known_ids)
        self.sm.record_usage(skill_id, helpful=self.rng.choice((True, False, None)))
        return {"id": skill_id}

    def op_reopen(self) -> dict:
        fresh = self.open()  # open first: if that fails, the old manager stays usable
        self.sm.close()
        self.sm = fresh
        return {}


def worker_main(args: argparse.Namespace) -> None:
    worker = Worker(args.worker, args.mode, args.db, args.log, args.seed)
    Path(args.log + ".ready").touch()
    go = Path(args.go)
    while not go.exists():
        time.sleep(0.05)
    started, deadline = map(float, go.read_text().split())
    worker.run(started, deadline)


# ---------------------------------------------------------------------- checker


@dataclass
class Event:
    """One audit-log entry."""

    id: int
    actor: str
    action: str
    skill_id: str
    details: dict

    def short(self) -> str:
        extra = {key: value for key, value in self.details.items() if key in ("skill", "draft", "revises") and value}
        return f"#{self.id} {self.action}({self.actor}){' ' + json.dumps(extra) if extra else ''}"


class Library:
    """Everything the checker needs from the database, read once."""

    def __init__(self, db: str):
        conn = open_raw(db)
        self.integrity = integrity_problems(conn)
        self.index = index_problems(conn)
        self.skills = {
            row[0]: {"status": row[1], "name": row[2], "flags": json.loads(row[3]), "metadata": json.loads(row[4]),
                     "extracted_from": row[5]}
            for row in conn.execute("SELECT id, status, name, flags, metadata, extracted_from FROM skills")
        }
        self.markers: set[str] = set()  # in current chunks or kept versions
        for (content,) in conn.execute("SELECT content FROM chunks"):
            self.markers |= markers(content)
        self.versions = snapshots(conn)
        self.usage = dict(conn.execute("SELECT skill_id, uses FROM usage"))
        self.events: dict[str, list[Event]] = defaultdict(list)
        for row in conn.execute("SELECT id, actor, action, skill_id, details FROM audit_log ORDER BY id"):
            self.events[row[3]].append(Event(row[0], row[1], row[2], row[3], json.loads(row[4])))
        conn.close()
        self.hashes: set[str] = set()  # conversation hashes recorded as provenance
        for skill in self.skills.values():
            self.hashes |= provenance_hashes(skill)
        for kept in self.versions.values():
            for snapshot in kept.values():
                self.hashes |= provenance_hashes(snapshot)
                for chunk in snapshot["chunks"]:
                    self.markers |= markers(chunk["content"])

    def events_after(self, skill_id: str, audit_id: int) -> list[Event]:
        return [e for e in self.events.get(skill_id, []) if e.id > audit_id]

    def trail(self, skill_id: str, ack: dict, limit: int = 8) -> str:
        """The audit entries of ``skill_id`` from the operation ``ack`` on (its own ones starred)."""
        events = self.events_after(skill_id, ack["lo"])[:limit]
        return " | ".join(("*" if e.id <= ack["hi"] else "") + e.short() for e in events) or "(no audit entries)"


_HASH = re.compile(r"sha256:([0-9a-f]{64})")


def provenance_hashes(skill: dict) -> set[str]:
    """Conversation hashes a skill (row or snapshot) records: its own and merged ones."""
    texts = [skill.get("extracted_from") or ""] + list(skill.get("metadata", {}).get("merged_from", []))
    return {match for text in texts for match in _HASH.findall(text)}


def load_logs(folder: Path) -> list[dict]:
    records = []
    for path in sorted(folder.glob("worker-*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            records.extend(json.loads(line) for line in handle if line.strip())
    return records


@dataclass
class Finding:
    """One invariant failure, with an example line for the report."""

    category: str
    detail: str


def own_events(lib: Library, ack: dict) -> list[Event]:
    """The audit entries an acknowledged operation wrote (found inside its before/after window)."""
    op, target = ack["op"], ack.get("draft") if ack["op"] in ("approve", "reject") else ack.get("id")
    if not target:
        return []
    wanted = {"extract": ("extract", "merge", "auto-promote", "flag-conflict"),
              "usage": ("auto-promote", "flag-conflict"),
              "approve": ("approve",), "reject": ("reject",)}.get(op, ())
    found = []
    for event in lib.events_after(target, ack["lo"]):
        if event.id > ack["hi"]:
            break
        if event.action not in wanted:
            continue
        if event.action in ("extract", "merge") and event.details.get("confidence") != ack["confidence"]:
            continue
        if op in ("approve", "reject") and event.actor != f"w{ack['w']}":
            continue
        found.append(event)
    return found


class Attribution:
    """Which acknowledged operation wrote each audit entry, to tell races from later changes."""

    def __init__(self, acks: list[dict], lib: Library):
        self.lib = lib
        self.op_of: dict[int, dict] = {}
        for ack in acks:
            for event in own_events(lib, ack):
                self.op_of.setdefault(event.id, ack)

    def own_write(self, ack: dict) -> Optional[Event]:
        """The write of an extraction/approval/rejection itself (not the auto-promotion check after it).

        Matched by id, window and confidence; if two writes in the window match, the
        last one (the operation writes last, then checks auto-promotion) is taken.
        """
        writes = [e for e in own_events(self.lib, ack) if e.action in ("extract", "merge", "approve", "reject")]
        return writes[-1] if writes else None

    def what_undid(self, skill_id: str, own: Optional[Event], ack: dict) -> str:
        """Explain the first later write to ``skill_id`` that can have undone ``own``.

        A write whose operation began before ``own`` committed may have read the skill
        without it (a race); a later ``extract`` of the id overwrites whatever is there.
        Content survives merges and approvals that read it, so for an extraction only
        racing writes count; a rejection is also undone by any later status change.
        """
        start = own.id if own else ack["hi"]
        relevant = STATUS_WRITES if ack["op"] == "reject" else CONTENT_WRITES
        state = "rejected" if ack["op"] == "reject" else "draft"
        for event in self.lib.events_after(skill_id, start):
            other = self.op_of.get(event.id)
            if event.action in relevant and other is not ack:
                if other is not None and other["lo"] < start:
                    return f"a concurrent {event.action} (started before this write committed)"
                if event.action == "extract":
                    return f"a later extraction of the same id (overwrote the {STATE_NAMES[state]})"
                if ack["op"] == "reject":
                    return f"a later {event.action}"
            state = {"reject": "rejected", "approve": "approved", "auto-promote": "approved"}.get(event.action, state)
        return "unexplained"


STATE_NAMES = {"draft": "live draft", "rejected": "rejected draft", "approved": "draft id after its approval"}
CONTENT_WRITES = ("merge", "extract", "approve", "auto-promote")
STATUS_WRITES = CONTENT_WRITES + ("flag-conflict", "reject")


def lost_registers(acks: list[dict], lib: Library) -> list[Finding]:
    found = []
    for ack in acks:
        kept = lib.versions.get(ack["id"], {})
        if not any(len(v["chunks"]) == ack["chunks"] and all(markers(c["content"]) == {ack["marker"]} for c in v["chunks"])
                   for v in kept.values()):
            found.append(Finding("register: no kept version has the content",
                                 f"w{ack['w']} register {ack['id']} {ack['marker']} (versions {sorted(kept)}); "
                                 f"audit: {lib.trail(ack['id'], ack)}"))
    return found


def merges_on_draft_after(lib: Library, draft_id: str, audit_id: int) -> int:
    """Merges into a draft after an audit entry, until it is approved (a kept version) or overwritten."""
    count = 0
    for event in lib.events_after(draft_id, audit_id):
        if event.action in ("approve", "auto-promote", "extract"):
            break
        count += event.action == "merge"
    return count


def lost_extracts(acks: list[dict], lib: Library, who: Attribution) -> tuple[list[Finding], int]:
    """Acknowledged drafts whose content and provenance are both gone."""
    found, unverifiable = [], 0
    for ack in acks:
        if ack["marker"] in lib.markers or (ack["hash"] and ack["hash"] in lib.hashes):
            continue
        own = who.own_write(ack)
        if merges_on_draft_after(lib, ack["id"], own.id if own else ack["lo"]) >= MAX_MERGE_SOURCES - 1:
            unverifiable += 1  # its hash may have fallen off the end of merged_from
            continue
        how = own.action if own else "no audit entry of its own"
        found.append(Finding(f"extract undone by {who.what_undid(ack['id'], own, ack)}",
                             f"w{ack['w']} extract '{ack['title']}' ({ack['style']}, {how}) -> {ack['id']} "
                             f"{ack['marker']}; audit: {lib.trail(ack['id'], ack)}"))
    return found, unverifiable


def lost_approvals(acks: list[dict], lib: Library) -> list[Finding]:
    found = []
    for ack in acks:
        kept = lib.versions.get(ack["id"], {})
        if not any(v.get("metadata", {}).get("approved_from") == ack["draft"] for v in kept.values()):
            found.append(Finding("approve: no kept version was approved from the draft",
                                 f"w{ack['w']} approve {ack['draft']} -> {ack['id']}; audit: {lib.trail(ack['id'], ack)}"))
    return found


def lost_rejections(acks: list[dict], lib: Library, who: Attribution) -> list[Finding]:
    """Acknowledged rejections whose ``rejected: <reason>`` flag is on no skill any more."""
    flagged = {flag for skill in lib.skills.values() for flag in skill["flags"]}
    found = []
    for ack in acks:
        if f"rejected: {ack['reason']}" in flagged:
            continue
        cause = who.what_undid(ack["draft"], who.own_write(ack), ack)
        found.append(Finding(f"reject undone by {cause}", f"w{ack['w']} reject {ack['draft']} ({ack['reason']}); "
                             f"audit: {lib.trail(ack['draft'], ack)}"))
    return found


def lost_usage(acks: list[dict], lib: Library) -> list[Finding]:
    counts = Counter(ack["id"] for ack in acks)
    return [Finding("record_usage: count below acknowledged uses",
                    f"{skill_id}: {count} acknowledged uses, {lib.usage.get(skill_id, 0)} counted")
            for skill_id, count in counts.items() if lib.usage.get(skill_id, 0) < count]


def duplicate_draft_ids(lib: Library) -> list[Finding]:
    """Replay the audit log: an ``extract`` that writes a draft id that is a live draft."""
    found = []
    for skill_id, events in lib.events.items():
        if not skill_id.startswith("draft::"):
            continue
        state = "absent"
        for index, event in enumerate(events):
            if event.action == "extract" and state == "draft":
                trail = " | ".join(e.short() for e in events[max(0, index - 3): index + 1])
                found.append(Finding("two extractions wrote the same draft id", f"{skill_id}: {trail}"))
            state = {"extract": "draft", "merge": "draft" if state == "absent" else state, "reject": "rejected",
                     "approve": "absent", "auto-promote": "absent", "expire": "archived"}.get(event.action, state)
    return found


def canonical_collisions(lib: Library) -> list[Finding]:
    """Consecutive versions of one canonical id with different names: an id was reused.

    Drafts keep versions too (the text a merge replaced), and a merge may bring a title
    that slugs alike; only non-draft ids are checked.
    """
    found = []
    for skill_id, kept in lib.versions.items():
        if skill_id.startswith("draft::"):
            continue
        numbers = sorted(kept)
        for before, after in zip(numbers, numbers[1:]):
            old, new = kept[before], kept[after]
            if old["name"] != new["name"]:
                found.append(Finding("an approval reused a canonical id",
                                     f"{skill_id}: v{before} '{old['name']}' (from {old['metadata'].get('approved_from')})"
                                     f" replaced by v{after} '{new['name']}' (from {new['metadata'].get('approved_from')})"))
    return found


def swallowed(records: list[dict]) -> tuple[Counter, list[Finding]]:
    """Warnings logged by extract/query for errors they did not raise."""
    busy, others = Counter(), []
    for record in records:
        for message in record.get("warnings", []):
            kind = "extract" if message.startswith("extract") else "query" if message.startswith("query") else "other"
            if "DatabaseBusyError" in message or "locked" in message or "busy" in message:
                busy[kind] += 1
            elif not message.startswith("extract: dropped dependencies"):
                error = re.search(r"\((\w+Error)", message)
                category = f"swallowed by {kind}: {error.group(1) if error else message[:60]}"
                others.append(Finding(category, f"w{record['w']} {record['op']}: {message}"))
    return busy, others


def percentile(values: list[float], fraction: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else 0.0


def check(folder: Path, db: str, workers: int, duration: float) -> int:
    """Check the library against the logs, print the figures; return the exit code."""
    records = load_logs(folder)
    lib = Library(db)
    ops = [r for r in records if r["op"] != "done"]
    ok = [r for r in ops if r["outcome"] == "ok"]
    finished = {r["w"] for r in records if r["op"] == "done"}

    def acks(kind: str, key: str = "id") -> list[dict]:
        return [r for r in ok if r["op"] == kind and r.get(key)]

    who = Attribution([r for r in ok if r["op"] in ("extract", "approve", "reject", "usage")], lib)
    extracts, unverifiable = lost_extracts(acks("extract"), lib, who)
    busy_swallowed, other_swallowed = swallowed(ops)
    torn = [Finding(f"torn {r['op']}", f"w{r['w']} {t}") for r in ok for t in r.get("torn", [])]
    failures = {
        "lost register": lost_registers(acks("register"), lib),
        "lost extract": extracts,
        "lost approve": lost_approvals(acks("approve"), lib),
        "lost reject": lost_rejections(acks("reject", "draft"), lib, who),
        "lost record_usage": lost_usage(acks("usage"), lib),
        "duplicate draft ids": duplicate_draft_ids(lib),
        "canonical id reused": canonical_collisions(lib),
        "lock errors reaching a caller": [Finding("lock error", f"w{r['w']} {r['op']}: {r['error']}")
                                          for r in ops if r["outcome"] == "lock"],
        "other exceptions reaching a caller": [Finding(f"{r['op']}: {r['error'].split(':')[0]}",
                                                       f"w{r['w']} {r['error']}\n{r.get('traceback', '')}")
                                               for r in ops if r["outcome"] == "other"],
        "errors swallowed by extract/query (not busy)": other_swallowed,
        "torn reads (get)": [t for t in torn if t.category == "torn get"],
        "torn reads (query)": [t for t in torn if t.category == "torn query"],
        "integrity_check": [Finding("integrity", p) for p in lib.integrity],
        "index consistency": [Finding("index", p) for p in lib.index],
        "workers that did not finish": [Finding("worker", f"w{i}") for i in range(workers) if i not in finished],
    }
    print_op_table(ops, duration, workers)
    rows = [[name, len(items)] for name, items in failures.items()]
    rows += [["(figure) busy errors swallowed by extract", busy_swallowed["extract"]],
             ["(figure) usage counts dropped by query (busy)", busy_swallowed["query"]],
             ["(figure) extractions unverifiable (merge history cut)", unverifiable]]
    print_table("Invariants (0 = holds)", ["invariant", "count"], rows)
    print_library_figures(lib)
    for name, items in failures.items():
        print_findings(name, items)
    failed = [name for name, items in failures.items() if items]
    print(f"\nRESULT: {'FAIL: ' + ', '.join(failed) if failed else 'PASS'}")
    return 1 if failed else 0


def print_op_table(ops: list[dict], duration: float, workers: int) -> None:
    rows = []
    for kind in sorted({r["op"] for r in ops}):
        mine = [r for r in ops if r["op"] == kind]
        outcomes = Counter(r["outcome"] for r in mine)
        ms = [1000 * (r["t1"] - r["t0"]) for r in mine]
        rows.append([kind, len(mine), outcomes["ok"], outcomes["expected"], outcomes["lock"], outcomes["other"],
                     f"{percentile(ms, 0.5):.1f}", f"{percentile(ms, 0.99):.0f}", f"{max(ms):.0f}"])
    print_table(f"Operations ({workers} processes, {duration:.0f} s, {len(ops)} ops, {len(ops) / duration:.0f} ops/s)",
                ["op", "count", "ok", "conflict", "lock err", "other err", "p50 ms", "p99 ms", "max ms"], rows)


def print_library_figures(lib: Library) -> None:
    statuses = Counter(skill["status"] for skill in lib.skills.values())
    merges = sum(1 for events in lib.events.values() for e in events if e.action == "merge")
    promoted = sum(1 for events in lib.events.values() for e in events if e.action == "auto-promote"
                   and not e.skill_id.startswith("draft::"))
    versions = sum(len(kept) for kept in lib.versions.values())
    print(f"\nLibrary: {dict(statuses)}; {versions} kept versions; {merges} merges; {promoted} auto-promotions")


def print_findings(name: str, items: list[Finding], limit: int = 4) -> None:
    if not items:
        return
    print(f"\n{name}: {len(items)}")
    for category, count in Counter(item.category for item in items).most_common():
        print(f"  {count:5d}  {category}")
        for item in [i for i in items if i.category == category][:limit]:
            print(f"         e.g. {item.detail}")


# ---------------------------------------------------------------------- parent


def create_library(db: str) -> None:
    """Create the file (human mode, so agents can open it) with the shared ids' first versions."""
    rng = random.Random(0)
    with SkillManager(db, embed_fn=embed_a) as sm:
        for number, skill_id in enumerate(SHARED_IDS):
            sm.register(register_skill(skill_id, f"NONCE-s-p-{number}", rng))


def launch(args: argparse.Namespace, folder: Path, db: str) -> list[subprocess.Popen]:
    go = folder / "go"
    workers = []
    for index in range(args.workers):
        mode = "agent" if index >= args.workers - args.agents else "human"
        log = folder / f"worker-{index}.jsonl"
        command = [sys.executable, __file__, "--worker", str(index), "--mode", mode, "--db", db,
                   "--log", str(log), "--go", str(go), "--seed", str(args.seed)]
        stderr = open(folder / f"worker-{index}.stderr", "w")
        workers.append(subprocess.Popen(command, stdout=stderr, stderr=subprocess.STDOUT))
    return workers


def wait_ready(folder: Path, workers: list[subprocess.Popen], timeout: float = 120) -> None:
    limit = time.time() + timeout
    while sum(1 for _ in folder.glob("worker-*.jsonl.ready")) < len(workers):
        if time.time() > limit or any(w.poll() is not None for w in workers):
            raise SystemExit(f"workers failed to start; see {folder}/worker-*.stderr")
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8, help="processes (default 8)")
    parser.add_argument("--agents", type=int, default=2, help="how many of them run in agent mode (default 2)")
    parser.add_argument("--seconds", type=float, default=120, help="how long they run (default 120)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="working folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (db + logs)")
    parser.add_argument("--check-only", action="store_true", help="only re-run the checker on --dir")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    for hidden in ("--mode", "--db", "--log", "--go"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker_main(args)
        return 0
    folder = Path(args.dir or tempfile.mkdtemp(prefix="skillvault-fleet-"))
    db = str(folder / "fleet.db")
    if args.check_only:
        run = json.loads((folder / "run.json").read_text())
        return check(folder, db, run["workers"], run["seconds"])
    if Path(db).exists():
        raise SystemExit(f"{db} exists: give a new --dir, or --check-only to check it again")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(json.dumps(vars(args)))
    create_library(db)
    workers = launch(args, folder, db)
    wait_ready(folder, workers)
    started = time.time()
    (folder / "go.tmp").write_text(f"{started} {started + args.seconds}")
    (folder / "go.tmp").rename(folder / "go")  # atomically: workers read it as soon as it exists
    for worker in workers:
        try:
            worker.wait(timeout=max(1.0, started + args.seconds + 120 - time.time()))
        except subprocess.TimeoutExpired:
            worker.kill()  # hung past the deadline: reported as "did not finish"
    print(f"fleet: {args.workers} processes ({args.agents} agent), {args.seconds:.0f} s "
          f"(all finished after {time.time() - started:.0f} s), folder {folder}")
    code = check(folder, db, args.workers, args.seconds)
    if not args.keep and not args.dir:
        shutil.rmtree(folder, ignore_errors=True)
        print("(working folder removed; --keep or --dir keeps the database and the worker logs)")
    return code


if __name__ == "__main__":
    sys.exit(main())
