"""Embedding for one database: checks the recorded embedder, batches, skips known text.

Every vector is keyed by a hash of (embedder name, embedded text), so text that was
embedded before (a re-registered skill, an unchanged chunk) is never sent to the
embedder again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Callable, Optional

import numpy as np

from ..errors import EmbedderMismatchError
from ..models import Chunk
from ..store import Store
from ..store.sqlite import META_NULL_VECTORS
from .base import Embedder, embed_checked
from .null_texts import NULL_TEXTS
from .recorded import MissingEmbedder

BATCH_SIZE = 64
#: A resumable embedding run (an import) saves its vectors this often: an interrupted run
#: loses at most this much embedding work, and a fast embedder is not slowed by writes.
CACHE_FLUSH_SECONDS = 2.0
#: A probe re-embedded by the same model scores ~1.0 (APIs vary in the 4th decimal).
PROBE_MIN_SIMILARITY = 0.99

#: ``progress(done, total)`` callback type for long embedding runs.
Progress = Callable[[int, int], None]


def embedding_text(skill_name: str, chunk: Chunk) -> str:
    """Return the text embedded for a chunk: its skill name and section give context."""
    return f"{skill_name}\n{chunk.section}\n{chunk.content}"


class EmbeddingService:
    """Embeds texts for a store with one embedder, enforcing the recorded identity.

    Args:
        store: the database the vectors are for.
        embedder: the embedder to use.
    """

    def __init__(self, store: Store, embedder: Embedder):
        self.store = store
        self.embedder = embedder
        self._null_vectors: Optional[np.ndarray] = None

    @property
    def name(self) -> str:
        """The embedder's recorded identity."""
        return self.embedder.name

    def check_compatible(self) -> None:
        """Raise if the database was built with a different embedder.

        Named embedders (local, OpenAI-compatible) are compared by name here. A plain
        ``embed_fn`` has no reliable name, so callables are compared by what they do:
        the first time vectors are needed, a probe text is embedded and compared with
        the vector recorded for it (see :meth:`null_vectors`).

        Raises:
            EmbedderMismatchError: naming both embedders and the fix (reindex).
        """
        recorded, dim = self.store.embedder_record()
        if recorded is not None and embedder_identity(recorded) != embedder_identity(self.embedder.name):
            raise self._mismatch(recorded, dim)

    def _mismatch(self, recorded: str, dim: Optional[int], detail: str = "") -> EmbedderMismatchError:
        return EmbedderMismatchError(
            f"{self.store.path!r} was built with embedder {recorded!r} ({dim}-d vectors) but this "
            f"SkillManager uses {self.embedder.name!r}{detail}. Open it with the embedder it was built with, "
            f"or re-embed everything with the new one: skillvault.reindex({self.store.path!r}, ...) "
            "or `skillvault reindex`"
        )

    def hash_of(self, text: str) -> str:
        """Return the cache key of ``text`` under this embedder."""
        return hashlib.sha256(f"{embedder_identity(self.embedder.name)}\n{text}".encode("utf-8")).hexdigest()

    def embed(
        self,
        texts: list[str],
        progress: Optional[Progress] = None,
        any_width: bool = False,
        batch_done: Optional[Callable[[list[int], np.ndarray], None]] = None,
    ) -> np.ndarray:
        """Embed texts in batches (no cache); rows are unit length, in order.

        Args:
            texts: the texts.
            progress: called as ``progress(done, total)`` before the first batch and
                after each one.
            any_width: accept a width other than the recorded one (for reindex).
            batch_done: called after each batch with the positions (in ``texts``) it
                embedded and their rows.

        Raises:
            EmbeddingError: if the embedder fails or returns unusable vectors.
        """
        dim = None if any_width else self.store.embedder_record()[1]
        parts = []
        # Similar lengths batch together (less padding for the local model).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        if progress:
            progress(0, len(texts))
        for start in range(0, len(order), BATCH_SIZE):
            positions = order[start : start + BATCH_SIZE]
            rows = embed_checked(self.embedder, [texts[i] for i in positions], dim)
            dim = rows.shape[1]
            parts.append(rows)
            if batch_done:
                batch_done(positions, rows)
            if progress:
                progress(min(start + BATCH_SIZE, len(texts)), len(texts))
        if not parts:
            return np.zeros((0, dim or 0), dtype=np.float32)
        stacked = np.concatenate(parts)
        result = np.empty_like(stacked)
        result[np.array(order)] = stacked
        return result

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query text; returns a unit float32 vector.

        Raises:
            EmbedderMismatchError: if this embedder is not the database's.
            EmbeddingError: if the embedder fails or returns an unusable vector.
        """
        self.null_vectors()  # checks the embedder's probe once per process
        return self.embed([text])[0]

    def vectors_for(
        self, texts: list[str], progress: Optional[Progress] = None, resumable: bool = False
    ) -> list[tuple[str, np.ndarray]]:
        """Return ``(hash, vector)`` per text, embedding only texts not already stored.

        Args:
            texts: the texts.
            progress: called as ``progress(done, total)`` over the texts embedded.
            resumable: keep what is embedded in the database's embedding cache as it
                goes (at most every :data:`CACHE_FLUSH_SECONDS`), so that an interrupted
                caller (an import) does not embed it again; the caller drops the cache
                entries once the vectors are stored (:meth:`Store.drop_cached_vectors`).

        Raises:
            EmbedderMismatchError: if this embedder is not the database's.
            EmbeddingError: if the embedder fails or returns unusable vectors.
        """
        self.null_vectors()  # records (first write) or checks the embedder's probe
        hashes = [self.hash_of(text) for text in texts]
        known = self.store.existing_vectors(hashes)
        missing = [i for i, h in enumerate(hashes) if h not in known]
        # The same new text twice in one call is embedded once.
        unique: dict[str, int] = {}
        for i in missing:
            unique.setdefault(hashes[i], i)
        keys = list(unique.keys())
        cache = _CacheWriter(self.store, keys) if resumable else None
        fresh = self.embed([texts[i] for i in unique.values()], progress, batch_done=cache.add if cache else None)
        known.update(zip(keys, fresh))
        return [(h, known[h]) for h in hashes]

    def null_vectors(self, record: bool = False) -> np.ndarray:
        """Vectors of :data:`NULL_TEXTS` under this embedder (unit rows).

        Computed once per database and kept in its meta table (agent mode cannot write
        meta and keeps them in memory). When they are read back, the first null text is
        embedded again and must give the same vector: that is how a different
        ``embed_fn`` is caught before it mixes its vectors with the recorded ones.

        Args:
            record: compute and store them afresh (after a reindex made this embedder
                the database's).

        Raises:
            EmbedderMismatchError: if the probe does not match.
        """
        if self._null_vectors is not None and not record:
            return self._null_vectors
        raw = None if record else self.store.get_meta(META_NULL_VECTORS)
        if raw:
            record = json.loads(raw)
            if embedder_identity(record.get("embedder", "")) == embedder_identity(self.name) and record.get("texts") == len(NULL_TEXTS):
                stored = np.frombuffer(base64.b64decode(record["vectors"]), dtype=np.float32)
                stored = stored.reshape(len(NULL_TEXTS), -1)
                self._check_probe(record["embedder"], stored[0])
                self._null_vectors = stored
                return stored
        vectors = self.embed(list(NULL_TEXTS), any_width=not self.store.embedder_record()[1])
        if not self.store.agent:
            record = {"embedder": self.name, "texts": len(NULL_TEXTS), "vectors": base64.b64encode(vectors.tobytes()).decode()}
            self.store.set_meta(META_NULL_VECTORS, json.dumps(record))
        self._null_vectors = vectors
        return vectors

    def _check_probe(self, recorded_name: str, recorded: np.ndarray) -> None:
        if isinstance(self.embedder, MissingEmbedder):
            return  # it stands for the recorded embedder by definition
        fresh = embed_checked(self.embedder, [NULL_TEXTS[0]])[0]
        if fresh.shape != recorded.shape:
            raise self._mismatch(recorded_name, recorded.shape[0], f" ({fresh.shape[0]}-d vectors)")
        similarity = float(fresh @ recorded)
        if similarity < PROBE_MIN_SIMILARITY:
            raise self._mismatch(
                recorded_name, recorded.shape[0], f", which embeds a probe text differently (cosine {similarity:.3f})"
            )


class _CacheWriter:
    """Writes freshly embedded vectors to the embedding cache, at most every few seconds."""

    def __init__(self, store: Store, keys: list[str]):
        self.store = store
        self.keys = keys
        self.pending: list[tuple[str, np.ndarray]] = []
        self.last_flush = time.monotonic()

    def add(self, positions: list[int], rows: np.ndarray) -> None:
        self.pending.extend((self.keys[i], row) for i, row in zip(positions, rows))
        if time.monotonic() - self.last_flush >= CACHE_FLUSH_SECONDS:
            self.store.cache_vectors(self.pending)
            self.pending = []
            self.last_flush = time.monotonic()


def embedder_identity(name: str) -> str:
    """The part of an embedder name that must match: all plain callables are alike here."""
    return "callable" if name.startswith("callable:") else name
