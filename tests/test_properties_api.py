"""Property tests: hostile input to the public API and the CLI has only two outcomes.

Either the call succeeds, or it raises a ``skillvault.errors`` exception (the CLI: one
``Error:`` line, or click's usage panel, and a non-zero exit) — and then every table of
the database is exactly as before (see :mod:`digest`). Families, each with 1000 generated
cases: models, register, query texts, every public method, LLM answers, CLI arguments. A
few real processes
check what only a real ``argv`` can carry (undecodable bytes).

Each family shares one database across its examples (a module fixture) and embeds with
a 32-wide word-hashing function, so it runs in seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from skillvault import SkillManager
from skillvault import manager as manager_module
from skillvault.cli.app import app
from skillvault.embed.callable import CallableEmbedder
from skillvault.errors import SkillVaultError, ValidationError
from skillvault.models import SOURCES, STATUSES, Chunk, Skill

from conftest import word_vector
from digest import LibraryDigest, table_digest
from test_growth import ASYNC_ANSWER

EXAMPLES = settings(
    max_examples=1000,
    deadline=None,
    database=None,  # no .hypothesis folder in the worktree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def small_embed(text: str) -> list[float]:
    """A cheap deterministic embedder (32-wide hashed bag of words)."""
    return word_vector(text, 32)


# --------------------------------------------------------------------------- value strategies


def nested(depth: int, kind: str = "list") -> object:
    value: object = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


class Opaque:
    """An object with no JSON meaning."""


class Hostile:
    """An object whose str() and repr() raise."""

    def __str__(self) -> str:
        raise RuntimeError("str() refused")

    __repr__ = __str__

    def __hash__(self) -> int:
        return 7


class TrickDict(dict):
    """A dict whose accessors raise (only the dict's own data is usable)."""

    def get(self, *args):
        raise RuntimeError("get() refused")

    def items(self):
        raise RuntimeError("items() refused")

    def __iter__(self):
        raise RuntimeError("iter() refused")


class TrickStr(str):
    """A str whose str() and repr() raise."""

    def __str__(self) -> str:
        raise RuntimeError("str() refused")

    __repr__ = __str__


class TrickInt(int):
    """An int whose repr() raises."""

    def __repr__(self) -> str:
        raise RuntimeError("repr() refused")


HUGE = 10**5000  # repr() refuses to print it
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udcff", "\udfff"]
ODD_CHARS = ["\x00", "'", '"', "<", ">", "&", "\n", "\r", "\t", "\u200b", "\ufeff", "\u0301", "\U0001f600", "é",
             "日", "*", "^", ":", "(", ")", "-", "+", "/", "\\", "%"]
WEIRD = [b"bytes", bytearray(b"\xff\xfe"), {1, 2}, frozenset({"a"}), dt.datetime(2024, 5, 1, 12), dt.date(2024, 5, 1),
         dt.time(3, 4), Decimal("0.9"), Decimal("NaN"), Decimal("1e999"), 1 + 2j, Opaque(), Hostile(), object(),
         Ellipsis, nested(5000), nested(3000, "dict"), nested(40), "x" * 200_001, HUGE, -HUGE,
         TrickDict(has_knowledge=True, title="Trick", playbook="1. Trick"), TrickStr("Trick text"), TrickInt(5)]



def one_of_these(items: list) -> st.SearchStrategy:
    """Like ``sampled_from``, but the strategy's repr does not repr the items (some refuse)."""
    def item(index: int) -> object:
        return items[index]

    return st.integers(0, len(items) - 1).map(item)


ZONES = [dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-12)),
         dt.timezone(dt.timedelta(seconds=1, microseconds=5))]
chars = st.one_of(st.characters(), st.sampled_from(SURROGATES + ODD_CHARS))
texts = st.text(chars, max_size=40)
clean_texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
ints = st.one_of(
    st.integers(),
    one_of_these([0, -1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**30, HUGE, -HUGE]),
)
scalars = st.one_of(st.none(), st.booleans(), ints, st.floats(), texts, one_of_these(WEIRD))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(texts, st.integers()), inner, max_size=4),
        st.tuples(inner, inner),
    ),
    max_leaves=10,
)


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (``st.integers`` favours its bounds, so it would not do)."""
    return st.sampled_from([True] + [False] * (n - 1))


def outcome(call, label: str = ""):
    """Run ``call``: return (True, result), or (False, error) for a skillvault error with a message.

    The outcome is recorded as a hypothesis event (see ``--hypothesis-show-statistics``).
    """
    try:
        result = call()
    except SkillVaultError as exc:
        assert str(exc)
        if isinstance(exc, ValidationError):
            assert exc.field
        event(f"{label or 'call'}: {type(exc).__name__}")
        return False, exc
    event(f"{label or 'call'}: ok")
    return True, result


def unchanged_after_failure(sm: SkillManager, call, label: str = ""):
    """Run ``call`` on ``sm``; if it fails, assert no table changed and no transaction is open."""
    before = table_digest(sm.store.conn)
    ok, result = outcome(call, label)
    if not ok:
        assert not sm.store.conn.in_transaction
        assert table_digest(sm.store.conn) == before, f"a failed call changed the database: {result}"
    return ok, result


# --------------------------------------------------------------------------- models

SKILL_FIELDS = ("name", "source", "status", "confidence", "extracted_from", "created_at", "description", "tags",
                "version", "revises", "metadata", "flags")
CHUNK_FIELDS = ("skill_id", "section", "content", "tokens", "priority", "required", "dependencies")


# --------------------------------------------------------------------------- register


@pytest.fixture(scope="module")
def register_sm(tmp_path_factory):
    sm = SkillManager(str(tmp_path_factory.mktemp("register") / "skills.db"), embed_fn=small_embed, auto_promote=None)
    sm.register(Skill(id="base", chunks=[Chunk(id="base::0", content="Rebase before merging.")]))
    yield sm
    sm.close()


SKILL_IDS = ["s1", "s2", "s3", "draft::s4"]


@st.composite
def generated_skills(draw) -> Skill:
    """A skill whose fields are valid except (usually) up to three drawn from hostile values.

    Half the skills vary every valid field too; the others keep defaults for the minor ones
    (generating fewer values keeps 1000 examples quick).
    """
    hostile = draw(st.sets(st.sampled_from(SKILL_FIELDS + CHUNK_FIELDS + ("id", "chunk.id", "chunks")), max_size=3))
    varied = draw(st.booleans())

    def pick(name, good, default=None):
        if name in hostile:
            return draw(values)
        if default is not None and not varied:
            return default
        return draw(good)

    skill_id = pick("id", st.sampled_from(SKILL_IDS))
    # type(), not isinstance(): a hostile str subclass (TrickStr) raises when formatted.
    prefix = skill_id if type(skill_id) is str else "x"
    chunks = [
        Chunk(
            id=pick("chunk.id", st.just(f"{prefix}::{index}"), f"{prefix}::{index}"),
            skill_id=pick("skill_id", st.sampled_from(["", skill_id]), ""),
            section=pick("section", clean_texts, ""),
            content=pick("content", clean_texts.map(lambda text: "Text " + text)),
            tokens=pick("tokens", st.none() | st.integers(0, 10_000)),
            priority=pick("priority", st.integers(-1000, 1000), 0),
            required=pick("required", st.booleans(), False),
            dependencies=pick("dependencies", st.lists(st.sampled_from(["base", "base::0", "s1", "s2::0"]), max_size=2), []),
        )
        for index in range(draw(st.integers(1, 2)))
    ]
    return Skill(
        id=skill_id,
        name=pick("name", clean_texts.map(lambda text: "Name " + text)),
        source=pick("source", st.sampled_from(SOURCES), "manual"),
        status=pick("status", st.sampled_from(STATUSES)),
        chunks=pick("chunks", st.just(chunks), chunks),
        confidence=pick("confidence", st.floats(0, 1), 1.0),
        extracted_from=pick("extracted_from", clean_texts, ""),
        created_at=pick("created_at", st.none() | st.datetimes(timezones=st.none() | one_of_these(ZONES))),
        description=pick("description", clean_texts, ""),
        tags=pick("tags", st.lists(clean_texts, max_size=3), []),
        version=pick("version", st.integers(1, 2**31 - 1), 1),
        revises=pick("revises", st.none() | st.sampled_from(["base", "s1"])),
        metadata=pick("metadata", st.dictionaries(clean_texts, st.none() | st.integers(-(2**63), 2**63 - 1) | clean_texts,
                                                  max_size=3), {}),
        flags=pick("flags", st.lists(clean_texts, max_size=2), []),
    )


@EXAMPLES
@given(skill=generated_skills(), raw=st.dictionaries(st.sampled_from(("id", "chunks") + SKILL_FIELDS), values, max_size=5))
def test_models_take_any_values(skill, raw):
    outcome(skill.copy, "copy")
    ok, _ = outcome(skill.validate, "validate")
    if ok:  # a valid skill survives its JSON form unchanged
        again = Skill.from_json(skill.to_json()).validate()
        assert again.to_dict() == skill.to_dict()
    ok, parsed = outcome(lambda: Skill.from_dict(raw), "from_dict")
    if ok:
        outcome(parsed.validate, "from_dict+validate")
    outcome(lambda: Chunk.from_dict(raw), "Chunk.from_dict")
    outcome(lambda: Skill.from_json(raw.get("name", "{}")), "from_json")


@EXAMPLES
@given(skill=generated_skills())
def test_register_has_two_outcomes(register_sm, skill):
    ok, skill_id = unchanged_after_failure(register_sm, lambda: register_sm.register(skill), "register")
    if ok:
        stored = register_sm.get(skill_id)
        assert stored.validate() and stored.name == skill.name
        assert [chunk.content for chunk in stored.chunks] == [chunk.content for chunk in skill.chunks]


# --------------------------------------------------------------------------- query texts


@pytest.fixture(scope="module")
def query_sm(tmp_path_factory):
    sm = SkillManager(str(tmp_path_factory.mktemp("query") / "skills.db"), embed_fn=small_embed, auto_promote=None)
    sm.register(Skill(id="git-rebase", name="Git rebase", chunks=[
        Chunk(id="git-rebase::steps", section="Steps", content='Run "git rebase -i main" AND squash; NOT merge*.'),
        Chunk(id="git-rebase::near", section="content:", content="NEAR(rebase squash) ^start column:filter {a b}"),
    ]))
    sm.register(Skill(id="react", name="React hooks", chunks=[
        Chunk(id="react::effect", content="useEffect cleanup 日本語 éclair 🙂", priority=3, required=True),
    ]))
    yield sm
    sm.close()


FTS_PIECES = ['"', "'", "NEAR(", "NEAR/2", ")", "(", "*", "^", "AND", "OR", "NOT", "content:", "section:",
              "skill_name:", "{content section}:", "-", "+", ":", ",", ".", "rebase", "squash", "useEffect", "日本語",
              "éclair", "\x00", "\ud800", "\udcff", "🙂", "\u0301", " ", "\n", "\t", "x" * 300]
query_texts = st.one_of(
    st.lists(st.sampled_from(FTS_PIECES) | texts, max_size=20).map("".join),
    st.lists(st.sampled_from(FTS_PIECES), max_size=20).map(" ".join),
    texts,
    st.integers(9_990, 10_010).map(lambda n: ("rebase NEAR( " * n)[:n]),  # about the length limit
    values,
)


@EXAMPLES
@given(text=query_texts, budget=st.one_of(st.integers(1, 3000), ints, values), k=st.one_of(st.integers(1, 20), ints),
       explain=st.booleans())
def test_query_and_search_take_any_text(query_sm, text, budget, k, explain):
    ok, answer = unchanged_after_failure(query_sm, lambda: query_sm.query(text, budget=budget, explain=explain), "query")
    if ok:
        assert isinstance(answer.text if explain else answer, str)
    ok, hits = unchanged_after_failure(query_sm, lambda: query_sm.search(text, k=k), "search")
    if ok:
        assert len(hits) <= k and all(hit.skill_id in ("git-rebase", "react") for hit in hits)


# --------------------------------------------------------------------------- every public method


@pytest.fixture(scope="module")
def methods_sm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("methods")
    sm = SkillManager(str(folder / "skills.db"), embed_fn=small_embed, auto_promote=None,
                      llm_fn=lambda text: dict(ASYNC_ANSWER, title=text[-30:]))
    sm.register(Skill(id="base", chunks=[Chunk(id="base::0", content="Rebase before merging.")]))
    sm.export("base", folder / "base.json")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # export writes here
        yield sm
    sm.close()


#: Arguments by kind: (valid-looking values, hostile values). Paths are harmless relative
#: names, or not text at all.
METHOD_ARGS = {
    "id": (st.sampled_from(["base", "nope", "draft::x"]), values),
    "text": (st.sampled_from(["rebase", "why not", "merging"]), texts | values),
    "int": (st.integers(1, 5), ints | values),
    "status": (st.sampled_from(list(STATUSES) + list(SOURCES)), values),
    "path": (st.sampled_from(["base.json", "out.json", "out-dir", "missing.json"]),
             st.sampled_from(["", "a\x00b", "\ud800.json", "x" * 300, "\udcff.json"])
             | values.filter(lambda value: not isinstance(value, str))),
    "conversation": (st.sampled_from(["We fixed the deploy by pinning the image.", [{"role": "user", "content": "Hi"}]]),
                     values),
    "skill": (generated_skills(), values),
    "any": (st.none(), values),
}
#: method -> argument kinds; a leading "?" marks an optional argument.
METHODS = {
    "get": ["id"], "list": ["?status", "?status"], "archive": ["id"], "restore": ["id"], "query": ["text", "?int", "?any"],
    "search": ["text", "?int"], "record_usage": ["id", "?any"], "usage": ["id"], "approve": ["id", "?text", "?text"],
    "reject": ["id", "text", "?text"], "rollback": ["id", "int"], "versions": ["id"], "history": ["id"],
    "export": ["id", "path"], "export_all": ["path", "?status", "?any"], "import_": ["path", "?any"],
    "backup": ["path", "?any"],
    "extract": ["conversation"], "register": ["skill"], "maintenance": [], "stats": [], "review_queue": [],
    "reindex": ["?any"],
}


@st.composite
def method_calls(draw) -> tuple[str, list]:
    """A public method and its positional arguments, each hostile one time in four."""
    name = draw(st.sampled_from(sorted(METHODS)))
    kinds = METHODS[name]
    required = sum(not kind.startswith("?") for kind in kinds)
    args = []
    for kind in kinds[: draw(st.integers(required, len(kinds)))]:
        good, hostile = METHOD_ARGS[kind.lstrip("?")]
        args.append(draw(hostile if draw(one_in(4)) else good))
    return name, args


@EXAMPLES
@given(call=method_calls())
def test_every_public_method_has_two_outcomes(methods_sm, call):
    name, args = call
    unchanged_after_failure(methods_sm, lambda: getattr(methods_sm, name)(*args), name)


# --------------------------------------------------------------------------- LLM answers


class Replies:
    """llm_fn that returns whatever was put in ``next`` (the object itself)."""

    def __init__(self):
        self.next: object = None

    def __call__(self, text: str) -> object:
        return self.next


@pytest.fixture(scope="module")
def llm_sm(tmp_path_factory):
    replies = Replies()
    sm = SkillManager(str(tmp_path_factory.mktemp("llm") / "skills.db"), embed_fn=small_embed, llm_fn=replies,
                      auto_promote=None, min_confidence=0.3)
    sm.register(Skill(id="base", chunks=[Chunk(id="base::0", content="Rebase before merging.")]))
    sm.replies = replies
    yield sm
    sm.close()


ANSWER_FIELDS = tuple(ASYNC_ANSWER)


@st.composite
def llm_answers(draw) -> object:
    """Anything an llm_fn might return: good answers with hostile fields, odd shapes, JSON text, junk."""
    good = {
        "has_knowledge": True,
        "title": draw(clean_texts.map(lambda text: "Title " + text)),
        "playbook": draw(clean_texts.map(lambda text: "1. Do " + text + "\n2. Check")),
        "confidence": draw(st.floats(0, 1)),
    }
    for name in draw(st.sets(st.sampled_from(ANSWER_FIELDS), max_size=3)):
        good[name] = draw(values)
    shape = draw(st.sampled_from(["hostile fields", "random dict", "json text", "anything", "text"]))
    if shape == "hostile fields":
        return good
    if shape == "random dict":
        return draw(st.dictionaries(st.sampled_from(ANSWER_FIELDS) | texts, values, max_size=6))
    if shape == "json text":
        try:
            text = json.dumps(good, default=repr)
        except Exception:  # noqa: BLE001 - e.g. too deep to dump: send something broken instead
            text = '{"title": "broken'
        cut = draw(st.integers(0, len(text)))
        return draw(st.sampled_from([text, text[:cut], f"```json\n{text}\n```", f"Sure! {text} Hope it helps."]))
    if shape == "anything":
        return draw(values)
    return draw(texts)


@EXAMPLES
@given(reply=llm_answers())
def test_extract_never_raises_for_llm_output(llm_sm, reply):
    llm_sm.replies.next = reply
    before = table_digest(llm_sm.store.conn)
    draft_id = llm_sm.extract("We fixed the flaky deploy by pinning the base image and retrying once.")
    event(f"extract: {'draft' if draft_id else 'None'}")
    if draft_id is None:
        assert table_digest(llm_sm.store.conn) == before
    else:
        draft = llm_sm.get(draft_id)
        assert draft.status == "draft" and draft.validate()


# --------------------------------------------------------------------------- CLI arguments


@pytest.fixture(scope="module")
def cli_library(tmp_path_factory):
    """A library (two skills, drafts) and files to add/import, with the CLI embedding like the library."""
    folder = tmp_path_factory.mktemp("cli")
    db = folder / "skills.db"
    answers = [dict(ASYNC_ANSWER, title=f"Async errors {n}", confidence=0.9) for n in range(6)]
    with SkillManager(str(db), embed_fn=small_embed, llm_fn=lambda text: answers.pop(0), auto_promote=None) as sm:
        sm.register(Skill(id="base", name="Git rebase", chunks=[Chunk(id="base::0", content="Rebase before merging.")]))
        sm.register(Skill(id="react", chunks=[Chunk(id="react::0", content="useEffect needs a cleanup.")]))
        drafts = [sm.extract(f"Conversation {n} about asyncio.gather") for n in range(6)]
        sm.export("react", folder / "good.json")
    (folder / "good.md").write_text("# Good skill\n\nSome text.\n\n## More\n\nMore text.\n", encoding="utf-8")
    (folder / "dir").mkdir()
    original = manager_module.make_embedder

    def make_embedder(embed_fn=None, embed_config=None):
        if embed_fn is None and embed_config is None:
            return CallableEmbedder(small_embed)
        return original(embed_fn, embed_config)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(manager_module, "make_embedder", make_embedder)
        patch.chdir(folder)
        digest = LibraryDigest(db)
        yield {"db": db, "drafts": drafts, "digest": digest}
        digest.close()


IDS = ["base", "react", "nope", "draft::async-errors-1", "draft::async-errors-2", "draft::x"]
PATHS = ["good.md", "good.json", "dir", "missing.json", "out.json", "out-dir", "", "a\x00b", "\ud800.json",
         "\udcff.json", "good.md/x", "skills.db"]
INTS = ["0", "1", "2", "3", "-1", "99999999999999999999999", "9223372036854775808", "1e3", "", "nan", "١"]
cli_texts = st.text(chars, max_size=20)
ARG = {
    "id": st.sampled_from(IDS) | cli_texts,
    "text": st.one_of(
        st.lists(st.sampled_from(["rebase", "merging", "useEffect", "cleanup", "asyncio", "NEAR(", "*"]),
                 min_size=1, max_size=4).map(" ".join),
        st.lists(st.sampled_from(FTS_PIECES[:-1]) | cli_texts, min_size=1, max_size=6).map(" ".join),
    ),
    "int": st.one_of(st.integers(1, 5).map(str), st.sampled_from(INTS), st.integers(-3, 2**70).map(str)),
    "path": st.sampled_from(PATHS) | cli_texts.map(lambda text: "p-" + text.replace("/", "_")),
    "status": st.sampled_from(list(STATUSES) + ["bogus", ""]),
    "source": st.sampled_from(list(SOURCES) + ["bogus"]),
    "free": cli_texts,
}
#: command -> (positional argument kinds, {option: value kind or None for a flag})
COMMANDS = {
    "init": ((), {}),
    "list": ((), {"--status": "status", "--source": "source", "--json": None}),
    "show": (("id",), {"--json": None}),
    "stats": ((), {"--json": None}),
    "doctor": ((), {"--json": None}),
    "query": (("text",), {"--budget": "int", "-b": "int", "--explain": None, "--json": None}),
    "search": (("text",), {"-k": "int", "--json": None}),
    "review-queue": ((), {"--json": None}),
    "review": ((), {"--reviewer": "free"}),
    "approve": (("id",), {"--reviewer": "free", "--note": "free"}),
    "reject": (("id",), {"--reason": "free", "--reviewer": "free"}),
    "history": (("id",), {"--json": None}),
    "rollback": (("id", "int"), {}),
    "add": (("path",), {"--id": "id", "--replace": None}),
    "import": (("path",), {}),
    "export": (("id", "path"), {"--all": None, "--status": "status"}),
    "reindex": ((), {}),
}
GLOBALS = {"--agent": None, "--json": None, "--db": "path", "--embed-model": "free", "--embed-dimensions": "int",
           "--embed-base-url": "free", "--version": None, "--help": None}


@st.composite
def cli_argvs(draw) -> tuple[list[str], bytes]:
    """An argv for the CLI: mostly well-formed with hostile values, sometimes scrambled; and stdin."""
    argv: list[str] = []
    if draw(one_in(4)):
        for option in draw(st.lists(st.sampled_from(sorted(GLOBALS)), min_size=1, max_size=2)):
            kind = GLOBALS[option]
            argv += [option] if kind is None else [option, draw(ARG[kind])]
    command = draw(cli_texts) if draw(one_in(10)) else draw(st.sampled_from(sorted(COMMANDS)))
    argv.append(command)
    positionals, options = COMMANDS.get(command, ((), {}))
    count = draw(st.integers(0, len(positionals) + 1)) if draw(one_in(5)) else len(positionals)
    argv += [draw(ARG[kind]) for kind in (positionals + ("free",))[:count]]
    for option in draw(st.lists(st.sampled_from(sorted(options)), max_size=2)) if options else []:
        kind = options[option]
        argv += [option] if kind is None else [option, draw(ARG[kind])]
    if draw(one_in(20)):
        argv = draw(st.permutations(argv))
    stdin = draw(st.lists(st.sampled_from(["a", "r", "s", "q", "x", "", "reason \udcff", "why"]), max_size=4))
    return argv, ("\n".join(stdin) + "\n").encode("utf-8", "surrogateescape")  # \udcff: the byte 0xff


CLI_ENV = {"NO_COLOR": "1", "COLUMNS": "120", "SKILLVAULT_EMBED_MODEL": None, "SKILLVAULT_EMBED_BASE_URL": None,
           "SKILLVAULT_EMBED_API_KEY": None, "SKILLVAULT_EMBED_DIMENSIONS": None, "SKILLVAULT_REVIEWER": None,
           "OPENAI_API_KEY": None}


def check_cli_result(result, argv: list[str]) -> None:
    """Success, or one ``Error:`` line / a usage panel with a non-zero exit; never a traceback."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        raise AssertionError(f"{argv!r} crashed:\n{''.join(traceback.format_exception(*result.exc_info))}")
    assert "Traceback" not in result.output + result.stderr, argv
    assert result.exit_code in (0, 1, 2, 3, 4), (argv, result.exit_code, result.output)
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    if result.exit_code == 2:  # click's usage panel, or one "Error:" line
        assert "Error" in result.stderr, (argv, result.stderr)
    elif result.exit_code != 0 and "doctor" not in argv:  # doctor prints its table, then exits 1
        assert len(errors) == 1 and errors[0].startswith("Error: "), (argv, result.stderr)


@EXAMPLES
@given(generated=cli_argvs())
def test_cli_has_two_outcomes(cli_library, generated):
    argv, stdin = generated
    db, digest = cli_library["db"], cli_library["digest"]
    before = digest()
    result = CliRunner().invoke(app, argv, env={**CLI_ENV, "SKILLVAULT_DB": str(db)}, input=stdin)
    check_cli_result(result, argv)
    event(f"exit {result.exit_code}")
    if result.exit_code != 0 and "review" not in argv:  # review may approve one draft, then fail on the next
        assert digest() == before, (argv, result.stderr)


# --------------------------------------------------------------------------- real processes

SCRIPT = [sys.executable, "-m", "skillvault.cli"]


@pytest.fixture(scope="module")
def process_folder(tmp_path_factory):
    """A library with one skill ("base"), built by the CLI itself with the local embedder."""
    folder = tmp_path_factory.mktemp("process")
    (folder / "base.md").write_text("# Git rebase\n\nRebase before merging.\n", encoding="utf-8")
    run_cli(["add", "base.md", "--id", "base"], folder, code=0)
    return folder


def run_cli(args: list, cwd: Path, code: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLVAULT_") and k not in ("COLUMNS", "FORCE_COLOR")}
    env.update(NO_COLOR="1", PYTHONPATH=os.pathsep.join(filter(None, [str(Path(manager_module.__file__).parents[1]),
                                                                       env.get("PYTHONPATH")])))
    result = subprocess.run(SCRIPT + args, cwd=cwd, capture_output=True, env=env, timeout=120)
    stderr = result.stderr.decode("utf-8")  # strict: the CLI never prints undecodable bytes
    assert result.returncode == code, (args, result.returncode, result.stdout, stderr)
    assert "Traceback" not in stderr
    if code not in (0, 2):
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return result


@pytest.mark.parametrize(
    "args, code",
    [
        (["rollback", "base", "99999999999999999999999"], 2),
        (["query", b"\xff\xfe rebase"], 1),
        (["search", "NEAR(\"rebase\" AND", "-k", "99999999999999999999"], 2),
        (["show", b"\xff"], 1),
        (["reject", "base", "--reason", b"\xed\xa0\x80"], 1),
        (["export", "base", b"a\xff.json"], 0),
        (["--db", b"\xff.db", "init"], 1),  # SQLite opens UTF-8 names only: a clear error
        (["import", b"missing-\xff.json"], 1),
    ],
)
def test_real_argv_bytes_and_huge_numbers(process_folder, args, code):
    result = run_cli(args, process_folder, code)
    result.stdout.decode("utf-8")
    if args[0] == "export":
        assert (process_folder / os.fsdecode(b"a\xff.json")).exists()
        assert b"\\udcff" in result.stdout
