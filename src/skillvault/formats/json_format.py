"""JSON files of skills: one skill (the 0.1.x shape) or a whole library.

Files given to :func:`load_skills` are untrusted: they are read only up to
:data:`MAX_JSON_FILE_BYTES`, nested at most :data:`MAX_JSON_DEPTH` levels, and every
skill is validated (text, numbers, metadata and bundled files) before any is returned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Union

from ..errors import ImportFormatError, ValidationError
from ..validation import nesting_depth
from ..models import Skill

FORMAT_VERSION = 1
#: Largest JSON file :func:`load_skills` reads.
MAX_JSON_FILE_BYTES = 100_000_000
#: Deepest nesting of objects and arrays in a JSON file (the document itself is level 1).
MAX_JSON_DEPTH = 64


def dump_skill(skill: Skill) -> str:
    """Return one skill as JSON text (the shape 0.1.x exported, plus new fields)."""
    return skill.to_json() + "\n"


def dump_library(skills: list[Skill]) -> str:
    """Return many skills as one JSON document ``{"skillvault": 1, "skills": [...]}``."""
    document = {"skillvault": FORMAT_VERSION, "skills": [skill.to_dict() for skill in skills]}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def load_skills(path: Union[str, Path]) -> list[Skill]:
    """Read a JSON file holding one skill, a list of skills, or a library document.

    Raises:
        ImportFormatError: naming the file and the problem (bad JSON with its line,
            over :data:`MAX_JSON_FILE_BYTES`, nested deeper than :data:`MAX_JSON_DEPTH`,
            a number Python cannot hold, wrong shape, invalid field); nothing is
            returned partially.
    """
    skills, errors = scan_skills(path)
    if errors:
        raise ImportFormatError(f"{path}: {errors[0][1]}")
    return skills


def scan_skills(path: Union[str, Path]) -> tuple[list[Skill], list[tuple[int, str]]]:
    """Read a JSON file of skills, skill by skill: one invalid skill does not sink the rest.

    Returns:
        ``(valid skills, [(index in the file, reason)])``; the reason names the field,
        e.g. ``"skills[2].chunks[0].content: must not be empty"``.

    Raises:
        ImportFormatError: when the file as a whole cannot be read (see :func:`load_skills`).
    """
    path = Path(path)
    if not path.is_file():  # a FIFO or device could block or never end
        raise ImportFormatError(f"{path}: is not a regular file; give a JSON file")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_JSON_FILE_BYTES + 1)
            if len(raw) > MAX_JSON_FILE_BYTES:
                size = max(path.stat().st_size, len(raw))
                raise ImportFormatError(f"{path}: is {size} bytes; the limit is {MAX_JSON_FILE_BYTES}; "
                                        "split the library into several files")
        text = raw.decode("utf-8-sig")  # a byte order mark is allowed
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{path}: cannot read it ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise ImportFormatError(f"{path}: nests objects or arrays too deeply to read; the limit is "
                                f"{MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ImportFormatError(f"{path}: holds a value that cannot be read ({exc})") from None
    if nesting_depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ImportFormatError(f"{path}: nests objects or arrays more than {MAX_JSON_DEPTH} levels deep; "
                                "flatten it")
    if isinstance(data, dict) and "skills" in data:
        items = data["skills"]
    elif isinstance(data, list):
        items = data
    elif isinstance(data, dict):
        items = [data]
    else:
        raise ImportFormatError(f"{path}: expected a skill object, a list of skills or {{\"skills\": [...]}}")
    if not isinstance(items, list) or not items:
        raise ImportFormatError(f"{path}: no skills in the file")
    skills: list[Skill] = []
    errors: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        try:
            skill = Skill.from_dict(item, field_name=f"skills[{index}]")
        except ValidationError as exc:
            errors.append((index, str(exc)))
            continue
        try:
            skills.append(skill.validate())
        except ValidationError as exc:
            errors.append((index, str(exc.within(f"skills[{index}]"))))
    return skills, errors
