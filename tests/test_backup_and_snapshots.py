"""Exports read one snapshot and backups copy one consistent state while others write
(issue 10, point 5)."""

from __future__ import annotations

import json
import multiprocessing
import time

import pytest
from typer.testing import CliRunner

from skillvault import SkillManager
from skillvault.cli.app import app
from skillvault.errors import ValidationError

from conftest import make_skill, word_vector
from test_cli import one_error_line
from test_growth import ASYNC_ANSWER, ScriptedLLM

_fork = multiprocessing.get_context("fork")


def small_vector(text: str) -> list[float]:
    return word_vector(text, 128)


@pytest.fixture
def library(db_path):
    sm = SkillManager(db_path, embed_fn=small_vector, llm_fn=ScriptedLLM(ASYNC_ANSWER), auto_promote=None)
    sm.register(make_skill("git", ("Rebase", "git rebase main"), ("Push", "push with lease")))
    sm.extract("user: async errors?")
    yield sm
    sm.close()


def test_export_all_reads_one_snapshot_while_another_process_approves(library, db_path, tmp_path, monkeypatch):
    [draft] = library.review_queue()
    other = SkillManager(db_path, embed_fn=small_vector, auto_promote=None)
    real_chunk_rows = library.store._chunk_rows
    approved = []

    def chunk_rows_after_a_concurrent_approval(*args, **kwargs):
        if not approved:  # between reading the skill rows and reading their chunks
            approved.append(other.approve(draft.id))
        return real_chunk_rows(*args, **kwargs)

    monkeypatch.setattr(library.store, "_chunk_rows", chunk_rows_after_a_concurrent_approval)
    exported = json.loads(library.export_all(tmp_path / "all.json").read_text())
    other.close()
    assert approved and library.get(approved[0]).status == "canonical"  # the write did happen meanwhile
    by_id = {skill["id"]: skill for skill in exported["skills"]}
    assert set(by_id) == {"git", draft.id}  # the state before the approval, whole
    assert all(skill["chunks"] for skill in by_id.values())
    monkeypatch.undo()
    fresh = SkillManager(tmp_path / "re.db", embed_fn=small_vector)
    assert sorted(fresh.import_(tmp_path / "all.json")) == sorted(by_id)  # and it imports
    fresh.close()


def _keep_registering(db_path: str, stop, counter) -> None:
    sm = SkillManager(db_path, embed_fn=small_vector, auto_promote=None)
    n = 0
    while not stop.is_set():
        sm.register(make_skill(f"s{n}", *[(f"part {i}", f"step {i} of skill {n} " * 20) for i in range(5)]))
        n += 1
        counter.value = n
    sm.close()


def index_is_consistent(sm: SkillManager) -> bool:
    conn = sm.store.conn
    non_draft = conn.execute(
        "SELECT COUNT(*) FROM chunks c JOIN skills s ON s.id = c.skill_id WHERE s.status != 'draft'"
    ).fetchone()[0]
    fts = conn.execute("SELECT COUNT(*) FROM chunk_fts").fetchone()[0]
    vec = conn.execute("SELECT COUNT(*) FROM chunk_vec").fetchone()[0]
    partial = conn.execute(
        "SELECT COUNT(*) FROM skills s WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.skill_id = s.id)"
    ).fetchone()[0]
    return non_draft == fts == vec and partial == 0


def test_backup_while_a_writer_runs_is_a_consistent_library(library, db_path, tmp_path):
    stop, counter = _fork.Event(), _fork.Value("i", 0)
    writer = _fork.Process(target=_keep_registering, args=(db_path, stop, counter))
    writer.start()
    try:
        deadline = time.time() + 30
        while counter.value < 20 and time.time() < deadline:
            time.sleep(0.05)
        copies = [library.backup(tmp_path / f"copy{i}.db") for i in range(3)]
    finally:
        stop.set()
        writer.join(30)
    assert counter.value >= 20
    seen = []
    for copy in copies:
        sm = SkillManager(copy, embed_fn=small_vector, auto_promote=None)
        assert sm.store.integrity_check() == ["ok"]
        assert index_is_consistent(sm)
        assert "git rebase main" in sm.query("git rebase", budget=300)
        seen.append(sm.stats()["skills"])
        sm.close()
        assert doctor_verdicts(copy) == doctor_verdicts(db_path)  # (this embedder is not the CLI's)
    assert seen[-1] > 2  # the copies hold what the writer had written


def doctor_verdicts(db) -> dict:
    result = CliRunner().invoke(app, ["--db", str(db), "doctor", "--json"], env={"NO_COLOR": "1"})
    report = json.loads(result.output)
    verdicts = {check["name"]: check["ok"] for check in report["checks"]}
    assert verdicts["Integrity check"] is True, report
    return verdicts


def test_backup_refuses_to_overwrite(library, tmp_path):
    target = tmp_path / "exists.db"
    target.write_text("keep me")
    with pytest.raises(ValidationError, match="already exists"):
        library.backup(target)
    assert target.read_text() == "keep me"


def test_cli_backup(library, db_path, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["--db", db_path, "backup", str(tmp_path / "b.db")], env={"NO_COLOR": "1"})
    assert result.exit_code == 0 and "Backed up" in result.output
    copy = SkillManager(tmp_path / "b.db", embed_fn=small_vector)
    assert [s.id for s in copy.list()] == [s.id for s in library.list()]
    assert copy.history("git") == library.history("git")
    copy.close()
    again = runner.invoke(app, ["--db", db_path, "backup", str(tmp_path / "b.db")], env={"NO_COLOR": "1"})
    assert again.exit_code != 0 and "already exists" in one_error_line(again)


def test_export_all_onto_a_file_that_is_not_a_folder_is_a_clear_error(library, tmp_path):
    library.backup(tmp_path / "out")  # a file named like a folder
    with pytest.raises(ValidationError, match="exists and is not a folder"):
        library.export_all(tmp_path / "out")
    with pytest.raises(ValidationError, match="exists and is not a folder"):
        library.export("git", tmp_path / "out")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(ValidationError, match="exists and is not a file name ending in .json"):
        library.export_all(tmp_path / "dir.json")
