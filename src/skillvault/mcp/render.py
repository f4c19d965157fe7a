"""A canonical skill as the markdown an agent reads (``get_skill`` and ``skill://`` resources)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..bundle import bundled_files
from ..errors import NotFoundError
from ..formats.skill_md import SKILL_FILE, plan_skill_folder
from ..models import Skill

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..manager import SkillManager


def skill_markdown(skill: Skill) -> str:
    """Return ``skill`` as the ``SKILL.md`` text an export would write, plus its bundled files' names.

    Args:
        skill: the skill.

    Returns:
        The SKILL.md text (front matter and body); when the skill bundles files, a last
        line names them for ``read_skill_file``.

    Raises:
        ValidationError / ImportFormatError: the skill cannot be written as a SKILL.md
            (see :func:`~skillvault.formats.skill_md.plan_skill_folder`).
    """
    # Planning writes nothing: the folder path is only used to name the outputs.
    _folder, outputs, _findings = plan_skill_folder(skill, ".")
    text = next(data for path, data in outputs if path.name == SKILL_FILE).decode("utf-8")
    files = sorted(bundled_files(skill))
    if files:
        text = text.rstrip("\n") + "\n\n---\nFiles bundled with this skill (read one with read_skill_file): " \
            + ", ".join(files) + "\n"
    return text


def canonical_markdown(sm: "SkillManager", skill_id: str) -> str:
    """Return the canonical skill ``skill_id`` of an agent-mode manager as :func:`skill_markdown`.

    Raises:
        ValidationError: a malformed id. NotFoundError: no canonical skill has it.
    """
    skill = sm.get(skill_id)
    if skill is None:
        raise NotFoundError(f"no reviewed skill with id {skill_id!r}; find ids with search_skills")
    return skill_markdown(skill)
