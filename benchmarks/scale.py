#!/usr/bin/env python
"""Scale: ingest, query latency, recall, memory and cold open at 10k / 100k / 1M chunks.

For each size a fresh library is filled with English chunks (sentences of the test
fixtures' SKILL.md files and of ``retrieval_cases.yaml``: stop words, words whose stem
differs, short chunks of 1-3 sentences and long ones of 8-20) whose vectors are given
(384-d, clustered, low intrinsic dimension like MiniLM's) through an ``embed_fn`` that
looks them up by a marker in the text, so the embedder is not timed. Ingest uses
``SkillManager.register_many`` when the tree has it, else ``import_`` of JSON library
files. Large libraries then build their vector index (timed apart). A fresh process
opens the library, answers the first query (open-to-first-answer, imports included),
then times ``query(text, budget=2000)`` (search + expansion + packing), measures
recall@10 of ``store.vector_search`` against exact search, and reports its RSS after the
queries::

    PYTHONPATH=src python benchmarks/scale.py --sizes 10k,100k,1m
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ROOT = HERE.parent
MARKER_RE = re.compile(r"\b([cq])(\d{7})x\b")
CHUNKS_PER_SKILL = 5
BLOCK = 10_000  # chunk vectors are generated per block, so no process holds them all
LATENT = 32


# ----------------------------------------------------------------------------- corpus
def sentences() -> list[str]:
    """English sentences from the fixtures' SKILL.md files and the retrieval cases."""
    import yaml

    found: list[str] = []
    for path in sorted((ROOT / "tests" / "fixtures" / "agent_skills").glob("*/SKILL.md")):
        text = re.sub(r"^---.*?---", "", path.read_text(encoding="utf-8"), flags=re.S)
        for line in text.splitlines():
            line = re.sub(r"[#>*`|\-]+", " ", line).strip()
            found.extend(part.strip() + "." for part in re.split(r"(?<=[.!?])\s+", line) if len(part.split()) >= 4)
    cases = yaml.safe_load((HERE / "retrieval_cases.yaml").read_text(encoding="utf-8"))["cases"]
    for case in cases:
        found.extend(part.strip() for part in re.split(r"(?<=[.!?])\s+", case["task"]) if len(part.split()) >= 4)
    return sorted(set(found))


class Vectors:
    """Deterministic unit vectors: chunk ``i``'s from its block, queries near a target chunk."""

    def __init__(self, seed: int, dim: int):
        rng = np.random.default_rng(seed)
        self.seed, self.dim = seed, dim
        self.projection = rng.standard_normal((LATENT, dim))
        self.centres = rng.standard_normal((500, LATENT)) * 1.5
        self._cache: dict[int, np.ndarray] = {}

    def block(self, number: int) -> np.ndarray:
        if number not in self._cache:
            rng = np.random.default_rng([self.seed, number])
            latent = rng.standard_normal((BLOCK, LATENT)) + self.centres[rng.integers(0, len(self.centres), BLOCK)]
            rows = latent @ self.projection + rng.standard_normal((BLOCK, self.dim)) + 3.0
            self._cache = {number: (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)}
        return self._cache[number]

    def chunk(self, index: int) -> np.ndarray:
        return self.block(index // BLOCK)[index % BLOCK]

    def queries(self, n_chunks: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(target chunk indexes, query vectors)``; cosine to the target 0.6-0.85."""
        rng = np.random.default_rng([self.seed, 10**9])
        targets = np.sort(rng.integers(0, n_chunks, count))
        out = np.empty((count, self.dim), dtype=np.float32)
        for k, target in enumerate(targets):
            v = self.chunk(int(target)).astype(np.float64)
            u = rng.standard_normal(self.dim)
            u -= (u @ v) * v
            u /= np.linalg.norm(u)
            c = rng.uniform(0.6, 0.85)
            out[k] = c * v + np.sqrt(1 - c * c) * u
        return targets, out


def chunk_text(rng: np.random.Generator, pool: list[str], index: int) -> str:
    count = int(rng.integers(1, 4)) if rng.random() < 0.7 else int(rng.integers(8, 21))
    picked = [pool[i] for i in rng.integers(0, len(pool), count)]
    picked.insert(int(rng.integers(0, count + 1)), f"c{index:07d}x")
    return " ".join(picked)


def query_text(rng: np.random.Generator, pool: list[str], chunk: str, k: int) -> str:
    words = [w.strip(".,;:()") for w in chunk.split() if not MARKER_RE.fullmatch(w)]
    picked = " ".join(words[i] for i in sorted(rng.choice(len(words), min(4, len(words)), replace=False)))
    return f"{pool[int(rng.integers(0, len(pool)))]} How do I {picked}? q{k:07d}x"


class LookupEmbedder:
    """``embed_fn``: the vector of the marker in the text (a stable pseudo-random one if none)."""

    __name__ = "scale-lookup"

    def __init__(self, vectors: Vectors, queries: np.ndarray):
        self.vectors, self.query_vectors = vectors, queries

    def __call__(self, text: str) -> np.ndarray:
        # A numpy row, as a model's embed_fn would return: the vectors are given, so
        # converting them to lists and back is not part of what is measured.
        found = MARKER_RE.findall(text)
        if found:
            kind, number = found[0]
            return self.vectors.chunk(int(number)) if kind == "c" else self.query_vectors[int(number)]
        rng = np.random.default_rng(zlib.crc32(text.encode()))  # stable across processes
        vector = rng.standard_normal(self.vectors.dim)
        return (vector / np.linalg.norm(vector)).astype(np.float32)


# ----------------------------------------------------------------------------- build
def build(db: str, n_chunks: int, args, pool: list[str]) -> dict:
    """Fill a library; return ingest and index figures plus the query set for the child."""
    from skillvault import SkillManager
    from skillvault.models import Chunk, Skill

    vectors = Vectors(args.seed, args.dim)
    targets, query_vectors = vectors.queries(n_chunks, args.queries)
    embed = LookupEmbedder(vectors, query_vectors)
    sm = SkillManager(db, embed_fn=embed)
    rng = np.random.default_rng(args.seed)
    texts_of_targets: dict[int, str] = {}
    wanted = set(int(t) for t in targets)
    use_register_many = hasattr(sm, "register_many")
    batch_skills = 2_000
    ingest_seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for first_skill in range(0, -(-n_chunks // CHUNKS_PER_SKILL), batch_skills):
            skills = []
            for s in range(first_skill, min(first_skill + batch_skills, -(-n_chunks // CHUNKS_PER_SKILL))):
                chunks = []
                for j in range(CHUNKS_PER_SKILL):
                    index = s * CHUNKS_PER_SKILL + j
                    if index >= n_chunks:
                        break
                    text = chunk_text(rng, pool, index)
                    if index in wanted:
                        texts_of_targets[index] = text
                    deps = [] if j == 0 else [f"s{s:06d}::p0"]
                    chunks.append(Chunk(id=f"s{s:06d}::p{j}", section=f"Part {j}", content=text, dependencies=deps))
                skills.append(Skill(id=f"s{s:06d}", name=f"Skill {s}", description=chunks[0].content[:120], chunks=chunks))
            vectors.block(first_skill * CHUNKS_PER_SKILL // BLOCK)  # the batch's vectors exist before timing
            start = time.perf_counter()
            if use_register_many:
                sm.register_many(skills)
            else:
                from skillvault.formats.json_format import dump_library

                path = Path(tmp) / "batch.json"
                path.write_text(dump_library(skills), encoding="utf-8")
                sm.import_(path)
            ingest_seconds += time.perf_counter() - start
            print(f"  ingested {min((first_skill + batch_skills) * CHUNKS_PER_SKILL, n_chunks):,} chunks", file=sys.stderr)
        start = time.perf_counter()
        sm.store.rebuild_vector_index(lambda done, total: None)
        index_seconds = time.perf_counter() - start
        kind = sm.store.vector_index_info()["kind"]
    sm.close()
    exact = exact_top10(vectors, query_vectors, n_chunks)
    query_rng = np.random.default_rng([args.seed, 7])
    queries = [query_text(query_rng, pool, texts_of_targets[int(t)], k) for k, t in enumerate(targets)]
    return {
        "ingest_cps": n_chunks / ingest_seconds, "ingest_via": "register_many" if use_register_many else "import_",
        "index_seconds": index_seconds, "kind": kind, "queries": queries,
        "exact": [[f"s{i // CHUNKS_PER_SKILL:06d}::p{i % CHUNKS_PER_SKILL}" for i in row] for row in exact],
    }


def exact_top10(vectors: Vectors, queries: np.ndarray, n_chunks: int) -> list[list[int]]:
    """Exact top-10 chunk indexes per query, streamed block by block."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_index = np.zeros((len(queries), 0), dtype=np.int64)
    for number in range(-(-n_chunks // BLOCK)):
        rows = vectors.block(number)[: n_chunks - number * BLOCK]
        scores = np.concatenate([best_scores, queries @ rows.T], axis=1)
        index = np.concatenate([best_index, np.broadcast_to(np.arange(len(rows)) + number * BLOCK, (len(queries), len(rows)))], axis=1)
        keep = np.argsort(-scores, axis=1, kind="stable")[:, :10]
        best_scores, best_index = np.take_along_axis(scores, keep, 1), np.take_along_axis(index, keep, 1)
    return best_index.tolist()


# ----------------------------------------------------------------------------- child
def child(db: str, spec_path: str) -> None:
    """Open the library in this fresh process and print the query figures as JSON."""
    spec = json.loads(Path(spec_path).read_text())
    vectors = Vectors(spec["seed"], spec["dim"])
    _targets, query_vectors = vectors.queries(spec["n_chunks"], len(spec["queries"]))
    vectors._cache.clear()
    started = time.perf_counter()  # from here: importing skillvault, opening, the first answer
    from skillvault import SkillManager

    sm = SkillManager(db, embed_fn=LookupEmbedder(vectors, query_vectors))
    sm.query(spec["queries"][0], budget=2000)
    first_answer = time.perf_counter() - started
    for text in spec["queries"][1:11]:
        sm.query(text, budget=2000)  # warm-up
    timings = []
    for text in spec["queries"]:
        start = time.perf_counter()
        sm.query(text, budget=2000)
        timings.append((time.perf_counter() - start) * 1000)
    rss = rss_mb()  # before the recall check below reads every chunk id
    recall = []
    for vector, exact_ids in zip(query_vectors, spec["exact"]):
        found = {pk for pk, _ in sm.store.vector_search(vector, 10, ("canonical",))}
        marks = ",".join("?" * len(exact_ids))
        exact_pks = {row[0] for row in sm.store.conn.execute(f"SELECT pk FROM chunks WHERE id IN ({marks})", exact_ids)}
        recall.append(len(found & exact_pks) / 10)
    timings.sort()
    print(json.dumps({
        "p50": statistics.median(timings), "p95": timings[int(0.95 * (len(timings) - 1))],
        "recall": float(np.mean(recall)), "rss_mb": rss, "first_answer": first_answer,
        "kind": sm.store.vector_index_info()["kind"],
    }))
    sm.close()


def rss_mb() -> float:
    """Resident memory of this process in MB (psutil if installed, else /proc)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------------- main
def parse_size(text: str) -> int:
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k", help="comma-separated chunk counts, e.g. 10k,100k,1m")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--ann-min", type=int, help="use the HNSW index from this many chunks (to try it at small sizes)")
    parser.add_argument("--workdir", help="keep the libraries here (default: a temporary folder)")
    parser.add_argument("--child", nargs=2, metavar=("DB", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ann_min is not None:
        from skillvault.store import vector_cache

        vector_cache.ANN_MIN_CHUNKS = args.ann_min
    if args.child:
        child(*args.child)
        return
    pool = sentences()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for size in [parse_size(s) for s in args.sizes.split(",")]:
            print(f"{size:,} chunks: building", file=sys.stderr)
            db = str(workdir / f"scale-{size}.db")
            for leftover in Path(workdir).glob(f"scale-{size}.db*"):
                if leftover.is_file():
                    leftover.unlink()
            built = build(db, size, args, pool)
            spec = workdir / f"scale-{size}.json"
            spec.write_text(json.dumps({"seed": args.seed, "dim": args.dim, "n_chunks": size,
                                        "queries": built["queries"], "exact": built["exact"]}))
            extra = [] if args.ann_min is None else ["--ann-min", str(args.ann_min)]
            result = subprocess.run([sys.executable, __file__, "--child", db, str(spec), *extra], capture_output=True,
                                    text=True, check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            rows.append((size, built, figures))
    print(f"\n{args.dim}-d vectors given (embedder not timed), {args.queries} queries, budget 2000\n")
    print("| chunks | ingest chunks/s (via) | index build s | vector index | query p50 ms | p95 ms | recall@10 | RSS MB | open-to-first-answer s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size, built, f in rows:
        print(f"| {size:,} | {built['ingest_cps']:,.0f} ({built['ingest_via']}) | {built['index_seconds']:.1f} | {f['kind']} | "
              f"{f['p50']:.1f} | {f['p95']:.1f} | {f['recall']:.3f} | {f['rss_mb']:.0f} | {f['first_answer']:.2f} |")


if __name__ == "__main__":
    main()
