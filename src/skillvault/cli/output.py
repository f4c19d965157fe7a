"""Rendering: consoles, JSON shapes, tables, markdown and progress bars.

Colours follow rich's detection: off when the stream is not a terminal or when
``NO_COLOR`` is set. Results go to stdout, errors and progress bars to stderr.
The JSON shapes built here are the stable ones documented in docs/cli.md.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional, Sequence

import typer

if TYPE_CHECKING:  # pragma: no cover - typing only
    from rich.console import Console
    from rich.table import Table

    from ..models import Skill
    from ..retrieval import Hit, Packing


#: Width of tables when the output is not a terminal and ``COLUMNS`` is not set.
PIPE_WIDTH = 120


def _console(stderr: bool) -> "Console":
    import os
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None
    if "COLUMNS" not in os.environ and not (hasattr(stream, "isatty") and stream.isatty()):
        width = PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, width=width)


def tolerant_streams() -> None:
    """Let the standard streams carry any text instead of raising Unicode errors.

    File names of undecodable bytes reach Python as lone surrogates (``\\udcff``):
    stdout and stderr show them as backslash escapes. Undecodable bytes typed on stdin
    (e.g. a review's reason) are read as U+FFFD.
    """
    import sys

    for stream, errors in ((sys.stdout, "backslashreplace"), (sys.stderr, "backslashreplace"), (sys.stdin, "replace")):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            reconfigure(errors=errors)
        except (ValueError, OSError):  # pragma: no cover - a stream that cannot change
            pass


def out_console() -> "Console":
    """Return a console on stdout (made per call, so redirected streams are honoured)."""
    return _console(stderr=False)


def err_console() -> "Console":
    """Return a console on stderr."""
    return _console(stderr=True)


def echo(text: str = "", err: bool = False) -> None:
    """Write plain text and a newline, untouched by markup or wrapping."""
    typer.echo(text, err=err)


def emit_json(data: Any) -> None:
    """Write ``data`` as indented JSON (UTF-8, not ASCII-escaped) on stdout."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def note(message: str) -> None:
    """Print a short status line (e.g. "Imported 3 skills") on stdout, markup escaped."""
    from rich.markup import escape

    out_console().print(escape(message), soft_wrap=True)


# --------------------------------------------------------------------------- JSON shapes


def skill_summary(skill: "Skill", usage: Optional[dict] = None) -> dict:
    """The ``list`` / ``review-queue`` JSON shape of one skill (no chunk contents)."""
    summary = {
        "id": skill.id,
        "name": skill.name,
        "status": skill.status,
        "source": skill.source,
        "version": skill.version,
        "confidence": skill.confidence,
        "chunks": len(skill.chunks),
        "tokens": sum(chunk.tokens or 0 for chunk in skill.chunks),
        "description": skill.description,
        "revises": skill.revises,
        "flags": list(skill.flags),
        "created_at": skill.created_at.isoformat() if skill.created_at else None,
    }
    if usage is not None:
        summary["uses"] = usage.get("uses", 0)
    return summary


def hit_dict(rank: int, hit: "Hit") -> dict:
    """The ``search`` JSON shape of one hit."""
    return {
        "rank": rank,
        "skill_id": hit.skill_id,
        "skill_name": hit.skill_name,
        "chunk_id": hit.chunk.id,
        "section": hit.chunk.section,
        "tokens": hit.chunk.tokens,
        "fused_score": hit.fused_score,
        "vector_score": hit.vector_score,
        "lexical_score": hit.lexical_score,
        "relevant": hit.relevant,
    }


def packing_dict(packing: "Packing") -> dict:
    """The ``query --json`` shape: the context text and every packing decision."""
    return {
        "text": packing.text,
        "budget": packing.budget,
        "used_tokens": packing.used_tokens,
        "served_skill_ids": list(packing.served_skill_ids),
        "decisions": [
            {
                "chunk_id": d.chunk_id,
                "skill_id": d.skill_id,
                "taken": d.taken,
                "reason": d.reason,
                "tokens": d.tokens,
                "fused_score": d.fused_score,
            }
            for d in packing.decisions
        ],
    }


# --------------------------------------------------------------------------- tables


def _table(title: Optional[str], *columns: tuple[str, dict]) -> "Table":
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for name, options in columns:
        table.add_column(name, **{"overflow": "fold", **options})
    # A column with no_wrap never folds; others fold long words instead of cutting them.
    return table


def _fmt_score(value: Optional[float], digits: int = 3) -> str:
    # Significant digits, not decimals: BM25 scores in a small library are ~1e-6.
    return "-" if value is None else f"{value:.{digits}g}"


def print_skills(skills: list["Skill"], title: str) -> None:
    """Print skills as a table (id, name, status, source, tokens)."""
    if not skills:
        note(f"{title}: none")
        return
    right = {"justify": "right"}
    table = _table(
        f"{title} ({len(skills)})",
        ("ID", {"style": "cyan"}), ("Name", {}), ("Status", {}),
        ("Source", {}), ("Tokens", right),
    )
    for s in skills:
        d = skill_summary(s)
        table.add_row(s.id, s.name, s.status, s.source, str(d["tokens"]))
    out_console().print(table)


def print_queue(drafts: list["Skill"], usage: dict[str, dict], findings: dict[str, list]) -> None:
    """Print the review queue: id, name, confidence, uses, what it revises, lint counts
    (flags and the findings themselves: JSON, `review`)."""
    if not drafts:
        note("Review queue is empty.")
        return
    right = {"justify": "right"}
    table = _table(
        f"Drafts awaiting review ({len(drafts)})",
        ("ID", {"style": "cyan"}), ("Name", {"min_width": 12}), ("Conf", right), ("Uses", right),
        ("Revises", {}), ("Lint", {}),
    )
    for d in drafts:
        table.add_row(d.id, d.name, f"{d.confidence:.2f}", str(usage.get(d.id, {}).get("uses", 0)),
                      d.revises or "-", _lint_counts(findings.get(d.id, [])))
    out_console().print(table)


def _lint_counts(findings: list) -> str:
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    parts = [f"{errors} error{'s' if errors != 1 else ''}"] if errors else []
    parts += [f"{warnings} warning{'s' if warnings != 1 else ''}"] if warnings else []
    return ", ".join(parts) or "-"


def print_hits(hits: list["Hit"], query: str) -> None:
    """Print search hits as a table of scores, best first."""
    if not hits:
        note(f"No results for {query!r}.")
        return
    right = {"justify": "right"}
    table = _table(
        f"Results for {query!r}",
        ("#", right), ("Skill", {"no_wrap": True, "style": "cyan"}), ("Chunk", {}),
        ("Fused", right), ("Vector", right), ("Lexical", right), ("Relevant", {}),
    )
    for rank, hit in enumerate(hits, 1):
        part = hit.chunk.id.split("::")[-1]
        table.add_row(str(rank), hit.skill_id, part, _fmt_score(hit.fused_score, 4),
                      _fmt_score(hit.vector_score), _fmt_score(hit.lexical_score, 2), "yes" if hit.relevant else "no")
    out_console().print(table)


def _human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"  # pragma: no cover


def print_stats(stats: dict, db: str) -> None:
    """Print library statistics as a two-column table."""
    table = _table(f"Library {db}", ("", {"style": "bold"}), ("", {}))
    table.show_header = False
    rows = [
        ("Skills", str(stats["skills"])),
        ("  canonical", str(stats["canonical"])),
        ("  draft (pending review)", str(stats["draft"])),
        ("  archived", str(stats["archived"])),
        ("  rejected", str(stats["rejected"])),
        ("By source", ", ".join(f"{k} {v}" for k, v in stats["by_source"].items())),
        ("Chunks", str(stats["chunks"])),
        ("Tokens", str(stats["tokens"])),
        ("Database size", _human_bytes(stats["db_bytes"])),
        ("Embedder", f"{stats['embedder']['name']}" + (f" ({stats['embedder']['dim']}-d)" if stats["embedder"]["dim"] else "")),
        ("SQLite", f"{stats['sqlite']['version']} ({stats['sqlite']['module']})"),
        ("sqlite-vec", str(stats["sqlite_vec"])),
        ("FTS5", "yes" if stats["fts5"] else "no"),
        ("Schema version", str(stats["schema_version"])),
    ]
    for key, value in rows:
        table.add_row(key, value)
    out_console().print(table)


def print_history(skill_id: str, versions: list[int], events: list[dict]) -> None:
    """Print a skill's kept versions and its audit trail."""
    note(f"{skill_id}: versions {', '.join(map(str, versions)) or 'none kept'}")
    if not events:
        note("No audit entries.")
        return
    table = _table(None, ("When", {"no_wrap": True}), ("Actor", {}), ("Action", {"style": "cyan"}),
                   ("Reason / note", {}), ("Details", {}))
    for e in events:
        details = ", ".join(f"{k}={v}" for k, v in (e.get("details") or {}).items())
        table.add_row(e["at"], e["actor"], e["action"], e.get("reason") or "", details)
    out_console().print(table)


def print_checks(checks: Iterable[dict]) -> None:
    """Print ``doctor`` checks: name, value, and ok / FAIL."""
    table = _table("skillvault doctor", ("Check", {"style": "bold"}), ("Value", {}), ("", {"no_wrap": True}))
    for check in checks:
        status = "[green]ok[/green]" if check["ok"] else "[bold red]FAIL[/bold red]"
        from rich.markup import escape

        table.add_row(check["name"], escape(str(check["value"])), status)
    out_console().print(table)


def print_findings(findings: Iterable[Any], to_stdout: bool = False) -> None:
    """Print lint / import findings, one line each: ``file:line: severity: message [code]``.

    On stderr by default (they are diagnostics next to a command's result); ``lint``
    prints them on stdout (they are its result).
    """
    from rich.markup import escape

    console = out_console() if to_stdout else err_console()
    for finding in findings:
        colour = "red" if finding.severity == "error" else "yellow"
        where = f"{escape(finding.where)}: " if finding.file else ""
        console.print(f"{where}[{colour}]{finding.severity}[/{colour}]: {escape(finding.message)} "
                      f"[dim]\\[{escape(finding.code)}][/dim]", soft_wrap=True, highlight=False)


def print_import_report(report: Any) -> None:
    """Print an import report: what was imported, updated (new version), unchanged, skipped."""
    def ids(items: list[str], versions: bool = False) -> str:
        return ", ".join(f"{i} (version {report.versions[i]})" if versions and i in report.versions else i
                         for i in items)

    def count(n: int) -> str:
        return f"{n} skill{'s' if n != 1 else ''}"

    print_findings(report.skipped + report.warnings)
    if report.imported:
        note(f"Imported {count(len(report.imported))}: {ids(report.imported)}")
    if report.updated:
        note(f"Updated {count(len(report.updated))} (new version): {ids(report.updated, True)}")
    if report.unchanged:
        note(f"Unchanged {count(len(report.unchanged))} (nothing written): {ids(report.unchanged)}")
    if report.skipped:
        note(f"Skipped {count(len(report.skipped))} (see the errors above)")
    if not (report.imported or report.updated or report.unchanged or report.skipped):
        note("Nothing imported.")


def print_markdown(text: str) -> None:
    """Print markdown: rendered on a terminal, as plain text otherwise (for pipes)."""
    console = out_console()
    if console.is_terminal:
        from rich.markdown import Markdown

        console.print(Markdown(text))
    else:
        echo(text.rstrip("\n"))


def print_diff(lines: list[str]) -> None:
    """Print unified-diff lines, additions green and removals red (when colours are on)."""
    from rich.text import Text

    console = out_console()
    for line in lines:
        style = None
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        console.print(Text(line, style=style or ""), soft_wrap=True)


# --------------------------------------------------------------------------- progress


@contextmanager
def progress_bar(description: str, stages: Sequence[str] = ()) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``progress(done, total)`` callback drawing a bar on stderr.

    Args:
        description: the bar's label.
        stages: for work reported in stages that each start with ``(0, total)`` (an
            import: reading, then embedding), the stage names shown after the label.

    On a non-terminal stderr nothing is drawn (the callback does nothing).
    """
    console = err_console()
    if not console.is_terminal:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        labels = [f"{description}: {stage}" for stage in stages] or [description]
        task = progress.add_task(labels[0], total=None)
        stage = [-1]

        def update(done: int, total: int) -> None:
            if done == 0 and stage[0] + 1 < len(labels):
                stage[0] += 1
                progress.reset(task, description=labels[stage[0]], total=total)
            progress.update(task, completed=done, total=total)

        yield update
