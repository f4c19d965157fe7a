"""What every command module shares: the invocation's settings, ``--json``, choices and limits.

Nothing here imports the library, so that ``--help`` stays cheap.
"""

from __future__ import annotations

import enum

import typer

from .session import Settings

# Kept in step with skillvault.models.STATUSES / SOURCES (tests check it); spelled out
# here so that `--help` does not import the library.
Status = enum.Enum("Status", {name: name for name in ("canonical", "draft", "archived", "rejected")}, type=str)
LLMProvider = enum.Enum("LLMProvider", {name: name for name in ("openai", "anthropic")}, type=str)
Source = enum.Enum("Source", {name: name for name in ("manual", "extracted", "imported")}, type=str)
#: = skillvault.manager.MAX_BUDGET / MAX_K and skillvault.models.MAX_VERSION (tests check
#: them); out of range is a usage error.
MAX_BUDGET = 1_000_000
MAX_K = 1_000
MAX_VERSION = 2**31 - 1

JsonOption = typer.Option(False, "--json", help="Print JSON (shapes documented in docs/cli.md).")


def settings_of(ctx: typer.Context) -> Settings:
    """Return the global options of this invocation."""
    return ctx.find_root().obj


def wants_json(ctx: typer.Context, flag: bool) -> bool:
    """True when the command's own ``--json`` or the global one is given."""
    return flag or settings_of(ctx).json
