"""Open SQLite connections with the sqlite-vec extension loaded and FTS5 checked.

The stdlib ``sqlite3`` module is used when it can load extensions; otherwise
``sqlean`` (the sqlean.py package, a drop-in ``sqlite3`` built with extension
loading). If neither can, or sqlite-vec / FTS5 is missing, opening fails loudly with
:class:`~skillvault.errors.ExtensionError`: there is no slow fallback.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from types import ModuleType

from ..errors import DatabaseFileError, ExtensionError
from .db_errors import translate

BUSY_TIMEOUT_MS = 5_000


@dataclass(frozen=True)
class DriverInfo:
    """What an open connection runs on, for ``stats()`` and ``doctor``."""

    module: str
    sqlite_version: str
    vec_version: str
    fts5: bool


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


def connect(path: str) -> tuple[sqlite3.Connection, DriverInfo]:
    """Open ``path`` in autocommit mode with WAL, a busy timeout and sqlite-vec loaded.

    Args:
        path: database file (``":memory:"`` works too).

    Returns:
        The connection and a :class:`DriverInfo` describing it.

    Raises:
        DatabaseFileError: if ``path`` is not an SQLite database (or cannot be opened).
        ExtensionError: if sqlite-vec cannot be loaded or FTS5 is not compiled in.
    """
    module = _driver_module()
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per operation.
    try:
        conn = module.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute("PRAGMA schema_version").fetchone()  # reads the header: is it a database?
    except module.DatabaseError as exc:
        storage_error = translate(exc, path)  # a full disk or an I/O error is not a bad file
        if storage_error is not None:
            raise storage_error from None
        raise DatabaseFileError(
            f"{path!r} cannot be opened as a skill library ({exc}); point db_path (CLI: --db) at a "
            "skillvault database, or at a new file name to create one"
        ) from None
    try:
        import sqlite_vec

        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        vec_version = conn.execute("SELECT vec_version()").fetchone()[0]
    except Exception as exc:
        conn.close()
        raise ExtensionError(
            f"cannot load the sqlite-vec extension with {module.__name__} ({exc}); "
            "reinstall it with `pip install --force-reinstall sqlite-vec`"
        ) from exc
    options = {row[0] for row in conn.execute("PRAGMA compile_options")}
    if "ENABLE_FTS5" not in options:
        conn.close()
        raise ExtensionError(f"the SQLite library of {module.__name__} has no FTS5; install sqlean.py")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if path != ":memory:":
        try:
            conn.execute("PRAGMA journal_mode = WAL")  # writes the header of a new file
        except module.DatabaseError as exc:
            conn.close()
            storage_error = translate(exc, path)
            if storage_error is None:
                raise
            raise storage_error from None
        # In WAL mode NORMAL is durable against application crashes and only fsyncs at
        # checkpoints, which keeps small writes (usage counts) off the query path.
        conn.execute("PRAGMA synchronous = NORMAL")
    sqlite_version = conn.execute("SELECT sqlite_version()").fetchone()[0]
    return conn, DriverInfo(module.__name__, sqlite_version, vec_version, True)
