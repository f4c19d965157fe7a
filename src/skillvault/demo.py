"""A short demonstration on the embedded default (SQLite + the local embedder).

Run ``python -m skillvault.demo [DB_PATH]``: it registers three small skills, asks two
questions and prints what an agent would get, then the library's stats. No network,
no API key. Without DB_PATH the library lives in a temporary folder and is removed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from .errors import SkillVaultError
from .models import Chunk, Skill

SAMPLE_SKILLS = [
    Skill(
        id="frontend-react",
        name="Frontend React",
        description="Patterns for React function components.",
        chunks=[
            Chunk(id="frontend-react::hooks", section="React Hooks",
                  content="## useEffect\n\nUse useEffect for side effects (subscriptions, fetching). "
                          "Return a cleanup function and list every value the effect reads in the dependency array."),
            Chunk(id="frontend-react::state", section="State",
                  content="## useState\n\nKeep state minimal; derive values during render instead of syncing them with effects."),
        ],
    ),
    Skill(
        id="python-async-errors",
        name="Python async error handling",
        chunks=[
            Chunk(id="python-async-errors::gather", section="gather",
                  content="Use `asyncio.gather(*tasks, return_exceptions=True)` and inspect each result; "
                          "with an `asyncio.TaskGroup` (3.11+) catch `ExceptionGroup` with `except*`."),
        ],
    ),
    Skill(
        id="git-rebase",
        name="Git rebase",
        chunks=[
            Chunk(id="git-rebase::safety", section="Safety", required=True,
                  content="Never rebase commits that others have pulled; use `git push --force-with-lease`."),
            Chunk(id="git-rebase::interactive", section="Interactive rebase",
                  content="`git rebase -i main` lets you squash, reorder and reword commits before a merge."),
        ],
    ),
]

QUESTIONS = ["React hooks best practices", "how do I clean up my commits before merging?"]


def parse_args(argv: list[str]) -> Optional[str]:
    """Return the database path the arguments name (None: a temporary one).

    ``--help`` prints the usage and exits 0; bad arguments exit 2 with a message; neither
    creates a file.
    """
    parser = argparse.ArgumentParser(
        prog="python -m skillvault.demo",
        description="Register three small skills, ask two questions, print what an agent gets and the stats. "
                    "Offline: the built-in local embedder, no API key.",
    )
    parser.add_argument("db_path", nargs="?", metavar="DB_PATH",
                        help="the library file to write (default: a temporary file, removed afterwards); "
                             "a name starting with - must follow --")
    db_path = parser.parse_args(argv).db_path
    if db_path is not None:
        path = Path(db_path)
        if path.is_dir():
            parser.error(f"DB_PATH {db_path!r} is a folder; give a file name, e.g. {str(path / 'demo.db')!r}")
        if not path.parent.is_dir():
            parser.error(f"DB_PATH {db_path!r}: the folder {str(path.parent)!r} does not exist")
    return db_path


def main(argv: list[str]) -> int:
    """Run the demo; ``argv`` may name the database file (default: a temp file)."""
    chosen = parse_args(argv)
    try:
        return _run(chosen)
    except SkillVaultError as exc:  # e.g. DB_PATH is not a skillvault library
        print(f"python -m skillvault.demo: error: {exc}", file=sys.stderr)
        return 1


def _run(chosen: Optional[str]) -> int:
    from .manager import SkillManager

    with tempfile.TemporaryDirectory() as scratch:
        db_path = chosen or str(Path(scratch) / "demo.db")
        started = time.perf_counter()
        with SkillManager(db_path) as sm:
            for skill in SAMPLE_SKILLS:
                sm.register(skill)
            print(f"registered {len(SAMPLE_SKILLS)} skills in {time.perf_counter() - started:.2f} s "
                  f"with {sm.embeddings.name}\n")
            for question in QUESTIONS:
                print(f"### query: {question!r} (budget 200 tokens)")
                print(sm.query(question, budget=200) or "(nothing relevant)")
                print()
            print("### stats")
            print(json.dumps(sm.stats(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
