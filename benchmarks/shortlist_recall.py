#!/usr/bin/env python
"""Recall of the sign-bit shortlist against exact search, on real embeddings.

Above ``EXACT_MAX_FLOATS`` matrix entries the vector search first picks candidates by
Hamming distance on sign bits of mean-centred vectors, then re-scores them exactly (see
``skillvault/store/vector_index.py``). This script measures how many of the exact top-k
that shortlist keeps, using the local embedder (all-MiniLM-L6-v2) on docstrings of the
Python standard library (real, varied technical text; nothing is downloaded), with
queries that are other docstring paragraphs. It forces the shortlist on a small corpus,
so it runs in a couple of minutes.

Usage::

    python benchmarks/shortlist_recall.py [--texts 3000] [--queries 200] [--k 10]
"""

from __future__ import annotations

import argparse
import inspect
import random
import time
import warnings

import numpy as np


# Modules whose import has no side effects (never iterate all modules: importing
# `antigravity` opens a browser, `this` prints a poem).
MODULES = """json os re collections itertools functools pathlib subprocess asyncio typing logging
datetime sqlite3 http.client urllib.request email csv argparse unittest threading multiprocessing
socket ssl hashlib decimal fractions statistics textwrap string shutil tarfile zipfile
xml.etree.ElementTree dataclasses enum inspect ast dis pickle copy heapq bisect random math time
calendar locale gettext io codecs struct array queue sched selectors signal tempfile glob fnmatch
configparser difflib pprint contextlib abc numbers operator weakref gc traceback warnings doctest
pdb timeit cProfile trace zipapp importlib pkgutil sysconfig platform uuid ipaddress smtplib
imaplib ftplib poplib http.server http.cookies xmlrpc.client wsgiref.simple_server html.parser
mimetypes base64 binascii quopri secrets hmac shlex cmd concurrent.futures asyncio.streams
email.message logging.handlers unittest.mock collections.abc""".split()


def docstring_paragraphs(limit: int, seed: int) -> list[str]:
    """Collect distinct paragraphs (40-600 chars) of stdlib docstrings, shuffled."""
    import importlib

    seen: set[str] = set()
    paragraphs: list[str] = []
    for name in MODULES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module(name)
        objects = [module] + [obj for _attr, obj in inspect.getmembers(module) if callable(obj)]
        objects += [member for obj in objects if inspect.isclass(obj) for _a, member in inspect.getmembers(obj)
                    if callable(member)]
        for obj in objects:
            for paragraph in (inspect.getdoc(obj) or "").split("\n\n"):
                text = " ".join(paragraph.split())
                if 40 <= len(text) <= 600 and text not in seen:
                    seen.add(text)
                    paragraphs.append(text)
    random.Random(seed).shuffle(paragraphs)
    if len(paragraphs) < limit:
        raise SystemExit(f"only {len(paragraphs)} paragraphs found; ask for fewer --texts")
    return paragraphs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from skillvault.embed.base import embed_checked
    from skillvault.embed.local import LocalEmbedder
    from skillvault.store import vector_index
    from skillvault.store.vector_index import VectorMatrix, status_codes

    texts = docstring_paragraphs(args.texts + args.queries, args.seed)[: args.texts + args.queries]
    corpus, queries = texts[: args.texts], texts[args.texts :]
    embedder = LocalEmbedder()
    started = time.perf_counter()
    vectors = np.concatenate([embed_checked(embedder, corpus[i : i + 64]) for i in range(0, len(corpus), 64)])
    query_vectors = embed_checked(embedder, queries)
    print(f"embedded {len(corpus)} paragraphs + {len(queries)} queries in {time.perf_counter() - started:.0f} s "
          f"({vectors.shape[1]}-d, {embedder.name})")

    matrix = VectorMatrix(np.arange(1, len(corpus) + 1), vectors, status_codes(["canonical"] * len(corpus)))
    exact = [[pk for pk, _ in matrix.top_k(q, args.k, ("canonical",))] for q in query_vectors]
    print(f"corpus {len(corpus)}, k={args.k}; recall = share of the exact top-k the shortlist search returns")
    print("| shortlist size | share of corpus | recall@k | top-1 kept |")
    print("|---:|---:|---:|---:|")
    vector_index.EXACT_MAX_FLOATS = 0  # force the shortlist path
    for shortlist in (50, 100, 200, 500):
        vector_index.MIN_CANDIDATES = shortlist
        vector_index.OVERSAMPLE = 0
        approx = [[pk for pk, _ in matrix.top_k(q, args.k, ("canonical",))] for q in query_vectors]
        recall = np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)])
        top1 = np.mean([a[0] == e[0] for a, e in zip(approx, exact)])
        print(f"| {shortlist} | {shortlist / len(corpus):.1%} | {recall:.3f} | {top1:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
