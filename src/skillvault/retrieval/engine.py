"""The query pipeline: embed, hybrid search, relevance floor, expansion, packing."""

from __future__ import annotations

from ..embed.service import EmbeddingService
from ..store import SQLiteStore
from .pack import Packing, pack
from .relevance import RelevanceFloor
from .search import CANDIDATES, SERVED_STATUSES, Hit, hybrid_search


class Retriever:
    """Answers queries over one store with one embedder.

    Args:
        store: the skill store.
        embeddings: the embedding service bound to that store.
    """

    def __init__(self, store: SQLiteStore, embeddings: EmbeddingService):
        self.store = store
        self.embeddings = embeddings

    def search(self, text: str, k: int = 10, statuses: tuple[str, ...] = SERVED_STATUSES) -> list[Hit]:
        """Return up to ``k`` relevant hits for ``text``, best first."""
        return [hit for hit in self._hits(text, statuses, candidates=max(CANDIDATES, k)) if hit.relevant][:k]

    def query(self, text: str, budget: int) -> Packing:
        """Return the packed context for ``text`` within ``budget`` tokens."""
        return pack(self.store, self._hits(text, SERVED_STATUSES), budget)

    def _hits(self, text: str, statuses: tuple[str, ...], candidates: int = CANDIDATES) -> list[Hit]:
        if self.store.embedder_record()[1] is None:
            return []  # nothing has been registered yet: no vectors to compare with
        vector = self.embeddings.embed_query(text)
        floor = RelevanceFloor.calibrate(vector, self.embeddings.null_vectors())
        return hybrid_search(self.store, vector, text, floor, statuses, candidates)
