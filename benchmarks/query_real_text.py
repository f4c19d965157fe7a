#!/usr/bin/env python
"""Query latency on real skills and agent-style task texts (local embedder, no stand-ins).

Imports SKILL.md folders into a fresh library and times ``query(task, budget)`` for the
task texts of ``benchmarks/retrieval_cases.yaml`` (English with stop words and stemming),
after warm-up. Run the same command with two trees on ``PYTHONPATH`` to compare them in
one session::

    PYTHONPATH=src python benchmarks/query_real_text.py SKILLS_DIR --folders a,b,c
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("skills_dir", type=Path)
    parser.add_argument("--folders", required=True, help="comma-separated skill folder names to import")
    parser.add_argument("--budget", type=int, default=2000)
    args = parser.parse_args()

    from skillvault import SkillManager

    cases = yaml.safe_load((HERE / "retrieval_cases.yaml").read_text(encoding="utf-8"))["cases"]
    tasks = [case["task"] for case in cases]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "skills"
        root.mkdir()
        for name in args.folders.split(","):
            shutil.copytree(args.skills_dir / name, root / name)
        sm = SkillManager(Path(tmp) / "bench.db")
        sm.import_(root)
        chunks = sm.stats()["chunks"]
        for task in tasks[:10]:
            sm.query(task, budget=args.budget)  # warm-up
        timings = []
        for task in tasks:
            start = time.perf_counter()
            sm.query(task, budget=args.budget)
            timings.append((time.perf_counter() - start) * 1000)
        sm.close()
    timings.sort()
    p95 = timings[int(0.95 * (len(timings) - 1))]
    print(f"{len(args.folders.split(','))} skills, {chunks} chunks, {len(tasks)} queries: "
          f"p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
