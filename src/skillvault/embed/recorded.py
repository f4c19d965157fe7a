"""Stand-in for the embedder a database was built with, when it is opened without it."""

from __future__ import annotations

from typing import Optional

from ..errors import EmbedderMismatchError


class MissingEmbedder:
    """Carries the recorded embedder's name; embedding anything new is a clear error.

    A database built with, say, an ``embed_fn`` calling an API can still be listed,
    reviewed, exported or approved from elsewhere (the CLI): those need no new vectors,
    because vectors of unchanged text are found by their hash. Only work that embeds new
    text (a query, a new chunk) needs the real embedder.

    Args:
        name: the embedder name recorded in the database.
        dim: the recorded vector width.
        path: the database, for the message.
    """

    def __init__(self, name: str, dim: Optional[int], path: str):
        self.name = name
        self.dim = dim
        self.path = path

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Refuse: the recorded embedder is not available here.

        Raises:
            EmbedderMismatchError: saying which embedder to pass, or how to reindex.
        """
        raise EmbedderMismatchError(
            f"{self.path!r} was built with embedder {self.name!r} ({self.dim}-d vectors), which this "
            "SkillManager was not given, so new text cannot be embedded. Pass it (embed_fn=... or "
            "embed_config=...; CLI: --embed-model), or re-embed everything with another embedder: "
            f"skillvault.reindex({self.path!r}, ...) or `skillvault reindex`"
        )
