"""``skillvault copy SRC DEST``: a whole library from one backend to another (see :mod:`skillvault.copying`)."""

from __future__ import annotations

import typer

from . import output
from .session import shown_location


def copy(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="SRC", help="The library to copy: an SQLite file or a postgresql:// URL."),
    dest: str = typer.Argument(..., metavar="DEST", help="Where to: an SQLite file (created) or a postgresql:// URL "
                               "(an existing database; the schema is made)."),
    force: bool = typer.Option(False, "--force", help="Replace what DEST holds (refused otherwise)."),
    json_: bool = typer.Option(False, "--json", help="Print the copied counts as JSON."),
) -> None:
    """Copy a whole library SQLite <-> PostgreSQL: skills, versions, audit log, usage, vectors (no re-embedding)."""
    from ..copying import copy_library

    settings = ctx.find_root().obj
    with output.progress_bar("Copying") as progress:
        counts = copy_library(source, dest, force=force, progress=progress)
    if json_ or settings.json:
        output.emit_json(counts)
        return
    output.note(f"Copied {counts['skills']} skills, {counts['chunks']} chunks with their vectors, {counts['versions']} "
                f"versions and {counts['audit']} audit entries to {shown_location(dest)} (counts checked).")
