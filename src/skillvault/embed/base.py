"""The embedder interface and the checks every embedder's output goes through."""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import EmbeddingError, SkillVaultError


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
    except SkillVaultError:
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
    """Convert an embedder's answer to a float64 matrix, refusing anything but numbers.

    numpy does the conversion (fast); the element kind it infers tells numbers
    (``f``, ``i``, ``u``) from strings, bools and mixed objects.
    """
    if isinstance(raw, (str, bytes)) or not isinstance(raw, (list, tuple, np.ndarray)):
        raise EmbeddingError(f"embedder {name!r} must return a list of vectors, got {type(raw).__name__}")
    if len(raw) != count:
        raise EmbeddingError(f"embedder {name!r} returned {len(raw)} vectors for {count} texts")
    for index, row in enumerate(raw):
        if isinstance(row, (str, bytes, dict)) or not hasattr(row, "__len__"):
            raise EmbeddingError(f"embedder {name!r}: vector {index} is not a list of numbers")
    widths = {len(row) for row in raw}
    if len(widths) > 1:
        raise EmbeddingError(f"embedder {name!r}: vectors have unequal widths {sorted(widths)}")
    if widths == {0}:
        raise EmbeddingError(f"embedder {name!r} returned empty vectors")
    try:
        matrix = np.asarray(raw)
    except (TypeError, ValueError) as exc:
        raise EmbeddingError(f"embedder {name!r}: vectors are not lists of numbers ({exc})") from None
    if matrix.ndim != 2 or matrix.dtype.kind not in "fiu":
        sample = next((v for row in raw for v in row if isinstance(v, bool) or not isinstance(v, (int, float, np.number))), None)
        raise EmbeddingError(f"embedder {name!r}: vectors hold a non-numeric value {sample!r}")
    matrix = matrix.astype(np.float64, copy=False)
    if not np.all(np.isfinite(matrix)):
        raise EmbeddingError(f"embedder {name!r} returned NaN or infinite values")
    return matrix
