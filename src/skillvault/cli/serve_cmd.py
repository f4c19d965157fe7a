"""``skillvault serve`` (the review console) and ``skillvault users`` (its reviewers and tokens)."""

from __future__ import annotations

import ipaddress
from importlib.util import find_spec
from typing import Optional

import typer

from . import output
from .common import JsonOption
from .common import settings_of as _settings
from .common import wants_json as _json
from .errors import fail
from .session import shown_location

WEB_MODULES = ("fastapi", "uvicorn", "jinja2", "argon2", "python_multipart")


def _require_web() -> None:
    missing = [name for name in WEB_MODULES if find_spec(name) is None]
    if missing:
        fail(f"the review console needs {', '.join(missing)}; install them with: pip install 'skillvault[web]'")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST",
                             help="Address to listen on; beyond loopback put it behind TLS (a reverse proxy)."),
    port: int = typer.Option(8760, "--port", min=1, max=65535, metavar="N", help="Port to listen on."),
    idle_minutes: float = typer.Option(30, "--idle-minutes", min=1, help="A session unused this long ends."),
    max_hours: float = typer.Option(8, "--max-hours", min=0.1, help="A session ends this long after login."),
) -> None:
    """Serve the review console: web pages for reviewers and a REST API (OpenAPI at /docs).

    Reviewers log in with `skillvault users add NAME`; scripts and agents use tokens from
    `skillvault users token NAME [--agent]`.
    """
    _require_web()
    from ..web import serve as run
    from ..web.accounts import Accounts, accounts_path

    settings = _settings(ctx)
    settings.require_db()
    accounts = Accounts(accounts_path(settings.db))
    if not accounts.users() and not accounts.tokens():
        output.note(f"No reviewers yet: add one with `skillvault --db {shown_location(settings.db)} users add NAME`.")
    if not _is_loopback(host):
        output.note(f"Listening on {host}: plain HTTP; put the console behind TLS before other machines use it.")
    output.note(f"Review console: http://{host if ':' not in host else f'[{host}]'}:{port}/  (API reference: /docs)")
    run(settings, host=host, port=port, idle_minutes=idle_minutes, max_hours=max_hours)


users = typer.Typer(help="Reviewers (password logins) and API tokens of the review console.", no_args_is_help=True)


def _accounts(ctx: typer.Context):
    _require_web()
    from ..web.accounts import Accounts, accounts_path

    settings = _settings(ctx)
    settings.require_db()
    return Accounts(accounts_path(settings.db))


@users.command("add")
def add_user(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The reviewer's login name."),
    password: Optional[str] = typer.Option(
        None, "--password", envvar="SKILLVAULT_PASSWORD", metavar="TEXT",
        help="The password (default: asked twice, hidden; arguments show in `ps`)."),
) -> None:
    """Add a reviewer (or set a new password for one)."""
    accounts = _accounts(ctx)
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    accounts.add_user(name, password)
    output.note(f"Reviewer {name} can log in (accounts: {accounts.path})")


@users.command("remove")
def remove_user(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Remove a reviewer; their sessions end at their next request."""
    _accounts(ctx).remove_user(name)
    output.note(f"Removed reviewer {name}")


@users.command("token")
def add_token(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A name for the token (who or what uses it)."),
    agent: bool = typer.Option(False, "--agent", help="An agent's token: read and propose drafts only."),
) -> None:
    """Make an API token; it is printed once (only its hash is kept)."""
    token = _accounts(ctx).add_token(name, "agent" if agent else "reviewer")
    output.echo(token)


@users.command("revoke")
def revoke_token(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Revoke an API token."""
    _accounts(ctx).revoke_token(name)
    output.note(f"Revoked token {name}")


@users.command("list")
def list_users(ctx: typer.Context, json_: bool = JsonOption) -> None:
    """List reviewers and tokens (never passwords or tokens)."""
    accounts = _accounts(ctx)
    listing = {"reviewers": accounts.users(), "tokens": accounts.tokens()}
    if _json(ctx, json_):
        output.emit_json(listing)
        return
    output.echo("Reviewers: " + (", ".join(listing["reviewers"]) or "none"))
    for token in listing["tokens"]:
        output.echo(f"Token {token['name']} ({token['role']}, made {token['created']})")
    if not listing["tokens"]:
        output.echo("Tokens: none")
