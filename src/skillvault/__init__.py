"""skillvault: a skill library for LLM agents that grows under human review.

Quick start::

    from skillvault import SkillManager
    from skillvault.models import Skill, Chunk
    sm = SkillManager("skills.db")          # local embedder, no API key
    sm.register(Skill(id="git-rebase", name="Git rebase", chunks=[Chunk(id="git-rebase::steps", content="...")]))
    print(sm.query("how do I rebase?", budget=2000))
"""

from .manager import SkillManager, reindex
from .models import Chunk, Skill

__version__ = "0.2.0.dev0"
__all__ = ["Chunk", "Skill", "SkillManager", "reindex", "__version__"]
