"""The query pipeline: embed, hybrid search, relevance floor, expansion, packing."""

from __future__ import annotations

import base64
import json
from typing import Optional

import numpy as np

from ..embed.service import EmbeddingService
from ..store import SQLiteStore
from .pack import Packing, pack
from .relevance import NULL_TEXTS, RelevanceFloor
from .search import SERVED_STATUSES, Hit, hybrid_search

_NULL_META_KEY = "null_vectors"


class Retriever:
    """Answers queries over one store with one embedder.

    Args:
        store: the skill store.
        embeddings: the embedding service bound to that store.
    """

    def __init__(self, store: SQLiteStore, embeddings: EmbeddingService):
        self.store = store
        self.embeddings = embeddings
        self._null_vectors: Optional[np.ndarray] = None

    def search(self, text: str, k: int = 10, statuses: tuple[str, ...] = SERVED_STATUSES) -> list[Hit]:
        """Return up to ``k`` relevant hits for ``text``, best first."""
        return [hit for hit in self._hits(text, statuses) if hit.relevant][:k]

    def query(self, text: str, budget: int) -> Packing:
        """Return the packed context for ``text`` within ``budget`` tokens."""
        return pack(self.store, self._hits(text, SERVED_STATUSES), budget)

    def _hits(self, text: str, statuses: tuple[str, ...]) -> list[Hit]:
        if self.store.embedder_record()[1] is None:
            return []  # nothing has been registered yet: no vectors to compare with
        vector = self.embeddings.embed_query(text)
        floor = RelevanceFloor.calibrate(vector, self._nulls())
        return hybrid_search(self.store, vector, text, floor, statuses)

    def _nulls(self) -> np.ndarray:
        """The null texts' vectors: from memory, else the DB, else embedded once and stored."""
        if self._null_vectors is not None:
            return self._null_vectors
        name = self.embeddings.name
        raw = self.store.get_meta(_NULL_META_KEY)
        if raw:
            record = json.loads(raw)
            if record.get("embedder") == name and record.get("texts") == len(NULL_TEXTS):
                data = np.frombuffer(base64.b64decode(record["vectors"]), dtype=np.float32)
                self._null_vectors = data.reshape(len(NULL_TEXTS), -1)
                return self._null_vectors
        vectors = self.embeddings.embed(list(NULL_TEXTS))
        record = {"embedder": name, "texts": len(NULL_TEXTS), "vectors": base64.b64encode(vectors.tobytes()).decode()}
        self.store.set_meta(_NULL_META_KEY, json.dumps(record))
        self._null_vectors = vectors
        return vectors
