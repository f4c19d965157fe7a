"""The MCP server as agents meet it: a real subprocess driven by the ``mcp`` SDK's own client.

The library is built with a human-mode SkillManager (the built-in local embedder, which
the server uses too); the server runs ``python -m skillvault.mcp`` over stdio, and
``python -m skillvault.cli ... mcp --http`` over streamable HTTP with a bearer token.
Results are checked against the database, and canonical data against a digest taken
before the clients spoke.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared._httpx_utils import create_mcp_http_client  # noqa: E402

from skillvault import SkillManager  # noqa: E402

from test_growth import ASYNC_ANSWER  # noqa: E402
from standins.openai_server import OpenAIStandIn  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
FIXTURES = Path(__file__).parent / "fixtures" / "agent_skills"
SKILLS = ["database-lookup", "git-hygiene", "incident-triage", "pdf-forms"]
AGENT_TOOLS = {"find_skills", "search_skills", "get_skill", "read_skill_file", "propose_skill", "report_outcome"}
REVIEW_WORDS = ("approve", "reject", "register", "import", "archive", "restore", "rollback", "delete", "export",
                "reindex", "review")
TOKEN = "test-token-0123456789abcdef"
CALL_TIMEOUT = 60


# --------------------------------------------------------------------------- library


@pytest.fixture(scope="module")
def built_library(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mcp-library")
    with SkillManager(folder / "skills.db") as sm:
        for name in SKILLS:
            sm.import_(FIXTURES / name)
    assert not (folder / "skills.db-wal").exists() or (folder / "skills.db-wal").stat().st_size == 0
    return folder / "skills.db"


@pytest.fixture
def db(built_library, tmp_path) -> Path:
    """A fresh copy of the library for one test."""
    target = tmp_path / "skills.db"
    shutil.copy(built_library, target)
    return target


def canonical_digest(path: Path) -> str:
    """sha256 over everything but what agents may add (their drafts, usage counts and notes)."""
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        agent_rows = {
            "agent_usage": "0", "usage_notes": "0", "draft_vectors": "0",
            "skills": "status != 'draft'", "chunks": "skill_id NOT LIKE 'draft::%'",
            "skill_versions": "skill_id NOT LIKE 'draft::%'", "audit_log": "actor != 'agent'",
        }
        digest = hashlib.sha256()
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name")]
        for name in names:
            where = agent_rows.get(name, "1")
            rows = sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{name}" WHERE {where}'))
            digest.update(f"{name}:{len(rows)}\n{rows}\n".encode("utf-8", "backslashreplace"))
        return digest.hexdigest()
    finally:
        conn.close()


def server_env(db: Path, **extra: str) -> dict[str, str]:
    return {"PYTHONPATH": str(SRC), "SKILLVAULT_DB": str(db), **extra}


def stdio_params(db: Path, **extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "skillvault.mcp"], env=server_env(db, **extra))


# --------------------------------------------------------------------------- a client usable from sync tests


class Session:
    """An SDK client connected to a server, driven from synchronous test code.

    The client lives in one task of an event loop on a background thread (its task
    groups must be entered and left by the same task); calls are submitted to that loop.
    """

    def __init__(self, target: Any, headers: dict[str, str] | None = None):
        self._target, self._headers = target, headers
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._main = asyncio.run_coroutine_threadsafe(self._hold(), self._loop)
        if not self._ready.wait(CALL_TIMEOUT) or self._failure:
            raise RuntimeError(f"the client could not connect: {self._failure!r}")

    async def _hold(self) -> None:
        self._closing = asyncio.Event()
        try:
            async with AsyncExitStack() as stack:
                target = self._target
                if self._headers is not None:
                    http = await stack.enter_async_context(create_mcp_http_client(headers=self._headers))
                    target = streamable_http_client(self._target, http_client=http)
                self.client = await stack.enter_async_context(Client(target, cache=None))
                self._ready.set()
                await self._closing.wait()
        except BaseException as exc:  # surfaced by __init__
            self._failure = exc
            self._ready.set()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT)

    def call(self, name: str, arguments: Any) -> Any:
        return self.run(self.client.call_tool(name, arguments))

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._closing.set)
        self._main.result(CALL_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CALL_TIMEOUT)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


# --------------------------------------------------------------------------- every tool, over stdio


def check_every_tool(session: Session, db: Path) -> None:
    """Call each agent tool once and check what it says against the database."""
    human = SkillManager(db)
    try:
        # find_skills: the packed context, counted as the agent's use of what it served
        before_uses = human.usage("pdf-forms")["by_agents"]["uses"]
        found = session.call("find_skills", {"task": "fill in a fillable PDF form and flatten it", "budget": 600})
        assert not found.is_error, text_of(found)
        assert '<skill name="pdf-forms">' in text_of(found)
        assert human.usage("pdf-forms")["by_agents"]["uses"] == before_uses + 1

        # search_skills: cards with the library's names and descriptions
        cards = session.call("search_skills", {"query": "git commit history hygiene", "k": 3})
        assert not cards.is_error, text_of(cards)
        skills = cards.structured_content["skills"]
        assert 1 <= len(skills) <= 3 and skills[0]["id"] == "git-hygiene"
        for card in skills:
            stored = human.get(card["id"])
            assert (card["name"], card["description"]) == (stored.name, stored.description)
            assert card["why"] and isinstance(card["score"], float)

        # get_skill: SKILL.md front matter and every chunk, plus its bundled files
        markdown = text_of(session.call("get_skill", {"id": "pdf-forms"}))
        assert markdown.startswith("---\nname: pdf-forms\n")
        for chunk in human.get("pdf-forms").chunks:
            assert chunk.content.strip().splitlines()[-1] in markdown
        assert "references/fields.md" in markdown and "scripts/fill.py" in markdown

        # read_skill_file: the file as it was on disk
        fields = session.call("read_skill_file", {"id": "pdf-forms", "path": "references/fields.md"})
        assert text_of(fields) == (FIXTURES / "pdf-forms" / "references" / "fields.md").read_text()

        # propose_skill: a draft by an agent, in the review queue
        proposed = session.call("propose_skill", {
            "title": "Rotate nginx logs without a restart",
            "playbook": "1. Run `logrotate -f /etc/logrotate.d/nginx`.\n2. Send USR1 to the nginx master.",
            "when_to_use": "When /var/log fills up on a web host.",
            "dependencies": ["incident-triage"],
        })
        assert not proposed.is_error, text_of(proposed)
        draft_id = proposed.structured_content["draft_id"]
        queued = {skill.id: skill for skill in human.review_queue()}
        assert draft_id.startswith("draft::") and draft_id in queued
        assert "logrotate -f" in " ".join(c.content for c in queued[draft_id].chunks)
        author = human.store.conn.execute("SELECT author FROM skills WHERE id = ?", (draft_id,)).fetchone()[0]
        assert author == "agent"

        # report_outcome: advisory usage with a redacted note
        reported = session.call("report_outcome", {
            "skill_id": "git-hygiene", "helpful": False,
            "note": "step 2 is outdated; my key AKIAIOSFODNN7EXAMPLE did not help"})
        assert not reported.is_error, text_of(reported)
        usage = human.usage("git-hygiene")
        assert usage["by_agents"]["unhelpful"] == 1
        assert usage["notes"][0]["actor"] == "agent" and usage["notes"][0]["helpful"] is False
        assert usage["notes"][0]["note"].startswith("step 2 is outdated") and "AKIA" not in usage["notes"][0]["note"]

        # resources and the prompt
        listed = session.run(session.client.list_resources()).resources
        assert {str(r.uri) for r in listed} == {f"skill://{name}" for name in SKILLS}
        pdf = human.get("pdf-forms")
        [entry] = [r for r in listed if str(r.uri) == "skill://pdf-forms"]
        assert (entry.title, entry.description) == (pdf.name, pdf.description) and entry.description
        read = session.run(session.client.read_resource("skill://pdf-forms"))
        assert read.contents[0].text == markdown
        prompt = session.run(session.client.get_prompt("use_skill_library", {"task": "rotate logs"}))
        prompt_text = prompt.messages[0].content.text
        assert "find_skills" in prompt_text and "propose_skill" in prompt_text and "rotate logs" in prompt_text
    finally:
        human.close()


def test_stdio_serves_the_agent_tools_and_nothing_else(db):
    before = canonical_digest(db)
    with Session(stdio_params(db)) as session:
        tools = {tool.name: tool for tool in session.run(session.client.list_tools()).tools}
        # no LLM configured: extraction is not offered
        assert set(tools) == AGENT_TOOLS
        assert not [name for name in tools if any(word in name for word in REVIEW_WORDS)]
        for tool in tools.values():
            assert len(tool.description) > 80, tool.name
            for prop in tool.input_schema["properties"].values():
                bounded = {"maxLength", "maximum", "maxItems"} & set(prop) or prop.get("type") == "boolean"
                assert bounded, (tool.name, prop)
        check_every_tool(session, db)
    assert canonical_digest(db) == before


# --------------------------------------------------------------------------- malformed calls

_TEXT_FIELDS = {"find_skills": "task", "search_skills": "query", "get_skill": "id",
                "propose_skill": "title", "report_outcome": "skill_id"}
_VALID = {
    "find_skills": {"task": "fill a pdf form"},
    "search_skills": {"query": "pdf"},
    "get_skill": {"id": "pdf-forms"},
    "read_skill_file": {"id": "pdf-forms", "path": "references/fields.md"},
    "propose_skill": {"title": "A title", "playbook": "1. step"},
    "report_outcome": {"skill_id": "pdf-forms", "helpful": True},
}
_LIMITS = {("find_skills", "task"): 10_000, ("search_skills", "query"): 10_000, ("get_skill", "id"): 200,
           ("read_skill_file", "path"): 1_000, ("propose_skill", "title"): 80, ("propose_skill", "playbook"): 20_000,
           ("report_outcome", "note"): 1_000}
not_a_string = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
                         st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
not_an_int = st.one_of(st.text(alphabet="abcxyz", min_size=1, max_size=5), st.floats(min_value=0.1, max_value=0.9),
                       st.none(), st.lists(st.integers(), min_size=1, max_size=2))


@st.composite
def malformed_calls(draw) -> tuple[str, dict]:
    kind = draw(st.sampled_from(["wrong type", "missing", "huge", "unknown tool", "traversal", "out of range", "bad id"]))
    if kind == "unknown tool":
        name = draw(st.sampled_from(["approve", "reject", "register", "import_", "archive", "query", "exec", "sql"])
                    | st.text(min_size=1, max_size=30).filter(lambda n: n not in _VALID))
        return name, {"id": "pdf-forms"}
    if kind == "wrong type":
        name = draw(st.sampled_from(sorted(_TEXT_FIELDS)))
        return name, {**_VALID[name], _TEXT_FIELDS[name]: draw(not_a_string)}
    if kind == "missing":
        name = draw(st.sampled_from(sorted(_VALID)))
        arguments = dict(_VALID[name])
        del arguments[draw(st.sampled_from(sorted(arguments)))]
        return name, arguments
    if kind == "huge":
        (name, field), limit = draw(st.sampled_from(sorted(_LIMITS.items())))
        return name, {**_VALID[name], field: "x" * (limit + draw(st.integers(1, 50_000)))}
    if kind == "traversal":
        path = draw(st.sampled_from(["../../../etc/passwd", "/etc/passwd", "references/../../x", "..", "./../SKILL.md",
                                     "..\\..\\secret", "references//fields.md", "C:/Windows/win.ini"]))
        skill = draw(st.sampled_from(["pdf-forms", "git-hygiene"]))
        return "read_skill_file", {"id": skill, "path": path}
    if kind == "out of range":
        name, field = draw(st.sampled_from([("find_skills", "budget"), ("search_skills", "k")]))
        bad = draw(st.one_of(st.integers(max_value=0), st.integers(min_value=50_001), not_an_int))
        return name, {**_VALID[name], field: bad}
    name, field = draw(st.sampled_from([("get_skill", "id"), ("read_skill_file", "id"), ("report_outcome", "skill_id")]))
    bad_id = draw(st.sampled_from(["../etc", "a b", "no-such-skill", "draft::whatever", "-x", "skill/../../x", "x\x00y"]))
    return name, {**_VALID[name], field: bad_id}


@pytest.fixture(scope="module")
def hostile_session(built_library, tmp_path_factory):
    db = tmp_path_factory.mktemp("mcp-hostile") / "skills.db"
    shutil.copy(built_library, db)
    with Session(stdio_params(db)) as session:
        yield session, db


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow, HealthCheck.data_too_large])
@given(call=malformed_calls())
def test_malformed_calls_are_tool_errors_and_change_nothing(hostile_session, call):
    session, db = hostile_session
    before = canonical_digest(db)
    name, arguments = call
    result = session.call(name, arguments)
    message = text_of(result)
    assert result.is_error, (name, arguments, message[:300])
    assert message and "Traceback" not in message and len(message) < 5_000
    assert canonical_digest(db) == before


def test_the_server_still_answers_after_malformed_calls(hostile_session):
    session, db = hostile_session
    for name, arguments in [("get_skill", {"id": "../../etc/passwd"}), ("find_skills", {"task": ""}),
                            ("read_skill_file", {"id": "pdf-forms", "path": "../SKILL.md"})]:
        result = session.call(name, arguments)
        assert result.is_error
    assert "path" in text_of(session.call("read_skill_file", {"id": "pdf-forms", "path": "/etc/passwd"}))
    assert "no reviewed skill" in text_of(session.call("get_skill", {"id": "no-such-skill"}))
    found = session.call("find_skills", {"task": "triage a production incident"})
    assert not found.is_error and '<skill name="incident-triage">' in text_of(found)


# --------------------------------------------------------------------------- extraction with an LLM


def test_extract_is_offered_with_an_llm_and_files_a_draft(db):
    with OpenAIStandIn(api_key="sk-test") as llm:
        llm.chat_replies.append(ASYNC_ANSWER)
        env = {"SKILLVAULT_LLM_MODEL": "gpt-4o-mini", "SKILLVAULT_LLM_BASE_URL": llm.base_url,
               "SKILLVAULT_LLM_API_KEY": "sk-test"}
        with Session(stdio_params(db, **env)) as session:
            tools = {tool.name for tool in session.run(session.client.list_tools()).tools}
            assert tools == AGENT_TOOLS | {"extract_from_conversation"}
            result = session.call("extract_from_conversation", {"messages": [
                {"role": "user", "content": "my asyncio.gather loses errors"},
                {"role": "assistant", "content": "use return_exceptions=True and inspect each result"}]})
            assert not result.is_error, text_of(result)
            draft_id = result.structured_content["draft_id"]
            bad = session.call("extract_from_conversation", {"messages": [{"role": "wizard", "content": "x"}]})
            assert bad.is_error
    with SkillManager(db) as human:
        assert draft_id in {skill.id for skill in human.review_queue()}


# --------------------------------------------------------------------------- streamable HTTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, headers: dict[str, str]) -> int:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}'
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json", "accept": "application/json, text/event-stream", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def http_server(db):
    """``skillvault --db DB mcp --http`` with the token from the environment; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "skillvault.cli", "--db", str(db), "mcp", "--http", "--port", str(port)],
        env={**server_env(db), "PATH": "/usr/bin:/bin", "SKILLVAULT_MCP_TOKEN": TOKEN},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: {process.communicate()[1].decode()[-2000:]}")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_http_refuses_requests_without_the_token(http_server):
    assert post(http_server, {}) == 401
    assert post(http_server, {"authorization": "Bearer wrong-token-0123456789abcdef"}) == 401
    assert post(http_server, {"authorization": TOKEN}) == 401  # no scheme
    assert post(http_server, {"authorization": f"Bearer {TOKEN}x"}) == 401
    assert post(http_server, {"authorization": f"Bearer {TOKEN}"}) != 401


def test_http_serves_the_agent_tools_with_the_token(http_server, db):
    before = canonical_digest(db)
    with Session(http_server, headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        tools = {tool.name for tool in session.run(session.client.list_tools()).tools}
        assert tools == AGENT_TOOLS
        check_every_tool(session, db)
        bad = session.call("read_skill_file", {"id": "pdf-forms", "path": "../../../etc/passwd"})
        assert bad.is_error and "path" in text_of(bad)
    assert canonical_digest(db) == before


@pytest.mark.parametrize("args, env, expected", [
    (["--http", "--host", "0.0.0.0"], {}, "SKILLVAULT_MCP_TOKEN"),
    (["--http", "--host", "example.org"], {}, "SKILLVAULT_MCP_TOKEN"),
    (["--http", "--host", "0.0.0.0"], {"SKILLVAULT_MCP_TOKEN": "short"}, "at least 16"),
])
def test_serving_beyond_loopback_needs_a_token(db, args, env, expected):
    done = subprocess.run([sys.executable, "-m", "skillvault.mcp", *args], env={**server_env(db), **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert expected in done.stderr and "Traceback" not in done.stderr


def test_a_missing_library_is_a_clear_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "skillvault.mcp"], env=server_env(tmp_path / "none.db"),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    assert "skillvault init" in done.stderr and "Traceback" not in done.stderr
