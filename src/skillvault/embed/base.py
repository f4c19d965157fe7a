"""The embedder interface and the checks every embedder's output goes through."""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import EmbeddingError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors.

    Attributes:
        name: stable identity recorded in the database (e.g.
            ``"local:all-MiniLM-L6-v2-int8"``, ``"openai:text-embedding-3-small"``);
            a database built with one name refuses another until reindexed.
    """

    name: str

    def embed(self, texts: list[str]) -> Sequence[Sequence[float]]:
        """Return one vector per text, in order. May raise any exception."""
        ...


def embed_checked(embedder: Embedder, texts: list[str], expected_dim: int | None = None) -> np.ndarray:
    """Embed ``texts`` and check the result; return L2-normalised float32 rows.

    Args:
        embedder: the embedder to call.
        texts: texts to embed (may be empty).
        expected_dim: the width recorded for this database, if any.

    Returns:
        An array of shape ``(len(texts), dim)``, each row of unit length.

    Raises:
        EmbeddingError: if the embedder raises, returns the wrong number of vectors,
            non-numeric / non-finite values, a zero vector, vectors of unequal width or
            a width other than ``expected_dim``.
    """
    if not texts:
        return np.zeros((0, expected_dim or 0), dtype=np.float32)
    try:
        raw = embedder.embed(texts)
    except EmbeddingError:
        raise
    except Exception as exc:  # the embedder is user code or a remote API
        raise EmbeddingError(f"embedder {embedder.name!r} failed: {type(exc).__name__}: {exc}") from exc
    vectors = _as_matrix(raw, len(texts), embedder.name)
    if expected_dim is not None and vectors.shape[1] != expected_dim:
        raise EmbeddingError(
            f"embedder {embedder.name!r} returned {vectors.shape[1]}-d vectors but this database "
            f"holds {expected_dim}-d vectors; use the embedder the database was built with, or reindex"
        )
    norms = np.linalg.norm(vectors, axis=1)
    if np.any(norms == 0):
        raise EmbeddingError(f"embedder {embedder.name!r} returned an all-zero vector; it cannot be compared")
    return (vectors / norms[:, None]).astype(np.float32)


def _as_matrix(raw: Any, count: int, name: str) -> np.ndarray:
    if isinstance(raw, np.ndarray):
        rows = list(raw) if raw.ndim == 2 else None
    elif isinstance(raw, (list, tuple)):
        rows = list(raw)
    else:
        rows = None
    if rows is None:
        raise EmbeddingError(f"embedder {name!r} must return a list of vectors, got {type(raw).__name__}")
    if len(rows) != count:
        raise EmbeddingError(f"embedder {name!r} returned {len(rows)} vectors for {count} texts")
    width = None
    for index, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not hasattr(row, "__len__"):
            raise EmbeddingError(f"embedder {name!r}: vector {index} is not a list of numbers")
        if width is None:
            width = len(row)
        if len(row) != width:
            raise EmbeddingError(f"embedder {name!r}: vectors have unequal widths ({width} and {len(row)})")
        for value in row:
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise EmbeddingError(
                    f"embedder {name!r}: vector {index} holds a non-numeric value {value!r}"
                )
    if not width:
        raise EmbeddingError(f"embedder {name!r} returned empty vectors")
    matrix = np.asarray(rows, dtype=np.float64)
    if not np.all(np.isfinite(matrix)):
        raise EmbeddingError(f"embedder {name!r} returned NaN or infinite values")
    return matrix


