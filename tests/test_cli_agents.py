"""The command line for agents and scripts: global options anywhere, --json everywhere (or
refused), propose / extract / vote / archive / restore, errors in CLI terms, the demo's
arguments and what --help imports.

In-process runs use typer's CliRunner with the OpenAI-compatible stand-in as embedder (and
as LLM for extract); behaviour that is about the process (stdin, exit codes, no traceback)
runs real subprocesses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from skillvault import SkillManager
from skillvault.cli import app as app_module
from skillvault.cli import errors as exit_codes
from skillvault.cli.app import app
from test_cli import build_library, embed_env, one_error_line
from test_cli_subprocess import clean_env, run
from test_llm_adapters import ANSWER

CONVERSATION = [
    {"role": "user", "content": "asyncio.gather swallows my exceptions, how do I see them?"},
    {"role": "assistant", "content": [{"type": "text", "text": "Pass return_exceptions=True and check each result."}]},
]


@pytest.fixture
def sv(tmp_path, openai_standin, monkeypatch):
    """Run the CLI in-process against ``tmp_path/skills.db`` (stand-in embedder); ``extra_env`` per call."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    db = tmp_path / "skills.db"
    base_env = {"NO_COLOR": "1", **embed_env(openai_standin.base_url)}
    runner = CliRunner()

    def call(*args: str, input: str | None = None, code: int = 0, env: dict | None = None):
        result = runner.invoke(app, list(args), env={**base_env, **(env or {})}, input=input, catch_exceptions=False)
        assert result.exit_code == code, (args, result.exit_code, result.output)
        assert "Traceback" not in result.output
        return result

    call.db = db
    call.config = {"provider": "openai", "model": "text-embedding-3-small", "base_url": openai_standin.base_url,
                   "api_key": "sk-test"}
    call.llm_env = {"SKILLVAULT_LLM_MODEL": "gpt-4o-mini", "SKILLVAULT_LLM_BASE_URL": openai_standin.base_url,
                    "SKILLVAULT_LLM_API_KEY": "sk-test"}
    call.drafts = build_library(db, call.config)
    return call


def library(sv) -> SkillManager:
    return SkillManager(sv.db, embed_config=sv.config)


# --------------------------------------------------------------------------- global options anywhere


def test_global_options_after_the_command(sv, tmp_path):
    db = str(sv.db)
    rows = json.loads(sv("list", "--db", db, "--json", "--status", "canonical").stdout)
    assert sorted(r["id"] for r in rows) == ["frontend-react", "git-rebase"]
    assert json.loads(sv("list", f"--db={db}", "--json").stdout)  # --opt=value form
    # the value of a global option may look like a command name
    other = tmp_path / "list"
    sv("--db", str(other), "init")
    assert other.exists()
    assert json.loads(sv("--db", str(other), "list", "--json").stdout) == []
    # the same option before and after: the later one wins, as click does for repeated options
    assert json.loads(sv("--db", str(other), "list", "--db", db, "--json").stdout)
    # a command's short option with its value attached, and a command option's separate value
    assert len(json.loads(sv("search-skills", "React hooks", "-k1", "--db", db, "--json").stdout)) == 1
    assert "-k" in sv("search-skills", "React hooks", "-k", "0", "--json", "--db", db, code=exit_codes.USAGE).stderr
    # a global value option with nothing after it is a usage error, not a silent default
    result = sv("list", "--db", code=exit_codes.USAGE)
    assert "--db" in result.stderr


def test_global_options_leave_positionals_after_double_dash_and_command_values_alone(sv):
    db = str(sv.db)
    # after --, "--json" is the query text, not the global option: the output is plain text
    out = sv("query", "--db", db, "--", "--json").stdout
    with pytest.raises(ValueError):
        json.loads(out)
    # a command option's value that looks like a global option stays that option's value
    draft = sv.drafts["new"]
    sv("reject", draft, "--reason", "--db", "--db", db)
    with library(sv) as sm:
        assert sm.get(draft).status == "rejected"
        assert sm.history(draft)[-1]["details"].get("reason", "--db") == "--db"


def test_command_json_and_agent_flag_after_the_command(sv):
    db = str(sv.db)
    both = json.loads(sv("stats", "--json", "--db", db).stdout)  # the command's own --json
    assert both["skills"] >= 2
    result = sv("approve", sv.drafts["new"], "--agent", "--db", db, code=exit_codes.PERMISSION_DENIED)
    line = one_error_line(result)
    assert "skillvault approve" in line and "--agent" in line
    assert "SkillManager" not in line and "mode=" not in line


# --------------------------------------------------------------------------- --json everywhere or refused


def test_every_command_but_review_and_mcp_has_json_and_they_refuse_it(sv):
    group = get_command(app)
    without = []
    for name in group.list_commands(None):
        command = group._loaded(None, name)  # lazy commands (sync, mcp) too
        if "--json" not in {opt for p in command.params for opt in getattr(p, "opts", [])}:
            without.append(name)
    # interactive review; servers; a group whose `users list` has its own --json
    assert sorted(without) == ["mcp", "review", "serve", "users"]
    for name in without:
        assert "no JSON output" in sv("--json", name, code=exit_codes.USAGE).stderr
    sv("review", "--json", code=exit_codes.USAGE)  # hoisted: the same refusal
    sv("mcp", "--json", code=exit_codes.USAGE)


def test_json_results_of_write_commands(sv, tmp_path):
    new, revision = sv.drafts["new"], sv.drafts["revision"]
    approved = json.loads(sv("approve", revision, "--json").stdout)
    assert approved == {"draft_id": revision, "skill_id": "frontend-react", "status": "canonical", "version": 2}
    assert json.loads(sv("reject", new, "--reason", "dup", "--json").stdout) == {"skill_id": new, "status": "rejected"}
    assert json.loads(sv("rollback", "frontend-react", "1", "--json").stdout) == {
        "skill_id": "frontend-react", "restored_version": 1, "version": 3}
    exported = json.loads(sv("export", "git-rebase", "r.json", "--json").stdout)
    assert exported["skills"] == ["git-rebase"] and Path(exported["path"]).exists()
    imported = json.loads(sv("import", "r.json", "--json").stdout)
    assert "git-rebase" in json.dumps(imported)
    (tmp_path / "note.md").write_text("# Notes\n\nSome text about docker layer caching.\n")
    added = json.loads(sv("--json", "add", "note.md").stdout)
    assert added["skill_id"] == "note" and added["chunks"] >= 1 and isinstance(added["findings"], list)
    created = json.loads(sv("init", "--db", str(tmp_path / "new.db"), "--json").stdout)
    assert created["created"] is True and created["skills"] == 0
    backup = json.loads(sv("backup", str(tmp_path / "copy.db"), "--json").stdout)
    assert Path(backup["backup"]).exists()


def test_import_json_when_nothing_is_imported_is_one_document_and_an_error(sv, tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"skills": [{"id": "Bad Id!"}]}))
    result = sv("import", "bad.json", "--json", code=exit_codes.ERROR)
    report = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert report["skipped"]


# --------------------------------------------------------------------------- archive / restore / vote


def test_archive_and_restore(sv):
    assert "frontend-react" in sv("query", "React hooks useEffect").stdout
    assert json.loads(sv("archive", "frontend-react", "--json").stdout) == {"skill_id": "frontend-react", "status": "archived"}
    assert "frontend-react" not in sv("query", "React hooks useEffect").stdout
    assert "restore" in sv("archive", "git-rebase").stdout
    assert json.loads(sv("restore", "frontend-react", "--json").stdout) == {"skill_id": "frontend-react", "status": "canonical"}
    assert "frontend-react" in sv("query", "React hooks useEffect").stdout
    sv("restore", "frontend-react", code=exit_codes.ERROR)  # not archived
    sv("archive", "no-such-skill", code=exit_codes.NOT_FOUND)
    line = one_error_line(sv("--agent", "archive", "git-rebase", code=exit_codes.PERMISSION_DENIED))
    assert "skillvault archive" in line


def test_vote_is_an_agent_report_unless_human(sv):
    result = json.loads(sv("vote", "git-rebase", "--helpful", "--json").stdout)
    assert result["mode"] == "agent" and result["helpful"] is True
    assert result["usage"]["helpful"] == 1 and result["usage"]["by_agents"]["helpful"] == 1
    noted = json.loads(sv("vote", "git-rebase", "--helpful", "--note", "worked; token sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c",
                          "--json").stdout)
    assert noted["usage"]["notes"][0]["note"].startswith("worked") and "sk-live" not in json.dumps(noted)
    assert "--note" in one_error_line(sv("vote", "git-rebase", "--helpful", "--note", "x" * 2000, code=exit_codes.ERROR))
    out = sv("vote", "git-rebase", "--unhelpful", "--human").stdout
    assert "unhelpful vote for git-rebase" in out
    with library(sv) as sm:
        usage = sm.usage("git-rebase")
    assert (usage["uses"], usage["unhelpful"], usage["by_agents"]["unhelpful"]) == (3, 1, 0)
    sv("vote", "git-rebase", code=exit_codes.USAGE)  # neither --helpful nor --unhelpful
    sv("vote", "no-such-skill", "--helpful", code=exit_codes.NOT_FOUND)
    sv("--agent", "vote", "git-rebase", "--helpful", "--human", code=exit_codes.USAGE)  # contradiction


# --------------------------------------------------------------------------- propose


def test_propose_with_options_writes_an_agent_draft(sv):
    out = sv("propose", "--title", "Bisect a regression", "--playbook", "1. git bisect start\n2. git bisect bad",
             "--examples", "git bisect run pytest", "--when-to-use", "A test started failing.",
             "--depends-on", "git-rebase", "--tag", "git", "--tag", "debugging", "--confidence", "0.8").stdout
    draft_id = out.strip().splitlines()[-1]
    assert draft_id.startswith("draft::")
    with library(sv) as sm:
        draft = sm.get(draft_id)
        assert draft.status == "draft" and draft.confidence == pytest.approx(0.8)
        assert "git bisect start" in "\n".join(c.content for c in draft.chunks)
        assert sm.history(draft_id)[0]["actor"] == "agent"
        assert draft_id in [d.id for d in sm.review_queue()]
    human = json.loads(sv("propose", "--human", "--title", "Tag releases", "--playbook", "git tag -a v1", "--json").stdout)
    assert human["mode"] == "human"
    with library(sv) as sm:
        assert sm.history(human["draft_id"])[0]["actor"] == "human"


def test_propose_errors_name_the_option_and_store_nothing(sv):
    with library(sv) as sm:
        before = {s.id for s in sm.list()}
    line = one_error_line(sv("propose", "--title", "T", "--playbook", "p", "--depends-on", "nope", code=exit_codes.ERROR))
    assert line.startswith("Error: --depends-on (item 1):") and "nope" in line
    line = one_error_line(sv("propose", "--title", "x" * 200, "--playbook", "p", code=exit_codes.ERROR))
    assert line.startswith("Error: --title:")
    assert "--playbook" in one_error_line(sv("propose", "--title", "T", code=exit_codes.USAGE))
    sv("propose", "--title", "T", "--playbook", "p", "--confidence", "2", code=exit_codes.USAGE)
    sv("propose", "file.md", code=exit_codes.USAGE)  # a path needs --file
    with library(sv) as sm:
        assert {s.id for s in sm.list()} == before


def test_propose_json_document_from_a_file(sv, tmp_path):
    doc = {"title": "Pin Docker base images", "playbook": "Use a digest: FROM python@sha256:...",
           "tags": ["docker"], "dependencies": ["git-rebase"]}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    result = json.loads(sv("propose", "--file", "p.json", "--tag", "ci", "--json").stdout)
    with library(sv) as sm:
        assert "Pin Docker base images" == sm.get(result["draft_id"]).name
    (tmp_path / "bad.json").write_text(json.dumps({"title": "T", "playbok": "typo"}))
    line = one_error_line(sv("propose", "--file", "bad.json", code=exit_codes.USAGE))
    assert "playbok" in line and "playbook" in line
    (tmp_path / "wrong.json").write_text(json.dumps({"title": "T", "playbook": 3}))
    assert "wrong.json: playbook" in one_error_line(sv("propose", "--file", "wrong.json", code=exit_codes.ERROR))


def test_propose_markdown_on_stdin_as_a_process(sv, tmp_path):
    doc = ("# Squash commits before review\n\n## Playbook\nRun `git rebase -i main`.\n\n### Caveat\nNever on shared "
           "branches.\n\n## Examples\n```\n## this is code, not a section\n```\n\n## When to use\nBefore a PR.\n\n"
           "## Depends on\n- git-rebase\n\n## Tags\n- git, review\n")
    env = clean_env(SKILLVAULT_DB=str(sv.db), **embed_env(sv.config["base_url"]))
    out = run(["propose", "-", "--json"], tmp_path, input=doc, env=env).stdout
    draft_id = json.loads(out)["draft_id"]
    with library(sv) as sm:
        draft = sm.get(draft_id)
    text = "\n".join(c.content for c in draft.chunks)
    assert draft.name == "Squash commits before review"
    assert "Never on shared branches" in text and "## this is code, not a section" in text and "Before a PR" in text
    result = run(["propose", "-"], tmp_path, input="# T\n\n## Steps\nx\n", env=env, code=exit_codes.USAGE)
    assert "## Steps" in result.stderr and "## Playbook" in result.stderr
    run(["propose", "-"], tmp_path, input="no title here\n", env=env, code=exit_codes.USAGE)


def test_propose_markdown_confidence_and_an_empty_library(sv, tmp_path):
    (tmp_path / "p.md").write_text("# Cache pip downloads\nUse `pip download -d wheels`.\n## Confidence\n0.6\n")
    draft_id = json.loads(sv("propose", "--file", "p.md", "--json").stdout)["draft_id"]
    with library(sv) as sm:
        assert sm.get(draft_id).confidence == pytest.approx(0.6)
    (tmp_path / "q.md").write_text("# T\n## Confidence\nhigh\n")
    assert "## Confidence" in one_error_line(sv("propose", "--file", "q.md", code=exit_codes.USAGE))
    bare = str(tmp_path / "bare.db")
    SkillManager(bare, embed_config=sv.config).close()  # created in Python, never written to
    line = one_error_line(sv("propose", "--db", bare, "--title", "T", "--playbook", "p",
                             code=exit_codes.PERMISSION_DENIED))
    assert "empty library" in line and "skillvault init" in line and "--human" in line
    sv("init", "--db", bare)  # records the embedder: agents can add drafts from now on
    assert json.loads(sv("propose", "--db", bare, "--title", "T", "--playbook", "p", "--json").stdout)["draft_id"]
    empty = str(tmp_path / "empty.db")
    sv("init", "--db", empty)
    assert json.loads(sv("propose", "--db", empty, "--title", "T", "--playbook", "p", "--json").stdout)["draft_id"]


def test_agent_refusals_name_the_command_not_python(sv, tmp_path):
    (tmp_path / "r.json").write_text(json.dumps({"id": "x", "name": "X", "chunks": [{"id": "x::a", "content": "a"}]}))
    for args in (("approve", sv.drafts["new"]), ("review-queue",), ("reject", sv.drafts["new"], "--reason", "x"),
                 ("export", "git-rebase", "out.json"), ("import", "r.json"), ("reindex",), ("history", "git-rebase"),
                 ("rollback", "git-rebase", "1"), ("backup", "copy.db"), ("lint",)):
        line = one_error_line(sv("--agent", *args, code=exit_codes.PERMISSION_DENIED))
        assert f"`skillvault {args[0]}` is not allowed in agent mode" in line, line
        assert "SkillManager" not in line and "mode=" not in line and "import_" not in line


def test_agent_listing_drafts_says_what_agents_may_list(sv):
    line = one_error_line(sv("list", "--status", "draft", "--agent", code=exit_codes.PERMISSION_DENIED))
    assert "canonical skills only" in line and "SkillManager" not in line


# --------------------------------------------------------------------------- extract


def test_extract_without_an_llm_says_how_to_configure_one(sv, tmp_path):
    (tmp_path / "c.json").write_text(json.dumps(CONVERSATION))
    line = one_error_line(sv("extract", "c.json", code=exit_codes.USAGE))
    assert "--llm-model" in line and "SKILLVAULT_LLM_MODEL" in line and "skillvault propose" in line


def test_extract_missing_key_names_the_environment_variable(sv, tmp_path):
    (tmp_path / "c.json").write_text(json.dumps(CONVERSATION))
    env = {"SKILLVAULT_LLM_MODEL": "gpt-4o-mini", "SKILLVAULT_LLM_BASE_URL": sv.llm_env["SKILLVAULT_LLM_BASE_URL"]}
    line = one_error_line(sv("extract", "c.json", env=env, code=exit_codes.ERROR))
    assert "SKILLVAULT_LLM_API_KEY" in line and "llm_config" not in line


def test_extract_messages_file_makes_an_agent_draft(sv, openai_standin, tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"messages": CONVERSATION}))
    openai_standin.chat_replies.append(ANSWER)
    draft_id = sv("extract", "c.json", env=sv.llm_env).stdout.strip().splitlines()[-1]
    with library(sv) as sm:
        assert sm.get(draft_id).name == ANSWER["title"]
        assert sm.history(draft_id)[0]["actor"] == "agent"
    chat = [r for r in openai_standin.requests if r["path"] == "/v1/chat/completions"]
    assert "return_exceptions=True" in json.dumps(chat[-1]["body"])


def test_extract_nothing_reusable_and_a_bad_answer_have_their_exit_codes(sv, openai_standin, tmp_path):
    (tmp_path / "c.txt").write_text("user: hi\nassistant: hello")
    result = sv("extract", "c.txt", "--json", env=sv.llm_env, code=exit_codes.NO_DRAFT)  # default reply: no knowledge
    assert json.loads(result.stdout)["draft_id"] is None
    assert "no reusable knowledge" in one_error_line(result)
    openai_standin.chat_replies.append("Sorry, I cannot help with that.")
    assert "no JSON object" in one_error_line(sv("extract", "c.txt", env=sv.llm_env, code=exit_codes.ERROR))
    (tmp_path / "bad.json").write_text(json.dumps([{"role": "user", "content": 5}]))
    assert "bad.json" in one_error_line(sv("extract", "bad.json", env=sv.llm_env, code=exit_codes.ERROR))
    (tmp_path / "obj.json").write_text(json.dumps({"conversation": []}))
    sv("extract", "obj.json", env=sv.llm_env, code=exit_codes.USAGE)


def test_extract_from_stdin_with_anthropic_as_a_process(sv, anthropic_standin, tmp_path):
    anthropic_standin.replies.append(ANSWER)
    env = clean_env(SKILLVAULT_DB=str(sv.db), SKILLVAULT_LLM_MODEL="claude-test", SKILLVAULT_LLM_PROVIDER="anthropic",
                    SKILLVAULT_LLM_BASE_URL=anthropic_standin.base_url, SKILLVAULT_LLM_API_KEY="sk-ant-test",
                    **embed_env(sv.config["base_url"]))
    out = run(["extract", "-", "--format", "text", "--json"], tmp_path, input="user: gather hides errors\n", env=env).stdout
    result = json.loads(out)
    assert result["draft_id"].startswith("draft::") and result["mode"] == "agent"


# --------------------------------------------------------------------------- errors in CLI terms


def test_missing_embedding_key_names_the_environment_variable(sv, monkeypatch):
    result = sv("query", "hooks", env={"SKILLVAULT_EMBED_API_KEY": ""}, code=exit_codes.ERROR)
    line = one_error_line(result)
    assert "SKILLVAULT_EMBED_API_KEY" in line and "embed_config" not in line


def test_bad_llm_base_url_names_the_option(sv, tmp_path):
    (tmp_path / "c.txt").write_text("user: hi")
    env = {**sv.llm_env, "SKILLVAULT_LLM_BASE_URL": "localhost:1234"}
    line = one_error_line(sv("extract", "c.txt", env=env, code=exit_codes.ERROR))
    assert "--llm-base-url" in line and "llm_config" not in line


# --------------------------------------------------------------------------- demo, start-up, lazy commands


def test_demo_help_and_bad_arguments_create_nothing(tmp_path):
    def demo(*args: str, code: int) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "skillvault.demo", *args], cwd=tmp_path, capture_output=True,
                                text=True, env=clean_env(), timeout=60)
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr
        return result

    assert "usage: python -m skillvault.demo" in demo("--help", code=0).stdout
    assert "unrecognized arguments" in demo("a.db", "b.db", code=2).stderr
    demo("--bogus", code=2)
    (tmp_path / "folder").mkdir()
    assert "is a folder" in demo("folder", code=2).stderr
    assert "does not exist" in demo("missing/x.db", code=2).stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


PROBE = """
import sys
from skillvault.cli.app import app
try:
    app(sys.argv[1:], prog_name="skillvault")
except SystemExit:
    pass
print("LOADED", " ".join(sorted(m for m in ("rich", "pydantic", "skillvault.models", "skillvault.manager",
      "numpy", "lazy_probe_cmd") if m in sys.modules)), file=sys.stderr)
"""


def test_cli_limits_match_the_library():
    from skillvault.cli import common
    from skillvault.models import MAX_VERSION

    assert common.MAX_VERSION == MAX_VERSION


def test_help_imports_neither_rich_nor_the_library():
    result = subprocess.run([sys.executable, "-c", PROBE, "--help"], capture_output=True, text=True, env=clean_env(),
                            timeout=60)
    assert "propose" in result.stdout and "vote" in result.stdout
    loaded = next(line for line in result.stderr.splitlines() if line.startswith("LOADED")).split()[1:]
    assert loaded == []


def test_a_lazy_command_is_imported_only_when_run(sv, tmp_path, monkeypatch):
    (tmp_path / "lazy_probe_cmd.py").write_text(
        "import typer\n"
        "from skillvault.cli.common import JsonOption, settings_of\n"
        "def probe(ctx: typer.Context, word: str = typer.Argument('x'), json_: bool = JsonOption) -> None:\n"
        "    '''Say a word.'''\n"
        "    typer.echo(f'{word} db={settings_of(ctx).db.name} json={json_ or settings_of(ctx).json}')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(app_module.LAZY_COMMANDS, "probe", ("lazy_probe_cmd:probe", "Say a word."))
    monkeypatch.delitem(sys.modules, "lazy_probe_cmd", raising=False)
    help_text = sv("--help").stdout
    assert "probe" in help_text and "Say a word." in help_text
    assert "lazy_probe_cmd" not in sys.modules
    assert sv("probe", "hi", "--db", "other.db", "--json").stdout.strip() == "hi db=other.db json=True"
    assert "lazy_probe_cmd" in sys.modules
