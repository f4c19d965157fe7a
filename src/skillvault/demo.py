"""A short demonstration on the embedded default (SQLite + the local embedder).

Run ``python -m skillvault.demo [DB_PATH]``: it registers three small skills, asks two
questions and prints what an agent would get, then the library's stats. No network,
no API key.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from .manager import SkillManager
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


def main(argv: list[str]) -> int:
    """Run the demo; ``argv[0]`` may name the database file (default: a temp file)."""
    with tempfile.TemporaryDirectory() as scratch:
        db_path = argv[0] if argv else str(Path(scratch) / "demo.db")
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
