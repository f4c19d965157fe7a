"""Adapter for a user's ``embed_fn(text) -> list[float]`` (the 0.1.x interface)."""

from __future__ import annotations

from typing import Callable, Sequence


class CallableEmbedder:
    """Wraps a one-text-at-a-time function as an :class:`~skillvault.embed.base.Embedder`.

    Args:
        fn: ``fn(text) -> list[float]``. If it also has an ``embed_batch(texts)``
            attribute, that is used for batches instead.
        name: identity to record; defaults to ``"callable:<module>.<qualname>"``.
    """

    def __init__(self, fn: Callable[[str], Sequence[float]], name: str | None = None):
        self.fn = fn
        qualname = getattr(fn, "__qualname__", type(fn).__name__)
        self.name = name or f"callable:{getattr(fn, '__module__', '?')}.{qualname}"

    def embed(self, texts: list[str]) -> list[Sequence[float]]:
        """Call the function once per text (or its ``embed_batch`` once)."""
        batch = getattr(self.fn, "embed_batch", None)
        if callable(batch):
            return list(batch(texts))
        return [self.fn(text) for text in texts]
