"""Exit codes and the one-red-line treatment of user errors.

User errors (``skillvault.errors.*``, missing or unreadable files, refused
permissions) print one line to stderr and exit with a documented code; they never
show a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, NoReturn

import typer

#: Exit codes (documented in docs/cli.md).
OK = 0
ERROR = 1
USAGE = 2  # click's own code for usage errors
NOT_FOUND = 3
PERMISSION_DENIED = 4
INTERRUPTED = 130


class CliError(Exception):
    """An error found by the command line itself (not the library).

    Args:
        message: one line saying what is wrong and how to fix it.
        code: the exit code (default :data:`ERROR`).
    """

    def __init__(self, message: str, code: int = ERROR):
        super().__init__(message)
        self.code = code


def exit_code_for(exc: BaseException) -> int | None:
    """Return the exit code of a user error, or None if ``exc`` is not one (a bug)."""
    from ..errors import NotFoundError, SkillVaultError

    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, NotFoundError):
        return NOT_FOUND
    if isinstance(exc, PermissionError):  # SkillPermissionError and OS permission errors
        return PERMISSION_DENIED
    if isinstance(exc, (SkillVaultError, OSError)):
        return ERROR
    return None


def message_for(exc: BaseException) -> str:
    """Return the one-line message shown for a user error."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror}{where}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def print_error(message: str) -> None:
    """Print ``Error: message`` as one (red, when colours are on) line on stderr."""
    from .output import err_console

    from rich.markup import escape

    err_console().print(f"[bold red]Error:[/bold red] [red]{escape(message)}[/red]", soft_wrap=True, highlight=False)


def fail(message: str, code: int = ERROR) -> NoReturn:
    """Stop the command with a one-line error and exit code ``code``."""
    raise CliError(message, code)


@contextmanager
def user_errors(ctx: typer.Context) -> Iterator[None]:
    """Turn user errors raised inside the block into one line on stderr and an exit code."""
    try:
        yield
    except KeyboardInterrupt:
        print_error("interrupted")
        ctx.exit(INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - sorted into user errors and bugs below
        code = exit_code_for(exc)  # None for usage errors, typer.Exit and bugs: re-raised
        if code is None:
            raise
        print_error(message_for(exc))
        sys.stderr.flush()
        ctx.exit(code)
