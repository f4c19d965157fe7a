"""Reading a proposal document for ``skillvault propose``: a JSON object or markdown.

JSON: ``{"title", "playbook", "examples", "when_to_use", "dependencies": [ids],
"tags": [labels], "confidence"}`` (title and playbook required).

Markdown::

    # Title on one line
    ## Playbook
    the steps (use ### and deeper for headings inside a section)
    ## Examples
    ## When to use
    ## Depends on
    - a-canonical-skill-id
    ## Tags
    - label
    ## Confidence
    0.8

Text between the title and the first section is the playbook when there is no
``## Playbook`` section. Section names are matched case-insensitively; ``##`` lines
inside fenced code blocks do not start sections.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from .errors import USAGE, fail


class Field(NamedTuple):
    """How one SkillManager.propose field is spelled on the command line and in documents."""

    option: str
    section: str
    key: str


FIELDS = {
    "title": Field("--title", "# Title", "title"),
    "playbook": Field("--playbook", "## Playbook", "playbook"),
    "examples": Field("--examples", "## Examples", "examples"),
    "when_to_use": Field("--when-to-use", "## When to use", "when_to_use"),
    "dependencies": Field("--depends-on", "## Depends on", "dependencies"),
    "tags": Field("--tag", "## Tags", "tags"),
    "confidence": Field("--confidence", "## Confidence", "confidence"),
}
_SECTIONS = {"playbook": "playbook", "examples": "examples", "when to use": "when_to_use",
             "depends on": "dependencies", "dependencies": "dependencies", "tags": "tags",
             "confidence": "confidence"}
_LIST_FIELDS = ("dependencies", "tags")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def read_proposal(text: str, where: str, json_hint: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse a proposal document.

    Args:
        text: the document.
        where: its name in error messages (a file name or ``stdin``).
        json_hint: the file is named ``*.json``: parse it as JSON whatever it starts with.

    Returns:
        ``(fields for SkillManager.propose, {field: how the document names it})``.

    Raises:
        CliError: (exit 2) the document has the wrong shape; the message says which part.
    """
    if json_hint or text.lstrip().startswith("{"):
        return _read_json(text, where)
    return _read_markdown(text, where)


def _read_json(text: str, where: str) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        fail(f"{where} is not valid JSON ({exc})", USAGE)
    if not isinstance(data, dict):
        fail(f"{where}: a JSON proposal is an object with \"title\" and \"playbook\", got {type(data).__name__}", USAGE)
    unknown = [key for key in data if key not in FIELDS]
    if unknown:
        fail(f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(FIELDS)}", USAGE)
    return dict(data), {field: f"{where}: {field}" for field in data}


def _read_markdown(text: str, where: str) -> tuple[dict[str, Any], dict[str, str]]:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None or not re.match(r"#\s+\S", lines[start]) or lines[start].startswith("##"):
        fail(f"{where}: a markdown proposal starts with a '# Title' line (or give a JSON object)", USAGE)
    fields: dict[str, Any] = {"title": lines[start].lstrip("#").strip()}
    names = {"title": f"{where}: # Title"}
    current, body, in_fence = "intro", [], False
    sections: dict[str, list[str]] = {}
    for line in lines[start + 1:]:
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = re.match(r"##\s+(.*?)\s*#*\s*$", line) if not in_fence else None
        if heading and not line.startswith("###"):
            sections[current] = body
            name = heading.group(1).strip().lower().rstrip(":")
            if name not in _SECTIONS:
                fail(f"{where}: unknown section '## {heading.group(1).strip()}'; the sections are ## Playbook, "
                     "## Examples, ## When to use, ## Depends on, ## Tags, ## Confidence "
                     "(use ### for headings inside one)", USAGE)
            current, body = _SECTIONS[name], []
            if current in sections:
                fail(f"{where}: section '## {heading.group(1).strip()}' appears twice", USAGE)
        else:
            body.append(line)
    sections[current] = body
    intro = "\n".join(sections.pop("intro", [])).strip()
    if intro:
        if "playbook" in sections:
            fail(f"{where}: text between the title and the first section; put it under ## Playbook", USAGE)
        sections["playbook"] = intro.splitlines()
    for field, body in sections.items():
        content = "\n".join(body).strip()
        if field in _LIST_FIELDS:
            items = [re.sub(r"^\s*[-*+]\s+", "", line).strip() for line in content.splitlines()]
            fields[field] = [piece.strip() for part in items for piece in part.split(",") if piece.strip()]
        elif field == "confidence":
            try:
                fields[field] = float(content)
            except ValueError:
                fail(f"{where}: ## Confidence must be a number from 0 to 1, got {content[:40]!r}", USAGE)
        else:
            fields[field] = content
        names[field] = f"{where}: {FIELDS[field].section}"
    return fields, names
