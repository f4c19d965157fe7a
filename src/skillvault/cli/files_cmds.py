"""Commands that write the library as a whole: init, add, import, export, lint, backup, reindex, migrate."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import typer

from . import output
from .common import JsonOption, Status
from .common import settings_of as _settings
from .common import wants_json as _json
from .errors import fail
from .session import shown_location

commands = typer.Typer()


AGENT_PASSWORD_ENV = "SKILLVAULT_AGENT_PASSWORD"


@commands.command()
def init(
    ctx: typer.Context,
    postgres: Optional[str] = typer.Option(
        None, "--postgres", metavar="URL",
        help="Create the library in this PostgreSQL database (postgresql://OWNER@HOST/DB) instead of --db."),
    agent_role: Optional[str] = typer.Option(
        None, "--agent-role", metavar="NAME",
        help=f"With --postgres: create (or update) the login agents use; password from {AGENT_PASSWORD_ENV} or asked."),
    json_: bool = JsonOption,
) -> None:
    """Create an empty library at --db, recording its embedder (nothing happens if it exists)."""
    settings = _settings(ctx)
    if postgres is not None:
        from .session import LibraryURL, library_location

        if not isinstance(library_location(postgres), LibraryURL):
            fail(f"--postgres takes a URL such as postgresql://owner@host:5432/skills, got {postgres!r}", 2)
        settings = dataclasses.replace(settings, db=LibraryURL(postgres))
    elif agent_role is not None:
        fail("--agent-role needs --postgres URL (an SQLite library's agents open the file with --agent)", 2)
    existed = settings.db.exists()
    with settings.open(create=True) as sm:
        if sm.mode == "human":
            from ..library import record_embedder

            record_embedder(sm.store, sm.embeddings)  # so that agents can add drafts to it right away
        if agent_role is not None:
            sm.store.create_agent_role(agent_role, _agent_password())
        stats = sm.stats()
    shown = shown_location(settings.db)
    if _json(ctx, json_):
        output.emit_json({"db": shown, "created": not existed, "skills": stats["skills"],
                          "schema_version": stats["schema_version"], "embedder": stats["embedder"]["name"],
                          "agent_role": agent_role})
    elif postgres is not None:
        output.note(f"Ready: {shown} (schema version {stats['schema_version']}, {stats['skills']} skills, "
                    f"embedder {stats['embedder']['name']}).")
        if agent_role is not None:
            output.note(f"Agents log in as {agent_role!r}: give them a URL such as postgresql://{agent_role}@HOST/DB "
                        "(password in PGPASSWORD or ~/.pgpass) and run them with --agent.")
    elif existed:
        output.note(f"{shown} already exists ({stats['skills']} skills, schema version {stats['schema_version']}).")
    else:
        output.note(f"Created {shown} (schema version {stats['schema_version']}, embedder {stats['embedder']['name']}).")


def _agent_password() -> str:
    import os

    password = os.environ.get(AGENT_PASSWORD_ENV)
    if password:
        return password
    return typer.prompt("Password for the agent role", hide_input=True, confirmation_prompt=True)


@commands.command()
def add(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE.md", help="A markdown or SKILL.md file."),
    skill_id: Optional[str] = typer.Option(None, "--id", help="Skill id (default: front-matter name, else the file name)."),
    replace: bool = typer.Option(False, "--replace", help="Replace an existing skill with the same id."),
    json_: bool = JsonOption,
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
    findings = skill_findings(skill, str(file))  # what lint and export would say
    tokens = sum(chunk.tokens or 0 for chunk in stored.chunks) if stored else 0
    if _json(ctx, json_):
        output.emit_json({"skill_id": skill.id, "chunks": len(skill.chunks), "tokens": tokens,
                          "findings": [f.to_dict() for f in findings]})
        return
    output.print_findings(findings)
    output.note(f"Added {skill.id} ({len(skill.chunks)} chunks, {tokens} tokens)")


@commands.command("import")
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
        output.emit_json(report.to_dict())  # also when nothing was imported: the exit code says so
    if not report.ids and report.skipped:
        if len(report.skipped) == 1:
            fail(f"{report.skipped[0].where}: {report.skipped[0].message}")
        if not _json(ctx, json_):
            output.print_findings(report.skipped + report.warnings)
        fail(f"nothing imported: all {len(report.skipped)} skills were skipped")
    if not _json(ctx, json_):
        output.print_import_report(report)


@commands.command()
def export(
    ctx: typer.Context,
    first: Optional[str] = typer.Argument(None, metavar="SKILL_ID", help="The skill (leave out with --all)."),
    second: Optional[str] = typer.Argument(None, metavar="PATH", help="FILE.json, or a folder for SKILL.md."),
    all_: bool = typer.Option(False, "--all", help="Export every skill: to a folder of SKILL.md folders, or one .json."),
    status: Optional[Status] = typer.Option(None, "--status", help="With --all: only skills with this status."),
    json_: bool = JsonOption,
) -> None:
    """Export a skill (to FILE.json, or a folder that gets SKILL_ID/SKILL.md), or --all skills."""
    if all_:
        if first is None or second is not None:
            raise typer.BadParameter("export --all takes one argument: the folder or .json file", param_hint="PATH")
        _export_all(ctx, Path(first), status.value if status else None, _json(ctx, json_))
        return
    if first is None or second is None:
        raise typer.BadParameter("export takes SKILL_ID and PATH (or --all PATH)", param_hint="SKILL_ID PATH")
    if status is not None:
        raise typer.BadParameter("--status only goes with --all", param_hint="--status")
    with _settings(ctx).open() as sm:
        written = sm.export(first, second)
    if _json(ctx, json_):
        output.emit_json({"skills": [first], "path": str(written)})
    else:
        output.note(f"Exported {first} to {written}")


def _export_all(ctx: typer.Context, target: Path, status: Optional[str], as_json: bool) -> None:
    written = [0]
    with _settings(ctx).open() as sm:
        with output.progress_bar(f"Exporting to {target}") as progress:
            def counting(done: int, total: int) -> None:
                written[0] = total
                progress(done, total)

            sm.export_all(target, status=status, progress=counting)
        skills = [s.id for s in sm.list(status=status)]
        count = len(skills) if target.suffix.lower() == ".json" else written[0]
    if as_json:
        output.emit_json({"skills": skills, "path": str(target)})
    else:
        output.note(f"Exported {count} skill{'s' if count != 1 else ''} to {target}")


@commands.command()
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


@commands.command()
def backup(
    ctx: typer.Context,
    dest: Path = typer.Argument(..., metavar="DEST", help="The new database file (must not exist)."),
    json_: bool = JsonOption,
) -> None:
    """Copy the library to DEST, safely while other processes write (SQLite online backup)."""
    settings = _settings(ctx)
    settings.require_db()
    with settings.open() as sm, output.progress_bar(f"Backing up to {dest}") as progress:
        written = sm.backup(dest, progress=progress)
    if _json(ctx, json_):
        output.emit_json({"db": shown_location(settings.db), "backup": str(written)})
    else:
        output.note(f"Backed up {shown_location(settings.db)} to {written}")


@commands.command()
def reindex(ctx: typer.Context, json_: bool = JsonOption) -> None:
    """Re-embed every chunk with the chosen embedder (the fix after changing embedders)."""
    settings = _settings(ctx)
    settings.require_db()
    if settings.agent:
        with settings.open() as sm:
            sm.reindex()  # raises the library's permission error
    from ..manager import reindex as reindex_db

    with output.progress_bar("Re-embedding") as progress:
        count = reindex_db(settings.db, embed_config=settings.embed_config(), progress=progress)
    if _json(ctx, json_):
        output.emit_json({"db": shown_location(settings.db), "chunks": count})
        return
    output.note(f"Re-embedded {count} chunk{'s' if count != 1 else ''} in {shown_location(settings.db)}")


@commands.command()
def migrate(
    ctx: typer.Context,
    old: Path = typer.Argument(..., metavar="OLD.db", help="A library written by skillvault 0.1.x."),
    to: Optional[Path] = typer.Option(
        None, "--to", metavar="NEW.db",
        help="Write the upgraded library to this new file and leave OLD.db as it is "
             "(default: upgrade OLD.db in place, keeping a copy as OLD.db.0.1.3-backup)."),
    json_: bool = JsonOption,
) -> None:
    """Upgrade a skillvault 0.1.x library: skills, chunks, reviews, usage counts and vectors."""
    from ..errors import SkillPermissionError
    from ..upgrade import library_format, migrate as migrate_library

    settings = _settings(ctx)
    if settings.agent:
        raise SkillPermissionError("agent mode cannot migrate a library; run `skillvault migrate` without --agent")
    if library_format(old) == "current":
        if _json(ctx, json_):
            output.emit_json({"source": str(old), "migrated": False})
        else:
            output.note(f"{old} is in the current format already; nothing to migrate.")
        return
    with output.progress_bar("Embedding") as progress:
        report = migrate_library(old, to, embed_config=settings.embed_config(), progress=progress)
    if _json(ctx, json_):
        output.emit_json({"migrated": True, **dataclasses.asdict(report)})
        return
    output.note(report.summary()[0].upper() + report.summary()[1:])
    for line in report.notes:
        output.note(f"  note: {line}")
