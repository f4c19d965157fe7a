"""An exact in-memory vector index derived from the sqlite-vec table.

Why not query ``vec0`` directly: a brute-force ``vec0`` KNN over 20k x 1536-d vectors
takes ~44 ms on a 2-core machine, a float32 matrix-vector product ~4 ms. So the vectors
are read once from SQLite (the source of truth) into one matrix, and the matrix is
rebuilt whenever the store's index generation changes (any write to chunks, vectors or
skill statuses, by this process or another one). Search is exact, never approximate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..models import STATUSES

_STATUS_CODE = {status: code for code, status in enumerate(STATUSES)}


def status_codes(statuses: list[str] | tuple[str, ...]) -> np.ndarray:
    """Encode skill statuses as small integers (the matrix keeps codes, not strings)."""
    return np.array([_STATUS_CODE[status] for status in statuses], dtype=np.int8)


@dataclass
class VectorMatrix:
    """Unit-length chunk vectors with their chunk primary keys and skill statuses."""

    pks: np.ndarray  # int64, shape (n,)
    vectors: np.ndarray  # float32, shape (n, dim), rows of unit length
    status_codes: np.ndarray  # int8 codes of the owning skills' statuses, shape (n,)
    _row_of: Optional[dict[int, int]] = field(default=None, init=False, repr=False)

    @classmethod
    def empty(cls, dim: int = 0) -> "VectorMatrix":
        """Return a matrix with no rows."""
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32), np.zeros(0, dtype=np.int8))

    def scores_for(self, query: np.ndarray, pks: list[int]) -> dict[int, float]:
        """Return the cosine similarity of ``query`` to each of these chunks (if indexed)."""
        if self._row_of is None:
            self._row_of = {int(pk): row for row, pk in enumerate(self.pks)}
        rows = [(pk, self._row_of[pk]) for pk in pks if pk in self._row_of]
        if not rows:
            return {}
        sims = self.vectors[[row for _pk, row in rows]] @ query
        return {pk: float(sim) for (pk, _row), sim in zip(rows, sims)}

    def top_k(self, query: np.ndarray, k: int, statuses: tuple[str, ...]) -> list[tuple[int, float]]:
        """Return up to ``k`` ``(chunk pk, cosine similarity)`` pairs, best first.

        Args:
            query: unit-length float32 query vector of the matrix's width.
            k: how many hits at most.
            statuses: only chunks of skills in these statuses are considered.
        """
        if len(self.pks) == 0 or k <= 0:
            return []
        similarities = self.vectors @ query
        allowed = np.isin(self.status_codes, status_codes(statuses))
        if not allowed.all():
            similarities = np.where(allowed, similarities, -np.inf)
        count = min(k, int(allowed.sum()))
        if count == 0:
            return []
        if count < len(similarities):
            best = np.argpartition(-similarities, count - 1)[:count]
        else:
            best = np.arange(len(similarities))
        best = best[np.argsort(-similarities[best], kind="stable")]
        return [(int(self.pks[i]), float(similarities[i])) for i in best]
