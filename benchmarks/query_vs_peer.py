#!/usr/bin/env python
"""Compare our skillvault with the published skillvault 0.1.3 on one synthetic corpus.

Both packages are called ``skillvault``, so each side runs in its own interpreter:

* ours: this interpreter (``sys.executable``) with ``<repo>/src`` put first on
  ``PYTHONPATH``, so the working tree is what gets measured;
* 0.1.3: the python of ``benchmarks/.peer-venv`` (created on first use with
  ``pip install skillvault==0.1.3 sqlite-vec sqlean.py numpy``; gitignored).

The worker (``benchmarks/_peer_worker.py``) builds the corpus from the spec (chunk
count, dimension, seed, query count): unit-norm random vectors from
``numpy.random.default_rng(seed)``, skills of 5 chunks with ``tokens`` set and a hard
dependency of parts 1-4 on part 0, chunk texts made of words from a small vocabulary
(so FTS has something to match) and a unique marker such as ``c0000123x``. The
``embed_fn`` given to both SkillManagers maps any text containing a marker to that
marker's vector, so no embedding model is timed — only store, index and assembly, and
each side may wrap the content in whatever context it likes. Each query vector is a
chunk vector tilted by a random orthogonal direction to cosine 0.95-0.99 (L2 distance
<= 0.32, inside 0.1.3's 0.4 cut-off); the query text carries its own marker and three
words of the target chunk. Both sides are checked to build the same corpus (fingerprint).

0.1.3 is measured two ways:

* "as installed": if this Python's stdlib sqlite3 cannot load extensions (as here),
  0.1.3 silently uses a pure-Python cosine scan over every stored vector, which is
  slow, so only ``--installed-queries`` queries (default 20) are timed in that mode;
* "+ sqlite-vec": ``skillvault.storage.sqlite3`` is replaced with ``sqlean`` before the
  SkillManager is built, so its ``enable_load_extension`` + ``sqlite_vec.load`` succeed;
  the worker checks ``storage._has_sqlite_vec`` is True.

Measured per (size, implementation): register throughput through the public API
(``sm.register(Skill(...))`` for every skill, chunks/s), query latency p50/p95 of
``sm.query(text, budget=2000)`` after warm-up queries, the fraction of non-empty answers
and the fraction whose answer contains the query's target chunk.

Usage::

    python benchmarks/query_vs_peer.py                       # 2k and 20k chunks, 200 queries
    python benchmarks/query_vs_peer.py --sizes 2000 --queries 50
    python benchmarks/query_vs_peer.py --json > figures.json
    python benchmarks/query_vs_peer.py --peer-only           # only 0.1.3 (both modes)
    python benchmarks/query_vs_peer.py --sizes 20000 --no-installed --rounds 3
                                                             # alternate 3 times, show the median

On a shared machine one run can land in a slow spell; ``--rounds`` alternates the
implementations and prints every round's ratios, so a figure is not one lucky run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SRC = REPO / "src"
WORKER = HERE / "_peer_worker.py"
DEFAULT_PEER_VENV = HERE / ".peer-venv"
PEER_VERSION = "0.1.3"
PEER_REQUIREMENTS = [f"skillvault=={PEER_VERSION}", "sqlite-vec", "sqlean.py", "numpy"]

LABELS = {
    "ours": "ours",
    "peer-vec": "0.1.3 + sqlite-vec (sqlean)",
    "peer-installed": "0.1.3 as installed",
}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- setup


def venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def peer_env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # never let our src/ shadow the published package
    return env


def ours_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def ensure_peer_venv(venv: Path) -> Path:
    """Create ``venv`` with skillvault==0.1.3 (+ sqlite-vec, sqlean.py, numpy) if needed."""
    py = venv_python(venv)
    if not py.exists():
        log(f"creating {venv} ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    check = (
        "import importlib.metadata as m, sqlean, sqlite_vec, numpy, skillvault.storage;"
        "print(m.version('skillvault'))"
    )
    r = subprocess.run([str(py), "-c", check], capture_output=True, text=True, env=peer_env())
    if r.returncode != 0 or r.stdout.strip() != PEER_VERSION:
        log(f"installing {' '.join(PEER_REQUIREMENTS)} into {venv} ...")
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PEER_REQUIREMENTS], check=True, env=peer_env())
        r = subprocess.run([str(py), "-c", check], capture_output=True, text=True, env=peer_env())
        if r.returncode != 0 or r.stdout.strip() != PEER_VERSION:
            raise SystemExit(f"peer venv {venv} is not usable:\n{r.stdout}{r.stderr}")
    return py


def check_ours_importable() -> None:
    code = "from skillvault import SkillManager; from skillvault.models import Skill, Chunk"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ours_env())
    if r.returncode != 0:
        tail = "\n".join(r.stderr.strip().splitlines()[-5:])
        raise SystemExit(
            f"our skillvault is not importable with {sys.executable} and PYTHONPATH={SRC}:\n{tail}\n"
            "(install the project's dependencies into this interpreter, or run with --peer-only)"
        )


def run_worker(python: str, impl: str, env: dict, args, n: int) -> dict:
    installed = impl == "peer-installed"
    warmup = args.installed_warmup if installed else args.warmup
    queries = min(args.queries, args.installed_queries) if installed else args.queries
    cmd = [
        str(python), str(WORKER), "--impl", impl, "--n", str(n), "--dim", str(args.dim),
        "--seed", str(args.seed), "--budget", str(args.budget),
        "--warmup", str(warmup), "--queries", str(queries),
        "--first-timed", str(args.warmup), "--corpus-queries", str(args.warmup + args.queries),
    ]
    if args.tmpdir:
        cmd += ["--tmpdir", args.tmpdir]
    if args.progress:
        cmd.append("--progress")
    log(f"{LABELS[impl]} @ {n} chunks: {warmup} warm-up + {queries} timed queries")
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    if r.returncode != 0 or not lines:
        raise SystemExit(f"worker {impl} at {n} chunks failed (exit {r.returncode}); stdout:\n{r.stdout[-2000:]}")
    result = json.loads(lines[-1][len("BENCH_JSON "):])
    result["label"] = LABELS[impl]
    if installed:
        result["label"] += " (sqlite-vec)" if result.get("has_sqlite_vec") else " (Python cosine fallback)"
    result["wall_s"] = time.perf_counter() - t0
    return result


# ----------------------------------------------------------------------------- report


def fmt_ms(v) -> str:
    if v is None:
        return "-"
    if v < 10:
        return f"{v:.2f}"
    if v < 100:
        return f"{v:.1f}"
    return f"{v:,.0f}"


def fmt_ratio(v) -> str:
    if v is None:
        return "-"
    if v < 10:
        return f"{v:.2f}×"
    return f"{v:,.0f}×" if v >= 100 else f"{v:.1f}×"


def fmt_frac(v) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def speedups(ours: dict, peer: dict | None) -> dict | None:
    """Factors > 1 mean ours is faster: register chunks/s ratio, query latency ratios."""
    if not ours or not peer:
        return None

    def div(a, b):
        return a / b if a and b else None

    return {
        "register": div(ours["register_chunks_per_s"], peer["register_chunks_per_s"]),
        "p50": div(peer["query_p50_ms"], ours["query_p50_ms"]),
        "p95": div(peer["query_p95_ms"], ours["query_p95_ms"]),
    }


def round_speedups(results: list[dict], n: int) -> dict[int, dict]:
    """Ours vs 0.1.3 + sqlite-vec in each round at ``n`` chunks: ``{round: speedups}``."""
    found = {}
    for number in sorted({r.get("round", 1) for r in results if r["n_chunks"] == n}):
        by = {r["impl"]: r for r in results if r["n_chunks"] == n and r.get("round", 1) == number}
        ratios = speedups(by.get("ours"), by.get("peer-vec"))
        if ratios and ratios["p50"]:
            found[number] = ratios
    return found


def median_round(results: list[dict], n: int) -> list[dict]:
    """The results at ``n`` chunks of the round whose query p50 ratio is the median (the
    lower middle one for an even count; the first round when there is no ratio)."""
    rounds = round_speedups(results, n)
    if rounds:
        ordered = sorted(rounds, key=lambda number: rounds[number]["p50"])
        chosen = ordered[(len(ordered) - 1) // 2]
    else:
        chosen = min(r.get("round", 1) for r in results if r["n_chunks"] == n)
    return [r for r in results if r["n_chunks"] == n and r.get("round", 1) == chosen]


def fmt_speedups(s: dict | None) -> str:
    if not s:
        return ""
    return " / ".join(fmt_ratio(s[k]) for k in ("register", "p50", "p95"))


def db_dir_facts(tmpdir: str | None) -> dict:
    """Where the temporary databases live and on what filesystem (fsync cost drives register)."""
    import tempfile

    path = os.path.realpath(tmpdir or tempfile.gettempdir())
    fs = None
    try:
        best = ""
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            mnt = parts[1]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, fs = mnt, f"{parts[2]} on {parts[0]} mounted at {mnt}"
    except OSError:
        pass
    return {"db_dir": path, "db_dir_fs": fs}


def machine_facts(results: list[dict], tmpdir: str | None = None) -> dict:
    facts = {
        **db_dir_facts(tmpdir),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": None,
        "platform": platform.platform(),
        "orchestrator_python": sys.version.split()[0],
        "stdlib_sqlite": sqlite3.sqlite_version,
        "stdlib_sqlite_can_load_extensions": hasattr(sqlite3.Connection, "enable_load_extension"),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    for impl in ("ours", "peer-vec", "peer-installed"):
        r = next((x for x in results if x["impl"] == impl), None)
        if r:
            facts[impl] = {
                k: r.get(k)
                for k in ("python", "python_executable", "numpy", "sqlite_module", "sqlite_version",
                          "sqlite_vec_version", "has_sqlite_vec", "skillvault_file",
                          "skillvault_version", "skillvault_dist_version")
                if r.get(k) is not None
            }
    return facts


def render(results: list[dict], facts: dict, args) -> str:
    out = []
    out.append("## skillvault: ours vs published 0.1.3")
    out.append("")
    out.append(f"Machine: {facts['cpu_count']} CPUs"
               + (f" ({facts['cpu_affinity']} usable)" if facts.get("cpu_affinity") not in (None, facts["cpu_count"]) else "")
               + (f", {facts['cpu_model']}" if facts.get("cpu_model") else "")
               + f"; {facts['platform']}")
    out.append(f"Python {facts['orchestrator_python']}; stdlib SQLite {facts['stdlib_sqlite']} "
               f"(loads extensions: {'yes' if facts['stdlib_sqlite_can_load_extensions'] else 'no'})")
    if facts.get("db_dir"):
        out.append(f"Databases in {facts['db_dir']}" + (f" ({facts['db_dir_fs']})" if facts.get("db_dir_fs") else ""))
    for impl in ("ours", "peer-vec", "peer-installed"):
        f = facts.get(impl)
        if not f:
            continue
        bits = [f"Python {f.get('python')}", f"numpy {f.get('numpy')}",
                f"{f.get('sqlite_module')} {f.get('sqlite_version')}"]
        if f.get("sqlite_vec_version"):
            bits.append(f"sqlite-vec {f['sqlite_vec_version']}")
        if impl != "ours":
            bits.append(f"skillvault {f.get('skillvault_dist_version')}, _has_sqlite_vec={f.get('has_sqlite_vec')}")
        else:
            bits.append(f"skillvault {f.get('skillvault_dist_version') or f.get('skillvault_version')} "
                        f"from {f.get('skillvault_file')}")
        out.append(f"- {LABELS[impl]}: " + ", ".join(bits))
    out.append("")
    match = {r["n_chunks"]: r.get("query_word_match_fraction") for r in results
             if r.get("query_word_match_fraction") is not None}
    out.append(f"Corpus: {args.dim}-d unit random vectors (seed {args.seed}); skills of 5 chunks, parts 1-4 "
               f"depending on part 0; chunk text = 30-60 words (1/4 from a 140-word common vocabulary, 3/4 "
               f"from 4,000 keywords); each query = a chunk's vector turned to cosine 0.95-0.99 + two "
               f"keywords and one common word of that chunk"
               + (" (an OR of its words matches "
                  + ", ".join(f"{100 * f:.0f}% of chunks at {n:,}" for n, f in sorted(match.items())) + ")"
                  if match else "")
               + f"; `query(text, budget={args.budget})`; embed_fn is a dict lookup, not a model.")
    out.append("")
    header = ["chunks", "implementation", "register chunks/s", "query p50 ms", "p95 ms", "timed q",
              "non-empty", "target hit", "answer chars", "ours × vs 0.1.3+vec (reg/p50/p95)",
              "ours × vs 0.1.3 as installed (reg/p50/p95)"]
    rows = []
    for n in sorted({r["n_chunks"] for r in results}):
        by = {r["impl"]: r for r in median_round(results, n)}
        for impl in ("ours", "peer-vec", "peer-installed"):
            r = by.get(impl)
            if not r:
                continue
            vs_vec = vs_inst = ""
            if impl == "ours":
                vs_vec = fmt_speedups(speedups(r, by.get("peer-vec")))
                vs_inst = fmt_speedups(speedups(r, by.get("peer-installed")))
            rows.append([f"{n:,}", r["label"], f"{r['register_chunks_per_s']:,.0f}",
                         fmt_ms(r["query_p50_ms"]), fmt_ms(r["query_p95_ms"]), str(r["timed_queries"]),
                         fmt_frac(r["nonempty_fraction"]), fmt_frac(r["target_hit_fraction"]),
                         f"{r['mean_answer_chars']:,.0f}",
                         vs_vec, vs_inst])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    right = {0, 2, 3, 4, 5, 6, 7, 8}

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                  for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    out.append(line(header))
    out.append("|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2))
                              for i, w in enumerate(widths)) + "|")
    out.extend(line(r) for r in rows)
    out.append("")
    for n in sorted({r["n_chunks"] for r in results}):
        rounds = round_speedups(results, n)
        if len(rounds) > 1:
            shown = median_round(results, n)[0].get("round")
            out.append(f"{n:,} chunks, {len(rounds)} rounds alternating the implementations; ours vs 0.1.3 + "
                       "sqlite-vec (register / p50 / p95) per round: "
                       + "; ".join(f"{number}: {fmt_speedups(ratios)}" for number, ratios in rounds.items())
                       + f" (the table shows round {shown}, the median p50 ratio"
                       + (", the lower of the middle two)." if len(rounds) % 2 == 0 else ")."))
    out.append("Register throughput depends on the disk (0.1.3 commits and fsyncs once per chunk); "
               "`--tmpdir /dev/shm` takes the disk out.")
    out.append("Ratios are speed-ups of ours (> 1 = ours faster): register = our chunks/s ÷ theirs, "
               "p50/p95 = their latency ÷ ours.")
    if any(r["impl"] == "peer-installed" for r in results):
        out.append(f"'0.1.3 as installed' times only {min(args.queries, args.installed_queries)} queries "
                   f"(after {args.installed_warmup} warm-up) because its fallback scans every vector in "
                   f"Python; the other rows time {args.queries} after {args.warmup} warm-up.")
    out.append("'non-empty' = share of timed queries with a non-empty answer; 'target hit' = share whose "
               "answer contains the chunk the query was made from; 'answer chars' = mean length of the "
               "non-empty answers (how much context each side assembles within the budget).")
    for n in sorted({r["n_chunks"] for r in results}):
        prints = {r["fingerprint"] for r in results if r["n_chunks"] == n}
        if len(prints) != 1:
            out.append(f"WARNING: at {n} chunks the workers built different corpora (fingerprints {sorted(prints)}); "
                       "the numpy versions differ — ratios are not like for like.")
    notes = []
    for r in results:
        if r.get("embed_unmatched") or r.get("embed_multi_marker"):
            sample = "; ".join(repr(t) for t in r.get("embed_unmatched_samples") or [])
            notes.append(f"Note: {r['label']} @ {r['n_chunks']:,}: {r['embed_unmatched']} embed calls carried no marker "
                       f"(answered with a text-hash random vector), {r['embed_multi_marker']} carried several "
                       f"(their mean)" + (f"; e.g. {sample}" if sample else "") + ".")
    out.extend(dict.fromkeys(notes))  # once each: every round repeats them
    return "\n".join(out)


# ----------------------------------------------------------------------------- main


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="2000,20000", help="comma-separated chunk counts (default 2000,20000)")
    p.add_argument("--queries", type=int, default=200, help="timed queries per run (default 200)")
    p.add_argument("--warmup", type=int, default=10, help="warm-up queries before timing (default 10)")
    p.add_argument("--installed-queries", type=int, default=20,
                   help="cap on timed queries for '0.1.3 as installed' (slow Python fallback; default 20)")
    p.add_argument("--installed-warmup", type=int, default=2, help="warm-up queries for that mode (default 2)")
    p.add_argument("--no-installed", action="store_true", help="skip the '0.1.3 as installed' mode")
    p.add_argument("--rounds", type=int, default=1,
                   help="run every implementation this many times per size, alternating; the table shows "
                        "the round with the median query ratio and lists every round's ratios (default 1)")
    p.add_argument("--dim", type=int, default=1536)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", type=int, default=2000)
    side = p.add_mutually_exclusive_group()
    side.add_argument("--ours-only", action="store_true", help="only run our skillvault")
    side.add_argument("--peer-only", action="store_true", help="only run skillvault 0.1.3 (both modes)")
    p.add_argument("--peer-venv", type=Path, default=DEFAULT_PEER_VENV,
                   help=f"venv for skillvault {PEER_VERSION} (default benchmarks/.peer-venv)")
    p.add_argument("--tmpdir", default=None, help="directory for the temporary databases (default: system temp)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the table")
    p.add_argument("--progress", action="store_true", help="workers log progress to stderr")
    p.add_argument("--render", type=Path, metavar="FILE",
                   help="print the table for a saved --json output instead of running anything")
    args = p.parse_args(argv)
    if args.render:
        saved = json.loads(args.render.read_text())
        print(render(saved["results"], saved["machine"], argparse.Namespace(**saved["spec"])))
        return 0
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.installed_warmup > args.warmup:
        p.error("--installed-warmup must not exceed --warmup")
    if args.rounds < 1:
        p.error("--rounds must be at least 1")

    impls = []
    if not args.peer_only:
        check_ours_importable()
        impls.append(("ours", sys.executable, ours_env()))
    if not args.ours_only:
        peer_py = ensure_peer_venv(args.peer_venv)
        impls.append(("peer-vec", str(peer_py), peer_env()))
        if not args.no_installed:
            impls.append(("peer-installed", str(peer_py), peer_env()))

    results = []
    for n in sizes:
        for round_number in range(1, args.rounds + 1):  # alternating: a slow spell of the machine hits both
            for impl, python, env in impls:
                results.append({**run_worker(python, impl, env, args, n), "round": round_number})
    facts = machine_facts(results, args.tmpdir)

    if args.json:
        summary = {}
        for n in sizes:
            by = {r["impl"]: r for r in median_round(results, n)}
            summary[str(n)] = {
                "ours_vs_peer_vec": speedups(by.get("ours"), by.get("peer-vec")),
                "ours_vs_peer_installed": speedups(by.get("ours"), by.get("peer-installed")),
            }
        spec = {k: getattr(args, k) for k in ("queries", "warmup", "installed_queries", "installed_warmup",
                                               "dim", "seed", "budget", "rounds")}
        spec["sizes"] = sizes
        print(json.dumps({"machine": facts, "spec": spec, "results": results, "speedups": summary}, indent=2))
    else:
        print(render(results, facts, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
