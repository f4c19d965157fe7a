"""Crash stress: ``kill -9`` a writing process at random moments, then check the library.

Run (2-core machine):

    PYTHONPATH=src python stress/kill9.py                # 24 kills, 8 per operation
    PYTHONPATH=src python stress/kill9.py --kills 6 --keep

Each round starts a child process that loops over one write operation and kills it
with SIGKILL after a random delay (uniform over about two operations' time):

* ``import``  — ``sm.import_`` of JSON files of a few hundred new skills (``--skills``);
* ``reindex`` — ``skillvault.reindex`` switching between two embedders of the same width;
* ``approve`` — ``sm.approve`` of the oldest draft, over and over (the parent extracts
  new drafts with a fake ``llm_fn`` when fewer than 40 are left).

The child notes on a progress file when each operation starts and returns, so the
parent knows what was acknowledged and what was in flight. After each kill the parent
opens the library and checks:

* ``PRAGMA integrity_check`` and ``foreign_key_check`` (**corruption**);
* **partial skills**: every skill has exactly the chunks that were written for it
  (contents compared with what the parent or the child wrote), an import is all or
  nothing, a draft is either still a draft or approved (never both, never neither);
* **index consistency**: every non-draft chunk has exactly one matching FTS row and one
  vector, drafts none, no stray rows; and all vectors (a sample of 300) come from one
  embedder — the one the last acknowledged reindex switched to, or its predecessor;
* **lost acknowledged writes**: what the child saw return is in the library;
* the library still **accepts a write and a query** (register a probe skill, find it).

It prints a table per operation and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import EMBEDDERS, index_problems, integrity_problems, open_raw, print_table  # noqa: E402

import skillvault  # noqa: E402
from skillvault import SkillManager  # noqa: E402
from skillvault.embed.service import embedding_text  # noqa: E402
from skillvault.formats.json_format import dump_library  # noqa: E402
from skillvault.models import Chunk, Skill  # noqa: E402
from skillvault.tokens import count_tokens  # noqa: E402

OPERATIONS = ("import", "reindex", "approve")
MIN_DRAFTS = 40
VECTOR_SAMPLE = 300

# ---------------------------------------------------------------------- content


def words(prefix: str, count: int, rng: random.Random) -> str:
    return " ".join(f"{prefix}{rng.randrange(10_000)}" for _ in range(count))


def import_batch(round_: int, batch: int, size: int) -> list[Skill]:
    """The skills of import file ``batch`` of kill round ``round_`` (deterministic)."""
    rng = random.Random(round_ * 1000 + batch)
    skills = []
    for number in range(size):
        skill_id = f"imp-{round_}-{batch}-{number}"
        chunks = [Chunk(id=f"{skill_id}::{part}", section=f"Part {part}", content=words("iw", 25, rng))
                  for part in range(2)]
        skills.append(Skill(id=skill_id, name=f"Imported {round_} {batch} {number}", chunks=chunks))
    return skills


def base_skills() -> list[Skill]:
    rng = random.Random(7)
    return [Skill(id=f"base-{n}", name=f"Base skill {n}",
                  chunks=[Chunk(id=f"base-{n}::{p}", section=f"Step {p}", content=words("bw", 30, rng))
                          for p in range(3)])
            for n in range(30)]


def draft_llm(text: str) -> dict:
    """Fake llm_fn for drafts: ``DRAFT <n>`` in the text gives a title and words of their own."""
    number = int(text.split("DRAFT ")[1].split()[0])
    rng = random.Random(number)
    return {"has_knowledge": True, "title": f"Kill Draft {number}", "confidence": 0.8,
            "playbook": "1. " + words(f"d{number}x", 12, rng) + "\n2. " + words(f"d{number}y", 12, rng),
            "examples": "```\n" + words(f"d{number}z", 8, rng) + "\n```",
            "when_to_use": "When " + words(f"d{number}w", 10, rng)}


# ---------------------------------------------------------------------- children


class Progress:
    """Append-only lines ``<time> <event> <args...>``; survives the writer's SIGKILL."""

    def __init__(self, path: Path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def note(self, *parts: object) -> None:
        os.write(self.fd, (" ".join(str(p) for p in (f"{time.time():.6f}", *parts)) + "\n").encode())


def warmed_up(args: argparse.Namespace) -> SkillManager:
    """Open the library and pay the one-off costs (tokenizer, vectors) before the clock starts."""
    sm = SkillManager(args.db, embed_fn=EMBEDDERS[args.embed])
    sm.query("warm up the vector matrix", budget=50)
    count_tokens("warm up the tokenizer")
    return sm


def child_import(args: argparse.Namespace, progress: Progress) -> None:
    sm = warmed_up(args)
    progress.note("ready")
    for batch in range(1_000):
        path = Path(args.folder) / f"import-{args.round}-{batch}.json"
        path.write_text(dump_library(import_batch(args.round, batch, args.skills)), encoding="utf-8")
        progress.note("start", batch)
        sm.import_(path)
        progress.note("done", batch)


def child_reindex(args: argparse.Namespace, progress: Progress) -> None:
    current = args.embed
    progress.note("ready")
    while True:
        target = "b" if current == "a" else "a"
        progress.note("start", target)
        skillvault.reindex(args.db, embed_fn=EMBEDDERS[target])
        progress.note("done", target)
        current = target


def child_approve(args: argparse.Namespace, progress: Progress) -> None:
    sm = warmed_up(args)
    progress.note("ready")
    while True:
        queue = sm.review_queue()
        if not queue:
            progress.note("idle")
            time.sleep(0.05)
            continue
        draft = queue[-1]
        progress.note("start", draft.id)
        skill_id = sm.approve(draft.id)
        progress.note("done", draft.id, skill_id)


CHILDREN = {"import": child_import, "reindex": child_reindex, "approve": child_approve}


# ---------------------------------------------------------------------- parent state


@dataclass
class Expected:
    """What the library should hold: chunk contents per skill id, drafts by title."""

    skills: dict[str, list[str]] = field(default_factory=dict)
    drafts: dict[str, list[str]] = field(default_factory=dict)  # draft id -> contents
    imports: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # started files -> ids
    per_file: int = 300
    embed: str = "a"
    next_draft: int = 0
    probes: int = 0


def create_library(db: str, expected: Expected) -> None:
    with SkillManager(db, embed_fn=EMBEDDERS["a"]) as sm:
        for skill in base_skills():
            sm.register(skill)
            expected.skills[skill.id] = [chunk.content for chunk in skill.chunks]


def top_up_drafts(db: str, expected: Expected) -> None:
    """Extract drafts (in the parent, not killed) until MIN_DRAFTS are waiting."""
    with SkillManager(db, embed_fn=EMBEDDERS[expected.embed], llm_fn=draft_llm, auto_promote=None) as sm:
        waiting = len(sm.review_queue())
        while waiting < MIN_DRAFTS:
            draft_id = sm.extract(f"user: help\nassistant: DRAFT {expected.next_draft} done")
            expected.next_draft += 1
            if draft_id is None or draft_id in expected.drafts:
                raise SystemExit(f"setup: extraction of draft {expected.next_draft - 1} gave {draft_id!r}")
            expected.drafts[draft_id] = [chunk.content for chunk in sm.get(draft_id).chunks]
            waiting += 1


# ---------------------------------------------------------------------- one round


@dataclass
class Round:
    """One kill: what was running, and what the checks found."""

    number: int
    operation: str
    delay: float
    events: list[tuple[float, str, list[str]]] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    in_flight: Optional[list[str]] = None
    committed: Optional[bool] = None
    early_exit: str = ""

    def acknowledged(self) -> list[list[str]]:
        return [args for _t, event, args in self.events if event == "done"]

    def durations(self) -> list[float]:
        starts, spans = {}, []
        for moment, event, args in self.events:
            if event == "start":
                starts[tuple(args)] = moment
            elif event == "done" and tuple(args[:1]) in starts:
                spans.append(moment - starts[tuple(args[:1])])
        return spans


def run_child(round_: Round, args: argparse.Namespace, folder: Path, db: str, expected: Expected) -> None:
    """Start the child, wait until it is ready, SIGKILL it after ``round_.delay`` seconds."""
    progress = folder / f"progress-{round_.number}.txt"
    stderr = open(folder / f"child-{round_.number}.stderr", "w")
    command = [sys.executable, __file__, "--child", round_.operation, "--db", db, "--embed", expected.embed,
               "--round", str(round_.number), "--progress", str(progress), "--folder", str(folder),
               "--skills", str(args.skills)]
    child = subprocess.Popen(command, stdout=stderr, stderr=subprocess.STDOUT)
    limit, ready = time.time() + 120, None
    while ready is None and child.poll() is None and time.time() < limit:
        lines = progress.read_text().split("\n") if progress.exists() else []
        ready = next((float(line.split()[0]) for line in lines if line.endswith(" ready")), None)
        time.sleep(0.002)
    time.sleep(max(0.0, (ready or time.time()) + round_.delay - time.time()))  # the delay counts from "ready"
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    else:
        round_.early_exit = f"child exited with {child.returncode} before the kill; see {stderr.name}"
    child.wait()
    stderr.close()
    if progress.exists():
        for line in progress.read_text().splitlines():
            moment, event, *rest = line.split()
            round_.events.append((float(moment), event, rest))
    for _t, event, rest in round_.events:
        if event in ("start", "done"):
            round_.in_flight = rest if event == "start" else None


# ---------------------------------------------------------------------- checks


def chunk_contents(conn) -> dict[str, tuple[str, list[str]]]:
    """``{skill id: (status, [chunk contents in order])}`` as stored."""
    skills = {row[0]: (row[1], []) for row in conn.execute("SELECT id, status FROM skills")}
    for skill_id, content in conn.execute("SELECT skill_id, content FROM chunks ORDER BY skill_id, position"):
        if skill_id in skills:
            skills[skill_id][1].append(content)
    return skills


def approved_from(conn) -> dict[str, str]:
    """``{draft id: canonical id}`` for every skill approved from a draft."""
    return {json.loads(meta).get("approved_from"): skill_id
            for skill_id, meta in conn.execute("SELECT id, metadata FROM skills WHERE status = 'canonical'")
            if json.loads(meta).get("approved_from")}


def check_imports(round_: Round, stored: dict, expected: Expected) -> None:
    if round_.operation == "import":
        for _t, event, rest in round_.events:
            if event == "start":
                batch = int(rest[0])
                skills = import_batch(round_.number, batch, expected.per_file)
                expected.imports[(round_.number, batch)] = [s.id for s in skills]
                for skill in skills:
                    expected.skills[skill.id] = [c.content for c in skill.chunks]
    done = {(round_.number, int(args[0])) for args in round_.acknowledged()} if round_.operation == "import" else set()
    for key, ids in expected.imports.items():
        present = sum(1 for skill_id in ids if skill_id in stored)
        if 0 < present < len(ids):
            round_.problems["partial skills"].append(f"import file {key}: {present} of {len(ids)} skills present")
        if key in done and present < len(ids):
            round_.problems["lost acknowledged"].append(f"import file {key} returned but {present} of {len(ids)} present")
        if round_.operation == "import" and round_.in_flight and key == (round_.number, int(round_.in_flight[0])):
            round_.committed = present == len(ids)


def check_skills(round_: Round, stored: dict, approved: set[str], expected: Expected) -> None:
    """Every stored skill has exactly the chunks written for it (approved ones: see check_drafts)."""
    for skill_id, (status, contents) in stored.items():
        if not contents:
            round_.problems["partial skills"].append(f"{skill_id}: no chunks")
            continue
        if skill_id in approved:
            continue
        wanted = expected.skills.get(skill_id) or expected.drafts.get(skill_id)
        if wanted is None:
            round_.problems["partial skills"].append(f"{skill_id}: a skill nobody wrote ({status})")
        elif contents != wanted:
            round_.problems["partial skills"].append(
                f"{skill_id}: {len(contents)} chunks stored, {len(wanted)} written"
                + ("" if len(contents) != len(wanted) else " (contents differ)"))


def check_drafts(round_: Round, stored: dict, canonical_of: dict[str, str], expected: Expected) -> None:
    """Each draft is either still a draft or approved (once), with all its chunks."""
    done = {args[0] for args in round_.acknowledged()} if round_.operation == "approve" else set()
    for draft_id, contents in expected.drafts.items():
        as_draft = draft_id in stored and stored[draft_id][0] == "draft"
        canonical = canonical_of.get(draft_id)
        if as_draft and canonical:
            round_.problems["partial skills"].append(f"{draft_id}: both a draft and approved as {canonical}")
        elif not as_draft and not canonical:
            round_.problems["lost acknowledged"].append(f"{draft_id}: neither a draft nor approved")
        elif canonical and stored[canonical][1] != contents:
            round_.problems["partial skills"].append(f"{canonical} (from {draft_id}): chunks differ from the draft's")
        if draft_id in done and not canonical:
            round_.problems["lost acknowledged"].append(f"approve {draft_id} returned but it is not canonical")
        if round_.operation == "approve" and round_.in_flight and round_.in_flight[0] == draft_id:
            round_.committed = bool(canonical)


def vector_embedder(conn, sample: int = VECTOR_SAMPLE) -> Counter:
    """Which embedder made the stored vectors of a sample of chunks: ``{"a": n, "b": m, "?": k}``."""
    rows = conn.execute(
        "SELECT c.pk, s.name, s.status, c.section, c.content FROM chunks c JOIN skills s ON s.id = c.skill_id "
        "ORDER BY random() LIMIT ?", (sample,)).fetchall()
    found = Counter()
    for pk, name, status, section, content in rows:
        table, key = ("draft_vectors", "chunk_pk") if status == "draft" else ("chunk_vec", "rowid")
        row = conn.execute(f"SELECT embedding FROM {table} WHERE {key} = ?", (pk,)).fetchone()
        if row is None:
            found["missing"] += 1
            continue
        stored = np.frombuffer(row[0], dtype=np.float32)
        text = embedding_text(name, Chunk(id="x::y", section=section, content=content))
        for label, embed in EMBEDDERS.items():
            vector = np.asarray(embed(text), dtype=np.float32)
            if stored.shape == vector.shape and float(stored @ vector) / float(np.linalg.norm(vector)) > 0.999:
                found[label] += 1
                break
        else:
            found["?"] += 1
    return found


def check_vectors(round_: Round, conn, expected: Expected) -> None:
    found = vector_embedder(conn)
    makers = [label for label in found if label in EMBEDDERS]
    if len(found) != 1 or not makers:
        round_.problems["index inconsistencies"].append(f"vectors of a sample come from {dict(found)}")
        return
    before, expected.embed = expected.embed, makers[0]
    if round_.operation != "reindex":
        if expected.embed != before:
            round_.problems["index inconsistencies"].append(f"vectors switched from {before} to {expected.embed}")
        return
    switched = [args[0] for args in round_.acknowledged()]
    if round_.in_flight:
        round_.committed = expected.embed == round_.in_flight[0]
    if switched and switched[-1] != expected.embed and not round_.committed:
        round_.problems["lost acknowledged"].append(f"reindex to {switched[-1]} returned, vectors are {expected.embed}")


def check_probe(round_: Round, db: str, expected: Expected) -> None:
    """The library still takes a write and answers a query that finds it."""
    expected.probes += 1
    skill_id = f"probe-{expected.probes}"
    text = f"probe{expected.probes} zebra quartz lantern"
    try:
        with SkillManager(db, embed_fn=EMBEDDERS[expected.embed]) as sm:
            sm.register(Skill(id=skill_id, name=f"Probe {expected.probes}", chunks=[Chunk(id=f"{skill_id}::0",
                                                                                        content=text)]))
            expected.skills[skill_id] = [text]
            if f'<skill name="{skill_id}">' not in sm.query(text, budget=500):
                round_.problems["write/query failed"].append(f"query did not find {skill_id}")
    except Exception as exc:  # any failure to write or read after the crash is the finding
        round_.problems["write/query failed"].append(f"{type(exc).__name__}: {exc}")


def check(round_: Round, db: str, expected: Expected) -> None:
    conn = open_raw(db)
    try:
        round_.problems["corruption"] += integrity_problems(conn)
        round_.problems["index inconsistencies"] += index_problems(conn)
        stored, canonical_of = chunk_contents(conn), approved_from(conn)
        check_imports(round_, stored, expected)
        check_skills(round_, stored, set(canonical_of.values()), expected)
        check_drafts(round_, stored, canonical_of, expected)
        check_vectors(round_, conn, expected)
    finally:
        conn.close()
    check_probe(round_, db, expected)


# ---------------------------------------------------------------------- report

COLUMNS = ["corruption", "partial skills", "index inconsistencies", "lost acknowledged", "write/query failed"]


def report(rounds: list[Round], seconds: float) -> int:
    rows = []
    for operation in OPERATIONS:
        mine = [r for r in rounds if r.operation == operation]
        if not mine:
            continue
        in_flight = [r for r in mine if r.in_flight]
        rows.append([operation, len(mine), len(in_flight), sum(1 for r in in_flight if r.committed),
                     sum(len(r.acknowledged()) for r in mine), sum(1 for r in mine if r.early_exit)]
                    + [sum(len(r.problems[c]) for r in mine) for c in COLUMNS])
    print_table(f"kill -9 rounds ({len(rounds)} kills, {seconds:.0f} s)",
                ["operation", "kills", "in flight", "of which committed", "acknowledged", "early exit"] + COLUMNS,
                rows)
    failed = 0
    for round_ in rounds:
        issues = [(c, p) for c in COLUMNS for p in round_.problems[c]]
        if round_.early_exit:
            issues.append(("early exit", round_.early_exit))
        failed += len(issues)
        for column, problem in issues[:5]:
            print(f"  round {round_.number} ({round_.operation}, killed after {round_.delay:.2f} s): {column}: {problem}")
    print(f"\nRESULT: {'FAIL' if failed else 'PASS'} ({failed} problem(s))")
    return 1 if failed else 0


# ---------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=24, help="how many kill -9 rounds (default 24)")
    parser.add_argument("--skills", type=int, default=300, help="skills per import file (default 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="working folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    for hidden in ("--child", "--db", "--embed", "--round", "--progress", "--folder"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.round = int(args.round)
        CHILDREN[args.child](args, Progress(Path(args.progress)))
        return 0
    folder = Path(args.dir or tempfile.mkdtemp(prefix="skillvault-kill9-"))
    db = str(folder / "kill9.db")
    if Path(db).exists():
        raise SystemExit(f"{db} exists: give a new --dir")
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    expected = Expected(per_file=args.skills)
    started = time.time()
    create_library(db, expected)
    typical = {"import": 2.0, "reindex": 2.0, "approve": 0.05}  # seconds per operation, learnt as we go
    rounds = []
    for number in range(args.kills):
        operation = OPERATIONS[number % len(OPERATIONS)]
        if operation == "approve":
            top_up_drafts(db, expected)
        round_ = Round(number, operation, delay=rng.uniform(0, 2 * typical[operation]))
        run_child(round_, args, folder, db, expected)
        check(round_, db, expected)
        spans = round_.durations()
        if spans:
            typical[operation] = float(np.median(spans))
        elif not round_.acknowledged():
            typical[operation] = min(10.0, typical[operation] * 1.5)  # the kill keeps landing in the first one
        rounds.append(round_)
        print(f"round {number:2d} {operation:8s} killed after {round_.delay:5.2f} s: "
              f"{len(round_.acknowledged())} acknowledged, in flight: {' '.join(round_.in_flight or ['-'])}"
              f"{' (committed)' if round_.committed else ' (rolled back)' if round_.in_flight else ''}; "
              f"problems: {sum(len(p) for p in round_.problems.values())}", flush=True)
    code = report(rounds, time.time() - started)
    if not args.keep and not args.dir:
        shutil.rmtree(folder, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
