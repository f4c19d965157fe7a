"""Open SQLite connections with the sqlite-vec extension loaded and FTS5 checked.

The stdlib ``sqlite3`` module is used when it can load extensions; otherwise
``sqlean`` (the sqlean.py package, a drop-in ``sqlite3`` built with extension
loading). If neither can, or sqlite-vec / FTS5 is missing, opening fails loudly with
:class:`~skillvault.errors.ExtensionError`: there is no slow fallback.

Only sqlite-vec is loaded. sqlean can switch on its own bundled extensions (file I/O,
``define``, ...) from ``SQLEAN_ENABLE*`` environment variables; those are ignored while
a connection opens, and a connection that has them anyway is refused.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

from ..errors import DatabaseFileError, ExtensionError
from .db_errors import translate

#: WAL pages written between automatic checkpoints (see connect()).
WAL_CHECKPOINT_PAGES = 4_000
BUSY_TIMEOUT_MS = 5_000
#: Functions of sqlean's bundled extensions that must never exist on our connections
#: (one or more per extension that can touch files or run SQL text).
FORBIDDEN_FUNCTIONS = ("fileio_read", "fileio_write", "fileio_mkdir", "define", "eval")
_ENV_PREFIX = "SQLEAN_ENABLE"
_env_lock = threading.Lock()


@dataclass(frozen=True)
class DriverInfo:
    """What an open connection runs on, for ``stats()`` and ``doctor``."""

    module: str
    sqlite_version: str
    vec_version: str
    fts5: bool
    access: str = "read-write"  # or "read-only", or "immutable" (read-only medium)


def _driver_module() -> ModuleType:
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        import sqlean
    except ImportError:
        raise ExtensionError(
            "this Python's sqlite3 module cannot load extensions and sqlean.py is not installed; "
            "install it with `pip install sqlean.py` (skillvault needs the sqlite-vec extension)"
        ) from None
    return sqlean


def _open(module: ModuleType, path: str, access: str):
    """Open ``path`` with ``access`` while sqlean's extension switches are unset."""
    if path == ":memory:":
        target, uri = path, False
    else:
        target = "file:" + quote(str(Path(path).absolute()))
        if access == "read-only":
            target += "?mode=ro"
        elif access == "immutable":
            target += "?mode=ro&immutable=1"
        uri = True
    with _env_lock:
        saved = {key: os.environ.pop(key) for key in list(os.environ) if key.startswith(_ENV_PREFIX)}
        try:
            return module.connect(
                target, uri=uri, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        finally:
            os.environ.update(saved)


def _cannot_open(path: str, exc: Exception) -> DatabaseFileError:
    return DatabaseFileError(
        f"{path!r} cannot be opened as a skill library ({exc}); point db_path (CLI: --db) at a "
        "skillvault database, or at a new file name to create one"
    )


def connect(path: str, read_only: bool = False) -> tuple[sqlite3.Connection, DriverInfo]:
    """Open ``path`` in autocommit mode with WAL, a busy timeout and sqlite-vec loaded.

    Args:
        path: database file (``":memory:"`` works too).
        read_only: open with SQLite's ``mode=ro``: every write fails inside SQLite.
            A file on a read-only medium (no ``-shm`` file can be made beside it) is
            opened immutable, which is right because nobody can change it there.

    Returns:
        The connection and a :class:`DriverInfo` describing it.

    Raises:
        DatabaseFileError: if ``path`` is not an SQLite database (or cannot be opened).
        ExtensionError: if sqlite-vec cannot be loaded, FTS5 is not compiled in, or
            a forbidden sqlean extension got enabled.
    """
    module = _driver_module()
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per operation.
    access = "read-only" if read_only else "read-write"
    while True:
        conn = None
        try:
            conn = _open(module, path, access)
            conn.execute("PRAGMA schema_version").fetchone()  # reads the header: is it a database?
            break
        except module.DatabaseError as exc:
            if conn is not None:
                conn.close()
            storage_error = translate(exc, path)  # a full disk or an I/O error is not a bad file
            if storage_error is not None and "readonly" not in str(exc):
                raise storage_error from None
            if path == ":memory:" or "unable to open" not in str(exc) or not os.path.isfile(path) or access == "immutable":
                raise _cannot_open(path, exc) from None
            # A read-only folder or mount: no -shm file can be made beside the database.
            # Read it read-only, and if even that needs a -shm file, as immutable (right
            # there, because nobody can change it).
            access = "read-only" if access == "read-write" else "immutable"
    vec_version = _load_sqlite_vec(conn, module)
    options = {row[0] for row in conn.execute("PRAGMA compile_options")}
    if "ENABLE_FTS5" not in options:
        conn.close()
        raise ExtensionError(f"the SQLite library of {module.__name__} has no FTS5; install sqlean.py")
    _refuse_extra_extensions(conn)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if path != ":memory:" and access == "read-write":
        try:
            conn.execute("PRAGMA journal_mode = WAL")  # writes the header of a new file
        except module.DatabaseError as exc:
            conn.close()
            if "readonly" in str(exc):  # a write-protected file or a read-only mount: serve it read-only
                return connect(path, read_only=True)
            storage_error = translate(exc, path)
            if storage_error is None:
                raise
            raise storage_error from None
        # In WAL mode NORMAL is durable against application crashes and only fsyncs at
        # checkpoints, which keeps small writes (usage counts) off the query path.
        conn.execute("PRAGMA synchronous = NORMAL")
        # A checkpoint (and its fsync) every 4,000 WAL pages (16 MB) rather than SQLite's
        # 1,000: a register() rewrites the same vector, FTS5 and index pages, which then
        # reach the file once per checkpoint. Measured on 250 registers into a 20k-chunk
        # library, three rounds alternating: 2.14-2.59 ms each at 1,000, 1.72-1.86 at 4,000.
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
    sqlite_version = conn.execute("SELECT sqlite_version()").fetchone()[0]
    return conn, DriverInfo(module.__name__, sqlite_version, vec_version, True, access)


def _load_sqlite_vec(conn: sqlite3.Connection, module: ModuleType) -> str:
    try:
        import sqlite_vec

        conn.enable_load_extension(True)
        try:
            sqlite_vec.load(conn)
        finally:
            conn.enable_load_extension(False)
        return conn.execute("SELECT vec_version()").fetchone()[0]
    except Exception as exc:
        conn.close()
        raise ExtensionError(
            f"cannot load the sqlite-vec extension with {module.__name__} ({exc}); "
            "reinstall it with `pip install --force-reinstall sqlite-vec`"
        ) from exc


def _refuse_extra_extensions(conn: sqlite3.Connection) -> None:
    marks = ",".join("?" * len(FORBIDDEN_FUNCTIONS))
    found = [row[0] for row in conn.execute(f"SELECT name FROM pragma_function_list WHERE name IN ({marks})", FORBIDDEN_FUNCTIONS)]
    if found:
        conn.close()
        raise ExtensionError(
            f"the SQLite connection came up with extension functions skillvault does not use ({sorted(set(found))}); "
            "unset SQLEAN_ENABLE* in the environment of this process"
        )
