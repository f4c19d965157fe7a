"""skillvault: a skill library for LLM agents that grows under human review.

Quick start::

    from skillvault import SkillManager
    from skillvault.models import Skill, Chunk
    sm = SkillManager("skills.db")          # local embedder, no API key
    sm.register(Skill(id="git-rebase", name="Git rebase", chunks=[Chunk(id="git-rebase::steps", content="...")]))
    print(sm.query("how do I rebase?", budget=2000))

The names below are imported on first use, so ``import skillvault`` (and the CLI's
``--help``) does not pay for numpy, SQLite extensions or the embedder.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.2.0.dev0"
__all__ = ["Chunk", "Skill", "SkillManager", "migrate", "reindex", "__version__"]

_LAZY = {"SkillManager": "skillvault.manager", "reindex": "skillvault.manager", "migrate": "skillvault.upgrade",
         "Skill": "skillvault.models", "Chunk": "skillvault.models"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skillvault' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
