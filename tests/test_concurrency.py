"""Several processes writing one library at once: WAL, busy timeout and per-operation
transactions keep every write whole, and readers see the others' writes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from skillvault import SkillManager

from conftest import CountingEmbed, make_skill

WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import CountingEmbed, make_skill
    from skillvault import SkillManager

    prefix, count = sys.argv[1], int(sys.argv[2])
    sm = SkillManager({db!r}, embed_fn=CountingEmbed())
    for i in range(count):
        sm.register(make_skill(f"{{prefix}}-{{i}}", ("Steps", f"{{prefix}} procedure number {{i}} alpha"),
                               ("Notes", f"{{prefix}} caveat {{i}} beta")))
        if i % 5 == 0:
            sm.query(f"{{prefix}} procedure", budget=200)
    print("done", prefix)
    """
)


def test_concurrent_writers_and_a_reader(db_path):
    reader = SkillManager(db_path, embed_fn=CountingEmbed())  # creates the library
    reader.register(make_skill("west-0", ("Steps", "west procedure number 0 alpha")))
    assert reader.search("west procedure", k=1)[0].skill_id == "west-0"  # matrix loaded now
    script = WRITER.format(tests=str(Path(__file__).parent), db=db_path)
    writers = [
        subprocess.Popen([sys.executable, "-c", script, prefix, "25"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for prefix in ("north", "south", "east")
    ]
    results = [w.communicate(timeout=120) for w in writers]
    for writer, (out, err) in zip(writers, results):
        assert writer.returncode == 0, err
        assert out.startswith("done")
    skills = reader.list()
    assert len(skills) == 76 and all(len(s.chunks) == 2 for s in skills if s.id != "west-0")
    counts = reader.store.conn.execute(
        "SELECT (SELECT COUNT(*) FROM chunks), (SELECT COUNT(*) FROM chunk_fts), (SELECT COUNT(*) FROM chunk_vec)"
    ).fetchone()
    assert counts == (151, 151, 151)
    # the reader's matrix was loaded before the other processes wrote; it reloads and sees them
    for prefix in ("north", "south", "east"):
        hits = reader.search(f"{prefix} procedure number 7 alpha", k=3)
        assert hits and hits[0].skill_id == f"{prefix}-7"
    assert reader.store.integrity_check() == ["ok"]
