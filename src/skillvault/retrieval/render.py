"""Render packed chunks as ``<skill name="...">`` blocks for a prompt."""

from __future__ import annotations

import html
import re
from functools import lru_cache

from ..tokens import count_tokens

CHUNK_SEPARATOR = "\n\n"
BLOCK_SEPARATOR = "\n\n"
_SKILL_TAG = re.compile(r"<(/?)(skill)\b", re.IGNORECASE)


def open_tag(skill_id: str) -> str:
    """Return the opening tag of a skill block (the id is attribute-escaped)."""
    return f'<skill name="{html.escape(skill_id, quote=True)}">\n'


CLOSE_TAG = "\n</skill>"


def escape_content(content: str) -> str:
    """Neutralise ``<skill`` / ``</skill`` tags inside chunk text.

    Chunk text is otherwise served as written (code samples keep their ``<`` and
    ``&``), but a chunk must not be able to close its block or open a fake one.
    """
    return _SKILL_TAG.sub(lambda m: f"&lt;{m.group(1)}{m.group(2)}", content)


@lru_cache(maxsize=4096)
def block_overhead_tokens(skill_id: str) -> int:
    """Tokens a skill block adds besides its chunks: tags plus the block separator."""
    return count_tokens(open_tag(skill_id)) + count_tokens(CLOSE_TAG) + count_tokens(BLOCK_SEPARATOR)


SEPARATOR_TOKENS = 1  # "\n\n" is one cl100k token


def render_blocks(blocks: list[tuple[str, list[str]]]) -> str:
    """Render ``[(skill_id, [chunk content, ...]), ...]`` in the given order.

    Returns:
        The blocks joined by blank lines; "" when there are none.
    """
    return BLOCK_SEPARATOR.join(
        open_tag(skill_id) + CHUNK_SEPARATOR.join(escape_content(c) for c in contents) + CLOSE_TAG
        for skill_id, contents in blocks
    )
