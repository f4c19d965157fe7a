"""Persistence behind one interface, :class:`~.base.Store`.

``SQLiteStore`` is the embedded default (and the source of truth); ``PostgresStore``
(extra ``[postgres]``) serves fleets. :func:`open_store` picks the backend for a path or URL.
"""

from .base import PreparedChunk, Store, StoredChunk
from .postgres.connection import is_postgres_url
from .sqlite import SQLiteStore

__all__ = ["PreparedChunk", "SQLiteStore", "Store", "StoredChunk", "is_postgres_url", "open_store"]


def open_store(path_or_url: str, **options) -> Store:
    """Open the store at ``path_or_url``: an SQLite file (or ``":memory:"``), or a
    ``postgresql://`` URL (a :class:`~.postgres.store.PostgresStore`).

    Args:
        path_or_url: where the library lives.
        options: passed to the backend (``agent``: open with agent rights; on PostgreSQL
            the URL must then log in as an agent role).

    Raises:
        The errors of the chosen store's constructor.
    """
    if is_postgres_url(path_or_url):
        from .postgres.store import PostgresStore

        return PostgresStore(path_or_url, **options)
    return SQLiteStore(path_or_url, **options)
