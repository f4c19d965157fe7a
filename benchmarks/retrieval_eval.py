"""Which skill does a task call for? skillvault against three baselines, on public skills.

Usage::

    python benchmarks/retrieval_eval.py SKILLS_DIR [--cases benchmarks/retrieval_cases.yaml] [--db PATH]

``SKILLS_DIR`` holds one folder per Agent Skill (``<name>/SKILL.md`` + bundled files),
e.g. the skills of anthropics/skills, K-Dense-AI/claude-scientific-skills and
obra/superpowers copied side by side. ``--db`` keeps the imported library between runs
(import embeds every chunk; it is reused when it exists).

Systems, all on the same library and the same local embedder:

* ``bm25-skill``: FTS5 BM25 (porter) over each whole SKILL.md (name, description, body);
* ``cos-card``: cosine of the task to the embedding of ``name + description``;
* ``rrf-3``: plain RRF (k=60) of card cosine, best chunk cosine and ``bm25-skill``;
* ``skillvault``: ``SkillManager.search_skills`` (skills it finds irrelevant count as misses).

A case is **keyword-free** when its task shares no distinctive word (porter stem, not a
stop word, in under 10% of the skills' cards) with the expected skill's name or
description; this is computed here, not declared in the cases file.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

from skillvault import SkillManager
from skillvault.retrieval.lexical import STOPWORDS, match_expression, query_terms
from skillvault.store.cards import card_fields

HERE = Path(__file__).parent
DEPTH = 10


def load_library(skills_dir: Path, db: str) -> SkillManager:
    fresh = not os.path.exists(db)
    sm = SkillManager(db_path=db)
    if not fresh:
        return sm
    print(f"importing {skills_dir} ...", file=sys.stderr)
    report = sm.import_report(skills_dir)  # readers accept over-long descriptions (with a warning)
    print(f"imported {len(report.ids)} skills, skipped {len(report.skipped)}", file=sys.stderr)
    return sm


class Stemmer:
    """Porter stems exactly as FTS5 makes them (an in-memory FTS5 table + fts5vocab)."""

    def __init__(self):
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61 remove_diacritics 2')")
        self.conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")

    def stems(self, text: str) -> set[str]:
        words = " ".join(w for w in re.findall(r"\w+", text.lower()) if w not in STOPWORDS and len(w) > 2)
        self.conn.execute("DELETE FROM t")
        self.conn.execute("INSERT INTO t(x) VALUES (?)", (words,))
        return {row[0] for row in self.conn.execute("SELECT term FROM v")}


class WholeSkillBM25:
    def __init__(self, skills):
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute("CREATE VIRTUAL TABLE s USING fts5(name, description, body, "
                          "tokenize='porter unicode61 remove_diacritics 2')")
        self.ids = []
        for skill in skills:
            body = "\n".join(f"{c.section}\n{c.content}" for c in skill.chunks)
            self.conn.execute("INSERT INTO s(rowid, name, description, body) VALUES (?,?,?,?)",
                              (len(self.ids) + 1, skill.name, skill.description, body))
            self.ids.append(skill.id)

    def rank(self, text: str) -> list[str]:
        match = match_expression(query_terms(text))
        if not match:
            return []
        rows = self.conn.execute("SELECT rowid FROM s WHERE s MATCH ? ORDER BY bm25(s) LIMIT 200", (match,)).fetchall()
        return [self.ids[r[0] - 1] for r in rows]


def rrf(lists: list[list[str]], k: int = 60) -> list[str]:
    score: dict[str, float] = {}
    for ranked in lists:
        for rank, item in enumerate(ranked, start=1):
            score[item] = score.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(score, key=lambda s: -score[s])


def metrics(ranks: list[int]) -> tuple[float, float, float]:
    n = len(ranks) or 1
    r1 = sum(r == 1 for r in ranks) / n
    r3 = sum(0 < r <= 3 for r in ranks) / n
    mrr = sum(1.0 / r for r in ranks if r > 0) / n
    return r1, r3, mrr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("skills_dir", type=Path)
    parser.add_argument("--cases", type=Path, default=HERE / "retrieval_cases.yaml")
    parser.add_argument("--db", default=None, help="keep the imported library here (reused if it exists)")
    parser.add_argument("--misses", action="store_true", help="list skillvault's misses")
    args = parser.parse_args()
    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory()
        args.db = os.path.join(tmp.name, "eval.db")
    sm = load_library(args.skills_dir, args.db)
    skills = sm.list(status="canonical")
    by_name = {s.name: s for s in skills}
    cases = yaml.safe_load(args.cases.read_text(encoding="utf-8"))["cases"]
    cases = [c for c in cases if c["expected"] in by_name]

    stemmer = Stemmer()
    card_stems = {s.name: stemmer.stems(s.name.replace("-", " ") + " " + s.description) for s in skills}
    df: dict[str, int] = {}
    for stems in card_stems.values():
        for stem in stems:
            df[stem] = df.get(stem, 0) + 1
    common = {stem for stem, count in df.items() if count >= 0.1 * len(skills)}
    for case in cases:
        shared = (stemmer.stems(case["task"]) & card_stems[case["expected"]]) - common
        case["keyword_free"] = not shared

    bm25 = WholeSkillBM25(skills)
    ids = [s.id for s in skills]
    card_matrix = sm.embeddings.embed([f"{s.name}: {s.description}" for s in skills])

    def best_chunk_ranking(vector: np.ndarray) -> list[str]:
        hits = sm.store.vector_search(vector, 400, ("canonical",))
        owner = sm.store.chunk_skills([pk for pk, _ in hits])
        return list(dict.fromkeys(owner[pk] for pk, _ in hits if pk in owner))

    systems = ["bm25-skill", "cos-card", "rrf-3", "skillvault"]
    ranks: dict[str, list[int]] = {name: [] for name in systems}
    returned: list[list[str]] = []
    for case in cases:
        expected = by_name[case["expected"]].id
        vector = sm.embeddings.embed_query(case["task"])
        lexical = bm25.rank(case["task"])
        cosine = [ids[i] for i in np.argsort(-(card_matrix @ vector), kind="stable")]
        fused = rrf([cosine, best_chunk_ranking(vector), lexical])
        ours = [hit.id for hit in sm.search_skills(case["task"], k=DEPTH)]
        returned.append(ours)
        for name, ranking in zip(systems, (lexical, cosine, fused, ours)):
            ranks[name].append(ranking.index(expected) + 1 if expected in ranking else 0)

    free = [i for i, c in enumerate(cases) if c["keyword_free"]]
    print(f"{len(skills)} skills, {len(cases)} cases ({len(free)} keyword-free)")
    print(f"{'system':<12} {'R@1':>6} {'R@3':>6} {'MRR':>6}   {'kf R@1':>6} {'kf R@3':>6} {'kf MRR':>6}")
    for name in systems:
        every = metrics(ranks[name])
        kf = metrics([ranks[name][i] for i in free])
        print(f"{name:<12} {every[0]:6.3f} {every[1]:6.3f} {every[2]:6.3f}   {kf[0]:6.3f} {kf[1]:6.3f} {kf[2]:6.3f}")
    if args.misses:
        for case, rank, got in zip(cases, ranks["skillvault"], returned):
            if rank != 1:
                mark = "kf" if case["keyword_free"] else "  "
                print(f"{mark} rank {rank or '-'}: {case['task'][:70]!r} -> {case['expected']}; got {got[:3]}")
    sm.close()


if __name__ == "__main__":
    main()
