"""CLI start-up figures: `skillvault --help` and a cold `skillvault query` (local embedder).

Each run is a new process (the console script next to this Python), so every query run
pays the imports, opening the database and loading the ONNX model. Targets on the 2-core
reference machine: --help <= 0.2 s, query <= 1.0 s. Also prints how many modules each
imports (`python -X importtime`), a figure that does not depend on the machine's load.

    python benchmarks/cli_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOPICS = ["react hooks", "git rebase", "python asyncio", "docker builds", "sql indexes",
          "http caching", "unit testing", "css grid", "rust lifetimes", "bash scripting"]


def build_library(db: Path) -> None:
    """Ten skills of three chunks each, embedded with the local model."""
    from skillvault import SkillManager
    from skillvault.models import Chunk, Skill

    with SkillManager(db) as sm:
        for topic in TOPICS:
            sid = topic.replace(" ", "-")
            sm.register(Skill(id=sid, name=topic.title(), chunks=[
                Chunk(id=f"{sid}::{part}", section=part.title(), content=f"{part.title()} for {topic}: notes on {topic} {part}.")
                for part in ("overview", "steps", "pitfalls")
            ]))


def timed(cmd: list[str], env: dict) -> float:
    """Seconds one run of ``cmd`` takes (it must exit 0)."""
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def module_count(args: list[str], env: dict) -> int:
    """How many modules ``python -m skillvault.cli ARGS`` imports."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "skillvault.cli", *args], env=env, check=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return sum(line.startswith("import time:") and "|" in line and "self [us]" not in line
               for line in run.stderr.splitlines())


def report(label: str, times: list[float], target: float) -> None:
    """Print min / median / max of ``times`` against ``target``."""
    median = statistics.median(times)
    verdict = "ok" if median <= target else "OVER TARGET"
    print(f"{label:<34} min {min(times):.3f} s  median {median:.3f} s  max {max(times):.3f} s"
          f"  (target {target} s: {verdict}, {len(times)} runs)")


def main() -> None:
    """Build a small library, time the two commands, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("skillvault")
    if not script.exists():
        sys.exit(f"{script} not found: install the project with the [cli] extra")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "skills.db"
        build_library(db)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLVAULT_")}
        env["SKILLVAULT_DB"] = str(db)
        timed([str(script), "--help"], env)  # warm the OS file cache once
        print(f"skillvault CLI start-up ({os.cpu_count()} CPUs, {sys.executable})")
        report("skillvault --help", [timed([str(script), "--help"], env) for _ in range(args.runs)], 0.2)
        query = [str(script), "query", "how do I squash commits with git rebase", "--budget", "500"]
        report('skillvault query "..." (local)', [timed(query, env) for _ in range(args.runs)], 1.0)
        print(f"modules imported: --help {module_count(['--help'], env)}, query {module_count(query[1:], env)}")


if __name__ == "__main__":
    main()
