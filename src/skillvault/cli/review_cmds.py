"""Review commands: the queue, approve, reject, interactive review, history, rollback, archive, restore."""

from __future__ import annotations

from typing import Optional

import typer

from . import output
from .common import MAX_VERSION, JsonOption, Status
from .common import settings_of as _settings
from .common import wants_json as _json

commands = typer.Typer()


@commands.command("review-queue")
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
            if target is not None and target.status == Status.canonical:  # what approving would do, per section
                row["changes"] = [change.to_dict() for change in merge_revision(target, d).changes]
            rows.append(row)
        output.emit_json(rows)
    else:
        output.print_queue(drafts, usage, findings)


@commands.command()
def approve(
    ctx: typer.Context,
    draft_id: str = typer.Argument(..., metavar="ID", help="The draft, e.g. draft::my-skill."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", envvar="SKILLVAULT_REVIEWER", help="Who approves."),
    note: Optional[str] = typer.Option(None, "--note", help="Why (kept in the audit trail)."),
    json_: bool = JsonOption,
) -> None:
    """Approve a draft: it becomes a canonical skill (or a new version of the one it revises)."""
    with _settings(ctx).open() as sm:
        skill_id = sm.approve(draft_id, reviewer=reviewer, note=note)
        version = sm.get(skill_id).version
    if _json(ctx, json_):
        output.emit_json({"draft_id": draft_id, "skill_id": skill_id, "status": "canonical", "version": version})
    else:
        output.note(f"Approved {draft_id} -> {skill_id}")


@commands.command()
def reject(
    ctx: typer.Context,
    draft_id: str = typer.Argument(..., metavar="ID", help="The draft, e.g. draft::my-skill."),
    reason: str = typer.Option(..., "--reason", help="Why (required; kept with the draft)."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", envvar="SKILLVAULT_REVIEWER", help="Who rejects."),
    json_: bool = JsonOption,
) -> None:
    """Reject a draft with a reason (it is kept, with status rejected)."""
    with _settings(ctx).open() as sm:
        sm.reject(draft_id, reason, reviewer=reviewer)
    _status_result(ctx, json_, draft_id, "rejected", f"Rejected {draft_id}")


@commands.command()
def review(
    ctx: typer.Context,
    reviewer: Optional[str] = typer.Option(None, "--reviewer", envvar="SKILLVAULT_REVIEWER", help="Who reviews."),
) -> None:
    """Review drafts one by one: approve, reject (asks a reason), skip or quit, one key each."""
    from .review import run_review

    with _settings(ctx).open() as sm:
        run_review(sm, reviewer=reviewer)


@commands.command()
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


@commands.command()
def rollback(
    ctx: typer.Context,
    skill_id: str = typer.Argument(..., metavar="ID"),
    version: int = typer.Argument(..., min=1, max=MAX_VERSION, help="A kept version (see `skillvault history ID`)."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", envvar="SKILLVAULT_REVIEWER", help="Who rolls back."),
    json_: bool = JsonOption,
) -> None:
    """Restore the content of a kept version of a skill, as a new version."""
    with _settings(ctx).open() as sm:
        new_version = sm.rollback(skill_id, version, reviewer=reviewer)
    if _json(ctx, json_):
        output.emit_json({"skill_id": skill_id, "restored_version": version, "version": new_version})
    else:
        output.note(f"{skill_id}: version {version} restored as version {new_version}")


@commands.command()
def archive(ctx: typer.Context, skill_id: str = typer.Argument(..., metavar="ID"), json_: bool = JsonOption) -> None:
    """Archive a skill or draft: kept, no longer served or queued (undo with `restore`)."""
    with _settings(ctx).open() as sm:
        sm.archive(skill_id)
    _status_result(ctx, json_, skill_id, "archived", f"Archived {skill_id} (undo: skillvault restore {skill_id})")


@commands.command()
def restore(ctx: typer.Context, skill_id: str = typer.Argument(..., metavar="ID"), json_: bool = JsonOption) -> None:
    """Bring back an archived skill (an archived draft returns to the review queue)."""
    with _settings(ctx).open() as sm:
        status = sm.restore(skill_id)
    _status_result(ctx, json_, skill_id, status, f"Restored {skill_id} (now {status})")


def _status_result(ctx: typer.Context, json_: bool, skill_id: str, status: str, message: str) -> None:
    if _json(ctx, json_):
        output.emit_json({"skill_id": skill_id, "status": status})
    else:
        output.note(message)
