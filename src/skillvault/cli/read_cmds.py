"""Commands that read the library: list, show, stats, doctor, query, search, search-skills, read-file, eval."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import output
from .common import MAX_BUDGET, MAX_K, JsonOption, Source, Status
from .common import settings_of as _settings
from .common import wants_json as _json
from .session import shown_location

commands = typer.Typer()


@commands.command("list")
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


@commands.command()
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
    if skill.status == Status.draft:
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


@commands.command()
def stats(ctx: typer.Context, json_: bool = JsonOption) -> None:
    """Counts by status and source, chunks, tokens, size, embedder and SQLite versions."""
    settings = _settings(ctx)
    with settings.open() as sm:
        data = sm.stats()
    if _json(ctx, json_):
        output.emit_json(data)
    else:
        output.print_stats(data, shown_location(settings.db))


@commands.command()
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


@commands.command()
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


@commands.command()
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


@commands.command("search-skills")
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


@commands.command("read-file")
def read_file(
    ctx: typer.Context,
    skill_id: str = typer.Argument(..., metavar="ID"),
    path: str = typer.Argument(..., help="A file bundled with the skill, e.g. references/api.md."),
    json_: bool = JsonOption,
) -> None:
    """Print a text file bundled with skill ID (level 3 of progressive disclosure)."""
    with _settings(ctx).open() as sm:
        text = sm.read_file(skill_id, path)
    if _json(ctx, json_):
        output.emit_json({"skill_id": skill_id, "path": path, "content": text})
    else:
        output.echo(text)


@commands.command("eval")
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
