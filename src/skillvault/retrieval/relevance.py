"""A relevance floor that works for any embedder.

Raw cosine thresholds do not transfer between embedders: unrelated texts score about
0.0 with MiniLM but 0.1-0.2 with OpenAI's models, and 0.1.3's fixed threshold (applied
to an L2 distance) made its own quick start return nothing. So the floor is calibrated
per query against *null texts*: a fixed set of sentences about unrelated everyday
topics. The query's similarities to them show what "unrelated" looks like for this
embedder and this query; a chunk must stand clearly above that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


#: How many standard deviations above the null mean a chunk must score on vectors alone.
STRONG_Z = 3.0
#: ... and when words of the query also match the chunk (lexical evidence).
WEAK_Z = 1.0
#: Minimum margins above the null mean, for embedders whose null spread is ~0.
STRONG_MARGIN = 0.05
WEAK_MARGIN = 0.02


@dataclass(frozen=True)
class RelevanceFloor:
    """The two similarity floors computed for one query.

    Attributes:
        strong: vector similarity that is relevant on its own.
        weak: vector similarity that is relevant when the words also match.
        null_mean: mean similarity of the query to the null texts.
        null_std: their standard deviation.
    """

    strong: float
    weak: float
    null_mean: float
    null_std: float

    @classmethod
    def calibrate(cls, query: np.ndarray, null_vectors: np.ndarray) -> "RelevanceFloor":
        """Compute the floors for ``query`` from the null texts' vectors."""
        sims = null_vectors @ query
        mean, std = float(sims.mean()), float(sims.std())
        return cls(
            strong=mean + max(STRONG_Z * std, STRONG_MARGIN),
            weak=mean + max(WEAK_Z * std, WEAK_MARGIN),
            null_mean=mean,
            null_std=std,
        )

    def admits(self, vector_score: float, lexical_match: bool) -> bool:
        """Return True if a chunk with this evidence is relevant to the query."""
        return vector_score >= self.strong or (lexical_match and vector_score >= self.weak)
