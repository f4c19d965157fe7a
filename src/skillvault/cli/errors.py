"""Exit codes and the one-red-line treatment of user errors.

User errors (``skillvault.errors.*``, missing or unreadable files, refused
permissions) print one line to stderr and exit with a documented code; they never
show a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Iterator, NoReturn, Optional

import typer

#: Exit codes (documented in docs/cli.md).
OK = 0
ERROR = 1
USAGE = 2  # click's own code for usage errors
NOT_FOUND = 3
PERMISSION_DENIED = 4
NO_DRAFT = 5  # extract: the LLM found nothing reusable (or not confident enough)
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


#: What the command line calls the keys of the ``embed_config`` / ``llm_config`` it builds.
CONFIG_OPTIONS = {
    "embed_config.model": "--embed-model (SKILLVAULT_EMBED_MODEL)",
    "embed_config.base_url": "--embed-base-url (SKILLVAULT_EMBED_BASE_URL)",
    "embed_config.dimensions": "--embed-dimensions (SKILLVAULT_EMBED_DIMENSIONS)",
    "embed_config.api_key": "SKILLVAULT_EMBED_API_KEY",
    "llm_config.model": "--llm-model (SKILLVAULT_LLM_MODEL)",
    "llm_config.provider": "--llm-provider (SKILLVAULT_LLM_PROVIDER)",
    "llm_config.base_url": "--llm-base-url (SKILLVAULT_LLM_BASE_URL)",
    "llm_config.api_key": "SKILLVAULT_LLM_API_KEY",
}
PROVIDER_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def cli_message(exc: BaseException, command: Optional[str], settings: Any) -> Optional[str]:
    """Say a library error in the command line's terms, from its structured fields.

    Returns None when the library's own message already fits.
    """
    from ..errors import SkillPermissionError, ValidationError

    if isinstance(exc, SkillPermissionError) and exc.action is not None:
        if command == "list":
            return "agent mode (--agent) lists canonical skills only: leave out --status, or run it without --agent"
        return (f"`skillvault {command or exc.action}` is not allowed in agent mode (--agent): agents may query "
                "and read canonical skills, propose, extract and vote. Run it without --agent")
    if isinstance(exc, ValidationError) and exc.field in CONFIG_OPTIONS:
        if exc.field.endswith("api_key"):
            if exc.field.startswith("embed"):
                return ("no API key for --embed-model: set SKILLVAULT_EMBED_API_KEY (or OPENAI_API_KEY); "
                        'a local OpenAI-compatible server accepts any placeholder, e.g. "none"')
            provider = getattr(settings, "llm_provider", "openai")
            return (f"no API key for --llm-model: set SKILLVAULT_LLM_API_KEY (or {PROVIDER_KEY_ENV[provider]}); "
                    'a local OpenAI-compatible server accepts any placeholder, e.g. "none"')
        return f"{CONFIG_OPTIONS[exc.field]}: {exc.message}"
    return None


@contextmanager
def fields_named(names: dict[str, str]) -> Iterator[None]:
    """Inside the block, a ValidationError on one of ``names``' fields (or an item of it,
    e.g. ``dependencies[1]``) is re-raised naming the field as the user gave it.

    Args:
        names: field -> its spelling, e.g. ``{"when_to_use": "--when-to-use"}``.
    """
    from ..errors import ValidationError

    try:
        yield
    except ValidationError as exc:
        base, _, rest = exc.field.partition("[")
        if base not in names:
            raise
        where = names[base] + (f" (item {int(rest.split(']')[0]) + 1})" if rest[:1].isdigit() else "")
        raise CliError(f"{where}: {exc.message}") from exc


def message_for(exc: BaseException, command: Optional[str] = None, settings: Any = None) -> str:
    """Return the one-line message shown for a user error (``command``: the subcommand run)."""
    translated = cli_message(exc, command, settings)
    if translated is not None:
        text = translated
    elif isinstance(exc, OSError) and exc.strerror:
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
        print_error(message_for(exc, ctx.invoked_subcommand, ctx.obj))
        sys.stderr.flush()
        ctx.exit(code)
