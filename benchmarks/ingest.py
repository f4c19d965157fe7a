#!/usr/bin/env python
"""Ingest speed: ``register_many``, ``import_`` (JSON) and one ``register()`` per skill.

All three write the same corpus of English text (stop words, words whose porter stem
differs, short and long chunks; sentences of ``tests/fixtures/agent_skills`` mixed with
generated ones), five chunks per skill. Vectors come from an ``embed_fn`` that looks the
text up in a table built beforehand, so the embedder is not what is timed. For each size:

* ``register_many``: every skill, into a new library;
* ``import_``: the same skills from one JSON file, into a new library (the file is
  written before timing; reading and parsing it are timed);
* ``register()``: ``--single`` more skills, one call each, into the library
  ``register_many`` built (so at that size).

Run (the figures in the README come from the default sizes)::

    PYTHONPATH=src python benchmarks/ingest.py [--sizes 20000,100000] [--dim 384]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "tests" / "fixtures" / "agent_skills"
SECTIONS = ["When to use", "Steps", "Examples", "Pitfalls", "Checks"]
STOP = "the a an of to in for on with and or but when before after while if then it is are be this that".split()
NOUNS = ("deployment service database migration index query cache token budget release branch commit "
         "pipeline worker queue request response header certificate secret credential backup snapshot "
         "container image cluster node pod volume alert dashboard incident runbook schema table column "
         "report invoice customer payment session cookie endpoint library dependency version").split()
VERBS = ("running deploys migrating indexes queries caches rotates backs restores builds tests merges "
         "rebases checks watches alerts scales fails retries loads parses renders validates signs "
         "encrypts compresses uploads downloads registers approves rejects archives reviews").split()
ADJS = "slow failing stale broken healthy large small new old expired pending canonical careful".split()


def fixture_sentences() -> list[str]:
    """Sentences of the Agent Skills test fixtures (real English)."""
    sentences = []
    for path in sorted(FIXTURES.glob("*/SKILL.md")):
        text = re.sub(r"^---.*?---", "", path.read_text(encoding="utf-8"), flags=re.S)
        sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 5]
    return sentences


def sentence(rng: random.Random) -> str:
    words = []
    for _ in range(rng.randint(2, 4)):
        words += [rng.choice(STOP), rng.choice(ADJS), rng.choice(NOUNS), rng.choice(VERBS), rng.choice(STOP),
                  rng.choice(NOUNS)]
    return " ".join(words).capitalize() + "."


def build_skills(n_skills: int, first: int = 0, seed: int = 0):
    """``n_skills`` skills of five chunks (1-8 sentences each: short and long chunks)."""
    from skillvault.models import Chunk, Skill

    rng = random.Random(seed + first)
    real = fixture_sentences()
    skills = []
    for s in range(first, first + n_skills):
        chunks = []
        for j, section in enumerate(SECTIONS):
            parts = [rng.choice(real) if real and rng.random() < 0.3 else sentence(rng) for _ in range(rng.randint(1, 8))]
            chunks.append(Chunk(id=f"skill-{s:06d}::{j}", section=section, content=" ".join(parts)))
        skills.append(Skill(id=f"skill-{s:06d}", name=f"{rng.choice(ADJS)} {rng.choice(NOUNS)} {s}",
                            description=sentence(rng), chunks=chunks))
    return skills


class LookupEmbed:
    """``embed_fn``: the vector stored for each text embedded (a table built before timing)."""

    def __init__(self, skills, dim: int, seed: int = 0):
        from skillvault.embed.service import embedding_text
        from skillvault.store.cards import card_fields

        texts = [embedding_text(s.name, c) for s in skills for c in s.chunks]
        texts += [card_fields(s).embedding_text() for s in skills]
        vectors = np.random.default_rng(seed).standard_normal((len(texts), dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        self.table = dict(zip(texts, vectors.tolist()))
        self.dim = dim
        self.misses = 0

    def __call__(self, text: str) -> list:
        found = self.table.get(text)
        if found is None:  # the probe texts skillvault records its embedder with
            self.misses += 1
            vector = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(self.dim)
            return (vector / np.linalg.norm(vector)).tolist()
        return found


def run(size: int, dim: int, single: int, tmp: Path) -> dict:
    from skillvault import SkillManager

    skills = build_skills(size // 5)
    extra = build_skills(single, first=size // 5)
    embed = LookupEmbed(skills + extra, dim)
    chunks = sum(len(s.chunks) for s in skills)

    sm = SkillManager(tmp / f"many-{size}.db", embed_fn=embed, auto_promote=None)
    start = time.perf_counter()
    sm.register_many(skills)
    many_s = time.perf_counter() - start
    start = time.perf_counter()
    for skill in extra:
        sm.register(skill)
    single_s = time.perf_counter() - start
    single_chunks = sum(len(s.chunks) for s in extra)
    sm.close()

    source = tmp / f"skills-{size}.json"
    source.write_text(json.dumps({"skills": [s.to_dict() for s in skills]}), encoding="utf-8")
    sm = SkillManager(tmp / f"import-{size}.db", embed_fn=embed, auto_promote=None)
    start = time.perf_counter()
    sm.import_(source)
    import_s = time.perf_counter() - start
    assert sm.stats()["chunks"] == chunks
    sm.close()
    return {"chunks": chunks, "many": chunks / many_s, "import": chunks / import_s,
            "register": single_chunks / single_s, "misses": embed.misses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,100000", help="library sizes in chunks, comma-separated")
    parser.add_argument("--dim", type=int, default=384, help="vector width")
    parser.add_argument("--single", type=int, default=200, help="skills registered one call each")
    args = parser.parse_args()
    print(f"{'chunks':>8}{'register_many':>15}{'import_ JSON':>14}{'register()':>12}{'many/reg':>10}{'import/reg':>12}"
          "   (chunks/s)")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            r = run(size, args.dim, args.single, Path(tmp))
            print(f"{r['chunks']:>8}{r['many']:>15,.0f}{r['import']:>14,.0f}{r['register']:>12,.0f}"
                  f"{r['many'] / r['register']:>10.1f}{r['import'] / r['register']:>12.1f}")
    print(f"{args.dim}-d vectors given by a lookup embed_fn; register() = {args.single} five-chunk skills, "
          "one call each, into the library register_many built")


if __name__ == "__main__":
    main()
