"""The query pipeline: embed, hybrid search, relevance floor, expansion, packing."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from ..embed.service import EmbeddingService
from ..store import Store
from .pack import Packing, pack
from .relevance import RelevanceFloor
from .search import CANDIDATES, SERVED_STATUSES, Hit, chunk_candidates, hybrid_search
from .focus import focus
from .skills import SkillHit, rank_skills


class Retriever:
    """Answers queries over one store with one embedder.

    Args:
        store: the skill store.
        embeddings: the embedding service bound to that store.
    """

    def __init__(self, store: Store, embeddings: EmbeddingService):
        self.store = store
        self.embeddings = embeddings

    def search(self, text: str, k: int = 10, statuses: tuple[str, ...] = SERVED_STATUSES) -> list[Hit]:
        """Return up to ``k`` relevant hits for ``text``, best first."""
        with self._reading(text) as hits_for:
            hits = hits_for(statuses, max(CANDIDATES, k))
        return [hit for hit in hits if hit.relevant][:k]

    def search_skills(self, text: str, k: int = 5, statuses: tuple[str, ...] = SERVED_STATUSES) -> list[SkillHit]:
        """Return up to ``k`` relevant skills for ``text``, best first (level 1 cards)."""
        vector, floor = self._embedded(text)
        if vector is None:
            return []
        with self.store.snapshot():
            hits = rank_skills(self.store, vector, text, floor, statuses, self._embed_cards, limit=max(k, 100))
        return [hit for hit in hits if hit.relevant][:k]

    def _embed_cards(self, texts: list[str]):
        return self.embeddings.embed(texts)

    def _embedded(self, text: str):
        if self.store.embedder_record()[1] is None:  # nothing is registered yet
            return None, None
        vector = self.embeddings.embed_query(text)
        return vector, RelevanceFloor.calibrate(vector, self.embeddings.null_vectors())

    def query(self, text: str, budget: int) -> Packing:
        """Return the packed context for ``text`` within ``budget`` tokens."""
        vector, floor = self._embedded(text)
        if vector is None:
            return pack(self.store, [], budget)
        with self.store.snapshot():
            # The chunk retrievers run once; focus then weighs only the skills that have a
            # relevant hit (ranking every skill cost more than the rest of the query).
            found = chunk_candidates(self.store, vector, text, CANDIDATES, SERVED_STATUSES)
            hits = hybrid_search(self.store, vector, text, floor, SERVED_STATUSES, CANDIDATES, found=found)
            with_hits = {hit.skill_id for hit in hits if hit.relevant}
            if with_hits:
                skills = rank_skills(self.store, vector, text, floor, SERVED_STATUSES, self._embed_cards,
                                     found_chunks=found, among=with_hits)
                focus(hits, skills, floor)
            return pack(self.store, hits, budget)

    @contextmanager
    def _reading(self, text: str) -> Iterator[Callable[[tuple[str, ...], int], list[Hit]]]:
        """Embed ``text``, then yield a search function that reads one snapshot of the
        store: a write committed by another process meanwhile is wholly in or wholly out."""
        vector, floor = self._embedded(text)

        def hits_for(statuses: tuple[str, ...], candidates: int) -> list[Hit]:
            if vector is None:
                return []
            return hybrid_search(self.store, vector, text, floor, statuses, candidates)

        with self.store.snapshot():
            yield hits_for
