"""The command line through typer's CliRunner, against real databases.

Embeddings come from the OpenAI-compatible stand-in (``openai_standin``), chosen with the
CLI's own environment variables, so the ONNX model is not loaded for every invocation.
Drafts are made by the library's ``extract`` with a scripted ``llm_fn``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skillvault import SkillManager
from skillvault.cli import errors as exit_codes
from skillvault.cli.app import LLMProvider, Source, Status, app
from skillvault.cli.session import Settings
from skillvault.growth.llm import PROVIDERS
from skillvault.models import SOURCES, STATUSES, Chunk, Skill
from test_growth import ASYNC_ANSWER

REACT = Skill(
    id="frontend-react",
    name="Frontend React",
    description="React hooks and patterns.",
    chunks=[
        Chunk(id="frontend-react::hooks", section="React Hooks",
              content="## useEffect\n\nUse useEffect for side effects and return a cleanup function."),
        Chunk(id="frontend-react::state", section="State",
              content="## useState\n\nKeep component state with useState; never mutate it."),
    ],
)
REBASE = Skill(
    id="git-rebase",
    name="Git rebase",
    chunks=[Chunk(id="git-rebase::steps", section="Steps",
                  content="Run git rebase -i main to squash commits before a pull request.")],
)
REVISION_ANSWER = {
    "has_knowledge": True,
    "title": "Frontend React",  # same title as the canonical skill: a proposed revision of it
    "playbook": "Use useEffect for side effects; always return a cleanup function from subscriptions.",
    "examples": "```js\nuseEffect(() => { const id = subscribe(); return () => unsubscribe(id); }, []);\n```",
    "when_to_use": "When a React component subscribes to events.",
    "confidence": 0.9,
}


def embed_env(base_url: str) -> dict[str, str]:
    """Environment selecting the OpenAI-compatible stand-in as the CLI's embedder."""
    return {
        "SKILLVAULT_EMBED_MODEL": "text-embedding-3-small",
        "SKILLVAULT_EMBED_BASE_URL": base_url,
        "SKILLVAULT_EMBED_API_KEY": "sk-test",
    }


def build_library(db: Path, embed_config: dict | None = None, drafts: bool = True) -> dict[str, str]:
    """Make a library with two canonical skills and (optionally) two extracted drafts.

    Returns:
        ``{"new": draft id, "revision": draft id}`` (empty without drafts).
    """
    answers = [dict(ASYNC_ANSWER), dict(REVISION_ANSWER)]
    with SkillManager(db, embed_config=embed_config, llm_fn=lambda text: answers.pop(0), auto_promote=None) as sm:
        sm.register(Skill.from_dict(REACT.to_dict()))
        sm.register(Skill.from_dict(REBASE.to_dict()))
        if not drafts:
            return {}
        new = sm.extract("How do I handle errors in async Python? Use asyncio.gather ...")
        revision = sm.extract("How do I clean up React effects?")
    return {"new": new, "revision": revision}


@pytest.fixture
def cli(tmp_path, openai_standin, monkeypatch):
    """Run the CLI in-process against ``tmp_path/skills.db`` with the stand-in embedder."""
    db = tmp_path / "skills.db"
    env = {"SKILLVAULT_DB": str(db), "NO_COLOR": "1", **embed_env(openai_standin.base_url)}
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)

    def run(*args: str, input: str | None = None, code: int = 0):
        result = runner.invoke(app, list(args), env=env, input=input, catch_exceptions=False)
        assert result.exit_code == code, (result.exit_code, result.output)
        return result

    run.db = db
    run.config = {"provider": "openai", "model": "text-embedding-3-small", "base_url": openai_standin.base_url,
                  "api_key": "sk-test"}
    return run


@pytest.fixture
def library(cli):
    """``cli`` with a built library; ``cli.drafts`` holds the draft ids."""
    cli.drafts = build_library(cli.db, cli.config)
    return cli


def one_error_line(result) -> str:
    """Assert the run printed exactly one non-empty line on stderr, no traceback; return it."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


# --------------------------------------------------------------------------- basics


def test_enums_match_the_library():
    assert tuple(s.value for s in Status) == STATUSES
    assert tuple(s.value for s in Source) == SOURCES
    assert tuple(p.value for p in LLMProvider) == PROVIDERS


def test_llm_settings_build_the_llm_config(monkeypatch, tmp_path):
    monkeypatch.delenv("SKILLVAULT_LLM_API_KEY", raising=False)
    assert Settings(db=tmp_path / "x.db").llm_config() is None
    monkeypatch.setenv("SKILLVAULT_LLM_API_KEY", "k-123")
    settings = Settings(db=tmp_path / "x.db", llm_model="claude-x", llm_provider="anthropic", llm_base_url="http://127.0.0.1:9/")
    assert settings.llm_config() == {"provider": "anthropic", "model": "claude-x", "base_url": "http://127.0.0.1:9/", "api_key": "k-123"}


def test_help_version_and_usage_errors(cli):
    assert "review-queue" in cli("--help").stdout
    assert cli("--version").stdout.startswith("skillvault 0.")
    cli("no-such-command", code=exit_codes.USAGE)
    cli("reject", "draft::x", code=exit_codes.USAGE)  # --reason is required
    cli("list", "--status", "bogus", code=exit_codes.USAGE)


def test_init_then_empty_list(cli):
    assert "Created" in cli("init").stdout
    assert cli.db.exists()
    assert "already exists" in cli("init").stdout
    assert "none" in cli("list").stdout
    assert json.loads(cli("list", "--json").stdout) == []


def test_missing_database_is_one_line_error(cli):
    result = cli("list", code=exit_codes.ERROR)
    assert "skillvault init" in one_error_line(result)
    assert not cli.db.exists()


# --------------------------------------------------------------------------- read commands


def test_list_table_filters_and_json(library):
    out = library("list").stdout
    assert "frontend-react" in out and "git-rebase" in out and library.drafts["new"] in out
    rows = json.loads(library("list", "--status", "canonical", "--json").stdout)
    assert sorted(r["id"] for r in rows) == ["frontend-react", "git-rebase"]
    assert set(rows[0]) == {"id", "name", "status", "source", "version", "confidence", "chunks", "tokens",
                            "description", "revises", "flags", "created_at"}
    extracted = json.loads(library("--json", "list", "--source", "extracted").stdout)
    assert {r["id"] for r in extracted} == set(library.drafts.values())


def test_review_queue_table_and_json(library):
    out = library("review-queue").stdout
    assert library.drafts["new"] in out and "frontend-react" in out  # the revision names what it revises
    rows = json.loads(library("review-queue", "--json").stdout)
    assert {r["id"] for r in rows} == set(library.drafts.values())
    revision = next(r for r in rows if r["id"] == library.drafts["revision"])
    assert revision["revises"] == "frontend-react" and revision["uses"] == 0


def test_show_markdown_json_and_not_found(library):
    out = library("show", "frontend-react").stdout
    assert out.startswith("# Frontend React") and "## useEffect" in out and "React hooks and patterns." in out
    data = json.loads(library("show", "frontend-react", "--json").stdout)
    assert data["id"] == "frontend-react" and len(data["chunks"]) == 2
    result = library("show", "nope", code=exit_codes.NOT_FOUND)
    assert "nope" in one_error_line(result)


def test_stats_table_and_json(library):
    assert "canonical" in library("stats").stdout
    data = json.loads(library("stats", "--json").stdout)
    assert data["canonical"] == 2 and data["draft"] == 2 and data["embedder"]["name"] == "openai:text-embedding-3-small"


def test_query_prints_context_explain_and_json(library):
    out = library("query", "React hooks useEffect cleanup", "--budget", "500").stdout
    assert out.startswith('<skill name="frontend-react">') and "useEffect" in out
    explained = library("query", "React hooks useEffect cleanup", "--explain").stdout
    assert "budget 2000 tokens" in explained and "+ frontend-react::hooks" in explained
    data = json.loads(library("query", "React hooks useEffect", "--json").stdout)
    assert set(data) == {"text", "budget", "used_tokens", "served_skill_ids", "decisions"}
    assert data["served_skill_ids"] == ["frontend-react"] and data["used_tokens"] <= 2000
    assert set(data["decisions"][0]) == {"chunk_id", "skill_id", "taken", "reason", "tokens", "fused_score"}
    nothing = library("query", "zebra migration patterns")
    assert nothing.stdout == "" and "No relevant skill" in nothing.stderr
    library("query", "x", "--budget", "0", code=exit_codes.USAGE)


def test_search_table_and_json(library):
    out = library("search", "git rebase squash commits", "-k", "3").stdout
    assert "git-rebase" in out and "Fused" in out
    hits = json.loads(library("search", "git rebase squash commits", "-k", "1", "--json").stdout)
    assert len(hits) == 1 and hits[0]["skill_id"] == "git-rebase" and hits[0]["rank"] == 1
    assert set(hits[0]) == {"rank", "skill_id", "skill_name", "chunk_id", "section", "tokens", "fused_score",
                            "vector_score", "lexical_score", "relevant"}


def test_doctor_reports_everything(library):
    out = library("doctor").stdout
    for word in ("Python", "sqlean", "sqlite-vec", "FTS5", "Integrity check", "Schema version", "Embedder recorded"):
        assert word in out
    data = json.loads(library("doctor", "--json").stdout)
    assert data["ok"] is True and {c["name"] for c in data["checks"]} >= {"SQLite module", "FTS5", "Integrity check"}


def test_doctor_flags_a_wrong_embedder_and_missing_db(library, tmp_path):
    result = CliRunner().invoke(app, ["--db", str(library.db), "doctor", "--json"], env={"NO_COLOR": "1"})
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    embedder = next(c for c in data["checks"] if c["name"] == "Embedder in use")
    assert embedder["ok"] is False and "reindex" in embedder["value"]
    missing = library("--db", str(tmp_path / "none.db"), "doctor", code=1)
    assert "FAIL" in missing.stdout and not (tmp_path / "none.db").exists()


# --------------------------------------------------------------------------- review


def test_approve_reject_and_history(library):
    new, revision = library.drafts["new"], library.drafts["revision"]
    out = library("approve", revision, "--reviewer", "ann", "--note", "clearer").stdout
    assert f"Approved {revision} -> frontend-react" in out
    library("reject", new, "--reason", "Not useful")
    assert json.loads(library("review-queue", "--json").stdout) == []
    history = json.loads(library("history", "frontend-react", "--json").stdout)
    assert history["versions"] == [1, 2]
    assert [e["action"] for e in history["events"]][-1] == "approve" and history["events"][-1]["actor"] == "ann"
    table = library("history", new).stdout
    assert "reject" in table and "Not useful" in table
    library("history", "no-such-skill", code=exit_codes.NOT_FOUND)
    result = library("approve", "draft::missing", code=exit_codes.NOT_FOUND)
    one_error_line(result)


def test_rollback(library):
    library("approve", library.drafts["revision"])
    out = library("rollback", "frontend-react", "1").stdout
    assert "version 1 restored as version 3" in out
    assert "Use useEffect for side effects and return" in library("show", "frontend-react").stdout
    library("rollback", "frontend-react", "9", code=exit_codes.NOT_FOUND)


def test_interactive_review_approve_reject_skip(library):
    # Newest first: the revision draft, then the new one.
    result = library("review", "--reviewer", "bob", input="a\nr\nNo sources given\n")
    out = result.stdout
    assert "--- frontend-react (version 1)" in out and f"+++ {library.drafts['revision']}" in out
    assert "+Use useEffect for side effects; always return" in out  # the diff of the revision
    assert "1 approved, 1 rejected, 0 skipped" in out
    history = json.loads(library("history", library.drafts["new"], "--json").stdout)
    assert history["events"][-1]["reason"] == "No sources given" and history["events"][-1]["actor"] == "bob"


def test_interactive_review_skip_quit_and_bad_keys(library):
    out = library("review", input="x\ns\nq\n").stdout
    assert "Please press one of" in out and "0 approved, 0 rejected, 1 skipped" in out
    assert len(json.loads(library("review-queue", "--json").stdout)) == 2
    assert "0 approved" in library("review", input="").stdout  # end of input quits


# --------------------------------------------------------------------------- import / export / add


def test_export_import_json_round_trip(library, tmp_path):
    library("export", "frontend-react", "react.json")
    assert json.loads((tmp_path / "react.json").read_text())["id"] == "frontend-react"
    other = tmp_path / "other.db"
    out = library("--db", str(other), "import", "react.json").stdout
    assert "Imported 1 skill: frontend-react" in out
    assert [r["id"] for r in json.loads(library("--db", str(other), "list", "--json").stdout)] == ["frontend-react"]


def test_export_all_folder_and_json_then_import_folder(library, tmp_path):
    out = library("export", "--all", "skills-out", "--status", "canonical").stdout
    assert "Exported 2 skills" in out
    assert (tmp_path / "skills-out" / "git-rebase" / "SKILL.md").is_file()
    library("export", "--all", "library.json")
    assert len(json.loads((tmp_path / "library.json").read_text())["skills"]) == 4
    other = tmp_path / "other.db"
    assert "Imported 2 skills" in library("--db", str(other), "import", "skills-out").stdout
    library("export", "only-one-arg", code=exit_codes.USAGE)
    library("export", "--all", "a", "b", code=exit_codes.USAGE)
    library("export", "nope", "x.json", code=exit_codes.NOT_FOUND)


def test_import_errors_are_one_line(cli, tmp_path):
    missing = cli("import", "missing.json", code=exit_codes.ERROR)
    assert "missing.json" in one_error_line(missing)
    bad = tmp_path / "bad" / "my-skill"
    bad.mkdir(parents=True)
    (bad / "SKILL.md").write_text("---\nname: my-skill\ndescription: x\nname: again\n---\nBody\n")
    result = cli("import", str(tmp_path / "bad"), code=exit_codes.ERROR)
    assert "SKILL.md:4:" in one_error_line(result) and "twice" in result.stderr
    assert json.loads(cli("list", "--json").stdout) == []  # nothing imported (the DB was created empty)


def test_add_markdown_files(cli, tmp_path):
    (tmp_path / "react-hooks.md").write_text("# React hooks\n\nIntro.\n\n## useEffect\n\nClean up effects.\n")
    assert "Added react-hooks (2 chunks" in cli("add", "react-hooks.md").stdout
    skill = json.loads(cli("show", "react-hooks", "--json").stdout)
    assert skill["name"] == "React hooks" and skill["source"] == "manual"
    result = cli("add", "react-hooks.md", code=exit_codes.ERROR)
    assert "--replace" in one_error_line(result)
    assert "Added react-hooks" in cli("add", "react-hooks.md", "--replace").stdout
    assert "Added hooks" in cli("add", "react-hooks.md", "--id", "hooks").stdout
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "SKILL.md").write_text("---\nname: pdf-tools\ndescription: Work with PDFs.\n---\n# PDF\n\nUse pypdf.\n")
    cli("add", "pdf/SKILL.md")
    cli("export", "pdf-tools", "exported")
    assert (tmp_path / "exported" / "pdf-tools" / "SKILL.md").read_text() == (tmp_path / "pdf" / "SKILL.md").read_text()
    assert "is a folder" in one_error_line(cli("add", "pdf", code=exit_codes.ERROR))
    assert "no such file" in one_error_line(cli("add", "nothing.md", code=exit_codes.ERROR))


def test_reindex_switches_embedder(library, openai_standin):
    env_db = ["--db", str(library.db)]
    out = library(*env_db, "--embed-dimensions", "64", "reindex").stdout
    assert "Re-embedded" in out
    # The old embedder no longer matches: one line naming reindex and --embed-model.
    result = library(*env_db, "query", "react", code=exit_codes.ERROR)
    line = one_error_line(result)
    assert "reindex" in line and "--embed-model" in line
    assert "frontend-react" in library(*env_db, "--embed-dimensions", "64", "query", "React hooks useEffect").stdout


# --------------------------------------------------------------------------- agent mode


def test_agent_mode_permissions(library, tmp_path):
    (tmp_path / "r.json").write_text(REBASE.to_json())
    assert "frontend-react" in library("--agent", "query", "React hooks useEffect").stdout
    rows = json.loads(library("--agent", "list", "--json").stdout)
    assert {r["status"] for r in rows} == {"canonical"}
    for args in (("approve", library.drafts["new"]), ("review-queue",), ("reject", library.drafts["new"], "--reason", "x"),
                 ("export", "frontend-react", "r.json"), ("import", "r.json"), ("reindex",),
                 ("list", "--status", "draft")):
        result = library("--agent", *args, code=exit_codes.PERMISSION_DENIED)
        one_error_line(result)
    library("--agent", "show", library.drafts["new"], code=exit_codes.NOT_FOUND)  # agents see no drafts


def test_no_colour_codes_when_not_a_tty(library):
    result = library("approve", "draft::missing", code=exit_codes.NOT_FOUND)
    assert "\x1b[" not in result.stderr
    assert "\x1b[" not in library("list").stdout
