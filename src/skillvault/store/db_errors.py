"""Turn SQLite's storage failures into clear :mod:`skillvault.errors` exceptions.

SQLite reports a full disk, an I/O error, a read-only file or a held lock as a bare
``OperationalError`` ("database or disk is full", "disk I/O error", "attempt to write a
readonly database", "database is locked"). :func:`translate` maps each to an exception
that names the file, the cause and the fix; :func:`rollback` ends a failed transaction
without hiding the error that failed it (after ``SQLITE_FULL`` or an I/O error SQLite
may already have rolled back, and a second ``ROLLBACK`` would raise "cannot rollback -
no transaction is active" instead).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from typing import Optional

from ..errors import DatabaseBusyError, SkillPermissionError, StorageFullError, StorageIOError

# Primary result codes (extended codes carry them in their low byte).
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_FULL = 13

#: Below this much free space a failed write inside sqlite-vec is taken for a full disk
#: (one vec0 block of 64 rows of 1536-d vectors is 384 KiB).
LOW_SPACE_BYTES = 8 * 1024 * 1024

_BY_TEXT = (
    ("database or disk is full", SQLITE_FULL),
    ("disk i/o error", SQLITE_IOERR),
    ("readonly database", SQLITE_READONLY),
    ("database is locked", SQLITE_BUSY),
    ("database table is locked", SQLITE_LOCKED),
)


def translate(exc: BaseException, path: Optional[str]) -> Optional[Exception]:
    """Return the skillvault error for an SQLite storage failure, or None for anything else.

    Args:
        exc: an exception raised by the ``sqlite3`` or ``sqlean`` module (others give None).
        path: the database file, named in the message (None: "the database").

    Returns:
        :class:`StorageFullError` (disk full or size limit reached),
        :class:`StorageIOError` (disk I/O error), :class:`SkillPermissionError` (read-only
        file or folder), :class:`DatabaseBusyError` (lock held past the busy timeout), or
        None when ``exc`` is none of these.
    """
    code = _primary_code(exc)
    if code is not None and "sqlite-vec error" in str(exc) and path and _little_space_left(path):
        # sqlite-vec reports a failed write inside its vec0 table as its own error
        # ("Could not insert a new vector chunk"), hiding SQLITE_FULL; the disk tells.
        code = SQLITE_FULL
    where = repr(path) if path else "the database"
    folder = f"the folder of {where}" if path else "its folder"
    if code == SQLITE_FULL:
        return StorageFullError(
            f"{where} could not be written: the disk is full (or the database reached its size limit) "
            f"({exc}); nothing of this change was saved. Free disk space where {where} lives and try again"
        )
    if code == SQLITE_IOERR:
        return StorageIOError(
            f"{where} could not be read or written: the operating system reported a disk I/O error ({exc}); "
            "nothing of this change was saved. Check that the disk has free space and is still mounted and "
            "healthy (see the system log), then try again"
        )
    if code == SQLITE_READONLY:
        return SkillPermissionError(
            f"{where} cannot be written: it is read-only ({exc}). Make the file and {folder} writable "
            "(SQLite creates -wal and -shm files beside it), or only read from it"
        )
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return DatabaseBusyError(f"{where} is being written by another process ({exc}); try again")
    return None


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction of ``conn``, if SQLite has not done so already.

    A failing ``ROLLBACK`` is ignored: the caller is already raising the error that
    made the transaction fail, and that one says what went wrong.
    """
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except Exception:  # noqa: BLE001 - the original error matters more (see docstring)
        pass


def _little_space_left(path: str) -> bool:
    try:
        return shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free < LOW_SPACE_BYTES
    except OSError:
        return False


def _primary_code(exc: BaseException) -> Optional[int]:
    if not _is_sqlite_error(exc):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc).lower()
    return next((value for phrase, value in _BY_TEXT if phrase in text), None)


def _is_sqlite_error(exc: BaseException) -> bool:
    # sqlite3.Error and sqlean's Error are unrelated classes with the same shape.
    return any(cls.__name__ == "Error" and cls.__module__.split(".")[0] in ("sqlite3", "sqlean")
               for cls in type(exc).__mro__)
