"""``skillvault mcp``: serve the library to agents over the Model Context Protocol."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Optional

import typer

from .errors import fail


def mcp(
    ctx: typer.Context,
    http: bool = typer.Option(False, "--http", help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, metavar="N", help="Port for --http."),
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST",
                             help="Address for --http; beyond loopback a token is required."),
    token: Optional[str] = typer.Option(
        None, "--token", envvar="SKILLVAULT_MCP_TOKEN", metavar="TOKEN", show_envvar=True,
        help="Bearer token HTTP clients must send (prefer the environment variable: arguments show in `ps`)."),
) -> None:
    """Serve the library to agents (MCP, always agent mode): find, read and propose skills; no review tools.

    The library, embedder and LLM come from the global options (--db, --embed-model, --llm-model, or their SKILLVAULT_* variables); extract_from_conversation is offered only when an LLM is configured.
    """
    if find_spec("mcp") is None:  # the SDK is an extra
        fail("the MCP server needs the official MCP SDK; install it with: pip install 'skillvault[mcp]'")
    from ..mcp import serve

    serve(ctx.find_root().obj, http=http, host=host, port=port, token=token)
