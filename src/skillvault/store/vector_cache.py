"""The vector index cache: which index answers vector searches, and how it follows SQLite.

SQLite's ``chunk_vec`` is the source of truth. Every change to it made through the
store is also numbered in ``vector_log`` (same transaction). The cache holds an index
and the last log number it reflects; before a search it replays newer numbers by
re-reading those chunks' current rows (so replaying twice is harmless), which is how
one process sees another's writes without rebuilding anything.

- Fewer than :data:`ANN_MIN_CHUNKS` searchable chunks (and fewer than
  :data:`ANN_MIN_FLOATS` matrix entries): an exact float32 matrix
  (:class:`~.vector_index.VectorMatrix`), read from SQLite on open; no file.
- Above that (:func:`uses_ann`): usearch HNSW graphs (:class:`~.ann_index.AnnIndex`),
  saved beside the database in ``<db>.skillvault-index/`` with ``stamp.json`` naming
  the graph files and what they were built from (format, vector epoch, embedder,
  width, dtype, last log number). A reopen loads them (whatever the size then) and
  replays the log after the stamp's number; a missing, stale or unreadable file is
  rebuilt from SQLite. The
  graph files are written under new names before the stamp is replaced, so a crash at
  any point leaves a stamp that matches its files (or none).

Only one process writes the folder at a time (an ``flock`` on ``write.lock``; others
skip saving). Agents' read-only connections, read-only files and ``:memory:``
databases keep the index in memory only. A reindex starts a new vector epoch, which
invalidates every saved index.
"""

from __future__ import annotations

import glob
import json
import os
import warnings
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Union

import numpy as np

from .ann_index import DTYPE, AnnIndex
from .meta import write_meta
from .vector_index import VectorMatrix, status_codes

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; saves are still atomic per file
    fcntl = None

#: Libraries with at least this many searchable chunks use the HNSW index; below it an
#: exact scan is fast and is the reference (a 384-d matrix scan took roughly 5-10 ms at
#: 50k rows and 10-25 ms at 100k on this shared 2-core machine; an HNSW search < 1 ms).
ANN_MIN_CHUNKS = 50_000
#: ... or at least this many matrix entries (chunks x width): the scan's cost grows with
#: both, so wide vectors switch sooner (20k x 1536-d took ~4 ms to scan, like 80k x 384-d).
ANN_MIN_FLOATS = 19_200_000


def uses_ann(count: int, dim: int) -> bool:
    """Whether a library of ``count`` searchable ``dim``-wide chunk vectors uses HNSW."""
    return count >= ANN_MIN_CHUNKS or count * dim >= ANN_MIN_FLOATS
#: Save the HNSW index after this many replayed changes (and at close after SAVE_AT_CLOSE).
SAVE_AFTER_CHANGES = 20_000
SAVE_AT_CLOSE = 1_000
#: Keep at least this many log entries for readers that are behind; older ones are
#: pruned once the saved index holds them.
LOG_KEEP = 200_000
#: A reader this many changed chunks behind reloads a newer saved index if there is one.
REPLAY_MAX = 50_000
FORMAT = 1
META_EPOCH = "vector_epoch"
META_HORIZON = "vector_log_horizon"
STAMP = "stamp.json"
_BATCH = 500
_BUILD_BATCH = 50_000

ProgressFn = Callable[[int, int], None]


def index_folder(db_path: str) -> str:
    """Return the folder that holds the saved index of the database at ``db_path``."""
    return os.path.abspath(db_path) + ".skillvault-index"


class VectorCache:
    """The index of one store connection and the log number it reflects.

    Args:
        store: the :class:`~.sqlite.SQLiteStore` it serves (its ``conn``, lock, path, modes).

    Attributes:
        full_loads: how many times every vector was read from SQLite (matrix loads and
            HNSW builds), for tests and benchmarks.
        progress: called as ``progress(done, total)`` while an HNSW index is built.
    """

    def __init__(self, store) -> None:
        self.store = store
        self.index: Optional[Union[VectorMatrix, AnnIndex]] = None
        self.seq = 0
        self.epoch: Optional[str] = None
        self.saved_seq: Optional[int] = None
        self.stale = True
        self.full_loads = 0
        self.progress: Optional[ProgressFn] = None
        self._seen_data_version: Optional[int] = None
        self._ignore_file = False  # set by rebuild()

    # ------------------------------------------------------------------ reading
    def current(self, data_version: int) -> Union[VectorMatrix, AnnIndex]:
        """Return the index brought up to date with the database (call with the store's lock)."""
        if self.index is not None and not self.stale and data_version == self._seen_data_version:
            return self.index
        with self.store.snapshot():
            epoch, horizon, last = self._log_state()
            if self.index is None or epoch != self.epoch or self.seq < horizon or last < self.seq:
                self._open(epoch, horizon, last)
            elif last > self.seq:
                self._catch_up(horizon, last)
        self._seen_data_version = data_version
        self.stale = False
        if self._writable() and isinstance(self.index, AnnIndex):
            if self.saved_seq is None or self.seq - self.saved_seq >= SAVE_AFTER_CHANGES:
                self.save()
        return self.index

    def rebuild(self, progress: Optional[ProgressFn] = None) -> None:
        """Read every vector from SQLite again (and save the HNSW index where allowed)."""
        previous, self.progress = self.progress, progress or self.progress
        try:
            with self.store._lock:
                self.index, self._ignore_file = None, True
                self.current(self.store.conn.execute("PRAGMA data_version").fetchone()[0])
        finally:
            self.progress, self._ignore_file = previous, False

    def close(self) -> None:
        """Save unsaved HNSW changes (if this process may write the index)."""
        if isinstance(self.index, AnnIndex) and self._writable() and self.seq - (self.saved_seq or 0) >= SAVE_AT_CLOSE:
            self.save()

    def _log_state(self) -> tuple[Optional[str], int, int]:
        conn = self.store.conn
        meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)", (META_EPOCH, META_HORIZON)).fetchall())
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'vector_log'").fetchone()
        return meta.get(META_EPOCH), int(meta.get(META_HORIZON) or 0), int(row[0]) if row else 0

    def _open(self, epoch: Optional[str], horizon: int, last: int) -> None:
        name, dim = self.store.embedder_record()
        self.epoch, self.saved_seq = epoch, None
        if dim is None:
            self.index, self.seq = VectorMatrix.empty(0), last
            return
        # A valid saved index is used whatever the size now (counting 1M chunks costs
        # more than the load); without one, the size picks the kind.
        loaded = self._load_file(name, dim, horizon, last)
        if loaded is not None:
            self.index, self.seq = loaded
            self.saved_seq = self.seq
            self._catch_up(horizon, last, reload_file=False)
            return
        count = self.store.conn.execute(
            "SELECT COUNT(*) FROM chunks c JOIN skills s ON s.id = c.skill_id WHERE s.status != 'draft'"
        ).fetchone()[0]
        if not uses_ann(count, dim):
            self.index, self.seq = self._load_matrix(dim), last
        else:
            self.index, self.seq = self._build(dim, count), last

    def _catch_up(self, horizon: int, last: int, reload_file: bool = True) -> None:
        pks = [row[0] for row in self.store.conn.execute(
            "SELECT DISTINCT chunk_pk FROM vector_log WHERE seq > ? AND seq <= ?", (self.seq, last)
        )]
        if isinstance(self.index, VectorMatrix) and len(pks) > max(10_000, len(self.index) // 2):
            self._open(self.epoch, horizon, last)  # one sequential read beats many point lookups
            return
        if reload_file and isinstance(self.index, AnnIndex) and len(pks) > REPLAY_MAX:
            name, dim = self.store.embedder_record()
            loaded = self._load_file(name, dim, horizon, last)
            if loaded is not None and loaded[1] > self.seq:
                self.index, self.seq = loaded
                self.saved_seq = self.seq
                self._catch_up(horizon, last, reload_file=False)
                return
        self._apply(pks)
        self.seq = last
        if isinstance(self.index, VectorMatrix) and uses_ann(len(self.index), self.index.dim):
            self._open(self.epoch, horizon, last)  # grew past the exact range

    def _apply(self, pks: list[int]) -> None:
        """Make these chunks' rows in the index match SQLite (add, replace or drop)."""
        conn = self.store.conn
        present: list[int] = []
        statuses: list[str] = []
        vectors: list[np.ndarray] = []
        for start in range(0, len(pks), _BATCH):
            batch = pks[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            for pk, status in conn.execute(
                f"""SELECT c.pk, s.status FROM chunks c JOIN skills s ON s.id = c.skill_id
                    WHERE c.pk IN ({marks}) AND s.status != 'draft'""",
                batch,
            ).fetchall():
                # Point lookups: vec0 answers ``rowid = ?`` from its index, ``rowid IN`` ~6x slower.
                row = conn.execute("SELECT embedding FROM chunk_vec WHERE rowid = ?", (pk,)).fetchone()
                if row is not None:
                    present.append(pk)
                    statuses.append(status)
                    vectors.append(np.frombuffer(row[0], dtype=np.float32))
        self.index.remove(pks)
        if present:
            self.index.add_many(np.array(present, dtype=np.int64), np.stack(vectors), statuses)

    _VECTOR_ROWS = """SELECT v.rowid, v.embedding, s.status FROM chunk_vec v
                      JOIN chunks c ON c.pk = v.rowid JOIN skills s ON s.id = c.skill_id"""

    def _load_matrix(self, dim: int) -> VectorMatrix:
        self.full_loads += 1
        rows = self.store.conn.execute(self._VECTOR_ROWS).fetchall()
        if not rows:
            return VectorMatrix.empty(dim)
        pks = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), dim)
        return VectorMatrix(pks, vectors, status_codes([row[2] for row in rows]))

    def _build(self, dim: int, total: int) -> AnnIndex:
        self.full_loads += 1
        index = AnnIndex(dim)
        cursor = self.store.conn.execute(self._VECTOR_ROWS)
        done = 0
        while rows := cursor.fetchmany(_BUILD_BATCH):
            pks = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), dim)
            index.add_many(pks, vectors, [row[2] for row in rows])
            done += len(rows)
            if self.progress:
                self.progress(done, total)
        return index

    def describe(self) -> str:
        """Say which index serves vector search and how its saved copy stands, without
        building or loading anything (for ``skillvault doctor``)."""
        name, dim = self.store.embedder_record()
        if dim is None:
            return "none yet (no vectors)"
        count = self.store.conn.execute(
            "SELECT COUNT(*) FROM chunks c JOIN skills s ON s.id = c.skill_id WHERE s.status != 'draft'"
        ).fetchone()[0]
        if not uses_ann(count, dim):
            return f"exact in-memory matrix ({count:,} chunks of {dim}-d, under the HNSW threshold)"
        epoch, _horizon, last = self._log_state()
        folder = index_folder(self.store.path)
        saved = -1 if self.store.path == ":memory:" else self._saved_seq_on_disk(folder, name, dim, epoch)
        if saved < 0:
            state = "no valid saved index: the first query builds it"
        else:
            state = f"saved in {folder}, {max(last - saved, 0):,} changes to replay"
        return f"HNSW (usearch, {DTYPE}) over {count:,} chunks; {state}"

    # ------------------------------------------------------------------ files
    def _writable(self) -> bool:
        store = self.store
        return store.path != ":memory:" and not store.agent and not store.read_only

    def _stamp_fields(self, name: Optional[str], dim: int, epoch: Optional[str] = None) -> dict:
        return {"format": FORMAT, "epoch": epoch or self.epoch, "embedder": name, "dim": dim, "dtype": DTYPE}

    def _load_file(self, name: Optional[str], dim: int, horizon: int, last: int) -> Optional[tuple[AnnIndex, int]]:
        """Return ``(index, its log number)`` from the saved files, or None if they are
        missing, stale (another build, epoch, embedder or format) or unreadable."""
        if self.store.path == ":memory:" or self._ignore_file:
            return None
        folder = index_folder(self.store.path)
        try:
            with open(os.path.join(folder, STAMP), encoding="utf-8") as handle:
                stamp = json.load(handle)
            if any(stamp.get(key) != value for key, value in self._stamp_fields(name, dim).items()):
                return None
            seq = int(stamp["seq"])
            if not horizon <= seq <= last:
                return None
            return AnnIndex.load(folder, dim, stamp["files"]), seq
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return None

    def _saved_seq_on_disk(self, folder: str, name: Optional[str], dim: int, epoch: Optional[str] = None) -> int:
        """Return the log number of the saved index if it is of this library and epoch, else -1."""
        try:
            with open(os.path.join(folder, STAMP), encoding="utf-8") as handle:
                stamp = json.load(handle)
            if all(stamp.get(key) == value for key, value in self._stamp_fields(name, dim, epoch).items()):
                return int(stamp["seq"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return -1

    def save(self) -> bool:
        """Write the HNSW index and its stamp beside the database; returns False if another
        process holds the write lock or the folder cannot be written (a warning says why)."""
        if not isinstance(self.index, AnnIndex) or not self._writable():
            return False
        folder = index_folder(self.store.path)
        try:
            os.makedirs(folder, exist_ok=True)
            with _write_lock(folder) as owned:
                if not owned:
                    return False
                name, dim = self.store.embedder_record()
                if self._saved_seq_on_disk(folder, name, dim) >= self.seq:
                    self.saved_seq = self.seq  # another process saved this state or a newer one
                    return False
                files = self.index.save(folder, f"{self.seq}-{os.urandom(4).hex()}")
                stamp = {**self._stamp_fields(name, dim), "seq": self.seq, "files": files}
                temporary = os.path.join(folder, STAMP + ".tmp")
                with open(temporary, "w", encoding="utf-8") as handle:
                    json.dump(stamp, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, os.path.join(folder, STAMP))
                kept = {entry["name"] for entry in files.values()}
                for path in glob.glob(os.path.join(folder, "*.usearch")):
                    if os.path.basename(path) not in kept:
                        os.remove(path)
        except (OSError, RuntimeError) as exc:
            warnings.warn(f"skillvault could not save its vector index in {folder} ({exc}); "
                          "it will be rebuilt from the database on the next open", RuntimeWarning, stacklevel=2)
            return False
        self.saved_seq = self.seq
        self._prune()
        return True

    def _prune(self) -> None:
        """Drop log entries the saved index holds, keeping :data:`LOG_KEEP` for readers behind."""
        store = self.store
        _epoch, horizon, last = self._log_state()
        upto = min(self.saved_seq or 0, last - LOG_KEEP)
        if upto - horizon < LOG_KEEP or store.conn.in_transaction:
            return
        try:
            with store.transaction():
                store.conn.execute("DELETE FROM vector_log WHERE seq <= ?", (upto,))
                write_meta(store.conn, META_HORIZON, str(upto))
        except Exception as exc:  # the log is only trimmed later; nothing is lost
            warnings.warn(f"skillvault could not trim its vector log ({exc})", RuntimeWarning, stacklevel=2)


@contextmanager
def _write_lock(folder: str) -> Iterator[bool]:
    """Hold the folder's write lock if no other process does; yields whether it is held."""
    if fcntl is None:
        yield True
        return
    handle = open(os.path.join(folder, "write.lock"), "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
