"""The tools an agent is offered: what each does, its argument schema, and the call.

Argument bounds are in the JSON schemas (checked by the SDK before a call); what the
schemas cannot say (an unknown skill, a dependency that is not canonical, a path a
skill does not bundle) is checked by the library, whose message comes back as a tool
error. Review actions (approve, reject, register, import, archive...) are not tools.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from ..growth.conversation import MAX_INPUT_CHARS, MAX_MESSAGES
from ..growth.knowledge import MAX_DEPENDENCIES, MAX_FIELD_CHARS, MAX_TITLE_CHARS
from ..manager import MAX_QUERY_CHARS
from ..store.migrations import MAX_USAGE_NOTE_CHARS
from .library import AgentLibrary
from .render import canonical_markdown

#: Budgets an agent may ask ``find_skills`` for (tokens, cl100k_base).
MIN_BUDGET, MAX_TOOL_BUDGET = 100, 32_000
MAX_TOOL_K = 50
MAX_ID_CHARS = 200
MAX_PATH_CHARS = 1_000
MAX_MESSAGE_CHARS = 1_000_000

NOTHING_FOUND = (
    "No reviewed skill matches this task. Proceed on your own; if you solve it in a way others could "
    "reuse, call propose_skill afterwards."
)

FIND_SKILLS = """Get the team's reviewed know-how for a task, packed into one text you can read right away.

Call this FIRST, before starting any non-trivial task (a bug, a deployment, a migration, a tool or API
you are unsure about), with the task described in a sentence or two. The answer holds the most relevant
sections of reviewed skills, as <skill name="..."> blocks, cut to fit `budget` tokens; follow them
where they apply. An answer saying that nothing matches means the library has nothing for this task."""

SEARCH_SKILLS = """List the reviewed skills that fit a query, best first, without their content.

Each card has the skill's id, name, description, a relevance score, why it matched, and the files it
bundles. Use it to browse or to pick a skill, then call get_skill with its id to read it. For a task
you are about to do, find_skills is usually the better first call."""

GET_SKILL = """Read one reviewed skill in full, as SKILL.md markdown (front matter, then the playbook).

Use an id from search_skills or from a <skill name="..."> block of find_skills. Files the skill
bundles are listed at the end; read one with read_skill_file."""

READ_SKILL_FILE = """Read one file bundled with a reviewed skill (e.g. references/api.md, scripts/deploy.sh).

Only the skill's own files can be read: `path` is the relative path listed by get_skill or
search_skills, never a path on disk."""

PROPOSE_SKILL = """Propose new reusable know-how as a DRAFT for human review (it is not served until a human approves it).

Call this AFTER you solved something others on the team will meet again (a non-obvious fix, a working
procedure, a gotcha) and find_skills had nothing for it. Write it for another agent: a short title,
the steps as a markdown playbook, optional examples and when to use it. Do not include secrets,
credentials or personal data (they are redacted anyway). A near-duplicate of an existing draft is
merged into it; something close to a reviewed skill becomes a proposed revision of it. Returns the
draft id."""

EXTRACT = """Let the server's LLM read a conversation and store any reusable know-how in it as a DRAFT for human review.

Pass the messages of a finished task (role and text). Secrets are redacted before the LLM sees them.
Returns the draft id, or says that nothing reusable was found. Prefer propose_skill when you can write
the know-how yourself."""

REPORT_OUTCOME = """Tell the library whether a skill you used helped (advisory feedback for the human reviewers).

Call it once after a task in which you followed a skill from find_skills, get_skill or search_skills:
helpful=true if it was right and useful, false if it was wrong, outdated or misleading. Say what was
wrong in `note` (one or two sentences, no secrets)."""

SkillId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, description="A skill id, e.g. 'deploy-to-staging'.")]


class SkillCard(BaseModel):
    """One skill found by ``search_skills``."""

    id: str
    name: str
    description: str
    score: float
    why: str
    files: list[str]


class SkillCards(BaseModel):
    """What ``search_skills`` returns."""

    skills: list[SkillCard]


class Draft(BaseModel):
    """What ``propose_skill`` and ``extract_from_conversation`` return."""

    draft_id: Optional[str]
    message: str


class ChatMessage(BaseModel):
    """One message of a conversation given to ``extract_from_conversation``."""

    role: Literal["user", "assistant", "system", "tool"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
_ADDS_DRAFT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


def add_tools(server: MCPServer, library: AgentLibrary) -> None:
    """Register the agent tools on ``server``, backed by ``library``.

    ``extract_from_conversation`` is registered only when the library has an LLM:
    an agent is not offered a tool that can only fail.
    """

    async def find_skills(
        task: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS,
                                   description="The task you are about to do, in plain words.")],
        budget: Annotated[int, Field(ge=MIN_BUDGET, le=MAX_TOOL_BUDGET,
                                     description="Most tokens the answer may take.")] = 2000,
    ) -> str:
        text = await library.call(lambda sm, t, b: sm.query(t, b), task, budget)
        return text or NOTHING_FOUND

    async def search_skills(
        query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS,
                                    description="What you are looking for.")],
        k: Annotated[int, Field(ge=1, le=MAX_TOOL_K, description="How many skills at most.")] = 5,
    ) -> SkillCards:
        hits = await library.call(lambda sm, q, n: sm.search_skills(q, n), query, k)
        return SkillCards(skills=[
            SkillCard(id=h.id, name=h.name, description=h.description, score=round(h.score, 4), why=h.why,
                      files=list(h.files))
            for h in hits
        ])

    async def get_skill(id: SkillId) -> str:  # noqa: A002 - the argument the agent sees is "id"
        return await library.call(canonical_markdown, id)

    async def read_skill_file(
        id: SkillId,  # noqa: A002
        path: Annotated[str, Field(min_length=1, max_length=MAX_PATH_CHARS,
                                   description="The file's relative path in the skill, e.g. 'references/api.md'.")],
    ) -> str:
        return await library.call(lambda sm, i, p: sm.read_file(i, p), id, path)

    async def propose_skill(
        title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE_CHARS, description="One line naming the know-how.")],
        playbook: Annotated[str, Field(min_length=1, max_length=MAX_FIELD_CHARS,
                                       description="The steps, as markdown.")],
        examples: Annotated[str, Field(max_length=MAX_FIELD_CHARS, description="Worked examples (markdown).")] = "",
        when_to_use: Annotated[str, Field(max_length=MAX_FIELD_CHARS,
                                          description="When an agent should apply it.")] = "",
        dependencies: Annotated[list[SkillId], Field(max_length=MAX_DEPENDENCIES,
                                                     description="Ids of reviewed skills this builds on.")] = [],  # noqa: B006 - copied by pydantic
    ) -> Draft:
        draft_id = await library.call(
            lambda sm: sm.propose(title, playbook, examples, when_to_use, list(dependencies)))
        return Draft(draft_id=draft_id, message=f"stored as draft {draft_id}; a human reviews it before it is served")

    async def extract_from_conversation(
        messages: Annotated[Union[
            Annotated[list[ChatMessage], Field(min_length=1, max_length=MAX_MESSAGES)],
            Annotated[str, Field(min_length=1, max_length=MAX_INPUT_CHARS)],
        ], Field(description="The conversation: a list of {role, content} messages, or its plain text.")],
    ) -> Draft:
        payload = messages if isinstance(messages, str) else [m.model_dump() for m in messages]
        draft_id = await library.call(lambda sm, m: sm.extract(m), payload)
        if draft_id is None:
            return Draft(draft_id=None, message="nothing was stored: no reusable know-how found, confidence too low, "
                                                "or the LLM failed (see the server's log)")
        return Draft(draft_id=draft_id, message=f"stored as draft {draft_id}; a human reviews it before it is served")

    async def report_outcome(
        skill_id: SkillId,
        helpful: Annotated[bool, Field(description="True if the skill helped, false if it was wrong or misleading.")],
        note: Annotated[str, Field(max_length=MAX_USAGE_NOTE_CHARS,
                                   description="What was right or wrong, in a sentence or two.")] = "",
    ) -> str:
        await library.call(lambda sm: sm.record_usage(skill_id, helpful, note=note or None))
        return f"recorded: {skill_id} {'helped' if helpful else 'did not help'}"

    server.add_tool(find_skills, description=FIND_SKILLS, annotations=_READ_ONLY)
    server.add_tool(search_skills, description=SEARCH_SKILLS, annotations=_READ_ONLY)
    server.add_tool(get_skill, description=GET_SKILL, annotations=_READ_ONLY)
    server.add_tool(read_skill_file, description=READ_SKILL_FILE, annotations=_READ_ONLY)
    server.add_tool(propose_skill, description=PROPOSE_SKILL, annotations=_ADDS_DRAFT)
    if library.has_llm:
        server.add_tool(extract_from_conversation, description=EXTRACT,
                        annotations=_ADDS_DRAFT.model_copy(update={"open_world_hint": True}))
    server.add_tool(report_outcome, description=REPORT_OUTCOME, annotations=_ADDS_DRAFT)
