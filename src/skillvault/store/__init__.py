"""Persistence. ``SQLiteStore`` is the embedded default (and the source of truth);
``PostgresStore`` (extra ``[postgres]``) serves fleets. :func:`open_store` picks one."""

from .sqlite import PreparedChunk, SQLiteStore, StoredChunk
from .postgres.connection import is_postgres_url

__all__ = ["PreparedChunk", "SQLiteStore", "StoredChunk", "is_postgres_url", "open_store"]


def open_store(path_or_url: str, agent: bool = False):
    """Open the library at ``path_or_url``: a ``postgresql://`` URL opens a
    :class:`~.postgres.store.PostgresStore`, anything else an SQLite file.

    Args:
        path_or_url: an SQLite file path (or ``":memory:"``), or a PostgreSQL URL.
        agent: open with agent rights (for PostgreSQL: log in with an agent role's URL).

    Raises:
        The errors of the chosen store's constructor.
    """
    if is_postgres_url(path_or_url):
        from .postgres.store import PostgresStore

        return PostgresStore(path_or_url, agent=agent)
    return SQLiteStore(path_or_url, agent=agent)
