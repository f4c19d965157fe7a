"""``skillvault review``: walk the review queue from the keyboard.

Each draft is shown (when it revises a canonical skill: what approving does to each
of that skill's sections, changed / added / unchanged, with the diff of the changed
and added ones) and answered with a key: ``a`` approve, ``r`` reject (asks for
a reason), ``s`` skip, ``q`` quit. On a terminal one key press is enough; with
piped input each answer is a line.
"""

from __future__ import annotations

import difflib
import sys
from typing import TYPE_CHECKING, Callable, Optional

import typer

from . import output

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..manager import SkillManager
    from ..models import Chunk, Skill

CHOICES = {"a": "approve", "r": "reject", "s": "skip", "q": "quit"}
PROMPT = "[a]pprove  [r]eject  [s]kip  [q]uit"


def read_choice() -> str:
    """Return one of ``a r s q``: a key press on a terminal, else the first letter of a line.

    End of input counts as ``q``.
    """
    while True:
        if sys.stdin.isatty():
            typer.echo(f"{PROMPT} ? ", nl=False)
            key = typer.getchar().lower()
            typer.echo(key)
        else:
            typer.echo(f"{PROMPT} ? ", nl=False)
            line = sys.stdin.readline()
            typer.echo()
            if not line:
                return "q"
            key = line.strip()[:1].lower()
        if key in CHOICES:
            return key
        typer.echo(f"Please press one of: {', '.join(CHOICES)}")


def read_reason() -> Optional[str]:
    """Ask why a draft is rejected until a non-blank answer comes; None at end of input."""
    import click

    aborts = (click.exceptions.Abort, typer.Abort)  # typer >= 0.20 has its own Abort
    while True:
        try:
            reason = typer.prompt("Reason", type=str).strip()
        except aborts:  # end of input (or Ctrl-C) at the prompt
            typer.echo()
            return None
        if reason:
            return reason


def _section_text(chunks: list["Chunk"]) -> list[str]:
    """A section's markdown lines (split parts joined back into one text)."""
    from ..formats.chunking import joined_parts

    return "\n\n".join(text.strip("\n") for _chunk, text in joined_parts(chunks)).splitlines()


def draft_diff(draft: "Skill", target: "Skill") -> list[str]:
    """Return what approving ``draft`` does to ``target``, section by section (diff lines).

    A ``---`` / ``+++`` header, then per section of the revised skill a line
    ``@@ <section>: changed|added|unchanged @@``; a changed section is followed by the
    unified diff of its text, an added one by its text as ``+`` lines, an unchanged one
    by nothing. Empty when approving would change nothing.
    """
    from ..review import merge_revision

    revision = merge_revision(target, draft)
    if not revision.changed:
        return []
    before = {chunk.id: chunk for chunk in target.chunks}
    after = {chunk.id: chunk for chunk in revision.skill.chunks}
    lines = [f"--- {target.id} (version {target.version})", f"+++ {draft.id}"]
    for change in revision.changes:
        lines.append(f"@@ {change.section}: {change.change} @@")
        if change.change == "unchanged":
            continue
        old = _section_text([before[i] for i in change.before]) if change.before else []
        new = _section_text([after[i] for i in change.after])
        lines.extend(list(difflib.unified_diff(old, new, lineterm="", n=2))[2:])
    return lines


def show_draft(sm: "SkillManager", draft: "Skill", index: int, total: int) -> None:
    """Print one draft: header, flags, then a diff against what it revises or its markdown."""
    from ..formats.skill_md import skill_markdown_body

    uses = sm.usage(draft.id).get("uses", 0)
    output.out_console().rule(f"[{index}/{total}] {draft.id}")
    output.note(f"{draft.name} | confidence {draft.confidence:.2f} | uses {uses} | created "
                f"{draft.created_at:%Y-%m-%d %H:%M}")
    for flag in draft.flags:
        output.note(f"flag: {flag}")
    output.print_findings(sm.lint([draft.id]), to_stdout=True)
    target = sm.get(draft.revises) if draft.revises else None
    if target is not None:
        output.note(f"Revises {target.id} (version {target.version}):")
        output.print_diff(draft_diff(draft, target) or ["(no change in content)"])
    else:
        if draft.revises:
            output.note(f"Revises {draft.revises} (no longer exists: approving makes a new skill)")
        output.print_markdown(skill_markdown_body(draft))


def run_review(sm: "SkillManager", reviewer: Optional[str] = None,
               choose: Callable[[], str] = read_choice) -> dict[str, list[str]]:
    """Walk the queue; return ``{"approved": [...], "rejected": [...], "skipped": [...]}``.

    Args:
        sm: a human-mode manager.
        reviewer: recorded as who approved / rejected.
        choose: returns the next key (``a r s q``).
    """
    done: dict[str, list[str]] = {"approved": [], "rejected": [], "skipped": []}
    queue = sm.review_queue()
    if not queue:
        output.note("Review queue is empty.")
        return done
    for index, draft in enumerate(queue, 1):
        show_draft(sm, draft, index, len(queue))
        key = choose()
        if key == "q":
            break
        if key == "s":
            done["skipped"].append(draft.id)
        elif key == "a":
            skill_id = sm.approve(draft.id, reviewer=reviewer)
            done["approved"].append(skill_id)
            output.note(f"Approved {draft.id} -> {skill_id}")
        elif key == "r":
            reason = read_reason()
            if reason is None:
                break  # like q: nothing is rejected without a reason
            sm.reject(draft.id, reason, reviewer=reviewer)
            done["rejected"].append(draft.id)
            output.note(f"Rejected {draft.id}")
    output.note(f"Done: {len(done['approved'])} approved, {len(done['rejected'])} rejected, "
                f"{len(done['skipped'])} skipped.")
    return done
