"""A full disk (real: an 8 MB tmpfs; or SQLite's page limit) gives StorageFullError and keeps nothing.

Each write is tried on a full store, must raise :class:`StorageFullError` naming the file and
the fix, must leave every table as it was, and must work once space is freed. The tmpfs
tests mount a real file system (we run as root, as CI does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from skillvault import SkillManager
from skillvault.errors import SkillPermissionError, StorageFullError, StorageIOError
from skillvault.models import Chunk, Skill
from skillvault.store.db_errors import translate

from conftest import CountingEmbed, make_skill

TABLES = ("skills", "chunks", "chunk_fts", "chunk_vec", "draft_vectors", "skill_versions", "audit_log", "usage", "meta")
DIM = 384
LOREM = "Deploy the service, watch the dashboard, roll back on errors; keep notes for the postmortem. "


def big_skill(skill_id: str, chunks: int = 40, status: str = "canonical") -> Skill:
    extra = {"status": "draft", "source": "extracted"} if status == "draft" else {}
    return Skill(id=skill_id, name=f"Big {skill_id}", chunks=[
        Chunk(id=f"{skill_id}::{i}", section=f"Part {i}", content=f"{skill_id} part {i}. " + LOREM * 30)
        for i in range(chunks)
    ], **extra)


def snapshot(sm: SkillManager) -> dict:
    conn = sm.store.conn
    counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    return {"counts": counts, "skills": [s.to_dict() for s in sm.list()]}


def build(path: Path) -> SkillManager:
    sm = SkillManager(path, embed_fn=CountingEmbed(DIM), auto_promote=None)
    sm.register(make_skill("rebase", ("Steps", "git fetch, then git rebase origin/main"), ("Undo", "git rebase --abort")))
    sm.register(big_skill("draft::to-approve", chunks=20, status="draft"))
    sm.register(Skill(id="draft::to-reject", name="Force push", status="draft", source="extracted",
                      chunks=[Chunk(id="draft::to-reject::tip", section="Tip", content="force push to main whenever")]))
    return sm


# name -> action. On a full file system each fails at least when it appends to the WAL.
OPERATIONS = {
    "register": lambda sm, tmp: sm.register(big_skill("incident")),
    "approve": lambda sm, tmp: sm.approve("draft::to-approve"),
    "reject": lambda sm, tmp: sm.reject("draft::to-reject", "unsafe: " + "x" * 1900),
    "reindex": lambda sm, tmp: sm.reindex(),
    "import_": lambda sm, tmp: sm.import_(_library_file(tmp)),
}


def _library_file(tmp: Path) -> Path:
    path = tmp / "incoming.json"
    path.write_text(json.dumps({"skills": [big_skill(f"imported-{i}", chunks=10).to_dict() for i in range(4)]}))
    return path


def check_refused_then_works(sm: SkillManager, name: str, tmp: Path, fill, free, db_path: Path) -> None:
    before = snapshot(sm)
    with fill():
        with pytest.raises(StorageFullError) as caught:
            OPERATIONS[name](sm, tmp)
    message = str(caught.value)
    assert str(db_path) in message and "disk is full" in message and "Free disk space" in message
    assert "cannot rollback" not in message
    free()
    assert snapshot(sm) == before  # nothing half-written
    assert sm.store.integrity_check() == ["ok"]
    assert "git rebase origin/main" in sm.query("how do I rebase", budget=500)
    OPERATIONS[name](sm, tmp)  # and with space again it works
    if name != "reindex":  # (reindex with the same embedder rewrites the same vectors)
        assert snapshot(sm) != before
    assert sm.store.integrity_check() == ["ok"]


# --------------------------------------------------------------------------- SQLite's page limit


@pytest.mark.parametrize("name", ["register", "import_"])
def test_page_limit(tmp_path, name):
    """SQLITE_FULL from ``max_page_count`` (register and import_ always need new pages)."""
    db_path = tmp_path / "skills.db"
    sm = build(db_path)
    conn = sm.store.conn
    conn.execute("VACUUM")  # no free pages to reuse: any growth needs a new page

    @contextmanager
    def fill():
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        yield

    def free():
        conn.execute("PRAGMA max_page_count = 1073741823")

    try:
        check_refused_then_works(sm, name, tmp_path, fill, free, db_path)
    finally:
        sm.close()


# --------------------------------------------------------------------------- a real full file system


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True, text=True)
    assert result.returncode == 0, f"cannot mount a tmpfs (these tests need root): {result.stderr}"
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def filler_for(disk: Path, leave: int = 0):
    """``fill()`` fills ``disk`` (but for ``leave`` bytes) for the time of a with block; ``free()`` empties it."""
    filler = disk / "filler"

    @contextmanager
    def fill():
        try:
            with open(filler, "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError:  # ENOSPC: the disk is full now
            pass
        if leave:
            os.truncate(filler, max(0, filler.stat().st_size - leave))
        yield

    def free():
        filler.unlink()

    return fill, free


@pytest.mark.parametrize("name", ["register", "approve", "reject", "import_", "reindex"])
def test_full_file_system(small_disk, tmp_path, name):
    db_path = small_disk / "skills.db"
    sm = build(db_path)
    fill, free = filler_for(small_disk)
    try:
        check_refused_then_works(sm, name, tmp_path, fill, free, db_path)
    finally:
        sm.close()


def test_cli_add_on_a_full_disk(small_disk, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLVAULT_")}
    env["NO_COLOR"] = "1"
    db_path = small_disk / "skills.db"
    small = tmp_path / "small.md"
    small.write_text("# Rebase\n\nFetch, then git rebase origin/main.\n")
    big = tmp_path / "big.md"
    big.write_text("---\nname: runbook\n---\n" + "\n".join(f"## Step {i}\n\n{LOREM * 40}\n" for i in range(30)))

    def add(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "skillvault.cli", "--db", str(db_path), "add", str(path)],
                              capture_output=True, text=True, env=env, timeout=120)

    assert add(small).returncode == 0
    fill, free = filler_for(small_disk)
    with fill():
        result = add(big)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert str(db_path) in lines[0] and "free" in lines[0].lower()
    free()
    with SkillManager(db_path, auto_promote=None) as sm:
        assert [s.id for s in sm.list()] == ["small"]  # nothing of the failed add
    assert add(big).returncode == 0
    with SkillManager(db_path, auto_promote=None) as sm:
        assert {s.id for s in sm.list()} == {"small", "runbook"}


# --------------------------------------------------------------------------- the translation itself


def test_translate_maps_storage_failures(tmp_path):
    import sqlean

    def error(text: str, code: int):
        exc = sqlean.OperationalError(text)
        exc.sqlite_errorcode = code
        return exc

    path = str(tmp_path / "x.db")
    assert isinstance(translate(error("database or disk is full", 13), path), StorageFullError)
    assert isinstance(translate(error("disk I/O error", 778), path), StorageIOError)  # SQLITE_IOERR_WRITE
    readonly = translate(error("attempt to write a readonly database", 8), path)
    assert isinstance(readonly, SkillPermissionError) and "writable" in str(readonly)
    assert translate(error("no such table: x", 1), path) is None
    assert translate(ValueError("database or disk is full"), path) is None


def test_read_only_file_is_a_clear_permission_error(tmp_path):
    db_path = tmp_path / "skills.db"
    build(db_path).close()
    sm = SkillManager(db_path, embed_fn=CountingEmbed(DIM), auto_promote=None)
    try:
        sm.store.conn.execute("PRAGMA query_only = ON")  # SQLite refuses every write as read-only
        before = snapshot(sm)
        with pytest.raises(SkillPermissionError, match="read-only"):
            sm.register(make_skill("new", ("A", "some text")))
        sm.store.conn.execute("PRAGMA query_only = OFF")
        assert snapshot(sm) == before
    finally:
        sm.close()


def test_sqlite_vec_hiding_a_full_disk_is_still_a_full_disk(small_disk, tmp_path):
    import sqlean

    hidden = sqlean.OperationalError("Internal sqlite-vec error: Could not insert a new vector chunk")
    hidden.sqlite_errorcode = 1
    fill, free = filler_for(small_disk)
    with fill():
        assert isinstance(translate(hidden, str(small_disk / "skills.db")), StorageFullError)
    free()
    assert translate(hidden, str(tmp_path / "skills.db")) is None  # plenty of space: another problem


def test_no_room_for_the_0_1_3_backup(small_disk):
    import shutil as sh

    from test_upgrade_0_1_3 import FIXTURE, FixtureEmbed

    old_db = small_disk / "old.db"
    sh.copyfile(FIXTURE, old_db)
    original = old_db.read_bytes()
    fill, free = filler_for(small_disk, leave=48 * 1024)  # room to open it (-shm), not to copy it
    with fill():
        with pytest.raises(StorageFullError, match="backup"):
            SkillManager(old_db, embed_fn=FixtureEmbed())
    free()
    assert old_db.read_bytes() == original
    assert sorted(p.name for p in small_disk.iterdir()) == ["old.db"]  # no partial backup left
