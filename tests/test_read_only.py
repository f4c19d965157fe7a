"""Read-only libraries serve queries (issue 10, point 7): a write-protected file, and a
file in a read-only folder or mount. As root (CI) file modes do not stop writes, so the
file is made immutable (``chattr +i``) and the folder a read-only bind mount; as another
user plain modes do it."""

from __future__ import annotations

import logging
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skillvault import SkillManager
from skillvault.cli.app import app
from skillvault.errors import SkillPermissionError

from conftest import make_skill, word_vector
from test_cli import one_error_line
from test_growth import ASYNC_ANSWER, ScriptedLLM

IS_ROOT = os.geteuid() == 0


@contextmanager
def write_protected(path: Path):
    if IS_ROOT:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o444)
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True) if IS_ROOT else path.chmod(0o644)


@contextmanager
def read_only_folder(folder: Path, mount_point: Path):
    """Yield a read-only view of ``folder``."""
    if IS_ROOT:
        mount_point.mkdir()
        subprocess.run(["mount", "--bind", str(folder), str(mount_point)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(mount_point)], check=True)
            yield mount_point
        finally:  # lazily if a failed test left a connection open: never leave a mount behind
            if subprocess.run(["umount", str(mount_point)]).returncode != 0:
                subprocess.run(["umount", "-l", str(mount_point)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)


def small_vector(text: str) -> list[float]:
    return word_vector(text, 128)


@pytest.fixture
def built(tmp_path) -> Path:
    db = tmp_path / "lib" / "skills.db"
    with SkillManager(db, embed_fn=small_vector, llm_fn=ScriptedLLM(ASYNC_ANSWER)) as sm:
        sm.register(make_skill("git", ("Rebase", "git rebase main keeps history linear")))
        sm.extract("user: async errors?")
    return db


def check_serves_but_refuses_writes(db: Path, caplog) -> None:
    for mode in ("human", "agent"):
        with SkillManager(db, embed_fn=small_vector, mode=mode, llm_fn=ScriptedLLM(ASYNC_ANSWER)) as sm:
            with caplog.at_level(logging.WARNING, logger="skillvault"):
                assert "git rebase main" in sm.query("git rebase", budget=200)
            assert "usage of ['git'] not recorded" in caplog.text
            assert sm.search("rebase")[0].skill_id == "git"
            assert sm.stats()["canonical"] == 1
            if mode == "human":
                with pytest.raises(SkillPermissionError, match="read-only"):
                    sm.register(make_skill("new", ("a", "b")))
                with pytest.raises(SkillPermissionError, match="read-only"):
                    sm.approve(sm.review_queue()[0].id)
            else:
                with pytest.raises(SkillPermissionError, match="read-only"):
                    sm.record_usage("git")
                assert sm.extract("user: more") is None  # logged, not raised (extract's promise)
        caplog.clear()


def test_a_write_protected_file_serves_queries(built, caplog):
    before = built.read_bytes()
    with write_protected(built):
        check_serves_but_refuses_writes(built, caplog)
        result = CliRunner().invoke(app, ["--db", str(built), "add", str(built)], env={"NO_COLOR": "1"})
        assert result.exit_code != 0 and "Traceback" not in result.output
    assert built.read_bytes() == before


def test_a_library_in_a_read_only_folder_serves_queries(built, tmp_path, caplog):
    with read_only_folder(built.parent, tmp_path / "ro") as folder:
        db = folder / built.name
        check_serves_but_refuses_writes(db, caplog)
        result = CliRunner().invoke(app, ["--db", str(db), "show", "git"], env={"NO_COLOR": "1"})
        assert result.exit_code == 0 and "git rebase main" in result.output, result.output
        result = CliRunner().invoke(app, ["--db", str(db), "reject", "draft::x", "--reason", "no"], env={"NO_COLOR": "1"})
        assert result.exit_code != 0
        one_error_line(result)
