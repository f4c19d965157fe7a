"""``skillvault sync DIR`` and ``skillvault sync --from DIR`` (see docs/cli.md).

``sync DIR`` writes the canonical skills as an Agent Skills tree; ``--check`` only
reports the drift (exit 1 when there is any). ``--from DIR`` turns a person's edits in
such a tree into drafts for review. Exit 1 also when a sync leaves edited folders or
conflicts behind (they are listed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from . import output
from .errors import ERROR, USAGE, fail

#: How each action is shown, in this order.
_SYNC_LABELS = (("write", "to write", "wrote"), ("update", "to update", "updated"), ("remove", "to remove", "removed"),
                ("edited", "edited locally", "edited locally"), ("conflict", "conflict", "conflict"))
_FROM_LABELS = (("new", "new draft", "new draft"), ("revise", "revision draft", "revision draft"),
                ("proposed", "already a draft", "already a draft"), ("skipped", "skipped", "skipped"))


def sync(
    ctx: typer.Context,
    directory: Optional[Path] = typer.Argument(None, metavar="DIR", help="The skills folder, e.g. .claude/skills "
                                               "(created when missing)."),
    check: bool = typer.Option(False, "--check", help="Only report what would change; exit 1 if anything would."),
    force: bool = typer.Option(False, "--force", help="Overwrite (or remove) synced folders edited since the last sync."),
    from_: Optional[Path] = typer.Option(None, "--from", metavar="DIR", help="Import the edits made in DIR as drafts "
                                         "for review (never straight to canonical)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (shapes documented in docs/cli.md)."),
) -> None:
    """Write the canonical skills to DIR as SKILL.md folders (only what changed), or --from DIR: edits become drafts."""
    settings = ctx.find_root().obj
    as_json = json_ or settings.json
    if (directory is None) == (from_ is None):
        fail("give DIR to sync the library into, or --from DIR to import edits as drafts (one of them)", USAGE)
    if from_ is not None and force:
        fail("--force goes with `sync DIR`, not with --from (which only writes drafts)", USAGE)
    with settings.open() as sm:
        plan = sm.sync_from(from_, check=check) if from_ is not None else sm.sync(directory, check=check, force=force)
    if as_json:
        output.emit_json(plan.to_dict())
    else:
        _print(plan, _FROM_LABELS if from_ is not None else _SYNC_LABELS, check)
    if from_ is not None:
        if check and plan.drafts_to_write:
            raise typer.Exit(ERROR)
    elif not plan.in_sync and (check or plan.of("edited") or plan.of("conflict")):
        raise typer.Exit(ERROR)


def _print(plan: Any, labels: tuple, check: bool) -> None:
    """One line per folder that is not unchanged, then a summary line."""
    for action, planned, done in labels:
        for item in plan.of(action):
            label = planned if check or not plan.applied else done
            target = getattr(item, "draft_id", None) or getattr(item, "skill_id", None) or getattr(item, "revises", None)
            line = f"{label}: {item.folder}"
            if target and target != item.folder:
                line += f" ({target})"
            if getattr(item, "revises", None) and action == "revise":
                line += f", revises {item.revises}"
            if item.reason:
                line += f": {item.reason}"
            output.note(line)
    counts = ", ".join(f"{len(plan.of(action))} {planned if check else done}" for action, planned, done in labels
                       if plan.of(action))
    unchanged = len(plan.of("unchanged"))
    output.note(f"{plan.root}: {counts + ', ' if counts else ''}{unchanged} unchanged"
                + (" (nothing written: --check)" if check else ""))
