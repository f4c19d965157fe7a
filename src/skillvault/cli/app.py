"""The typer application: the root group, global options and the command modules.

Commands live by group in :mod:`.read_cmds`, :mod:`.review_cmds`, :mod:`.files_cmds` and
:mod:`.agent_cmds`; they are thin: read options, call :class:`~skillvault.SkillManager`,
hand results to :mod:`.output`. :class:`_Group` turns user errors raised below into one
line on stderr and an exit code (see :mod:`.errors`), lets global options follow the
command (``skillvault list --db x``) and refuses ``--json`` for a command without JSON output.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from . import agent_cmds, files_cmds, output, read_cmds, review_cmds
from .common import LLMProvider, MAX_BUDGET, MAX_K, Source, Status  # noqa: F401 - re-exported for tests
from .errors import user_errors
from .session import DEFAULT_DB, Settings

#: Commands defined in modules that are imported only when the command runs (or its
#: --help is asked for): ``name -> ("module:function", one-line help)``. See :func:`lazy_command`.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {}


def lazy_command(name: str, target: str, short_help: str) -> None:
    """Register command ``name`` whose typer function ``target`` ("pkg.module:function",
    or a ``typer.Typer`` app) is imported only when that command is invoked."""
    LAZY_COMMANDS[name] = (target, short_help)


class _LazyCommand(TyperCommand):
    """What the root help lists for a lazy command, without importing it."""

    def __init__(self, name: str, target: str, short_help: str):
        super().__init__(name=name, short_help=short_help, help=short_help)
        self.target = target

    def load(self) -> Any:
        """Import the command's module and return the real click command."""
        module_name, _, attribute = self.target.partition(":")
        obj = getattr(import_module(module_name), attribute)
        if isinstance(obj, typer.Typer):
            return typer.main.get_command(obj)
        info = typer.models.CommandInfo(name=self.name, callback=obj)
        return typer.main.get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=None)


class _Group(TyperGroup):
    """The root command group: maps user errors to one line and an exit code, takes
    global options after the command, refuses --json where a command has no JSON."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        output.tolerant_streams()  # before click prints anything, usage errors included
        return super().main(*args, **kwargs)

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in LAZY_COMMANDS if name not in self.commands)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            command = _LazyCommand(cmd_name, *LAZY_COMMANDS[cmd_name])
        return command

    def _loaded(self, ctx: typer.Context, cmd_name: str) -> Any:
        command = self.get_command(ctx, cmd_name)
        if isinstance(command, _LazyCommand):
            command = command.load()
            self.commands[cmd_name] = command
        return command

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._hoist_global_options(ctx, list(args)))

    def _hoist_global_options(self, ctx: typer.Context, args: list[str]) -> list[str]:
        """Move global options that follow the command name in front of it.

        A token after ``--``, the value of an option (the root's or the command's) and an
        option the command defines itself (e.g. its own ``--json``) stay where they are.
        """
        globals_ = _option_table(self.params)
        position = 0
        while position < len(args):  # find the command name
            token = args[position]
            if token == "--" or not token.startswith("-"):
                break
            position += 2 if _takes_value(globals_, token) else 1
        if position >= len(args) or args[position] == "--":
            return args
        command = self._loaded(ctx, args[position])
        if command is None or isinstance(command, TyperGroup):
            return args
        own = _option_table(command.params)
        hoisted: list[str] = []
        rest: list[str] = []
        tail = args[position + 1:]
        index = 0
        while index < len(tail):
            token = tail[index]
            if token == "--":
                rest += tail[index:]
                break
            name = token.split("=", 1)[0]
            if name in own or name not in globals_:
                step = 2 if _takes_value(own, token) else 1
                rest += tail[index:index + step]
            else:
                step = 2 if _takes_value(globals_, token) else 1
                if index + step > len(tail):  # hoisted, it would take the command name as its value
                    ctx.fail(f"Option '{token}' requires an argument.")
                hoisted += tail[index:index + step]
            index += step
        return args[:position] + hoisted + [args[position]] + rest

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:
        cmd_name, command, rest = super().resolve_command(ctx, args)
        if cmd_name is not None:
            command = self._loaded(ctx, cmd_name)
            if ctx.params.get("json_") and "--json" not in _option_table(command.params):
                ctx.fail(f"`skillvault {cmd_name}` has no JSON output; leave out --json")
        return cmd_name, command, rest

    def invoke(self, ctx: typer.Context) -> Any:
        with user_errors(ctx):
            return super().invoke(ctx)


def _option_table(params: list) -> dict[str, bool]:
    """``{option name: takes a value}`` for the options among ``params``."""
    table: dict[str, bool] = {}
    for param in params:
        if getattr(param, "param_type_name", "") != "option" or getattr(param, "is_eager", False):
            continue
        for name in [*param.opts, *param.secondary_opts]:
            table[name] = not (param.is_flag or param.count)
    return table


def _takes_value(table: dict[str, bool], token: str) -> bool:
    """True when ``token`` is an option of ``table`` whose value is the next argument."""
    return "=" not in token and table.get(token, False)


app = typer.Typer(
    cls=_Group,
    name="skillvault",
    help="A skill library for LLM agents: query skills, review drafts, import and export.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,  # plain click help: rich's help renderer costs ~70 ms of imports
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("skillvault")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            from .. import __version__ as text
        typer.echo(f"skillvault {text}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    db: Path = typer.Option(DEFAULT_DB, "--db", envvar="SKILLVAULT_DB", metavar="PATH",
                            help="The library file.", show_default=True),
    agent: bool = typer.Option(False, "--agent", help="Agent mode: read canonical skills, write drafts only."),
    json_: bool = typer.Option(False, "--json", help="JSON output (commands without it refuse --json)."),
    embed_model: Optional[str] = typer.Option(
        None, "--embed-model", envvar="SKILLVAULT_EMBED_MODEL", metavar="MODEL",
        help="Embedding model of an OpenAI-compatible endpoint ('local' or unset: the built-in model)."),
    embed_base_url: Optional[str] = typer.Option(
        None, "--embed-base-url", envvar="SKILLVAULT_EMBED_BASE_URL", metavar="URL",
        help="Endpoint of --embed-model, e.g. http://localhost:11434/v1 (key: SKILLVAULT_EMBED_API_KEY)."),
    embed_dimensions: Optional[int] = typer.Option(
        None, "--embed-dimensions", envvar="SKILLVAULT_EMBED_DIMENSIONS", min=1, metavar="N",
        help="Ask --embed-model for N-dimensional vectors."),
    llm_model: Optional[str] = typer.Option(
        None, "--llm-model", envvar="SKILLVAULT_LLM_MODEL", metavar="MODEL",
        help="Chat model that `extract` asks (key: SKILLVAULT_LLM_API_KEY or the provider's usual variable)."),
    llm_provider: LLMProvider = typer.Option(
        "openai", "--llm-provider", envvar="SKILLVAULT_LLM_PROVIDER",
        help="API of --llm-model: openai (or any OpenAI-compatible endpoint) or anthropic."),
    llm_base_url: Optional[str] = typer.Option(
        None, "--llm-base-url", envvar="SKILLVAULT_LLM_BASE_URL", metavar="URL",
        help="Endpoint of --llm-model, e.g. http://localhost:11434/v1."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """A skill library for LLM agents: query skills, review drafts, import and export."""
    ctx.obj = Settings(db=db, agent=agent, json=json_, embed_model=embed_model,
                       embed_base_url=embed_base_url, embed_dimensions=embed_dimensions,
                       llm_model=llm_model, llm_provider=llm_provider.value, llm_base_url=llm_base_url)


for _module in (read_cmds, review_cmds, files_cmds, agent_cmds):
    app.registered_commands.extend(_module.commands.registered_commands)

# Commands in their own modules, imported only when they run.
lazy_command("sync", "skillvault.cli.sync_cmd:sync",
             "Write the canonical skills to DIR as SKILL.md folders (only what changed), or --from DIR: edits become drafts.")
lazy_command("mcp", "skillvault.cli.mcp_cmd:mcp",
             "Serve the library to agents (MCP, always agent mode): find, read and propose skills; no review tools.")
lazy_command("serve", "skillvault.cli.serve_cmd:serve",
             "Serve the review console: web pages for reviewers and a REST API (extra [web]).")
lazy_command("users", "skillvault.cli.serve_cmd:users",
             "Reviewers and API tokens of the review console (serve).")
