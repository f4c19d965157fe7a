"""The command line as real processes: ``python -m skillvault.cli`` and the ``skillvault`` script.

The library here is built with the default local embedder (all-MiniLM-L6-v2), so ``query``
and ``search`` run it cold in a fresh process; one test uses the OpenAI-compatible
stand-in through the CLI's environment variables.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skillvault import SkillManager
from test_cli import ASYNC_ANSWER, REACT, build_library, embed_env

SCRIPT = Path(sys.executable).with_name("skillvault")
SEED_LINES = """\
python -m skillvault.cli list
python -m skillvault.cli review-queue
python -m skillvault.cli approve draft::skill-id
python -m skillvault.cli export frontend-react react.json
python -m skillvault.cli stats
"""
SEED_LINES_2 = """\
python -m skillvault.cli reject draft::skill-id --reason "Not useful"
python -m skillvault.cli import react.json
"""


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without SKILLVAULT_* settings, colours off, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLVAULT_") and k not in ("FORCE_COLOR", "COLUMNS")}
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, via: str = "script", input: str | None = None, env: dict | None = None,
        code: int = 0) -> subprocess.CompletedProcess:
    """Run the CLI in a new process (``via`` "script" or "module") and check its exit code."""
    prefix = [str(SCRIPT)] if via == "script" else [sys.executable, "-m", "skillvault.cli"]
    result = subprocess.run(prefix + args, cwd=cwd, input=input, capture_output=True, text=True,
                            env=env or clean_env(), timeout=60)
    assert result.returncode == code, (args, result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def run_line(line: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run one README line (``python -m skillvault.cli ...``) as written, with this Python."""
    words = shlex.split(line)
    assert words[:3] == ["python", "-m", "skillvault.cli"]
    return run(words[3:], cwd, via="module")


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def local_library(tmp_path_factory) -> Path:
    """A library built with the local embedder: two skills and the draft ``draft::skill-id``."""
    folder = tmp_path_factory.mktemp("local-library")
    build_library(folder / "skills.db", drafts=False)
    answers = [{**ASYNC_ANSWER, "title": "Skill id"}]
    with SkillManager(folder / "skills.db", llm_fn=lambda text: answers.pop(0), auto_promote=None) as sm:
        assert sm.extract("How do I handle errors in async Python?") == "draft::skill-id"
    return folder / "skills.db"


@pytest.fixture
def workdir(tmp_path, local_library) -> Path:
    """A fresh folder holding a copy of the local library as ``skills.db``."""
    shutil.copy(local_library, tmp_path / "skills.db")
    return tmp_path


def test_console_script_is_installed():
    assert SCRIPT.exists(), f"{SCRIPT} missing: reinstall the project (pip install -e '.[cli]')"


def test_seed_readme_lines_verbatim(workdir, tmp_path_factory, local_library):
    outputs = [run_line(line, workdir).stdout for line in SEED_LINES.splitlines()]
    assert "frontend-react" in outputs[0] and "draft::skill-id" in outputs[0]
    assert "draft::skill-id" in outputs[1]
    assert "Approved draft::skill-id -> skill-id" in outputs[2]
    assert json.loads((workdir / "react.json").read_text())["id"] == "frontend-react"
    assert "canonical" in outputs[4] and "3" in outputs[4]
    second = tmp_path_factory.mktemp("seed-2")
    shutil.copy(local_library, second / "skills.db")
    shutil.copy(workdir / "react.json", second / "react.json")
    outputs = [run_line(line, second).stdout for line in SEED_LINES_2.splitlines()]
    assert "Rejected draft::skill-id" in outputs[0]
    assert "Unchanged 1 skill (nothing written): frontend-react" in outputs[1]  # the same content: a no-op


def test_query_and_search_on_the_local_embedder(workdir):
    out = run(["query", "How do I clean up a useEffect subscription?", "--budget", "300"], workdir).stdout
    assert out.startswith('<skill name="frontend-react">') and "cleanup" in out
    hits = json.loads(run(["search", "squash commits before a pull request", "-k", "2", "--json"], workdir,
                          via="module").stdout)
    assert hits[0]["skill_id"] == "git-rebase"


def test_read_commands(workdir):
    assert "Frontend React" in run(["show", "frontend-react"], workdir).stdout
    assert json.loads(run(["--json", "list"], workdir).stdout)[0]["id"]
    assert json.loads(run(["stats", "--json"], workdir, via="module").stdout)["draft"] == 1
    assert "draft::skill-id" in run(["review-queue"], workdir).stdout
    doctor = run(["doctor"], workdir).stdout
    assert "sqlite-vec" in doctor and "Integrity check" in doctor and "FAIL" not in doctor
    assert "extract" in run(["history", "draft::skill-id"], workdir).stdout


def test_write_commands(workdir):
    (workdir / "notes.md").write_text("# Release notes\n\n## Steps\n\nTag the release and push the tag.\n")
    assert "Added notes" in run(["add", "notes.md"], workdir).stdout
    run(["approve", "draft::skill-id", "--reviewer", "ann"], workdir)
    # A new version of git-rebase, then roll back to version 1.
    (workdir / "rebase.md").write_text("# Git rebase\n\nUse git pull --rebase.\n")
    run(["add", "rebase.md", "--id", "git-rebase", "--replace"], workdir)
    assert "version 1 restored as version 3" in run(["rollback", "git-rebase", "1"], workdir, via="module").stdout
    assert "squash" in run(["show", "git-rebase"], workdir).stdout
    assert "Exported 4 skills" in run(["export", "--all", "out"], workdir).stdout
    assert (workdir / "out" / "notes" / "SKILL.md").is_file()
    assert "Imported 4 skills" in run(["--db", "copy.db", "import", "out"], workdir).stdout
    assert "Re-embedded" in run(["reindex"], workdir).stdout


def test_interactive_review_from_piped_input(workdir):
    out = run(["review"], workdir, input="r\nToo vague\n").stdout
    assert "draft::skill-id" in out and "0 approved, 1 rejected" in out
    assert json.loads(run(["review-queue", "--json"], workdir).stdout) == []


def test_init_and_env_db(tmp_path):
    out = run(["init"], tmp_path, env=clean_env(SKILLVAULT_DB=str(tmp_path / "lib" / "x.db"))).stdout
    assert "Created" in out and (tmp_path / "lib" / "x.db").exists()
    assert run(["--version"], tmp_path).stdout.startswith("skillvault ")


def test_errors_exit_codes_and_no_colour(workdir, tmp_path):
    missing = run(["list"], tmp_path / "..", env=clean_env(SKILLVAULT_DB=str(tmp_path / "none.db")), code=1)
    assert "skillvault init" in one_error_line(missing)
    assert "nope" in one_error_line(run(["show", "nope"], workdir, code=3))
    assert "agent mode" in one_error_line(run(["--agent", "approve", "draft::skill-id"], workdir, code=4))
    assert "ImportFormat" not in one_error_line(run(["import", "nothing.json"], workdir, code=1))
    usage = run(["reject", "draft::skill-id"], workdir, code=2)
    assert "--reason" in usage.stderr
    for result in (missing, usage):
        assert "\x1b[" not in result.stderr + result.stdout
    wrong = run(["query", "react"], workdir, code=1,
                env=clean_env(SKILLVAULT_EMBED_MODEL="text-embedding-3-small", SKILLVAULT_EMBED_API_KEY="k",
                              SKILLVAULT_EMBED_BASE_URL="http://127.0.0.1:9/v1"))
    assert "reindex" in one_error_line(wrong)


def test_stand_in_embedder_from_environment(tmp_path, openai_standin):
    env = clean_env(SKILLVAULT_DB=str(tmp_path / "s.db"), **embed_env(openai_standin.base_url))
    (tmp_path / "react.json").write_text(REACT.to_json())
    run(["import", "react.json"], tmp_path, env=env)
    out = run(["query", "React hooks useEffect"], tmp_path, env=env, via="module").stdout
    assert "frontend-react" in out
    assert json.loads(run(["stats", "--json"], tmp_path, env=env).stdout)["embedder"]["name"] == "openai:text-embedding-3-small"
    assert len(openai_standin.embedding_requests()) >= 2


HELP_PROBE = """
import sys
from skillvault.cli.app import app
try:
    app(["--help"], prog_name="skillvault")
except SystemExit:
    pass
heavy = ["numpy", "onnxruntime", "tiktoken", "openai", "skillvault.manager"]
print("LOADED", " ".join(name for name in heavy if name in sys.modules), file=sys.stderr)
"""


def _loaded_by_help() -> set[str]:
    result = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, env=clean_env(), timeout=60)
    line = next(line for line in result.stderr.splitlines() if line.startswith("LOADED"))
    return set(line.split()[1:])


def test_help_loads_no_model_runtime():
    loaded = _loaded_by_help()
    assert not loaded & {"onnxruntime", "tiktoken", "openai"}


def test_help_does_not_import_the_manager():
    assert not _loaded_by_help() & {"numpy", "skillvault.manager"}
