"""Commands agents and scripts use to contribute: propose, extract, vote.

They open the library in agent mode unless ``--human`` is given: what they write is a
draft for review (or an advisory vote), as through the MCP server.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional

import typer

from . import output
from .common import JsonOption
from .common import settings_of as _settings
from .common import wants_json as _json
from .errors import ERROR, NO_DRAFT, PERMISSION_DENIED, USAGE, fail, fields_named
from .proposal import FIELDS, read_proposal

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..manager import SkillManager

commands = typer.Typer()

HumanOption = typer.Option(False, "--human", help="Write as a person (human mode), not as an agent (the default).")
InputFormat = enum.Enum("InputFormat", {name: name for name in ("auto", "json", "text")}, type=str)
NO_LLM = ("extract needs an LLM: pass --llm-model MODEL (or set SKILLVAULT_LLM_MODEL), with --llm-base-url URL "
          "for a local OpenAI-compatible server and the key in SKILLVAULT_LLM_API_KEY; or write the draft "
          "yourself with `skillvault propose`")


def _open(ctx: typer.Context, human: bool) -> "SkillManager":
    settings = _settings(ctx)
    if human and settings.agent:
        fail("--agent and --human contradict each other; give one", USAGE)
    return dataclasses.replace(settings, agent=not human).open()


def _check_agent_can_write(sm: "SkillManager") -> None:
    # The first vectors of a library create its vector table, which the agent's guarded
    # connection may not do: say so instead of the guard's "not authorized".
    if sm.mode == "agent" and sm.stats()["embedder"]["dim"] is None:
        fail("an agent cannot write into an empty library that has no embedder recorded yet: run "
             "`skillvault init` on it (or add or import a skill), or pass --human", PERMISSION_DENIED)


@contextmanager
def _library_log() -> Iterator[list[logging.LogRecord]]:
    """Collect what the library logs (INFO and up) on the ``skillvault`` logger inside the block."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("skillvault")
    handler, level = Collect(logging.INFO), logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@commands.command()
def propose(
    ctx: typer.Context,
    source: Optional[str] = typer.Argument(
        None, metavar="-", help="-: read the proposal (a JSON object or a markdown document) from stdin."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", metavar="FILE",
                                        help="Read the proposal from a JSON (.json) or markdown file."),
    title: Optional[str] = typer.Option(None, "--title", metavar="TEXT", help="One line, at most 80 characters."),
    playbook: Optional[str] = typer.Option(None, "--playbook", metavar="MARKDOWN", help="The steps (markdown)."),
    examples: Optional[str] = typer.Option(None, "--examples", metavar="MARKDOWN", help="Worked examples (markdown)."),
    when_to_use: Optional[str] = typer.Option(None, "--when-to-use", metavar="MARKDOWN", help="When an agent should use it."),
    depends_on: Optional[list[str]] = typer.Option(None, "--depends-on", metavar="ID",
                                                   help="A canonical skill this builds on (repeatable)."),
    tag: Optional[list[str]] = typer.Option(None, "--tag", metavar="TAG", help="A label (repeatable)."),
    confidence: Optional[float] = typer.Option(None, "--confidence", min=0.0, max=1.0, metavar="0..1",
                                               help="0..1 (default: estimated from the content)."),
    human: bool = HumanOption,
    json_: bool = JsonOption,
) -> None:
    """Write a draft skill for review, without an LLM: fields as options, or a JSON object
    or markdown document (# Title, ## Playbook, ## Examples, ## When to use) from stdin
    (`-`) or --file. Options override the document's fields. Prints the draft id."""
    if source is not None and source != "-":
        raise typer.BadParameter(f"expected - (stdin) or nothing, got {source!r}; for a file use --file",
                                 param_hint="-")
    if source == "-" and file is not None:
        raise typer.BadParameter("read from stdin (-) or --file, not both", param_hint="--file")
    fields: dict[str, Any] = {}
    names: dict[str, str] = {}  # field -> how the user spelled it, for error messages
    if source == "-" or file is not None:
        text = sys.stdin.read() if file is None else file.read_text(encoding="utf-8")
        fields, names = read_proposal(text, str(file) if file else "stdin", json_hint=file is not None and
                                      file.suffix.lower() == ".json")
    given = {"title": title, "playbook": playbook, "examples": examples, "when_to_use": when_to_use,
             "dependencies": depends_on or None, "tags": tag or None, "confidence": confidence}
    for field, value in given.items():
        if value is not None:
            fields[field], names[field] = value, FIELDS[field].option
    for field in ("title", "playbook"):
        if not fields.get(field):
            fail(f"a proposal needs {FIELDS[field].option} (or {FIELDS[field].section} in a document); "
                 "see `skillvault propose --help`", USAGE)
    with _library_log() as log, fields_named(names), _open(ctx, human) as sm:
        _check_agent_can_write(sm)
        draft_id = sm.propose(**fields)
        mode = sm.mode
    notes = [record.getMessage() for record in log]
    if _json(ctx, json_):
        output.emit_json({"draft_id": draft_id, "mode": mode, "notes": notes})
        return
    for line in notes:
        output.echo(f"note: {line}", err=True)
    output.echo(draft_id)


def _conversation(text: str, fmt: str, where: str) -> Any:
    """Messages when ``text`` is JSON (a list, or an object with "messages"), else the text."""
    import json

    if fmt == "text":
        return text
    try:
        data = json.loads(text)
    except ValueError as exc:
        if fmt == "json":
            fail(f"{where} is not JSON ({exc}); give a list of messages or pass --format text", USAGE)
        return text
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return data["messages"]
    if isinstance(data, list):
        return data
    if fmt == "json" or isinstance(data, dict):
        fail(f"{where}: JSON must be a list of messages or an object with a \"messages\" list; "
             "pass --format text to learn from it as plain text", USAGE)
    return text


@commands.command()
def extract(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="FILE|-", help="The conversation: a file, or - for stdin."),
    format_: InputFormat = typer.Option(
        "auto", "--format", help="json: a list of {role, content} messages (OpenAI or Anthropic shape, or an "
                                 "object with a \"messages\" list); text: plain text; auto: JSON when it parses."),
    human: bool = HumanOption,
    json_: bool = JsonOption,
) -> None:
    """Ask the LLM (--llm-model) whether a conversation holds reusable knowledge and store it
    as a draft for review. Prints the draft id; exit 5 when there was nothing to learn."""
    if _settings(ctx).llm_config() is None:
        fail(NO_LLM, USAGE)
    where = "stdin" if source == "-" else source
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    conversation = _conversation(text, format_.value, where)
    with _library_log() as log, fields_named({"messages": where}), _open(ctx, human) as sm:
        _check_agent_can_write(sm)
        draft_id = sm.extract(conversation)
        mode = sm.mode
    notes = [record.getMessage() for record in log]
    failed = any(record.levelno >= logging.WARNING for record in log)
    if _json(ctx, json_):
        output.emit_json({"draft_id": draft_id, "mode": mode, "notes": notes})
    if draft_id is None:
        fail(notes[-1] if notes else "no draft: the LLM found nothing reusable", ERROR if failed else NO_DRAFT)
    if not _json(ctx, json_):
        for line in notes:
            output.echo(f"note: {line}", err=True)
        output.echo(draft_id)


@commands.command()
def vote(
    ctx: typer.Context,
    skill_id: str = typer.Argument(..., metavar="ID", help="The skill (or draft) that was used."),
    helpful: Optional[bool] = typer.Option(None, "--helpful/--unhelpful", help="Whether it helped (one is required)."),
    note: Optional[str] = typer.Option(None, "--note", metavar="TEXT",
                                       help="What was right or wrong (at most 1000 characters; secrets are redacted)."),
    human: bool = HumanOption,
    json_: bool = JsonOption,
) -> None:
    """Record that a skill was used, whether it helped and optionally why (an agent's vote is advisory)."""
    if helpful is None:
        raise typer.BadParameter("say whether the skill helped: --helpful or --unhelpful", param_hint="--helpful")
    with fields_named({"note": "--note"}), _open(ctx, human) as sm:
        sm.record_usage(skill_id, helpful, note=note)
        usage = sm.usage(skill_id)
        mode = sm.mode
    if _json(ctx, json_):
        output.emit_json({"skill_id": skill_id, "helpful": helpful, "mode": mode, "usage": usage})
    else:
        output.note(f"Recorded {'a helpful' if helpful else 'an unhelpful'} vote for {skill_id} "
                    f"({usage['uses']} uses: {usage['helpful']} helpful, {usage['unhelpful']} unhelpful)")
