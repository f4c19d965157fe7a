"""Canonical skills as MCP resources (``skill://{id}``) and the prompt that says how to use the tools."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import Resource

from ..models import Status
from .library import AgentLibrary
from .render import canonical_markdown

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..manager import SkillManager

SCHEME = "skill"
MIME = "text/markdown"
#: resources/list names at most this many skills (all of them stay readable by URI).
MAX_LISTED = 1_000

WORKFLOW = """You have a team skill library (skillvault) with reviewed know-how from earlier work.

1. Before you start a task, call find_skills with the task in a sentence or two, and follow what
   applies. Use search_skills when you want to browse candidates instead.
2. When a skill looks relevant but the packed excerpt is not enough, read it whole with get_skill;
   read a file it bundles (references, scripts) with read_skill_file only when the skill points to it.
3. After the task, if you followed a skill, call report_outcome once (helpful or not, with a short note).
4. If you solved something others will meet again and no skill covered it, write it down with
   propose_skill (title, playbook steps, examples, when to use). It becomes a draft that a human
   reviews; it is not served until approved. Never put secrets or credentials in it.
"""


def skill_uri(skill_id: str) -> str:
    """Return the resource URI of a skill (the id percent-encoded: ids may hold ':' or '@')."""
    return f"{SCHEME}://{quote(skill_id, safe='')}"


def listed_resources(sm: "SkillManager") -> list[Resource]:
    """Return up to :data:`MAX_LISTED` canonical skills as resources, by id (their cards
    only: clients list resources on connect, and loading every skill's chunks is slow)."""
    ids = [skill_id for skill_id, _name in sm.store.skill_names(Status.CANONICAL)][:MAX_LISTED]
    cards = sm.store.skill_cards_of(ids)
    return [Resource(uri=skill_uri(skill_id), name=skill_id, title=cards[skill_id][0],
                     description=cards[skill_id][1] or None, mime_type=MIME) for skill_id in ids if skill_id in cards]


def add_resources(server: MCPServer, library: AgentLibrary) -> None:
    """Register the ``skill://{id}`` template and the ``use_skill_library`` prompt on ``server``."""

    @server.resource(f"{SCHEME}://{{id}}", name="skill", title="A reviewed skill",
                     description="A reviewed (canonical) skill as SKILL.md markdown.", mime_type=MIME)
    async def read_skill(id: str) -> str:  # noqa: A002 - the template's parameter
        try:
            return await library.call(canonical_markdown, id)
        except Exception as exc:  # ToolError carries the library's message
            raise ResourceError(str(exc)) from None

    @server.prompt(name="use_skill_library", title="How to use the skill library",
                   description="When to search the skill library, when to read a skill, and when to propose one.")
    def use_skill_library(task: str = "") -> str:
        if task.strip():
            return WORKFLOW + f"\nYour task: {task.strip()}\nStart with find_skills for it."
        return WORKFLOW
