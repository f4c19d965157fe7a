"""Size cap for chunks built from markdown: long sections are split into parts.

A section longer than :data:`MAX_CHUNK_TOKENS` (cl100k_base tokens, as
:mod:`skillvault.tokens` counts them) is split into parts that each fit, so that it
can be served within an ordinary query budget (a 3,800-token "Common pitfalls"
section never fits the default 2,000 tokens whole).

Where a section is cut, in order of preference:

1. between blocks: paragraphs, lists and fenced code blocks separated by blank lines.
   A fenced code block is one block, blank lines inside it included, so it is never
   cut while a block boundary will do;
2. only a single block longer than the cap on its own (a long paragraph, a long code
   block) is cut between lines;
3. only a single line longer than the cap is cut inside the line (between characters,
   as a last resort).

The parts of a section:

* ``id``: the first part keeps the section's chunk id (``<skill>::common-pitfalls``);
  part ``k`` (k >= 2) is ``<skill>::common-pitfalls.k``. A slug never holds ``.``,
  so part ids never collide with section ids, and the same body always gives the
  same ids.
* ``section``: ``"<heading> (k/n)"``, e.g. ``"Common pitfalls (2/3)"``.
  :func:`section_title` gives ``"Common pitfalls"`` back.
* ``content``: the first part starts with the section's own heading line, as written.
  Every later part starts with a *context line*, ``"<hashes> <heading path>
  (continued)"`` followed by a blank line, e.g. ``"## Claude API > Common pitfalls
  (continued)"``, so that a part read alone says where it comes from. The heading path
  lists the enclosing level 1-3 headings.
* ``dependencies``: every later part depends on the first part, so the packer serves a
  later part together with the section's opening (its heading and introduction) or not
  at all, and never a continuation on its own.

A section over :data:`skillvault.models.MAX_CONTENT_CHARS` characters (the hard limit
of one chunk) is not split: validation refuses it with a clear error, as before, and a
hostile file cannot make splitting work on megabytes at a time.

The cap is a limit for *new* chunks cut from markdown only. Skills registered from
Python (or read from JSON) keep the chunks they were given: their ids are the caller's
and may be referenced by other skills' dependencies, so they are neither split nor
refused for their token count (the hard per-chunk limit stays
:data:`skillvault.models.MAX_CONTENT_CHARS` characters). :func:`split_skill_chunks`
splits such a skill explicitly when its owner wants that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Optional

from ..models import MAX_CONTENT_CHARS, Chunk, Skill
from ..tokens import count_tokens

__all__ = [
    "MAX_CHUNK_TOKENS",
    "CONTINUED",
    "Part",
    "split_section",
    "section_title",
    "part_ids",
    "joined_parts",
    "split_skill_chunks",
]

#: Most cl100k_base tokens in one chunk cut from markdown (a part's context line included).
MAX_CHUNK_TOKENS = 512
#: Appended to the heading path in the context line of a section's later parts.
CONTINUED = "(continued)"

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_PART_SECTION = re.compile(r"^(.*) \((\d+)/(\d+)\)$", re.DOTALL)
_CONTEXT_LINE = re.compile(r"^#{1,6} .* \(continued\)$")


@dataclass
class Part:
    """One part of a section: its text and the offset (in lines) where it starts."""

    content: str
    line_offset: int


def section_title(section: str) -> str:
    """Return a section's heading without a part suffix: ``"Setup (2/3)"`` -> ``"Setup"``."""
    match = _PART_SECTION.match(section)
    return match.group(1) if match else section


def part_ids(first_id: str, count: int) -> list[str]:
    """Ids of the ``count`` parts of the section whose chunk id is ``first_id``."""
    return [first_id] + [f"{first_id}.{k}" for k in range(2, count + 1)]


def context_line(heading_line: str, heading_path: list[str]) -> str:
    """The line a later part starts with: the section heading's hashes, the path, ``(continued)``."""
    hashes = heading_line.lstrip(" ").split(" ", 1)[0].split("\t", 1)[0]
    if not hashes or set(hashes) != {"#"}:
        hashes = "##"
    path = " > ".join(text for text in heading_path if text) or "Section"
    return f"{hashes} {path} {CONTINUED}"


def opens_fence(line: str) -> Optional[str]:
    """Return the fence (```` ``` ```` or ``~~~``...) that ``line`` opens, or None (CommonMark rules)."""
    opened = _FENCE_OPEN.match(line)
    if opened and not (opened.group(1)[0] == "`" and "`" in opened.group(2)):
        return opened.group(1)
    return None


def closes_fence(line: str, fence: str) -> bool:
    """Return True if ``line`` closes the code block opened by ``fence``."""
    stripped = line.strip()
    return bool(stripped) and set(stripped) == {fence[0]} and len(stripped) >= len(fence) and (
        len(line) - len(line.lstrip(" ")) <= 3
    )


def _blocks(lines: list[str]) -> list[tuple[int, int]]:
    """Split lines into blocks ``[start, end)`` separated by blank lines; fences are one block."""
    blocks: list[tuple[int, int]] = []
    start: Optional[int] = None
    fence: Optional[str] = None
    for index, line in enumerate(lines):
        bare = line.rstrip("\r\n")
        if fence is not None:
            if closes_fence(bare, fence):
                fence = None
            continue
        opened = opens_fence(bare)
        if opened:
            fence = opened
            if start is None:
                start = index
            continue
        if not bare.strip():
            if start is not None:
                blocks.append((start, index))
                start = None
            continue
        if start is None:
            start = index
    if start is not None:
        blocks.append((start, len(lines)))
    return blocks


def _cut_line(line: str, limit: int) -> list[int]:
    """Lengths of the pieces an over-long line is cut into, each at most ``limit`` tokens.

    Each piece is searched for in a window of ``16 * limit`` characters, so the cost
    stays linear in the line's length (lines can be megabytes long in hostile files).
    """
    lengths: list[int] = []
    position = 0
    while position < len(line):
        window = line[position:position + 16 * limit]
        if count_tokens(window) <= limit:
            length = len(window)
        else:
            low, high = 1, len(window)  # longest prefix that fits: binary search on characters
            while low < high:
                mid = (low + high + 1) // 2
                if count_tokens(window[:mid]) <= limit:
                    low = mid
                else:
                    high = mid - 1
            length = low
        lengths.append(length)
        position += length
    return lengths


def _units(content: str, room: int) -> list[tuple[int, int]]:
    """Character spans ``[start, end)`` of ``content`` that a part boundary may not cut."""
    lines = content.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    blocks = _blocks(lines)
    # A heading line on its own (e.g. a "####" sub-heading, which does not start a
    # chunk) and a paragraph ending with ":" stay with the block after them, so that no
    # part ends with a heading or an introduction whose text is in the next part.
    index = 0
    while index + 1 < len(blocks):
        first, last = blocks[index]
        leads = (last - first == 1 and lines[first].lstrip(" ").startswith("#")) or (
            lines[last - 1].rstrip().endswith(":")
        )
        if leads and count_tokens(content[offsets[first]:offsets[blocks[index + 1][1]]].rstrip()) <= room:
            blocks[index:index + 2] = [(first, blocks[index + 1][1])]
            continue
        index += 1
    units: list[tuple[int, int]] = []
    for first, last in blocks:
        start, end = offsets[first], offsets[last]
        if count_tokens(content[start:end].rstrip()) <= room:
            units.append((start, end))
            continue
        for index in range(first, last):  # last resort: line by line
            line_start, line = offsets[index], lines[index]
            if count_tokens(line.rstrip()) <= room:
                units.append((line_start, line_start + len(line)))
                continue
            position = line_start  # and, for a line longer than a part, inside the line
            for length in _cut_line(line.rstrip(), room):
                units.append((position, position + length))
                position += length
    return units


def split_section(
    content: str, heading_path: list[str], max_tokens: int = MAX_CHUNK_TOKENS
) -> list[Part]:
    """Split a section's markdown into parts of at most ``max_tokens`` tokens.

    Args:
        content: the section as :func:`~skillvault.formats.skill_md.split_body` cut it
            (starting with its heading line when it has one; no leading blank lines).
        heading_path: the section's heading and the headings enclosing it, outermost
            first (e.g. ``["Claude API", "Common pitfalls"]``); used in context lines.
        max_tokens: the cap (at least 64).

    Returns:
        One :class:`Part` (the content unchanged) when it fits, else the parts in order.
        A part's own text is a slice of ``content`` (stripped at its end); each later
        part's content is ``context line + "\\n\\n" + its text``. ``line_offset`` is the
        line of ``content`` (0-based) where the part's own text starts.
    """
    if len(content) > MAX_CONTENT_CHARS or count_tokens(content) <= max_tokens:
        # Over the hard limit a section is left whole, and refused by validation as it was
        # before splitting existed: that bounds the work a hostile file can cause.
        return [Part(content, 0)]
    max_tokens = max(64, max_tokens)
    first_line = content.split("\n", 1)[0]
    heading = first_line if first_line.lstrip(" ").startswith("#") else "##"
    context = context_line(heading, heading_path)
    # Room for the text of a later part: the cap minus the context line and its blank line.
    room = max(32, max_tokens - count_tokens(context + "\n\n"))

    units = _units(content, room)
    counts = [count_tokens(content[start:end]) for start, end in units]

    def tokens_of(first: int, last: int) -> int:
        return count_tokens(content[units[first][0]:units[last][1]].rstrip())

    spans: list[tuple[int, int]] = []  # (start, end) of each part's own text
    index = 0
    while index < len(units):
        limit = max_tokens if not spans else room
        # Grow by the units' own counts (newlines included), then check the real count of
        # the text and give back units while it is over: linear, not quadratic.
        end, estimate = index + 1, counts[index]
        while end < len(units) and estimate + counts[end] <= limit:
            estimate += counts[end]
            end += 1
        while end > index + 1 and tokens_of(index, end - 1) > limit:
            end -= 1
        if end < len(units):
            # Cut before a sub-heading rather than between two paragraphs under one,
            # unless that leaves this part less than half full.
            for cut in range(end - 1, index, -1):
                at = units[cut][0]
                while content.startswith(" ", at):
                    at += 1
                if content.startswith("#", at):
                    if tokens_of(index, cut - 1) >= limit // 2:
                        end = cut
                    break
        spans.append((units[index][0], units[end - 1][1]))
        index = end
    parts: list[Part] = []
    line, counted = 0, 0  # line number of offset `counted`, kept as we go (linear)
    for start, end in spans:
        text = content[start:end].rstrip()
        if not text.strip():
            continue
        line += content.count("\n", counted, start)
        counted = start
        parts.append(Part(text if not parts else f"{context}\n\n{text}", line))
    return parts


def joined_parts(chunks: list[Chunk]) -> list[tuple[Chunk, str]]:
    """Group a skill's chunks back into sections, undoing :func:`split_section`.

    Consecutive chunks ``X``, ``X.2``, ``X.3`` ... whose later members start with a
    context line are one section; their texts are joined with a blank line. Returns
    ``(first chunk of the section, section text)`` pairs in order; a chunk that is not
    a part comes back with its own content.
    """
    result: list[tuple[Chunk, str]] = []
    index = 0
    while index < len(chunks):
        first = chunks[index]
        texts = [first.content]
        index += 1
        number = 2
        while index < len(chunks):
            chunk = chunks[index]
            head, sep, rest = chunk.content.partition("\n\n")
            if chunk.id != f"{first.id}.{number}" or not sep or not _CONTEXT_LINE.match(head):
                break
            texts.append(rest)
            index += 1
            number += 1
        result.append((first, "\n\n".join(text.strip("\n") for text in texts)))
    return result


def split_skill_chunks(skill: Skill, max_tokens: int = MAX_CHUNK_TOKENS) -> Skill:
    """Return a copy of ``skill`` whose chunks over ``max_tokens`` are split into parts.

    For skills registered from Python or JSON, whose chunks are not split
    automatically. Parts are named and linked as described in this module's
    docstring; a split chunk's ``priority``, ``required`` and ``dependencies`` go to
    every part (so a required chunk stays served whole when it fits). The heading path
    is the chunk's ``section``.
    """
    copy = skill.copy()
    chunks: list[Chunk] = []
    for chunk in copy.chunks:
        parts = split_section(chunk.content, [chunk.section or "Section"], max_tokens)
        if len(parts) == 1:
            chunks.append(chunk)
            continue
        ids = part_ids(chunk.id, len(parts))
        title = chunk.section or "Section"
        for number, (part, part_id) in enumerate(zip(parts, ids), start=1):
            deps = list(chunk.dependencies)
            if number > 1 and ids[0] not in deps:
                deps.append(ids[0])
            chunks.append(replace(
                chunk, id=part_id, section=f"{title} ({number}/{len(parts)})", content=part.content,
                tokens=None, dependencies=deps,
            ))
    copy.chunks = chunks
    return copy
