"""Copy a whole library between backends (SQLite <-> PostgreSQL, or same to same).

Skills, chunks with their vectors (never embedded again), cards, versions, the audit log,
usage counts and notes, and the embedding cache are read from one consistent snapshot of
the source and written in one transaction of the destination; the destination's counts
are compared with the source's before that transaction commits, so a copy lands whole or
not at all.
"""

from __future__ import annotations

import os
from typing import Callable, Optional

from .errors import CopyMismatchError, DatabaseFileError, ValidationError
from .store import is_postgres_url, open_store
from .store.rows import SECTIONS

Progress = Callable[[int, int], None]
#: Sections whose rows are counted by the progress callback (the others are small).
_PROGRESS_SECTIONS = {"skills": "skills", "chunks": "chunks", "cards": "cards", "versions": "versions",
                      "audit": "audit", "usage_notes": "usage_notes", "embedding_cache": "embedding_cache"}


def _rows_module(store):
    if is_postgres_url(getattr(store, "url", None)):
        from .store.postgres import rows
    else:
        from .store import sqlite_rows as rows
    return rows


def copy_library(source: str, dest: str, force: bool = False, progress: Optional[Progress] = None) -> dict:
    """Copy the library at ``source`` into ``dest`` (each an SQLite file or a ``postgresql://`` URL).

    Args:
        source: an existing library (opened in human mode; a PostgreSQL one by its owner).
        dest: an empty library, or one to replace with ``force``; an SQLite file is
            created when missing, a PostgreSQL database must exist (its schema is made).
        force: replace what ``dest`` holds (it is emptied inside the copy's transaction).
        progress: called as ``progress(rows_done, rows_total)``.

    Returns:
        The counts of the copy (``skills``, ``chunks``, ``vectors``, ``versions``,
        ``audit``, ...), equal to the source's.

    Raises:
        ValidationError: ``dest`` is ``source``, or holds a library and ``force`` is False.
        DatabaseFileError: ``source`` is an SQLite file that does not exist.
        CopyMismatchError: the copy's counts differ from the source's (nothing is kept).
        The errors of opening either library.
    """
    if str(source) == str(dest):
        raise ValidationError("dest", "is the source; copy into another file or database")
    if not is_postgres_url(source) and not os.path.exists(source):
        raise DatabaseFileError(f"no library at {source!r}; give an existing SQLite file or a postgresql:// URL")
    src = open_store(str(source))
    try:
        dst = open_store(str(dest))
        try:
            return _copy(src, dst, force, progress)
        finally:
            dst.close()
    finally:
        src.close()


def _copy(src, dst, force: bool, progress: Optional[Progress]) -> dict:
    src_rows, dst_rows = _rows_module(src), _rows_module(dst)
    held = dst_rows.counts(dst)
    if any(held.values()) and not force:
        raise ValidationError("dest", f"{dst.path} already holds a library ({held['skills']} skills, {held['audit']} "
                                      "audit entries); copy into an empty one, or pass --force (force=True) to replace it")
    with src.snapshot():
        expected = src_rows.counts(src)
        total = sum(expected[name] for name in _PROGRESS_SECTIONS.values())
        done = 0
        with dst.transaction():
            if force:
                dst_rows.clear(dst)
            state: dict = {}
            for section in SECTIONS:
                for rows in src_rows.read_section(src, section):
                    dst_rows.write_section(dst, section, rows, state)
                    if section in _PROGRESS_SECTIONS and progress:
                        done += len(rows)
                        progress(min(done, total), total)
            dst_rows.finish(dst, state)
            copied = dst_rows.counts(dst)
            if copied != expected:
                differ = ", ".join(f"{name} {expected[name]} -> {copied[name]}" for name in expected
                                   if copied[name] != expected[name])
                raise CopyMismatchError(f"the copy of {src.path} into {dst.path} does not match its source ({differ}); "
                                        "nothing was kept")
    dst.refresh_statistics(copied["chunks"])
    if progress:
        progress(total, total)
    return copied
