#!/usr/bin/env python
"""Import speed against the raw speed of the local embedder, on real SKILL.md folders.

Both are measured in one run, on the same machine state, so their ratio is meaningful
even on a noisy shared machine:

* **raw model**: ``LocalEmbedder().embed`` called directly on exactly the chunk texts an
  import embeds (with their skill context), in batches (the import embeds a card per skill too);
* **import**: ``SkillManager(fresh db).import_(folder)`` with the same local embedder,
  end to end (reading, validation, token counts, embedding, writing).

The start of each progress stage of the import is timed too (how long a user waits for the
bar to move). Run with a folder of Agent Skills folders, e.g. public collections fetched
from GitHub (anthropics/skills, K-Dense-AI/claude-scientific-skills, obra/superpowers)::

    PYTHONPATH=src python benchmarks/import_speed.py /path/to/skills [--limit 40]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder of Agent Skills folders")
    parser.add_argument("--limit", type=int, default=None, help="only the first N skill folders (sorted)")
    args = parser.parse_args()

    from skillvault import SkillManager
    from skillvault.embed.local import LocalEmbedder
    from skillvault.embed.service import embedding_text
    from skillvault.formats.skill_md import read_skill_folders
    from skillvault.tokens import count_tokens_many

    root = args.folder
    with tempfile.TemporaryDirectory() as tmp:
        if args.limit:  # a copy of the first N folders (the reader never follows links)
            root = Path(tmp) / "skills"
            root.mkdir()
            for folder in sorted(p for p in args.folder.iterdir() if (p / "SKILL.md").is_file())[: args.limit]:
                shutil.copytree(folder, root / folder.name)
        skills = read_skill_folders(root)
        texts = [embedding_text(skill.name, chunk) for skill in skills for chunk in skill.chunks]
        tokens = sum(count_tokens_many(texts))

        embedder = LocalEmbedder()
        embedder.embed(["warm-up"])  # model load is not part of either figure
        start = time.perf_counter()
        for first in range(0, len(texts), 64):
            embedder.embed(texts[first:first + 64])
        raw_seconds = time.perf_counter() - start

        manager = SkillManager(Path(tmp) / "bench.db")
        manager.embeddings.embedder = embedder  # the same loaded model instance
        stage_starts: list[float] = []  # each stage (reading, embedding) starts with (0, total)
        start = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if done == 0:
                stage_starts.append(time.perf_counter() - start)

        manager.import_(root, progress=progress)
        import_seconds = time.perf_counter() - start
        chunks = manager.stats()["chunks"]
        manager.close()

    print(f"{len(skills)} skills, {len(texts)} chunk texts, {tokens:,} tokens (cl100k) from {args.folder}")
    print(f"{'what':<28}{'seconds':>10}{'chunks/s':>12}{'tokens/s':>12}")
    print(f"{'raw model (chunk texts)':<28}{raw_seconds:>10.1f}{len(texts) / raw_seconds:>12.1f}{tokens / raw_seconds:>12.0f}")
    print(f"{'import_ (end to end)':<28}{import_seconds:>10.1f}{chunks / import_seconds:>12.1f}{tokens / import_seconds:>12.0f}")
    print(f"import speed / raw model speed: {raw_seconds / import_seconds:.2f}"
          " (the import also embeds one card per skill, and counts, validates and writes)")
    print("progress stages began after " + ", ".join(f"{name} {at:.1f} s" for name, at in zip(("reading", "embedding"), stage_starts))
          if stage_starts else "no progress callback")


if __name__ == "__main__":
    main()
