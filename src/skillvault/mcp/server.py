"""The MCP server object: the agent tools, the skill resources and the workflow prompt."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp_types import Resource

from .. import __version__
from .library import AgentLibrary
from .resources import WORKFLOW, add_resources, listed_resources
from .tools import add_tools

NAME = "skillvault"


class SkillVaultServer(MCPServer):
    """An :class:`MCPServer` whose resource list is the library's canonical skills, read when asked."""

    def __init__(self, library: AgentLibrary, **kwargs):
        super().__init__(**kwargs)
        self.library = library

    async def list_resources(self) -> list[Resource]:
        """Return the static resources and (up to a limit) every canonical skill as ``skill://{id}``."""
        return await super().list_resources() + await self.library.call(listed_resources)


def build_server(library: AgentLibrary) -> SkillVaultServer:
    """Return the server offering ``library`` to agents.

    Args:
        library: an agent-mode library (see :class:`~skillvault.mcp.library.AgentLibrary`).

    Returns:
        The server, ready to run on a transport (see :mod:`skillvault.mcp.transport`).
    """
    server = SkillVaultServer(library, name=NAME, version=__version__, instructions=WORKFLOW, log_level="WARNING")
    add_tools(server, library)
    add_resources(server, library)
    return server
