"""Shared fixtures: a deterministic word-hashing embedder and fresh databases."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from skillvault import SkillManager
from skillvault.models import Chunk, Skill

WORD_DIM = 4096


def word_vector(text: str, dim: int = WORD_DIM) -> list[float]:
    """Hashed bag of word stems: texts sharing words are similar, others ~orthogonal."""
    vector = np.zeros(dim)
    for word in re.findall(r"\w+", text.lower()):
        stem = word[:-1] if word.endswith("s") and len(word) > 3 else word
        digest = hashlib.sha256(stem.encode()).digest()
        for i in range(3):
            index = int.from_bytes(digest[4 * i : 4 * i + 4], "little") % dim
            vector[index] += 1.0 if digest[20 + i] & 1 else -1.0
    if not vector.any():
        vector[0] = 1.0
    return vector.tolist()


class CountingEmbed:
    """embed_fn that records every text it is asked to embed."""

    def __init__(self, dim: int = WORD_DIM):
        self.dim = dim
        self.calls: list[str] = []

    def __call__(self, text: str) -> list[float]:
        self.calls.append(text)
        return word_vector(text, self.dim)


@pytest.fixture
def embed() -> CountingEmbed:
    return CountingEmbed()


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "skills.db")


@pytest.fixture
def sm(db_path, embed):
    manager = SkillManager(db_path, embed_fn=embed)
    yield manager
    manager.close()


def make_skill(skill_id: str, *sections: tuple[str, str], name: str | None = None, **chunk_options) -> Skill:
    """Build a skill with one chunk per (section, content) pair."""
    chunks = [
        Chunk(id=f"{skill_id}::{i}", section=section, content=content, **chunk_options)
        for i, (section, content) in enumerate(sections)
    ]
    return Skill(id=skill_id, name=name or skill_id.replace("-", " ").title(), chunks=chunks)


from standins.fixtures import anthropic_standin, openai_standin  # noqa: E402,F401  (shared fixtures)
from pg_fixtures import pg_server, pg_url  # noqa: E402,F401  (PostgreSQL server and databases)
