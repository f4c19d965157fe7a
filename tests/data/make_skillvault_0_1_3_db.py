"""Build the skillvault 0.1.3 test libraries with the real, published skillvault 0.1.3.

Run it with a Python that has skillvault 0.1.3 installed (not this repository's code)::

    python -m venv /tmp/v013
    /tmp/v013/bin/pip install skillvault==0.1.3 sqlean.py numpy
    /tmp/v013/bin/python tests/data/make_skillvault_0_1_3_db.py tests/data

It writes two files:

* ``skillvault-0.1.3.db``: 0.1.3 exactly as installed here. This Python's stdlib
  ``sqlite3`` cannot load extensions, so 0.1.3 silently keeps its vectors as float32
  blobs in its ``embeddings`` table (256-d vectors of :func:`embed`).
* ``skillvault-0.1.3-vec.db.gz``: the same library built with 0.1.3's ``sqlite3``
  swapped for ``sqlean`` so that sqlite-vec loads; 0.1.3 then keeps vectors in its
  ``vec_chunks`` vec0 table, which is fixed at 1536-d (so :func:`embed` gives 1536-d
  vectors there). vec0 pre-allocates 1024-row blocks, hence the gzip.

The library: canonical skills with chunks, required chunks, priorities, dependencies
(one dangling, as 0.1.3 never checked them), a skill registered from a folder whose
name has a space (0.1.3 used the folder name as id), an archived skill, three drafts
extracted through a fake ``llm_fn`` of which one is approved and one rejected with a
reason (0.1.3's ``reviews`` table), and usage counts from queries (``usage_stats``).

:func:`embed` only needs the standard library and numpy so the tests can import it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import sys
import tempfile

import numpy as np

SALT = "skillvault-0.1.3-fixture"


def embed(text: str, dim: int = 256) -> list[float]:
    """Deterministic hashed bag of words (salted, so it differs from the tests' embedder)."""
    vector = np.zeros(dim)
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.sha256(f"{SALT}:{word}".encode()).digest()
        for i in range(3):
            index = int.from_bytes(digest[4 * i : 4 * i + 4], "little") % dim
            vector[index] += 1.0 if digest[20 + i] & 1 else -1.0
    if not vector.any():
        vector[0] = 1.0
    return vector.tolist()


# What the fake LLM "finds" in each conversation, keyed by a word of the conversation.
ANALYSES = {
    "bisect": {
        "has_knowledge": True,
        "title": "Find a regression with git bisect",
        "summary": "Binary search through history to find the commit that broke a test.",
        "when_to_use": "When a test passed on an older commit and fails now, and the range is long.",
        "playbook": "1. git bisect start\n2. git bisect bad HEAD\n3. git bisect good v1.0\n"
                    "4. run the test at each step and mark good or bad\n5. git bisect reset",
        "examples": "```\ngit bisect run pytest tests/test_parser.py\n```",
        "applicable_scenarios": ["flaky regression hunt", "performance regression"],
        "dependencies": ["git-rebase::overview"],
    },
    "force": {
        "has_knowledge": True,
        "title": "Force push over a shared branch",
        "summary": "Overwrite the remote branch with your local history.",
        "when_to_use": "Never on shared branches; use with-lease on your own feature branch.",
        "playbook": "1. git push --force-with-lease origin my-branch\n2. tell reviewers the history changed",
        "examples": "```\ngit push --force-with-lease\n```",
        "applicable_scenarios": ["after an interactive rebase"],
    },
    "cache": {
        "has_knowledge": True,
        "title": "Clear the Docker build cache",
        "summary": "Free disk space used by old build layers.",
        "when_to_use": "When docker build fails with no space left on device or stale layers are reused.",
        "playbook": "1. docker builder prune --all\n2. docker system df to check the space freed\n"
                    "3. rebuild with --no-cache if layers were stale",
        "examples": "```\ndocker builder prune --all --force\n```",
        "applicable_scenarios": ["CI runners out of disk", "stale apt layers"],
    },
}


def fake_llm(text: str) -> dict:
    for word, analysis in ANALYSES.items():
        if word in text:
            return dict(analysis)
    return {"has_knowledge": False}


def build(path: str, dim: int) -> None:
    """Build the library at ``path`` with the installed skillvault 0.1.3."""
    from skillvault import Chunk, Skill, SkillManager

    sm = SkillManager(path, embed_fn=lambda text: embed(text, dim), llm_fn=fake_llm, mode="admin")
    sm.register(Skill(id="shell-basics", name="Shell basics", chunks=[
        Chunk(id="shell-basics::quoting", skill_id="shell-basics", section="Quoting",
              content="Quote variables: \"$file\" keeps spaces in file names intact.", tokens=15, required=True),
        Chunk(id="shell-basics::exit-codes", skill_id="shell-basics", section="Exit codes",
              content="set -euo pipefail stops a script at the first failing command.", tokens=15, priority=1),
    ]))
    sm.register(Skill(id="git-rebase", name="Git rebase", confidence=0.95, chunks=[
        Chunk(id="git-rebase::overview", skill_id="git-rebase", section="Overview",
              content="Rebase replays your commits on top of another branch to keep history linear.",
              tokens=18, priority=0, required=True),
        Chunk(id="git-rebase::steps", skill_id="git-rebase", section="Steps",
              content="1. git fetch origin\n2. git rebase origin/main\n3. fix conflicts, git add, "
                      "git rebase --continue", tokens=25, priority=2, dependencies=["shell-basics::quoting"]),
        Chunk(id="git-rebase::pitfalls", skill_id="git-rebase", section="Pitfalls",
              content="Never rebase commits that others have pulled; abort with git rebase --abort.",
              tokens=17, priority=1, dependencies=["git-rebase::steps", "old-skill::gone"]),
    ]))
    sm.register(Skill(id="docker-debug", name="Docker debugging", chunks=[
        Chunk(id="docker-debug::logs", skill_id="docker-debug", section="Logs",
              content="docker logs --tail 100 -f container shows what the process printed.", tokens=16),
        Chunk(id="docker-debug::shell", skill_id="docker-debug", section="Shell",
              content="docker exec -it container sh opens a shell inside a running container.", tokens=16),
    ]))
    folder = os.path.join(tempfile.mkdtemp(), "deploy notes")
    os.makedirs(folder)
    with open(os.path.join(folder, "SKILL.md"), "w") as f:
        f.write("# Deploy notes\n\nTag the release, push the tag, then watch the deploy dashboard.\n")
    sm.register(folder)  # id "deploy notes" (the folder name)

    approved = sm.extract([{"role": "user", "content": "the parser test broke, how do I bisect?"},
                           {"role": "assistant", "content": "use git bisect run"}])
    rejected = sm.extract("user: can I force push to main?\nassistant: use --force-with-lease")
    pending = sm.extract("user: docker build says no space left\nassistant: prune the build cache")
    assert approved and rejected and pending, (approved, rejected, pending)
    assert sm.approve(approved)
    assert sm.reject(rejected, "force pushing shared branches is against team policy")
    sm.archive("docker-debug")

    for _ in range(3):
        sm.query("how do I rebase my branch on main", budget=4000, score_threshold=2.0)
    sm.query("shell quoting of variables", budget=4000, score_threshold=2.0)
    sm.query("docker build cache prune", budget=4000, include_drafts=True, score_threshold=2.0)
    # Distinct counts per skill, so that a test can tell them apart.
    for skill_id, extra in (("git-rebase", 4), ("shell-basics", 2), ("draft::0b0ec42e", 1)):
        for _ in range(extra):
            sm.storage.record_usage(skill_id)
    sm.close()


def main(out_dir: str) -> None:
    import skillvault.storage as storage

    plain = os.path.join(out_dir, "skillvault-0.1.3.db")
    if os.path.exists(plain):
        os.remove(plain)
    build(plain, 256)

    import sqlean

    storage.sqlite3 = sqlean  # what 0.1.3 does on a Python whose sqlite3 can load extensions
    work = tempfile.mkdtemp()
    vec_db = os.path.join(work, "vec.db")
    build(vec_db, 1536)
    conn = sqlean.connect(vec_db)
    assert conn.execute("SELECT COUNT(*) FROM vec_chunks_rowids").fetchone()[0] > 0
    conn.execute("VACUUM")
    conn.close()
    with open(vec_db, "rb") as src, gzip.open(os.path.join(out_dir, "skillvault-0.1.3-vec.db.gz"), "wb", 9) as dst:
        shutil.copyfileobj(src, dst)
    with sqlean.connect(plain) as conn:
        conn.execute("VACUUM")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
