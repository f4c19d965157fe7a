"""Trigger evaluation: does the library pick the right skill for each task?

Library owners keep ``[task, expected skill]`` pairs next to their skills and run them as
a regression test (``skillvault eval CASES.yaml``): R@1, R@3, MRR, the misses with what
was returned instead, and the skills no case triggers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Union

from ..errors import ValidationError
from .skills import SkillHit

#: How many skills are asked for per case (ranks beyond count as misses).
EVAL_DEPTH = 10
MAX_CASES = 10_000
MAX_CASES_BYTES = 10_000_000


@dataclass
class TriggerReport:
    """The outcome of :func:`evaluate_triggers`.

    Attributes:
        cases: number of cases.
        r_at_1 / r_at_3 / mrr: recall at 1 and 3, mean reciprocal rank.
        misses: ``{"task", "expected", "rank", "returned"}`` for each case not ranked first
            (rank 0 when the expected skill was not returned at all).
        untriggered: ids of served skills that no case ranks first.
    """

    cases: int
    r_at_1: float
    r_at_3: float
    mrr: float
    misses: list[dict] = field(default_factory=list)
    untriggered: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The report as JSON-ready data."""
        return asdict(self)


def load_cases(path: Union[str, Path]) -> list[dict]:
    """Read ``[{task, expected}, ...]`` (or ``{"cases": [...]}``) from a JSON or YAML file.

    Raises:
        ValidationError: the file is unreadable or a case lacks a text ``task`` or ``expected``.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CASES_BYTES:
            raise ValidationError("cases", f"{str(path)!r} is over {MAX_CASES_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("cases", f"cannot read {str(path)!r}: {exc}") from None
    try:
        if path.suffix.lower() == ".json":
            data: Any = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is the file's fault
        raise ValidationError("cases", f"{str(path)!r} is not valid JSON/YAML: {exc}") from None
    return check_cases(data.get("cases") if isinstance(data, dict) else data, str(path))


def check_cases(data: Any, where: str = "cases") -> list[dict]:
    """Return the cases as ``{"task", "expected"}`` dicts, checked.

    Raises:
        ValidationError: not a list of 1..MAX_CASES dicts with text ``task`` and ``expected``.
    """
    path = where
    if not isinstance(data, list) or not data or len(data) > MAX_CASES:
        raise ValidationError("cases", f"{path!r} must hold a list of 1..{MAX_CASES} cases (or {{cases: [...]}})")
    cases = []
    for index, case in enumerate(data):
        if not isinstance(case, dict) or not all(isinstance(case.get(k), str) and case[k].strip() for k in ("task", "expected")):
            raise ValidationError(f"cases[{index}]", "must have text fields 'task' and 'expected' (a skill id or name)")
        cases.append({"task": case["task"], "expected": case["expected"]})
    return cases


def evaluate_triggers(
    cases: list[dict], search: Callable[[str, int], list[SkillHit]], skills: list[tuple[str, str]]
) -> TriggerReport:
    """Run every case through ``search`` and score the rankings.

    Args:
        cases: ``{"task", "expected"}`` dicts; ``expected`` is a skill id or name.
        search: ``search(task, k)`` returning skills best first (e.g. ``search_skills``).
        skills: ``(id, name)`` of the served skills.

    Raises:
        ValidationError: a case expects a skill that is not served.
    """
    by_name = {name: skill_id for skill_id, name in skills}
    ids = {skill_id for skill_id, _name in skills}
    triggered: set[str] = set()
    hits1 = hits3 = 0
    reciprocal = 0.0
    misses = []
    for index, case in enumerate(cases):
        expected = case["expected"] if case["expected"] in ids else by_name.get(case["expected"])
        if expected is None:
            raise ValidationError(f"cases[{index}].expected", f"no served skill has id or name {case['expected']!r}")
        returned = [hit.id for hit in search(case["task"], EVAL_DEPTH)]
        if returned:
            triggered.add(returned[0])
        rank = returned.index(expected) + 1 if expected in returned else 0
        hits1 += rank == 1
        hits3 += 0 < rank <= 3
        reciprocal += 1.0 / rank if rank else 0.0
        if rank != 1:
            misses.append({"task": case["task"], "expected": expected, "rank": rank, "returned": returned[:3]})
    n = len(cases)
    return TriggerReport(n, hits1 / n, hits3 / n, reciprocal / n, misses, sorted(ids - triggered))
