"""Persistence behind one interface, :class:`~.base.Store`.

``SQLiteStore`` is the embedded default (and the source of truth); :func:`open_store`
picks the backend for a path or URL.
"""

from ..errors import BackendNotAvailableError
from .base import PreparedChunk, Store, StoredChunk
from .postgres.connection import is_postgres_url
from .sqlite import SQLiteStore

__all__ = ["PreparedChunk", "SQLiteStore", "Store", "StoredChunk", "open_store"]


def open_store(path_or_url: str, **options) -> Store:
    """Open the store at ``path_or_url``: an SQLite file (or ``":memory:"``), or a
    ``postgresql://`` URL once that backend is wired.

    Args:
        path_or_url: where the library lives.
        options: passed to the backend (SQLite: ``agent``).

    Raises:
        BackendNotAvailableError: for a PostgreSQL URL (not wired yet).
    """
    if is_postgres_url(path_or_url):
        # The hook for the PostgreSQL backend (skillvault.store.postgres, issue 14).
        raise BackendNotAvailableError(
            "the PostgreSQL backend is not wired into the store yet; use an SQLite file path for now"
        )
    return SQLiteStore(path_or_url, **options)
