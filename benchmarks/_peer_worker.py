"""Worker for ``benchmarks/query_vs_peer.py``: times one skillvault implementation.

Both our skillvault and the published 0.1.3 are importable as ``skillvault``, so each
runs in its own interpreter. The orchestrator starts this file with the right python
and a corpus spec; it builds the synthetic corpus (the same for every implementation,
checked by a fingerprint), registers it, runs the queries and prints one line
``BENCH_JSON {...}`` on stdout. Progress goes to stderr.

Implementations (``--impl``):
    ours            the skillvault importable by this interpreter (our tree)
    peer-installed  skillvault 0.1.3 exactly as installed (on a Python whose stdlib
                    sqlite3 cannot load extensions it silently uses its pure-Python
                    cosine fallback)
    peer-vec        skillvault 0.1.3 with ``skillvault.storage.sqlite3`` swapped for
                    ``sqlean`` so that sqlite-vec loads (checked: ``_has_sqlite_vec``)

Only the standard library and numpy are needed besides skillvault itself; this file
must run unchanged under both interpreters.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
import time
import zlib

import numpy as np

CHUNKS_PER_SKILL = 5
SECTIONS = ["When to use", "Steps", "Example", "Pitfalls", "Checks"]
# Small vocabulary so that lexical search (FTS) has words to match.
VOCAB = (
    "deploy rollback migrate schema index vector query budget token cache retry timeout "
    "backoff queue worker cron shard replica backup restore snapshot vacuum analyze "
    "compress encrypt rotate secret credential audit review approve reject draft canonical "
    "export import parse render template prompt agent tool sandbox container image build "
    "release tag branch merge rebase conflict lint format test fixture mock benchmark profile "
    "latency throughput memory leak trace span metric alert dashboard incident postmortem "
    "runbook oncall paging escalate failover region zone network proxy tls certificate dns "
    "firewall port socket stream batch pipeline etl warehouse partition compaction ingest "
    "webhook callback oauth session cookie header payload json yaml csv pagination cursor "
    "ratelimit quota billing invoice refund ledger reconcile"
).split()
# Chunk bodies: 30-60 words, a quarter drawn from the small common vocabulary above
# (each such word is in ~7% of chunks), the rest from N_KEYWORDS topic keywords
# "kw0000".."kw3999" (each in ~1% of chunks). Queries use two keywords and one common
# word of their target chunk, so an OR of their words matches roughly a tenth of the
# corpus (reported as query_word_match_fraction).
WORDS_MIN, WORDS_MAX = 30, 60
COMMON_SHARE = 0.25
N_KEYWORDS = 4000
QUERY_COS_MIN, QUERY_COS_MAX = 0.95, 0.99
MARKER_RE = re.compile(r"\b([cq])(\d{7})x\b")


def log(msg: str) -> None:
    print(f"[worker] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- corpus


class Corpus:
    """The synthetic corpus: chunk texts and vectors, query texts and vectors.

    Everything is derived from ``numpy.random.default_rng(seed)`` in a fixed order, so
    every worker builds the same corpus; :attr:`fingerprint` lets the orchestrator check.
    Chunk ``i`` carries the unique marker ``c{i:07d}x`` in its content, query ``k`` the
    marker ``q{k:07d}x``; the embedding function maps a text to the vector of the marker
    it contains, whatever context an implementation wraps around the content.
    """

    def __init__(self, n_chunks: int, dim: int, seed: int, n_queries: int):
        rng = np.random.default_rng(seed)
        vecs = rng.standard_normal((n_chunks, dim))
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        self.chunk_vecs = vecs.astype(np.float32)

        lengths = rng.integers(WORDS_MIN, WORDS_MAX + 1, size=n_chunks)
        is_common = rng.random((n_chunks, WORDS_MAX)) < COMMON_SHARE
        common_idx = rng.integers(0, len(VOCAB), size=(n_chunks, WORDS_MAX))
        keyword_idx = rng.integers(0, N_KEYWORDS, size=(n_chunks, WORDS_MAX))
        self.chunk_words: list[list[str]] = []
        self.chunk_texts: list[str] = []
        self.chunk_ids: list[str] = []
        self.chunk_skill: list[int] = []
        for i in range(n_chunks):
            s, j = divmod(i, CHUNKS_PER_SKILL)
            words = [
                VOCAB[common_idx[i, p]] if is_common[i, p] else f"kw{keyword_idx[i, p]:04d}"
                for p in range(lengths[i])
            ]
            self.chunk_words.append(words)
            self.chunk_texts.append(f"Skill {s} part {j} c{i:07d}x: " + " ".join(words) + ".")
            self.chunk_ids.append(f"bench-{s:06d}::p{j}")
            self.chunk_skill.append(s)
        self.n_skills = (n_chunks + CHUNKS_PER_SKILL - 1) // CHUNKS_PER_SKILL

        self.query_targets = rng.integers(0, n_chunks, size=n_queries)
        cosines = rng.uniform(QUERY_COS_MIN, QUERY_COS_MAX, size=n_queries)
        noise = rng.standard_normal((n_queries, dim))
        word_pick = rng.random((n_queries, 3))
        qvecs = np.empty((n_queries, dim), dtype=np.float64)
        self.query_texts: list[str] = []
        for k in range(n_queries):
            t = int(self.query_targets[k])
            v = self.chunk_vecs[t].astype(np.float64)
            u = noise[k] - (noise[k] @ v) * v  # orthogonal to v
            u /= np.linalg.norm(u)
            c = cosines[k]
            q = c * v + np.sqrt(1.0 - c * c) * u
            qvecs[k] = q / np.linalg.norm(q)
            # two keywords and one common word of the target chunk
            kws = [w for w in self.chunk_words[t] if w.startswith("kw")]
            common = [w for w in self.chunk_words[t] if not w.startswith("kw")] or kws
            words = [kws[int(word_pick[k, 0] * len(kws))], common[int(word_pick[k, 1] * len(common))],
                     kws[int(word_pick[k, 2] * len(kws))]]
            self.query_texts.append(f"how do I {' '.join(words)}? q{k:07d}x")
        self.query_vecs = qvecs.astype(np.float32)
        # cosine of each query with its target chunk (>= QUERY_COS_MIN by construction)
        self.query_cos = np.einsum("ij,ij->i", self.query_vecs, self.chunk_vecs[self.query_targets])

        h = hashlib.sha256()
        h.update(self.chunk_vecs.tobytes())
        h.update(self.query_vecs.tobytes())
        h.update("\n".join(self.chunk_texts).encode())
        h.update("\n".join(self.query_texts).encode())
        self.fingerprint = h.hexdigest()[:16]

    def word_match_fraction(self, query_ids) -> float:
        """Mean share of chunks containing at least one word of each given query."""
        index: dict[str, set] = {}
        wanted = set()
        for k in query_ids:
            wanted.update(self.query_texts[k].split("?")[0].split()[3:])
        for i, words in enumerate(self.chunk_words):
            for w in words:
                if w in wanted:
                    index.setdefault(w, set()).add(i)
        fractions = []
        for k in query_ids:
            hit = set()
            for w in self.query_texts[k].split("?")[0].split()[3:]:
                hit |= index.get(w, set())
            fractions.append(len(hit) / len(self.chunk_words))
        return float(np.mean(fractions)) if fractions else 0.0

    def skill_specs(self):
        """Yield ``(skill_id, name, [chunk dicts])`` in registration order."""
        n = len(self.chunk_texts)
        for s in range(self.n_skills):
            sid = f"bench-{s:06d}"
            chunks = []
            first = s * CHUNKS_PER_SKILL
            for i in range(first, min(first + CHUNKS_PER_SKILL, n)):
                j = i - first
                text = self.chunk_texts[i]
                chunks.append(
                    dict(
                        id=self.chunk_ids[i],
                        skill_id=sid,
                        section=SECTIONS[j],
                        content=text,
                        tokens=max(1, len(text) // 4),
                        # every later part needs the first one ("hard dependency")
                        dependencies=[] if j == 0 else [self.chunk_ids[first]],
                    )
                )
            yield sid, f"Bench skill {s}", chunks


class MarkerEmbedder:
    """``embed_fn(text) -> list[float]``: the vector of the marker(s) found in ``text``.

    One chunk marker -> that chunk's vector; one query marker -> that query's vector;
    several markers -> their normalised mean; none -> a deterministic pseudo-random
    unit vector (counted in :attr:`unmatched`, reported by the worker).
    """

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        self.calls = 0
        self.multi = 0
        self.unmatched = 0
        self.unmatched_samples: list[str] = []
        self.__name__ = "MarkerEmbedder"
        self.__qualname__ = "MarkerEmbedder"

    def _vec(self, kind: str, num: str) -> np.ndarray:
        table = self.corpus.chunk_vecs if kind == "c" else self.corpus.query_vecs
        return table[int(num)]

    def __call__(self, text: str) -> list:
        self.calls += 1
        found = MARKER_RE.findall(text)
        if len(found) == 1:
            return self._vec(*found[0]).tolist()
        if found:
            self.multi += 1
            m = np.mean([self._vec(*f) for f in found], axis=0)
            return (m / np.linalg.norm(m)).tolist()
        self.unmatched += 1
        if len(self.unmatched_samples) < 3:
            self.unmatched_samples.append(text[:120])
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        v = rng.standard_normal(self.corpus.chunk_vecs.shape[1])
        return (v / np.linalg.norm(v)).tolist()


# ----------------------------------------------------------------------------- impls


def open_impl(impl: str, db_path: str, embed_fn):
    """Import the implementation and open a SkillManager; return (sm, Skill, Chunk, facts)."""
    facts: dict = {}
    if impl in ("peer-installed", "peer-vec"):
        import skillvault.storage as peer_storage

        if impl == "peer-vec":
            import sqlean

            peer_storage.sqlite3 = sqlean  # the documented workaround: a sqlite3 that loads extensions
            facts["sqlite_module"] = "sqlean"
            facts["sqlite_version"] = sqlean.sqlite_version
        else:
            import sqlite3

            facts["sqlite_module"] = "sqlite3 (stdlib)"
            facts["sqlite_version"] = sqlite3.sqlite_version
            facts["stdlib_can_load_extensions"] = hasattr(sqlite3.Connection, "enable_load_extension")
    from skillvault import SkillManager
    from skillvault.models import Chunk, Skill
    import skillvault

    facts["skillvault_file"] = skillvault.__file__
    facts["skillvault_version"] = getattr(skillvault, "__version__", "?")
    try:
        from importlib.metadata import version

        facts["skillvault_dist_version"] = version("skillvault")
    except Exception:
        pass
    sm = SkillManager(db_path, embed_fn=embed_fn)
    if impl in ("peer-installed", "peer-vec"):
        facts["has_sqlite_vec"] = bool(sm.storage._has_sqlite_vec)
        if facts["has_sqlite_vec"]:
            facts["sqlite_vec_version"] = sm.storage.conn.execute("select vec_version()").fetchone()[0]
        if impl == "peer-vec" and not facts["has_sqlite_vec"]:
            raise SystemExit("peer-vec: sqlite-vec did not load into skillvault 0.1.3 even with sqlean")
    else:
        if "sqlean" in sys.modules:
            facts["sqlite_module"] = "sqlean"
            facts["sqlite_version"] = sys.modules["sqlean"].sqlite_version
        else:
            import sqlite3

            facts["sqlite_module"] = "sqlite3 (stdlib)"
            facts["sqlite_version"] = sqlite3.sqlite_version
        facts["sqlite_vec_loaded"] = "sqlite_vec" in sys.modules
    return sm, Skill, Chunk, facts


def percentile(values, p):
    return float(np.percentile(np.asarray(values, dtype=np.float64), p)) if values else None


def run(args) -> dict:
    first_timed = args.warmup if args.first_timed is None else args.first_timed
    total_q = max(args.corpus_queries or 0, first_timed + args.queries)
    if args.warmup > first_timed:
        raise SystemExit("--warmup must not exceed --first-timed")
    t = time.perf_counter()
    corpus = Corpus(args.n, args.dim, args.seed, total_q)
    log(f"{args.impl}: corpus {args.n} chunks / {corpus.n_skills} skills / {total_q} queries "
        f"built in {time.perf_counter() - t:.1f}s (fingerprint {corpus.fingerprint})")
    embed = MarkerEmbedder(corpus)

    with tempfile.TemporaryDirectory(prefix=f"svbench-{args.impl}-", dir=args.tmpdir) as tmp:
        db_path = os.path.join(tmp, "skills.db")
        t0 = time.perf_counter()
        sm, Skill, Chunk, facts = open_impl(args.impl, db_path, embed)
        open_s = time.perf_counter() - t0

        # Build the Skill objects first: constructing them is not what is measured.
        skills = []
        for sid, name, chunks in corpus.skill_specs():
            skills.append(Skill(id=sid, name=name, chunks=[Chunk(**c) for c in chunks]))

        log(f"{args.impl}: registering {len(skills)} skills ...")
        t0 = time.perf_counter()
        for i, skill in enumerate(skills):
            sm.register(skill)
            if args.progress and (i + 1) % max(1, len(skills) // 10) == 0:
                log(f"{args.impl}:   {i + 1}/{len(skills)} skills, {time.perf_counter() - t0:.1f}s")
        register_s = time.perf_counter() - t0
        embed_calls_register = embed.calls
        log(f"{args.impl}: registered in {register_s:.2f}s ({args.n / register_s:.0f} chunks/s)")

        try:
            stats = sm.stats()
            facts["stats_chunks"] = stats.get("chunks")
        except Exception as exc:  # not essential
            facts["stats_error"] = f"{type(exc).__name__}: {exc}"

        latencies_ms = []
        nonempty = 0
        hits = 0
        answer_chars = []
        first_query_ms = None
        order = list(range(args.warmup)) + list(range(first_timed, first_timed + args.queries))
        for pos, k in enumerate(order):
            text = corpus.query_texts[k]
            t0 = time.perf_counter()
            out = sm.query(text, budget=args.budget)
            dt = (time.perf_counter() - t0) * 1000.0
            if pos == 0:
                first_query_ms = dt
            if pos < args.warmup:
                continue
            latencies_ms.append(dt)
            if out and out.strip():
                nonempty += 1
                answer_chars.append(len(out))
            if f"c{int(corpus.query_targets[k]):07d}x" in (out or ""):
                hits += 1
            if args.progress and len(latencies_ms) % max(1, args.queries // 5) == 0:
                log(f"{args.impl}:   {len(latencies_ms)}/{args.queries} queries")
        try:
            sm.close()
        except Exception:
            pass

    n_q = len(latencies_ms)
    return {
        "impl": args.impl,
        "n_chunks": args.n,
        "n_skills": corpus.n_skills,
        "dim": args.dim,
        "seed": args.seed,
        "budget": args.budget,
        "fingerprint": corpus.fingerprint,
        "open_s": open_s,
        "register_s": register_s,
        "register_chunks_per_s": args.n / register_s,
        "warmup_queries": args.warmup,
        "timed_queries": n_q,
        "first_query_ms": first_query_ms,
        "query_p50_ms": percentile(latencies_ms, 50),
        "query_p95_ms": percentile(latencies_ms, 95),
        "query_mean_ms": float(np.mean(latencies_ms)) if latencies_ms else None,
        "query_max_ms": max(latencies_ms) if latencies_ms else None,
        "nonempty_fraction": nonempty / n_q if n_q else None,
        "target_hit_fraction": hits / n_q if n_q else None,
        "mean_answer_chars": float(np.mean(answer_chars)) if answer_chars else 0.0,
        "first_timed_query": first_timed,
        "corpus_queries": total_q,
        "query_cos_min": float(corpus.query_cos[order].min()),
        "query_word_match_fraction": corpus.word_match_fraction(order[args.warmup:]),
        "embed_calls_register": embed_calls_register,
        "embed_calls_total": embed.calls,
        "embed_multi_marker": embed.multi,
        "embed_unmatched": embed.unmatched,
        "embed_unmatched_samples": embed.unmatched_samples,
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "numpy": np.__version__,
        "platform": platform.platform(),
        **facts,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--impl", required=True, choices=["ours", "peer-installed", "peer-vec"])
    p.add_argument("--n", type=int, required=True, help="number of chunks")
    p.add_argument("--dim", type=int, default=1536)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--queries", type=int, default=200, help="timed queries")
    p.add_argument("--warmup", type=int, default=10, help="untimed warm-up queries before them")
    p.add_argument("--first-timed", type=int, default=None,
                   help="index of the first timed query (default: --warmup)")
    p.add_argument("--corpus-queries", type=int, default=None,
                   help="queries in the corpus spec (part of the fingerprint); default warm-up + timed")
    p.add_argument("--budget", type=int, default=2000)
    p.add_argument("--tmpdir", default=None, help="where the temporary DB directory goes")
    p.add_argument("--progress", action="store_true", help="log progress to stderr")
    args = p.parse_args(argv)
    result = run(args)
    print("BENCH_JSON " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
