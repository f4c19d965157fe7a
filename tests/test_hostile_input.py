"""Hostile API input: lone surrogates, huge integers, deep nesting, odd LLM answers, wrong paths.

Each case used to escape as a builtin exception (UnicodeEncodeError, OverflowError,
RecursionError, TypeError) or a CLI traceback; now it is a ``skillvault.errors``
exception naming the field, or (for what an LLM returns) a logged repair or rejection,
and a failed call leaves every table as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skillvault import SkillManager
from skillvault.cli import errors as exit_codes
from skillvault.cli.app import MAX_BUDGET as CLI_MAX_BUDGET, MAX_K as CLI_MAX_K, app
from skillvault.errors import SkillVaultError, ValidationError
from skillvault import manager as manager_module
from skillvault.models import MAX_METADATA_DEPTH, Chunk, Skill
from skillvault.validation import shown

from conftest import make_skill
from digest import table_digest
from test_cli import cli, one_error_line  # noqa: F401  (the CLI fixture with the embedding stand-in)
from test_growth import ASYNC_ANSWER, ScriptedLLM

HUGE = 10**5000  # too long even to print with repr()


def nested(depth: int, kind: str = "list"):
    """A value nested ``depth`` levels deep (built without recursion)."""
    value: object = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


def skill_with(**fields) -> Skill:
    chunk_fields = {key[len("chunk_"):]: fields.pop(key) for key in list(fields) if key.startswith("chunk_")}
    skill_id = fields.pop("id", "hostile")
    chunk = Chunk(id=f"{skill_id}::a", **{"content": "Some text.", **chunk_fields})
    return Skill(id=skill_id, name=fields.pop("name", "Hostile"), chunks=[chunk], **fields)


@pytest.fixture
def seeded(sm):
    sm.register(make_skill("base", ("Intro", "base text about rebasing")))
    return sm


def refused(sm, call, field: str) -> ValidationError:
    """Run ``call``; assert it raises ValidationError on ``field`` and changes no table."""
    before = table_digest(sm.store.conn)
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.field == field, str(info.value)
    assert not sm.store.in_transaction()
    assert table_digest(sm.store.conn) == before
    return info.value


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "\udcff"])
@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": "Bad {}"}, "skill.name"),
        ({"description": "a {} b"}, "skill.description"),
        ({"extracted_from": "{}"}, "skill.extracted_from"),
        ({"tags": ["ok", "{}"]}, "skill.tags[1]"),
        ({"flags": ["{}"]}, "skill.flags[0]"),
        ({"chunk_section": "S{}"}, "skill.chunks[0].section"),
        ({"chunk_content": "text {} text"}, "skill.chunks[0].content"),
        ({"metadata": {"note": "{}"}}, "skill.metadata['note']"),
        ({"metadata": {"{}": 1}}, "skill.metadata"),
    ],
)
def test_lone_surrogates_in_any_text_field_are_refused(seeded, surrogate, fields, field):
    fields = json.loads(json.dumps(fields).replace("{}", "\\u" + f"{ord(surrogate):04x}"))
    error = refused(seeded, lambda: seeded.register(skill_with(**fields)), field)
    assert "surrogate" in str(error) or "valid text" in str(error)


def test_surrogates_in_query_reason_and_conversation_are_refused(seeded):
    refused(seeded, lambda: seeded.query("rebase \ud800"), "text")
    refused(seeded, lambda: seeded.search("\udcff rebase"), "text")
    seeded.llm_fn = ScriptedLLM(ASYNC_ANSWER)
    refused(seeded, lambda: seeded.extract("we fixed it \ud800"), "messages")
    refused(seeded, lambda: seeded.extract([{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}]), "messages")
    refused(seeded, lambda: seeded.extract([{"role": "user", "content": "x", "tool_calls": 5}]), "messages[0].tool_calls")
    seeded.llm_fn = ScriptedLLM({**ASYNC_ANSWER, "confidence": 0.9})
    draft = seeded.extract("How do I handle errors in async Python?")
    refused(seeded, lambda: seeded.reject(draft, "no \ud800"), "reason")
    refused(seeded, lambda: seeded.approve(draft, reviewer="\udcff"), "reviewer")
    refused(seeded, lambda: seeded.approve(draft, note="\ud800"), "note")


# --------------------------------------------------------------------------- integers


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"version": 2**63}, "skill.version"),
        ({"version": 2**31}, "skill.version"),
        ({"version": HUGE}, "skill.version"),
        ({"chunk_priority": 2**63}, "skill.chunks[0].priority"),
        ({"chunk_priority": -(2**63) - 1}, "skill.chunks[0].priority"),
        ({"chunk_priority": 1001}, "skill.chunks[0].priority"),
        ({"chunk_tokens": 2**63}, "skill.chunks[0].tokens"),
        ({"confidence": 10**400}, "skill.confidence"),
        ({"confidence": HUGE}, "skill.confidence"),
        ({"metadata": {"n": 2**63}}, "skill.metadata['n']"),
    ],
)
def test_integers_are_bounded(seeded, fields, field):
    refused(seeded, lambda: seeded.register(skill_with(**fields)), field)


def test_priority_at_its_bounds_is_served(seeded):
    seeded.register(skill_with(id="low", chunk_priority=-1000))
    seeded.register(skill_with(id="high", chunk_priority=1000))
    assert [hit.skill_id for hit in seeded.search("Some text", k=2)][0] == "high"


def test_rollback_budget_and_k_refuse_huge_integers(seeded):
    refused(seeded, lambda: seeded.rollback("base", 2**63), "version")
    refused(seeded, lambda: seeded.rollback("base", HUGE), "version")
    refused(seeded, lambda: seeded.query("rebase", budget=HUGE), "budget")
    refused(seeded, lambda: seeded.search("rebase", k=2**64), "k")
    refused(seeded, lambda: seeded.record_usage("base", helpful=HUGE), "helpful")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"draft_ttl_days": math.inf}, "draft_ttl_days"),
        ({"draft_ttl_days": math.nan}, "draft_ttl_days"),
        ({"draft_ttl_days": 10**400}, "draft_ttl_days"),
        ({"auto_promote": {"usage": HUGE, "confidence": 0.9}}, "auto_promote.usage"),
        ({"min_confidence": HUGE}, "min_confidence"),
        ({"mode": HUGE}, "mode"),
    ],
)
def test_constructor_numbers_are_bounded(db_path, embed, kwargs, field):
    with pytest.raises(ValidationError) as info:
        SkillManager(db_path, embed_fn=embed, **kwargs)
    assert info.value.field == field


def test_shown_never_fails():
    class Hostile:
        def __repr__(self):
            raise RuntimeError("no")

    assert "digits" in shown(HUGE)
    assert shown(Hostile()) == "<Hostile>"
    assert len(shown("x" * 10_000)) == 80
    assert shown(nested(5000)) == "<list>"


# --------------------------------------------------------------------------- nesting and metadata


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_deep_metadata_is_refused(seeded, kind):
    error = refused(seeded, lambda: seeded.register(skill_with(metadata={"deep": nested(5000, kind)})), "skill.metadata")
    assert f"more than {MAX_METADATA_DEPTH} levels" in str(error)


@pytest.mark.parametrize(
    "metadata, field",
    [
        ({"x": math.nan}, "skill.metadata['x']"),
        ({"x": [math.inf]}, "skill.metadata['x'][0]"),
        ({1: "int key"}, "skill.metadata"),
        ({"x": {1, 2}}, "skill.metadata['x']"),
        ({"x": b"bytes"}, "skill.metadata['x']"),
        ({"x": "y" * 20_000_001}, "skill.metadata"),
    ],
)
def test_metadata_must_be_bounded_json(seeded, metadata, field):
    refused(seeded, lambda: seeded.register(skill_with(metadata=metadata)), field)


def test_metadata_within_bounds_round_trips(seeded):
    metadata = {"deep": nested(MAX_METADATA_DEPTH - 2, "dict"), "tuple": (1, "two"), "n": -(2**63), "null": None}
    seeded.register(skill_with(id="meta", metadata=metadata))
    assert seeded.get("meta").metadata == {**metadata, "tuple": [1, "two"]}


def test_metadata_is_copied_without_running_its_code(seeded):
    class TrickDict(dict):
        def items(self):
            raise RuntimeError("items() refused")

        def __deepcopy__(self, memo):
            raise RuntimeError("deepcopy refused")

    skill = skill_with(id="trick", metadata={"inner": TrickDict(a=1)})
    assert skill.copy().metadata == {"inner": {"a": 1}}
    seeded.register(skill)
    assert seeded.get("trick").metadata == {"inner": {"a": 1}}


def test_from_json_refuses_deep_json():
    with pytest.raises(ValidationError, match="nested"):
        Skill.from_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValidationError, match="must be a string"):
        Skill.from_json(b"{}")


def test_naive_and_aware_dates_mix(seeded):
    seeded.register(skill_with(id="naive", created_at=dt.datetime(2020, 1, 1)))
    seeded.register(skill_with(id="aware", created_at=dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)))
    assert seeded.get("naive").created_at == dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    for skill_id in ("naive", "aware"):
        skill = seeded.get(skill_id)
        skill.status, skill.source = "draft", "extracted"
        seeded.register(skill)
    assert [d.id for d in seeded.review_queue()] == ["aware", "naive"]


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("path", [5, None, b"skills.json", ["x.json"], "", "a\x00b.json", "\ud800.json"])
def test_path_arguments_must_be_text_paths(seeded, tmp_path, path):
    refused(seeded, lambda: seeded.export("base", path), "path")
    refused(seeded, lambda: seeded.export_all(path), "path")
    refused(seeded, lambda: seeded.import_(path), "path")


@pytest.mark.parametrize("path", [5, b"skills.db", "", "a\x00b.db", "\ud800.db", "\udcff.db"])
def test_database_paths_are_checked(embed, path):
    with pytest.raises(ValidationError) as info:
        SkillManager(path, embed_fn=embed)
    assert info.value.field == "db_path"
    with pytest.raises(ValidationError):
        manager_module.reindex(path, embed_fn=embed)


def test_undecodable_file_names_work(seeded, tmp_path):
    target = tmp_path / "\udcff.json"  # the name of a file whose name is the byte 0xff
    seeded.export("base", target)
    assert (tmp_path / "\udcff.json").exists()


# --------------------------------------------------------------------------- LLM answers


class Opaque:
    pass


class Hostile:
    def __str__(self):
        raise RuntimeError("str")

    __repr__ = __str__

    def __hash__(self):
        return 1


class TrickDict(dict):
    def get(self, *args):
        raise RuntimeError("get")

    def items(self):
        raise RuntimeError("items")


def answer(**fields):
    return {**ASYNC_ANSWER, **fields}


@pytest.fixture
def answering(db_path, embed):
    """Factory: a manager whose llm_fn returns ``reply`` itself (no copy, which could fail first)."""
    managers = []

    def make(reply, **kwargs):
        managers.append(SkillManager(db_path, embed_fn=embed, llm_fn=lambda text: reply, auto_promote=None, **kwargs))
        return managers[-1]

    yield make
    for manager in managers:
        manager.close()


@pytest.mark.parametrize(
    "reply",
    [
        b"\xff\xfe not json",
        {1, 2, 3},
        dt.datetime(2024, 1, 1),
        Opaque(),
        Hostile(),
        TrickDict(has_knowledge=True),
        [ASYNC_ANSWER],
        answer(title=Opaque()),
        answer(title=Hostile()),
        answer(playbook=nested(5000)),
        answer(playbook=nested(3000, "dict")),
        answer(playbook="x" * 2_000_000),
        answer(tags=["t"] * 20_000),
        "[" * 100_000,
        json.dumps(answer())[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}",
        {Hostile(): 1, Opaque(): 2},
        answer(confidence=math.inf),
        answer(confidence=-math.inf),
        answer(confidence=10**400),
        answer(confidence="1e999"),
        answer(confidence=1 + 2j),
    ],
    ids=lambda value: type(value).__name__,
)
def test_extract_never_raises_for_what_the_llm_returns(answering, caplog, reply):
    sm = answering(reply)
    before = table_digest(sm.store.conn)
    with caplog.at_level(logging.INFO, logger="skillvault"):
        result = sm.extract("How do I handle errors in async Python?")
    if result is None:
        assert table_digest(sm.store.conn) == before
        assert any(r.getMessage().startswith("extract:") for r in caplog.records)
    else:
        assert sm.get(result) is None or sm.get(result).validate()
        assert sm.list(status="draft")[0].validate()


@pytest.mark.parametrize(
    "fields, check",
    [
        ({"playbook": b"1. Gather with return_exceptions\n2. Check each result"}, lambda d: "Gather" in d.chunks[0].content),
        ({"title": "Async \ud800 errors"}, lambda d: d.name == "Async \ufffd errors"),
        ({"confidence": Decimal("0.9")}, lambda d: d.confidence == 0.9),
        ({"when_to_use": {"when": {"many tasks"}, "since": dt.date(2024, 5, 1)}}, lambda d: "2024-05-01" in d.to_json()),
        ({"tags": ("python", b"asyncio", Opaque())}, lambda d: d.tags == ["python", "asyncio"]),
        ({"confidence": math.nan}, lambda d: d.metadata["confidence_estimated"] is True),
        ({"confidence": 2**70}, lambda d: d.metadata["confidence_estimated"] is True),
    ],
)
def test_odd_llm_values_are_repaired_and_logged(answering, caplog, fields, check):
    sm = answering(answer(**fields), min_confidence=0.5)
    with caplog.at_level(logging.INFO, logger="skillvault"):
        draft_id = sm.extract("How do I handle errors in async Python?")
    assert draft_id is not None, [r.getMessage() for r in caplog.records]
    assert check(sm.review_queue()[0])


def test_a_rejected_answer_says_why(answering, caplog):
    sm = answering(answer(playbook=nested(100)))
    with caplog.at_level(logging.WARNING, logger="skillvault"):
        assert sm.extract("How do I handle errors in async Python?") is None
    assert any("nested more than 16 levels" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("wrap", [str, lambda text: text.encode()])
def test_a_rejected_text_answer_is_logged_without_its_secrets(answering, caplog, wrap):
    secret = "ghp_" + "R8sT2uV4wX6yZ8aB0cD2eF4gH6iJ8kL0mN2o"
    sm = answering(wrap(f"I could not decide. GITHUB_TOKEN={secret} was in the log."))
    with caplog.at_level(logging.INFO, logger="skillvault"):
        assert sm.extract("How do I handle errors in async Python?") is None
    assert "rejected" in caplog.text and secret not in caplog.text


# --------------------------------------------------------------------------- CLI


def test_cli_limits_match_the_library():
    assert CLI_MAX_BUDGET == manager_module.MAX_BUDGET and CLI_MAX_K == manager_module.MAX_K


@pytest.mark.parametrize(
    "args",
    [
        ("rollback", "base-1", "99999999999999999999999"),
        ("rollback", "base-1", "9223372036854775808"),
        ("query", "x", "--budget", "99999999999999999999999"),
        ("search", "x", "-k", "99999999999999999999999"),
    ],
)
def test_cli_huge_integers_are_usage_errors(cli, args):
    result = cli(*args, code=exit_codes.USAGE)
    assert "Traceback" not in result.output and "Usage:" in result.output


@pytest.mark.parametrize(
    "args, code",
    [
        (("query", "rebase \udcff"), exit_codes.ERROR),
        (("search", "\ud800"), exit_codes.ERROR),
        (("reject", "draft::x", "--reason", "\udcff"), exit_codes.NOT_FOUND),
        (("export", "frontend-react", "a\x00.json"), exit_codes.ERROR),
        (("export", "frontend-react", "\ud800.json"), exit_codes.ERROR),
        (("export", "--all", "\ud800"), exit_codes.ERROR),
    ],
)
def test_cli_bad_unicode_is_one_line(library, args, code):
    one_error_line(library(*args, code=code))


@pytest.fixture
def library(cli):
    from test_cli import build_library

    build_library(cli.db, cli.config, drafts=False)
    return cli


def test_cli_prints_undecodable_file_names_escaped(library, tmp_path):
    out = library("export", "frontend-react", "\udcff.json").stdout
    assert out == "Exported frontend-react to \\udcff.json\n"
    assert (tmp_path / "\udcff.json").exists()


def test_cli_review_reason_with_undecodable_bytes(cli, tmp_path):
    from test_cli import build_library

    drafts = build_library(cli.db, cli.config)
    runner = CliRunner()
    result = runner.invoke(app, ["--db", str(cli.db), "review"], input=b"r\nbad \xff bytes\nq\n",
                           env={"NO_COLOR": "1", **{k: v for k, v in _embed_env(cli).items()}})
    assert result.exit_code == 0, result.output
    history = json.loads(cli("history", drafts["revision"], "--json").stdout)
    assert history["events"][-1]["reason"] == "bad \ufffd bytes"


def _embed_env(cli) -> dict:
    return {"SKILLVAULT_EMBED_MODEL": cli.config["model"], "SKILLVAULT_EMBED_BASE_URL": cli.config["base_url"],
            "SKILLVAULT_EMBED_API_KEY": cli.config["api_key"]}


def test_cli_review_reason_blank_or_missing(cli):
    from test_cli import build_library

    drafts = build_library(cli.db, cli.config)
    out = cli("review", input="r\n").stdout  # end of input at the reason prompt: stop, reject nothing
    assert "0 approved, 0 rejected, 0 skipped" in out
    out = cli("review", input="r\n   \nToo vague\n").stdout  # a blank reason is asked again
    assert "0 approved, 1 rejected" in out
    assert json.loads(cli("history", drafts["revision"], "--json").stdout)["events"][-1]["reason"] == "Too vague"


class SneakyStr(str):
    """A str whose str() and repr() raise: only its characters may be used."""

    def __str__(self):
        raise RuntimeError("str() refused")

    __repr__ = __str__


def test_str_subclasses_are_used_as_plain_text(seeded, tmp_path):
    chunk = Chunk(id=SneakyStr("sneaky::a"), content=SneakyStr("Sneaky text."), dependencies=[SneakyStr("base")])
    seeded.register(Skill(id=SneakyStr("sneaky"), name=SneakyStr("Sneaky"), tags=[SneakyStr("t")], chunks=[chunk]))
    stored = seeded.get(SneakyStr("sneaky"))
    assert type(stored.name) is str and stored.chunks[0].content == "Sneaky text."
    refused(seeded, lambda: seeded.reject(SneakyStr("not an id"), "why"), "draft_id")
    refused(seeded, lambda: seeded.query("rebase", budget=SneakyStr("5")), "budget")
    seeded.export("sneaky", SneakyStr(str(tmp_path / "sneaky.json")))
    assert (tmp_path / "sneaky.json").exists()


@pytest.mark.parametrize("args, field", [((5,), "old"), ((b"x.db",), "old"), (("a\x00b",), "old"),
                                         (("\udcff.db",), "old"), (("x.db", 5), "to"), (("x.db", None, None, None, 5), "progress")])
def test_migrate_checks_its_paths(args, field):
    from skillvault import migrate

    with pytest.raises(ValidationError) as info:
        migrate(*args)
    assert info.value.field == field
