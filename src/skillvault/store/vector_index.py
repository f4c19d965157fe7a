"""An in-memory float32 matrix of chunk vectors, searched exactly.

Why not query ``vec0`` directly: a brute-force ``vec0`` KNN over 20k x 1536-d vectors
takes ~44 ms on a 2-core machine, a float32 matrix-vector product ~3-4 ms. So the
vectors are read once from SQLite (the source of truth) into one matrix, kept in step
with the database by :mod:`skillvault.store.vector_cache`. This exact search is the
reference; larger libraries (:func:`~skillvault.store.vector_cache.uses_ann`) use the
HNSW graphs of :mod:`skillvault.store.ann_index` instead.
"""

from __future__ import annotations


import numpy as np

from ..models import STATUSES

_STATUS_CODE = {status: code for code, status in enumerate(STATUSES)}
DEAD = -1  # status code of a removed row
_COMPACT_WHEN_DEAD = 0.25


def status_codes(statuses: list[str] | tuple[str, ...]) -> np.ndarray:
    """Encode skill statuses as small integers (the matrix keeps codes, not strings)."""
    return np.array([_STATUS_CODE[status] for status in statuses], dtype=np.int8)


class VectorMatrix:
    """Unit-length chunk vectors with their chunk keys and skill statuses.

    Args:
        pks: chunk primary keys, shape (n,).
        vectors: float32 rows of unit length, shape (n, dim).
        codes: status codes (:func:`status_codes`) of the chunks' skills, shape (n,).
    """

    approximate = False

    def __init__(self, pks: np.ndarray, vectors: np.ndarray, codes: np.ndarray):
        self.dim = vectors.shape[1]
        self._size = len(pks)
        self._pks = np.array(pks, dtype=np.int64)
        self._vectors = np.array(vectors, dtype=np.float32)
        self._codes = np.array(codes, dtype=np.int8)
        self._row_of = {int(pk): row for row, pk in enumerate(self._pks)}

    @classmethod
    def empty(cls, dim: int) -> "VectorMatrix":
        """Return a matrix with no rows."""
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32), np.zeros(0, dtype=np.int8))

    def __len__(self) -> int:
        return len(self._row_of)

    # ------------------------------------------------------------------ changes
    def add(self, pk: int, vector: np.ndarray, status: str) -> None:
        """Add (or replace) a chunk's row."""
        self.remove([pk])
        if self._size == len(self._pks):
            self._grow()
        row = self._size
        self._pks[row] = pk
        self._vectors[row] = vector
        self._codes[row] = _STATUS_CODE[status]
        self._row_of[int(pk)] = row
        self._size += 1

    def add_many(self, pks: np.ndarray, vectors: np.ndarray, statuses: list[str]) -> None:
        """Add (or replace) many chunks' rows."""
        for pk, vector, status in zip(pks, vectors, statuses):
            self.add(int(pk), vector, status)

    def remove(self, pks: list[int]) -> None:
        """Drop the rows of these chunks (unknown keys are ignored)."""
        for pk in pks:
            row = self._row_of.pop(int(pk), None)
            if row is not None:
                self._codes[row] = DEAD
        if self._size and (self._size - len(self._row_of)) / self._size > _COMPACT_WHEN_DEAD:
            self._compact()

    def set_status(self, pks: list[int], status: str) -> None:
        """Record a new skill status for these chunks."""
        rows = [self._row_of[int(pk)] for pk in pks if int(pk) in self._row_of]
        self._codes[rows] = _STATUS_CODE[status]

    def _grow(self) -> None:
        capacity = max(64, 2 * len(self._pks))
        pks = np.zeros(capacity, dtype=np.int64)
        vectors = np.zeros((capacity, self.dim), dtype=np.float32)
        codes = np.full(capacity, DEAD, dtype=np.int8)
        n = self._size
        pks[:n], vectors[:n], codes[:n] = self._pks[:n], self._vectors[:n], self._codes[:n]
        self._pks, self._vectors, self._codes = pks, vectors, codes

    def _compact(self) -> None:
        live = np.flatnonzero(self._codes[: self._size] != DEAD)
        self.__init__(self._pks[live], self._vectors[live], self._codes[live])

    # ------------------------------------------------------------------ search
    def scores_for(self, query: np.ndarray, pks: list[int]) -> dict[int, float]:
        """Return the cosine similarity of ``query`` to each of these chunks (if indexed)."""
        found = [(pk, self._row_of[pk]) for pk in pks if pk in self._row_of]
        if not found:
            return {}
        sims = self._vectors[[row for _pk, row in found]] @ query
        return {pk: float(sim) for (pk, _row), sim in zip(found, sims)}

    def top_k(self, query: np.ndarray, k: int, statuses: tuple[str, ...]) -> list[tuple[int, float]]:
        """Return up to ``k`` ``(chunk pk, cosine similarity)`` pairs, best first.

        Args:
            query: unit-length float32 query vector of the matrix's width.
            k: how many hits at most.
            statuses: only chunks of skills in these statuses are considered.
        """
        if not self._row_of or k <= 0:
            return []
        allowed = np.isin(self._codes[: self._size], status_codes(statuses))
        count = min(k, int(allowed.sum()))
        if count == 0:
            return []
        similarities = self._vectors[: self._size] @ query
        similarities[~allowed] = -np.inf
        best = np.argpartition(-similarities, count - 1)[:count] if count < len(similarities) else np.arange(len(similarities))
        best = best[np.lexsort((self._pks[best], -similarities[best]))]  # ties: lower pk first
        return [(int(self._pks[i]), float(similarities[i])) for i in best]

