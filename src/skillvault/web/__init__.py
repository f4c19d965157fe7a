"""skillvault's review console: a web UI and REST API over one library (extra ``[web]``).

``skillvault serve`` opens the library twice, in human mode for reviewers and in agent
mode for agent tokens, and serves pages and the API on 127.0.0.1 by default. Reviewers
and tokens live in ``<library>.reviewers.json`` (see :mod:`.accounts`, ``skillvault users``).
See docs/web.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from fastapi import FastAPI

    from ..cli.session import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8760


LOOPBACK_NAMES = ["127.0.0.1", "localhost"]


def app_for(settings: "Settings", idle_minutes: float = 30, max_hours: float = 8,
            host: str = DEFAULT_HOST) -> "FastAPI":
    """Build the console for the library ``settings`` describe (the CLI's global options).

    Listening on loopback (``host``), it answers only requests addressed to a loopback
    name (see ``allowed_hosts`` of :func:`~skillvault.web.app.create_app`).

    Raises:
        CliError / skillvault.errors.*: the library cannot be opened.
    """
    from dataclasses import replace

    from .accounts import Accounts, accounts_path
    from .app import create_app

    def open_manager(mode: str):
        return replace(settings, agent=(mode == "agent")).open()

    settings.require_db()
    loopback = host in LOOPBACK_NAMES or host.startswith("127.")
    return create_app(open_manager, Accounts(accounts_path(settings.db)),
                      idle_seconds=idle_minutes * 60, max_seconds=max_hours * 3600,
                      allowed_hosts=sorted({*LOOPBACK_NAMES, host}) if loopback else None)


def serve(settings: "Settings", host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          idle_minutes: float = 30, max_hours: float = 8) -> None:
    """Serve the console until interrupted.

    Args:
        settings: the CLI's global settings (database, embedder).
        host / port: where to listen (default 127.0.0.1:8760).
        idle_minutes / max_hours: when reviewers' sessions end.
    """
    import uvicorn

    uvicorn.run(app_for(settings, idle_minutes, max_hours, host), host=host, port=port, log_level="warning")
