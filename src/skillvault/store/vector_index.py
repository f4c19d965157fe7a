"""An in-memory vector index derived from the sqlite-vec table.

Why not query ``vec0`` directly: a brute-force ``vec0`` KNN over 20k x 1536-d vectors
takes ~44 ms on a 2-core machine, a float32 matrix-vector product ~3-4 ms. So the
vectors are read once from SQLite (the source of truth) into one matrix. Writes made
through the same store are applied to the matrix in place when they commit (rows
appended into spare capacity, removed rows marked dead, statuses updated); a write by
another connection makes the store reload it.

Small and medium libraries (up to :data:`EXACT_MAX_FLOATS` matrix entries, e.g. 41k
chunks at 384-d or 10k at 1536-d) are searched exactly. Above that, streaming the whole
float32 matrix per query dominates, so candidates are first picked by Hamming distance
between sign bits of mean-centred vectors (1/32 of the memory), and the best
``max(OVERSAMPLE * k, MIN_CANDIDATES)`` of them are re-scored exactly: the scores
returned are exact, the candidate set is an approximation (its recall is printed by
``benchmarks/query_vs_peer.py``).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..models import STATUSES

_STATUS_CODE = {status: code for code, status in enumerate(STATUSES)}
DEAD = -1  # status code of a removed row
_COMPACT_WHEN_DEAD = 0.25
#: Above this many matrix entries (rows x width), candidates come from sign bits first.
EXACT_MAX_FLOATS = 16_000_000
OVERSAMPLE = 10
MIN_CANDIDATES = 500


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

    def __init__(self, pks: np.ndarray, vectors: np.ndarray, codes: np.ndarray):
        self.dim = vectors.shape[1]
        self._size = len(pks)
        self._pks = np.array(pks, dtype=np.int64)
        self._vectors = np.array(vectors, dtype=np.float32)
        self._codes = np.array(codes, dtype=np.int8)
        self._row_of = {int(pk): row for row, pk in enumerate(self._pks)}
        # Sign bits are taken around the mean vector (embeddings share a common
        # direction, which would otherwise set most bits alike); the mean stays fixed
        # until the next reload or compaction.
        self._centre = self._vectors[: self._size].mean(axis=0) if self._size else np.zeros(self.dim, np.float32)
        # Word-major (words x rows): one XOR + popcount pass per 64-bit word of all rows
        # is ~3x faster than row-major with a sum over the short word axis (measured).
        self._bits = np.ascontiguousarray(self._sign_bits(self._vectors).T)

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
        self._bits[:, row] = self._sign_bits(self._vectors[row : row + 1])[0]
        self._codes[row] = _STATUS_CODE[status]
        self._row_of[int(pk)] = row
        self._size += 1

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
        bits = np.zeros((self._bits.shape[0], capacity), dtype=np.uint64)
        n = self._size
        pks[:n], vectors[:n], codes[:n], bits[:, :n] = self._pks[:n], self._vectors[:n], self._codes[:n], self._bits[:, :n]
        self._pks, self._vectors, self._codes, self._bits = pks, vectors, codes, bits

    def _compact(self) -> None:
        live = np.flatnonzero(self._codes[: self._size] != DEAD)
        self.__init__(self._pks[live], self._vectors[live], self._codes[live])

    def _hamming(self, query_bits: np.ndarray) -> np.ndarray:
        """Hamming distance from ``query_bits`` to every row's sign bits (int32)."""
        distances = np.zeros(self._size, dtype=np.int32)
        scratch = np.empty(self._size, dtype=np.uint64)
        for word, query_word in zip(self._bits[:, : self._size], query_bits):
            np.bitwise_xor(word, query_word, out=scratch)
            distances += np.bitwise_count(scratch)
        return distances

    def _sign_bits(self, vectors: np.ndarray) -> np.ndarray:
        """Pack the signs of ``vectors - centre`` into uint64 words (zero-padded)."""
        words = -(-self.dim // 64)
        packed = np.packbits(vectors > self._centre, axis=1)
        padded = np.zeros((len(vectors), words * 8), dtype=np.uint8)
        padded[:, : packed.shape[1]] = packed
        return padded.view(np.uint64)

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
        shortlist = max(OVERSAMPLE * k, MIN_CANDIDATES)
        if self.approximate and count > 0 and int(allowed.sum()) > shortlist:
            distances = self._hamming(self._sign_bits(query[None, :])[0])
            distances[~allowed] = np.iinfo(np.int32).max
            rows = np.argpartition(distances, shortlist - 1)[:shortlist]
            similarities = self._vectors[rows] @ query
        else:
            rows = np.arange(self._size)
            similarities = self._vectors[: self._size] @ query
            similarities[~allowed] = -np.inf
        best = np.argpartition(-similarities, count - 1)[:count] if count < len(similarities) else np.arange(len(similarities))
        best = best[np.lexsort((self._pks[rows[best]], -similarities[best]))]  # ties: lower pk first
        return [(int(self._pks[rows[i]]), float(similarities[i])) for i in best]

    @property
    def approximate(self) -> bool:
        """True if searches pick candidates by sign bits before exact scoring."""
        return self._size * self.dim > EXACT_MAX_FLOATS


class PendingChanges:
    """Matrix changes made inside an open transaction, applied only when it commits."""

    def __init__(self) -> None:
        self.ops: list[tuple] = []

    def apply(self, matrix: Optional[VectorMatrix]) -> None:
        """Replay the recorded changes on ``matrix`` (if one is loaded) and forget them."""
        if matrix is not None:
            for op, *args in self.ops:
                getattr(matrix, op)(*args)
        self.ops.clear()
