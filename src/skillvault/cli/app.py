"""The typer application: global options and one function per command.

Commands are thin: they read options, call :class:`~skillvault.SkillManager` and
hand results to :mod:`.output`. User errors raised anywhere below are turned into
one line on stderr and an exit code by :class:`_Group` (see :mod:`.errors`).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from ..models import MAX_VERSION
from . import output
from .errors import fail, user_errors
from .session import DEFAULT_DB, Settings

# Kept in step with skillvault.models.STATUSES / SOURCES (tests check it); spelled out
# here so that `--help` does not import the library.
Status = enum.Enum("Status", {name: name for name in ("canonical", "draft", "archived", "rejected")}, type=str)
LLMProvider = enum.Enum("LLMProvider", {name: name for name in ("openai", "anthropic")}, type=str)
Source = enum.Enum("Source", {name: name for name in ("manual", "extracted", "imported")}, type=str)
#: = skillvault.manager.MAX_BUDGET / MAX_K (tests check it), out of range is a usage error.
MAX_BUDGET = 1_000_000
MAX_K = 1_000


class _Group(TyperGroup):
    """The root command group: maps user errors to one line and an exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        output.tolerant_streams()  # before click prints anything, usage errors included
        return super().main(*args, **kwargs)

    def invoke(self, ctx: typer.Context) -> Any:
        with user_errors(ctx):
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Group,
    name="skillvault",
    help="A skill library for LLM agents: query skills, review drafts, import and export.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonOption = typer.Option(False, "--json", help="Print JSON (shapes documented in docs/cli.md).")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("skillvault")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            from .. import __version__ as text
        typer.echo(f"skillvault {text}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    db: Path = typer.Option(DEFAULT_DB, "--db", envvar="SKILLVAULT_DB", metavar="PATH",
                            help="The library file.", show_default=True),
    agent: bool = typer.Option(False, "--agent", help="Agent mode: read canonical skills, write drafts only."),
    json_: bool = typer.Option(False, "--json", help="JSON output for read commands."),
    embed_model: Optional[str] = typer.Option(
        None, "--embed-model", envvar="SKILLVAULT_EMBED_MODEL", metavar="MODEL",
        help="Embedding model of an OpenAI-compatible endpoint ('local' or unset: the built-in model)."),
    embed_base_url: Optional[str] = typer.Option(
        None, "--embed-base-url", envvar="SKILLVAULT_EMBED_BASE_URL", metavar="URL",
        help="Endpoint of --embed-model, e.g. http://localhost:11434/v1 (key: SKILLVAULT_EMBED_API_KEY)."),
    embed_dimensions: Optional[int] = typer.Option(
        None, "--embed-dimensions", envvar="SKILLVAULT_EMBED_DIMENSIONS", min=1, metavar="N",
        help="Ask --embed-model for N-dimensional vectors."),
    llm_model: Optional[str] = typer.Option(
        None, "--llm-model", envvar="SKILLVAULT_LLM_MODEL", metavar="MODEL",
        help="Chat model that `extract` asks (key: SKILLVAULT_LLM_API_KEY or the provider's usual variable)."),
    llm_provider: LLMProvider = typer.Option(
        "openai", "--llm-provider", envvar="SKILLVAULT_LLM_PROVIDER",
        help="API of --llm-model: openai (or any OpenAI-compatible endpoint) or anthropic."),
    llm_base_url: Optional[str] = typer.Option(
        None, "--llm-base-url", envvar="SKILLVAULT_LLM_BASE_URL", metavar="URL",
        help="Endpoint of --llm-model, e.g. http://localhost:11434/v1."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """A skill library for LLM agents: query skills, review drafts, import and export."""
    ctx.obj = Settings(db=db, agent=agent, json=json_, embed_model=embed_model,
                       embed_base_url=embed_base_url, embed_dimensions=embed_dimensions,
                       llm_model=llm_model, llm_provider=llm_provider.value, llm_base_url=llm_base_url)


def _settings(ctx: typer.Context) -> Settings:
    return ctx.find_root().obj


def _json(ctx: typer.Context, flag: bool) -> bool:
    return flag or _settings(ctx).json


# --------------------------------------------------------------------------- library


@app.command()
def init(ctx: typer.Context) -> None:
    """Create an empty library at --db (nothing happens if it exists)."""
    settings = _settings(ctx)
    existed = settings.db.exists()
    with settings.open(create=True) as sm:
        stats = sm.stats()
    if existed:
        output.note(f"{settings.db} already exists ({stats['skills']} skills, schema version {stats['schema_version']}).")
    else:
        output.note(f"Created {settings.db} (schema version {stats['schema_version']}, embedder {stats['embedder']['name']}).")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Optional[Status] = typer.Option(None, "--status", help="Only skills with this status."),
    source: Optional[Source] = typer.Option(None, "--source", help="Only skills from this source."),
    json_: bool = JsonOption,
) -> None:
    """List skills (all statuses unless --status; agents see canonical skills only)."""
    with _settings(ctx).open() as sm:
        skills = sm.list(status=status.value if status else None, source=source.value if source else None)
    if _json(ctx, json_):
        output.emit_json([output.skill_summary(s) for s in skills])
    else:
        output.print_skills(skills, "Skills" if status is None else f"Skills ({status.value})")


@app.command()
def show(ctx: typer.Context, skill_id: str = typer.Argument(..., metavar="ID"), json_: bool = JsonOption) -> None:
    """Show one skill as markdown (or its full JSON form)."""
    from ..errors import NotFoundError
    from ..formats.skill_md import skill_markdown_body

    with _settings(ctx).open() as sm:
        skill = sm.get(skill_id)
    if skill is None:
        raise NotFoundError(f"no skill with id {skill_id!r}")
    if _json(ctx, json_):
        output.emit_json(skill.to_dict())
        return
    facts = [f"`{skill.id}`", skill.status, skill.source, f"version {skill.version}"]
    if skill.status == "draft":
        facts.append(f"confidence {skill.confidence:.2f}")
    if skill.revises:
        facts.append(f"revises `{skill.revises}`")
    body = skill_markdown_body(skill)
    first = next((line for line in body.splitlines() if line.strip()), "")
    head = [] if first.startswith("# ") else [f"# {skill.name}", ""]
    head.append(" · ".join(facts))
    if skill.description:
        head += ["", "> " + skill.description.replace("\n", "\n> ")]
    for flag in skill.flags:
        head += ["", f"*flag: {flag}*"]
    output.print_markdown("\n".join(head) + "\n\n" + body)


@app.command()
def stats(ctx: typer.Context, json_: bool = JsonOption) -> None:
    """Counts by status and source, chunks, tokens, size, embedder and SQLite versions."""
    settings = _settings(ctx)
    with settings.open() as sm:
        data = sm.stats()
    if _json(ctx, json_):
        output.emit_json(data)
    else:
        output.print_stats(data, str(settings.db))


@app.command()
def doctor(ctx: typer.Context, json_: bool = JsonOption) -> None:
    """Check Python, SQLite, sqlite-vec, FTS5, the embedder and the database's integrity."""
    from .doctor import run_checks

    checks = run_checks(_settings(ctx))
    if _json(ctx, json_):
        output.emit_json({"ok": all(c["ok"] for c in checks), "checks": checks})
    else:
        output.print_checks(checks)
    if not all(c["ok"] for c in checks):
        raise typer.Exit(1)


# --------------------------------------------------------------------------- retrieval


@app.command()
def query(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="What the agent needs to know."),
    budget: int = typer.Option(2000, "--budget", "-b", min=1, max=MAX_BUDGET, help="Most tokens (cl100k_base) of context."),
    explain: bool = typer.Option(False, "--explain", help="Also say why each chunk was taken or dropped."),
    json_: bool = JsonOption,
) -> None:
    """Print the context for TEXT: relevant chunks and their dependencies, within --budget."""
    with _settings(ctx).open() as sm:
        packing = sm.query(text, budget=budget, explain=True)
    if _json(ctx, json_):
        output.emit_json(output.packing_dict(packing))
        return
    if packing.text:
        output.echo(packing.text)
    else:
        output.echo("No relevant skill fits in the budget.", err=True)
    if explain:
        output.echo("")
        output.echo(str(packing))


@app.command()
def search(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(10, "-k", "--k", min=1, max=MAX_K, help="Most hits."),
    json_: bool = JsonOption,
) -> None:
    """Show the best-scoring canonical chunks for TEXT as a table."""
    with _settings(ctx).open() as sm:
        hits = sm.search(text, k=k)
    if _json(ctx, json_):
        output.emit_json([output.hit_dict(rank, hit) for rank, hit in enumerate(hits, 1)])
    else:
        output.print_hits(hits, text)


@app.command("search-skills")
def search_skills(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="The task, as an agent would describe it."),
    k: int = typer.Option(5, "-k", "--k", min=1, max=MAX_K, help="Most skills."),
    json_: bool = JsonOption,
) -> None:
    """Show the skills that fit TEXT (level 1 cards): id, name, score, description, why."""
    with _settings(ctx).open() as sm:
        hits = sm.search_skills(text, k=k)
    rows = [{"rank": rank, "id": h.id, "name": h.name, "score": round(h.score, 4), "description": h.description,
             "why": h.why} for rank, h in enumerate(hits, 1)]
    if _json(ctx, json_):
        output.emit_json(rows)
        return
    if not rows:
        output.echo("No relevant skill.", err=True)
    for row in rows:
        output.echo(f"{row['rank']}. {row['id']} ({row['score']:.3f}): {row['description'][:200]}")
        output.echo(f"   why: {row['why']}")


@app.command("read-file")
def read_file(
    ctx: typer.Context,
    skill_id: str = typer.Argument(..., metavar="ID"),
    path: str = typer.Argument(..., help="A file bundled with the skill, e.g. references/api.md."),
) -> None:
    """Print a text file bundled with skill ID (level 3 of progressive disclosure)."""
    with _settings(ctx).open() as sm:
        output.echo(sm.read_file(skill_id, path))


@app.command("eval")
def eval_(
    ctx: typer.Context,
    cases: Path = typer.Argument(..., help="JSON/YAML list of {task, expected} (expected: skill id or name)."),
    json_: bool = JsonOption,
) -> None:
    """Trigger evaluation: R@1 / R@3 / MRR of search-skills over CASES, misses, untriggered skills."""
    with _settings(ctx).open() as sm:
        report = sm.evaluate(cases)
    if _json(ctx, json_):
        output.emit_json(report.as_dict())
        return
    output.echo(f"{report.cases} cases: R@1 {report.r_at_1:.3f}  R@3 {report.r_at_3:.3f}  MRR {report.mrr:.3f}")
    for miss in report.misses:
        where = f"rank {miss['rank']}" if miss["rank"] else "not found"
        output.echo(f"miss ({where}): {miss['task']!r} -> {miss['expected']}; returned {', '.join(miss['returned']) or 'nothing'}")
    if report.untriggered:
        output.echo(f"skills no case triggers: {', '.join(report.untriggered)}")


# --------------------------------------------------------------------------- review


@app.command("review-queue")
def review_queue(ctx: typer.Context, json_: bool = JsonOption) -> None:
    """List drafts awaiting review, newest first."""
    from ..review import merge_revision

    with _settings(ctx).open() as sm:
        drafts = sm.review_queue()
        usage = {d.id: sm.usage(d.id) for d in drafts}
        targets = {d.id: sm.get(d.revises) for d in drafts if d.revises}
        findings = {d.id: sm.lint([d.id]) for d in drafts}
    if _json(ctx, json_):
        rows = []
        for d in drafts:
            row = output.skill_summary(d, usage[d.id])
            row["lint"] = [finding.to_dict() for finding in findings[d.id]]
            target = targets.get(d.id)
            if target is not None and target.status == "canonical":  # what approving would do, per section
                row["changes"] = [change.to_dict() for change in merge_revision(target, d).changes]
            rows.append(row)
        output.emit_json(rows)
    else:
        output.print_queue(drafts, usage, findings)


@app.command()
def approve(
    ctx: typer.Context,
    draft_id: str = typer.Argument(..., metavar="ID", help="The draft, e.g. draft::my-skill."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", envvar="SKILLVAULT_REVIEWER", help="Who approves."),
    note: Optional[str] = typer.Option(None, "--note", help="Why (kept in the audit trail)."),
) -> None:
    """Approve a draft: it becomes a canonical skill (or a new version of the one it revises)."""
    with _settings(ctx).open() as sm:
        skill_id = sm.approve(draft_id, reviewer=reviewer, note=note)
    output.note(f"Approved {draft_id} -> {skill_id}")


@app.command()
def reject(
    ctx: typer.Context,
    draft_id: str = typer.Argument(..., metavar="ID", help="The draft, e.g. draft::my-skill."),
    reason: str = typer.Option(..., "--reason", help="Why (required; kept with the draft)."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", envvar="SKILLVAULT_REVIEWER", help="Who rejects."),
) -> None:
    """Reject a draft with a reason (it is kept, with status rejected)."""
    with _settings(ctx).open() as sm:
        sm.reject(draft_id, reason, reviewer=reviewer)
    output.note(f"Rejected {draft_id}")


@app.command()
def review(
    ctx: typer.Context,
    reviewer: Optional[str] = typer.Option(None, "--reviewer", envvar="SKILLVAULT_REVIEWER", help="Who reviews."),
) -> None:
    """Review drafts one by one: approve, reject (asks a reason), skip or quit, one key each."""
    from .review import run_review

    with _settings(ctx).open() as sm:
        run_review(sm, reviewer=reviewer)


@app.command()
def history(ctx: typer.Context, skill_id: str = typer.Argument(..., metavar="ID"), json_: bool = JsonOption) -> None:
    """Show a skill's kept versions and audit trail (who, when, what, why)."""
    from ..errors import NotFoundError

    with _settings(ctx).open() as sm:
        events = sm.history(skill_id)
        versions = sm.versions(skill_id)
        exists = sm.get(skill_id) is not None
    if not (events or versions or exists):
        raise NotFoundError(f"no skill with id {skill_id!r} and no history for it")
    if _json(ctx, json_):
        output.emit_json({"skill_id": skill_id, "versions": versions, "events": events})
    else:
        output.print_history(skill_id, versions, events)


@app.command()
def rollback(
    ctx: typer.Context,
    skill_id: str = typer.Argument(..., metavar="ID"),
    version: int = typer.Argument(..., min=1, max=MAX_VERSION, help="A kept version (see `skillvault history ID`)."),
) -> None:
    """Restore the content of a kept version of a skill, as a new version."""
    with _settings(ctx).open() as sm:
        new_version = sm.rollback(skill_id, version)
    output.note(f"{skill_id}: version {version} restored as version {new_version}")


# --------------------------------------------------------------------------- import / export


@app.command()
def add(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE.md", help="A markdown or SKILL.md file."),
    skill_id: Optional[str] = typer.Option(None, "--id", help="Skill id (default: front-matter name, else the file name)."),
    replace: bool = typer.Option(False, "--replace", help="Replace an existing skill with the same id."),
) -> None:
    """Register a markdown file as a canonical skill (split into chunks at its headings)."""
    from ..formats.skill_md import read_skill_markdown

    if file.is_dir():
        fail(f"{file} is a folder; import skill folders with `skillvault import {file}`")
    from ..lint import skill_findings

    skill = read_skill_markdown(file, skill_id=skill_id)
    with _settings(ctx).open(create=True) as sm:
        if not replace and sm.get(skill.id) is not None:
            fail(f"a skill {skill.id!r} already exists; pass --replace to overwrite it or --id to choose another id")
        sm.register(skill)
        stored = sm.get(skill.id)
    output.print_findings(skill_findings(skill, str(file)))  # what lint and export would say
    tokens = sum(chunk.tokens or 0 for chunk in stored.chunks) if stored else 0
    output.note(f"Added {skill.id} ({len(skill.chunks)} chunks, {tokens} tokens)")


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., metavar="FILE|DIR", help="A JSON file, a SKILL.md folder or a folder of them."),
    strict: bool = typer.Option(False, "--strict", help="Import nothing (exit 1) if any skill is skipped or any "
                                "warning is found."),
    json_: bool = JsonOption,
) -> None:
    """Import skills from JSON or Agent Skills folders; report what was imported, updated, unchanged, skipped."""
    from ..errors import ImportFormatError

    settings = _settings(ctx)
    if not path.exists():
        fail(f"{path}: no such file or folder")
    try:
        with settings.open(create=True) as sm, output.progress_bar(f"Importing {path.name}", ("reading", "embedding")) as progress:
            report = sm.import_report(path, progress=progress, strict=strict)
    except ImportFormatError as exc:
        refused = getattr(exc, "report", None)
        if refused is not None:  # --strict: say everything that was found, then why nothing was imported
            output.print_findings(refused.skipped + refused.warnings)
            fail(f"nothing imported (--strict): {len(refused.skipped)} skill(s) would be skipped, "
                 f"{len(refused.warnings)} warning(s)")
        raise
    if _json(ctx, json_):
        output.emit_json(report.to_dict())
    if not report.ids and report.skipped:
        if len(report.skipped) == 1:
            fail(f"{report.skipped[0].where}: {report.skipped[0].message}")
        output.print_findings(report.skipped + report.warnings)
        fail(f"nothing imported: all {len(report.skipped)} skills were skipped")
    if not _json(ctx, json_):
        output.print_import_report(report)


@app.command()
def export(
    ctx: typer.Context,
    first: Optional[str] = typer.Argument(None, metavar="SKILL_ID", help="The skill (leave out with --all)."),
    second: Optional[str] = typer.Argument(None, metavar="PATH", help="FILE.json, or a folder for SKILL.md."),
    all_: bool = typer.Option(False, "--all", help="Export every skill: to a folder of SKILL.md folders, or one .json."),
    status: Optional[Status] = typer.Option(None, "--status", help="With --all: only skills with this status."),
) -> None:
    """Export a skill (to FILE.json, or a folder that gets SKILL_ID/SKILL.md), or --all skills."""
    if all_:
        if first is None or second is not None:
            raise typer.BadParameter("export --all takes one argument: the folder or .json file", param_hint="PATH")
        _export_all(ctx, Path(first), status.value if status else None)
        return
    if first is None or second is None:
        raise typer.BadParameter("export takes SKILL_ID and PATH (or --all PATH)", param_hint="SKILL_ID PATH")
    if status is not None:
        raise typer.BadParameter("--status only goes with --all", param_hint="--status")
    with _settings(ctx).open() as sm:
        written = sm.export(first, second)
    output.note(f"Exported {first} to {written}")


def _export_all(ctx: typer.Context, target: Path, status: Optional[str]) -> None:
    written = [0]
    with _settings(ctx).open() as sm:
        with output.progress_bar(f"Exporting to {target}") as progress:
            def counting(done: int, total: int) -> None:
                written[0] = total
                progress(done, total)

            sm.export_all(target, status=status, progress=counting)
        count = len(sm.list(status=status)) if target.suffix.lower() == ".json" else written[0]
    output.note(f"Exported {count} skill{'s' if count != 1 else ''} to {target}")


@app.command()
def lint(
    ctx: typer.Context,
    targets: Optional[list[str]] = typer.Argument(
        None, metavar="[PATH|ID]...",
        help="SKILL.md folders, folders of them, JSON or markdown files, or ids of skills in the library "
             "(default: the whole library)."),
    json_: bool = JsonOption,
) -> None:
    """Check skills against the Agent Skills spec and for broken references, unresolved
    dependencies, oversized chunks and secrets. Exit 0: clean, 1: warnings only, 2: errors."""
    from ..lint import exit_code, lint_paths

    settings = _settings(ctx)
    paths = [t for t in targets or [] if Path(t).exists()]
    ids = [t for t in targets or [] if not Path(t).exists()]
    findings = []
    if paths:
        known: set[str] = set()
        if settings.db.exists():
            with settings.open() as sm:
                stored = sm.list()
            known = {s.id for s in stored} | {c.id for s in stored for c in s.chunks}
        findings += lint_paths(paths, known)
    if ids or not targets:
        with settings.open() as sm:
            findings += sm.lint(ids or None)
    if _json(ctx, json_):
        output.emit_json({"findings": [f.to_dict() for f in findings], "exit_code": exit_code(findings)})
    else:
        output.print_findings(findings, to_stdout=True)
        errors = sum(f.severity == "error" for f in findings)
        output.note(f"{errors} error{'s' if errors != 1 else ''}, {len(findings) - errors} "
                    f"warning{'s' if len(findings) - errors != 1 else ''}")
    code = exit_code(findings)
    if code:
        raise typer.Exit(code)


@app.command()
def backup(
    ctx: typer.Context,
    dest: Path = typer.Argument(..., metavar="DEST", help="The new database file (must not exist)."),
) -> None:
    """Copy the library to DEST, safely while other processes write (SQLite online backup)."""
    settings = _settings(ctx)
    settings.require_db()
    with settings.open() as sm, output.progress_bar(f"Backing up to {dest}") as progress:
        written = sm.backup(dest, progress=progress)
    output.note(f"Backed up {settings.db} to {written}")


@app.command()
def reindex(ctx: typer.Context) -> None:
    """Re-embed every chunk with the chosen embedder (the fix after changing embedders)."""
    settings = _settings(ctx)
    settings.require_db()
    if settings.agent:
        with settings.open() as sm:
            sm.reindex()  # raises the library's permission error
    from ..manager import reindex as reindex_db

    with output.progress_bar("Re-embedding") as progress:
        count = reindex_db(settings.db, embed_config=settings.embed_config(), progress=progress)
    output.note(f"Re-embedded {count} chunk{'s' if count != 1 else ''} in {settings.db}")


# --------------------------------------------------------------------------- upgrade from 0.1.x


@app.command()
def migrate(
    ctx: typer.Context,
    old: Path = typer.Argument(..., metavar="OLD.db", help="A library written by skillvault 0.1.x."),
    to: Optional[Path] = typer.Option(
        None, "--to", metavar="NEW.db",
        help="Write the upgraded library to this new file and leave OLD.db as it is "
             "(default: upgrade OLD.db in place, keeping a copy as OLD.db.0.1.3-backup)."),
) -> None:
    """Upgrade a skillvault 0.1.x library: skills, chunks, reviews, usage counts and vectors."""
    from ..errors import SkillPermissionError
    from ..upgrade import library_format, migrate as migrate_library

    settings = _settings(ctx)
    if settings.agent:
        raise SkillPermissionError("agent mode cannot migrate a library; run `skillvault migrate` without --agent")
    if library_format(old) == "current":
        output.note(f"{old} is in the current format already; nothing to migrate.")
        return
    with output.progress_bar("Embedding") as progress:
        report = migrate_library(old, to, embed_config=settings.embed_config(), progress=progress)
    output.note(report.summary()[0].upper() + report.summary()[1:])
    for line in report.notes:
        output.note(f"  note: {line}")

from .sync_cmd import sync as _sync  # noqa: E402  (its own module: skills-folder sync)
app.command("sync")(_sync)
from .mcp_cmd import mcp as _mcp  # noqa: E402 - the MCP server's command lives in its own module
app.command("mcp")(_mcp)
