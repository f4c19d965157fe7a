"""What one store connection knows about its search indexes, in one object.

The store reports its index changes here while a write transaction is open:
:meth:`IndexTracker.changed` for chunk vectors added, removed or moved to another
status, :meth:`~IndexTracker.touched` when the indexed rows changed at all (a new
*generation*, seen by every connection), :meth:`~IndexTracker.new_epoch` when every
vector changed. At commit the vector changes are numbered in ``vector_log``
(:meth:`~IndexTracker.log_changes`, inside the transaction) and the cache follows them
before the next search (:meth:`~IndexTracker.after_commit`); a rollback, whole or to a
savepoint, forgets them (:meth:`~IndexTracker.mark` / :meth:`~IndexTracker.rollback_to`).

Search code asks :meth:`~IndexTracker.before_search` for the vector index brought up to
date (see :mod:`.vector_cache`), and :meth:`~IndexTracker.per_generation` for values
cached until the next write by any connection.
"""

from __future__ import annotations

import os
from typing import Callable, Optional, Union

from .ann_index import AnnIndex
from .meta import read_meta, write_meta
from .vector_cache import META_EPOCH, VectorCache
from .vector_index import VectorMatrix

META_INDEX_GENERATION = "index_generation"


class IndexTracker:
    """The search-index bookkeeping of one store connection.

    Args:
        store: the store it serves (its ``conn``, path and modes, for the vector cache).
        lock: the store's lock; held around every read of the cache.

    Attributes:
        cache: the :class:`~.vector_cache.VectorCache` serving vector search.
        generation: the library's index generation as last seen by this connection.
    """

    def __init__(self, store, lock) -> None:
        self.conn = store.conn
        self.cache = VectorCache(store)
        self.generation: Optional[str] = None
        self._lock = lock
        self._seen_data_version: Optional[int] = None
        self._changes: list[tuple[int, str]] = []  # (chunk pk, op) of the open transaction
        self._new_generation: Optional[str] = None  # set by the open transaction
        self._memo: dict = {}
        self._memo_generation: Optional[str] = None

    # ------------------------------------------------------------------ inside a write
    def changed(self, pks, op: str) -> None:
        """Note that the vectors of chunks ``pks`` were added (``op="add"``), removed
        (``"remove"``) or moved to another status (``"set_status"``)."""
        self._changes.extend((int(pk), op) for pk in pks)

    def touched(self) -> None:
        """Give the library a new index generation: the indexed rows changed."""
        self._new_generation = os.urandom(8).hex()
        write_meta(self.conn, META_INDEX_GENERATION, self._new_generation)

    def new_epoch(self) -> None:
        """Invalidate every vector index (saved or loaded) and the change log."""
        write_meta(self.conn, META_EPOCH, os.urandom(8).hex())
        self.conn.execute("DELETE FROM vector_log")

    def pending(self) -> list[tuple[int, str]]:
        """Return the ``(chunk pk, op)`` changes of the open transaction, in order."""
        return list(self._changes)

    def mark(self) -> tuple[int, Optional[str]]:
        """Return a mark of the changes so far (taken at a savepoint)."""
        return len(self._changes), self._new_generation

    def rollback_to(self, mark: tuple[int, Optional[str]]) -> None:
        """Forget the changes made after ``mark`` (their savepoint was rolled back)."""
        del self._changes[mark[0]:]
        self._new_generation = mark[1]

    def log_changes(self) -> None:
        """Number the transaction's vector changes in ``vector_log`` (just before COMMIT)."""
        if self._changes:
            self.conn.executemany("INSERT INTO vector_log(chunk_pk, op) VALUES (?, ?)", self._changes)

    def after_commit(self) -> None:
        """The transaction committed: the cache replays the log before the next search."""
        if self._changes:
            self.cache.stale = True
            self._changes.clear()
        if self._new_generation is not None:
            self.generation, self._new_generation = self._new_generation, None

    def after_rollback(self) -> None:
        """The transaction rolled back: forget its changes."""
        self._changes.clear()
        self._new_generation = None

    # ------------------------------------------------------------------ searching
    def before_search(self) -> Union[VectorMatrix, AnnIndex]:
        """Return the vector index brought up to date with the database, and refresh the
        generation if another connection wrote meanwhile."""
        with self._lock:
            data_version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            if self.generation is None or data_version != self._seen_data_version:
                self.generation = read_meta(self.conn, META_INDEX_GENERATION)
            self._seen_data_version = data_version
            return self.cache.current(data_version)

    def per_generation(self, key, compute: Callable[[], object]):
        """Return ``compute()``, remembered under ``key`` until the indexed rows change."""
        self.before_search()
        if self._memo_generation != self.generation:
            self._memo, self._memo_generation = {}, self.generation
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def rebuild(self, progress: Optional[Callable[[int, int], None]] = None) -> None:
        """Read every vector from SQLite into a new index (and save the HNSW index where
        allowed), reporting ``progress(done, total)`` while an HNSW index is built."""
        self.cache.rebuild(progress)

    def describe(self) -> str:
        """Return one line on the vector index without building or loading it."""
        with self._lock:
            return self.cache.describe()

    def info(self) -> dict:
        """Return what serves vector search: ``kind`` ("exact" or "hnsw"), ``chunks``,
        ``seq`` (last change applied), ``saved_seq`` and ``full_loads`` of this connection."""
        index = self.before_search()
        cache = self.cache
        return {
            "kind": "hnsw" if index.approximate else "exact", "chunks": len(index), "seq": cache.seq,
            "saved_seq": cache.saved_seq, "full_loads": cache.full_loads,
        }

    def close(self) -> None:
        """Save unsaved HNSW changes (if this process may write the index)."""
        with self._lock:
            self.cache.close()
