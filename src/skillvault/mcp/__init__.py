"""skillvault's MCP server: agents query the library and propose drafts through it.

``skillvault mcp`` (or ``python -m skillvault.mcp``) opens the library in agent mode
and serves it over stdio (default) or streamable HTTP. Needs the extra ``[mcp]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..cli.session import Settings


def serve(settings: "Settings", http: bool = False, host: Optional[str] = None, port: Optional[int] = None,
          token: Optional[str] = None) -> None:
    """Open the library ``settings`` describe, in agent mode, and serve it until the client leaves.

    Args:
        settings: the CLI's global settings (database, embedder, LLM); the mode is
            always agent, whatever ``settings.agent`` says.
        http: serve streamable HTTP instead of stdio.
        host / port: where to listen over HTTP (default 127.0.0.1:8765).
        token: the bearer token HTTP clients must send; required beyond loopback.

    Raises:
        ValidationError: bad HTTP options (checked before the library is opened).
        CliError / skillvault.errors.*: the library cannot be opened.
    """
    from dataclasses import replace

    from .library import AgentLibrary
    from .server import build_server
    from .transport import DEFAULT_HOST, DEFAULT_PORT, check_http_options, run_http, run_stdio

    host = host or DEFAULT_HOST
    port = DEFAULT_PORT if port is None else port
    if http:
        token = check_http_options(host, port, token)
    agent_settings = replace(settings, agent=True)
    library = AgentLibrary(agent_settings.open)
    try:
        server = build_server(library)
        if http:
            run_http(server, host, port, token)
        else:
            run_stdio(server)
    finally:
        library.close()
