"""Approximate vector search for large libraries: usearch HNSW graphs, one per status.

Why one graph per skill status: usearch's Python API has no filtered search, and a
filter applied after top-k loses hits (a query over canonical chunks must not return
fewer than ``k`` because archived ones ranked high). With one graph per status, the
graphs of the wanted statuses are searched and merged, so the filter applies before
top-k. Drafts are never indexed (their vectors live in ``draft_vectors``).

Vectors are stored as bfloat16, half the memory of float32: on MiniLM-like vectors
int8 capped recall@10 at ~0.92 against exact search; float16 reached ~0.998 and
bfloat16 ~0.996 (100k x 384-d clustered vectors), and bfloat16 searches faster on CPUs
with AVX-512 BF16 (a 20k x 1536-d query: p50 4.7-5.1 ms with float16, 4.0-4.2 with
bfloat16, the same answers). Scores are ``1 - cosine distance`` of the bfloat16 copies
(within ~4e-4 of exact, measured). A graph saved with another dtype is stale: it is
rebuilt once.
"""

from __future__ import annotations

import os

import numpy as np

from ..models import STATUSES, Status

DTYPE = "bf16"
CONNECTIVITY = 16
EXPANSION_ADD = 64
#: Search breadth; usearch widens it to ``k`` for deeper searches.
EXPANSION_SEARCH = 128
INDEXED_STATUSES = tuple(status for status in STATUSES if status != Status.DRAFT)


def _usearch_index():
    """Return usearch's ``Index`` class, imported on first use."""
    # Importing onnxruntime (the local embedder) after usearch's compiled module kills
    # the process with a segfault (usearch 2.26, onnxruntime 1.32, this machine); the
    # other order works. So onnxruntime goes first, and usearch loads only when a
    # library is large enough to need it.
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        pass
    from usearch.index import Index

    return Index


class AnnIndex:
    """HNSW graphs of unit chunk vectors, one per non-draft skill status.

    Args:
        dim: vector width.
    """

    approximate = True

    def __init__(self, dim: int):
        self.dim = dim
        self._graphs = {status: self._new_graph() for status in INDEXED_STATUSES}

    def _new_graph(self):
        return _usearch_index()(
            ndim=self.dim, metric="cos", dtype=DTYPE, connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH,
        )

    def __len__(self) -> int:
        return sum(len(graph) for graph in self._graphs.values())

    def contents(self) -> dict[str, set[int]]:
        """Return the chunk keys held per status (for checks against the database)."""
        return {status: {int(key) for key in graph.keys} for status, graph in self._graphs.items()}

    # ------------------------------------------------------------------ changes
    def add_many(self, pks: np.ndarray, vectors: np.ndarray, statuses: list[str]) -> None:
        """Add chunks (their keys must not be indexed already; see :meth:`remove`)."""
        statuses_array = np.asarray(statuses)
        pks = np.asarray(pks, dtype=np.uint64)
        for status, graph in self._graphs.items():
            rows = np.flatnonzero(statuses_array == status)
            if len(rows):
                graph.add(pks[rows], np.ascontiguousarray(vectors[rows], dtype=np.float32))

    def remove(self, pks: list[int]) -> None:
        """Drop these chunks from every graph (unknown keys are ignored)."""
        if not len(pks):
            return
        keys = np.asarray(pks, dtype=np.uint64)
        for graph in self._graphs.values():
            present = keys[np.asarray(graph.contains(keys), dtype=bool)] if len(graph) else keys[:0]
            if len(present):
                graph.remove(present)

    # ------------------------------------------------------------------ search
    def top_k(self, query: np.ndarray, k: int, statuses: tuple[str, ...]) -> list[tuple[int, float]]:
        """Return up to ``k`` ``(chunk pk, cosine similarity)`` pairs of chunks in ``statuses``, best first."""
        if k <= 0:
            return []
        hits: list[tuple[int, float]] = []
        for status in statuses:
            graph = self._graphs.get(status)
            if graph is None or not len(graph):
                continue
            found = graph.search(np.asarray(query, dtype=np.float32), min(k, len(graph)))
            hits.extend(zip(found.keys.tolist(), (1.0 - found.distances.astype(np.float64)).tolist()))
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return [(int(pk), float(score)) for pk, score in hits[:k]]

    def scores_for(self, query: np.ndarray, pks: list[int]) -> dict[int, float]:
        """Return the cosine similarity of ``query`` to each of these chunks (if indexed)."""
        scores: dict[int, float] = {}
        keys = np.asarray(pks, dtype=np.uint64)
        for graph in self._graphs.values():
            if not len(graph) or not len(keys):
                continue
            present = keys[np.asarray(graph.contains(keys), dtype=bool)]
            if len(present):
                vectors = np.asarray(graph.get(present), dtype=np.float32).reshape(len(present), self.dim)
                vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
                scores.update(zip(present.tolist(), (vectors @ query).tolist()))
        return {int(pk): float(score) for pk, score in scores.items()}

    # ------------------------------------------------------------------ files
    def save(self, folder: str, tag: str) -> dict[str, dict]:
        """Write each graph to ``folder/<status>-<tag>.usearch``.

        Returns:
            ``{status: {"name": file name, "size": bytes}}`` for the stamp.
        """
        files = {}
        for status, graph in self._graphs.items():
            name = f"{status}-{tag}.usearch"
            path = os.path.join(folder, name)
            graph.save(path)
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
            files[status] = {"name": name, "size": os.path.getsize(path)}
        return files

    @classmethod
    def load(cls, folder: str, dim: int, files: dict[str, dict]) -> "AnnIndex":
        """Read the graphs listed in a stamp back into memory.

        Raises:
            OSError / RuntimeError / ValueError: a file is missing, truncated or unreadable.
        """
        index = cls(dim)
        for status in INDEXED_STATUSES:
            entry = files[status]
            path = os.path.join(folder, entry["name"])
            if os.path.getsize(path) != entry["size"]:
                raise ValueError(f"{path} has {os.path.getsize(path)} bytes, its stamp says {entry['size']}")
            graph = index._graphs[status]
            graph.load(path)
            if graph.ndim != dim:
                raise ValueError(f"{path} holds {graph.ndim}-d vectors, the library {dim}-d")
            graph.expansion_search = EXPANSION_SEARCH
        return index
