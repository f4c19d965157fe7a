"""Open PostgreSQL connections and pools by URL, with pgvector's types registered.

Connections are in autocommit mode: the store opens one transaction per operation
itself (``with conn.transaction():``). Every connection runs HNSW scans with
``hnsw.iterative_scan = strict_order``, so a nearest-neighbour query filtered to
canonical skills keeps scanning the graph until it has ``k`` rows instead of
returning fewer when drafts or archived skills sit closest to the query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import DatabaseFileError, ExtensionError
from .errors import describe, translate

if TYPE_CHECKING:  # the postgres extra is optional
    import psycopg
    from psycopg_pool import ConnectionPool

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_S = 10
#: Session settings of every connection (see the module docstring).
SESSION_SETTINGS = (("hnsw.iterative_scan", "strict_order"),)
_EXTRA_HINT = "install the PostgreSQL backend with `pip install 'skillvault[postgres]'`"


def is_postgres_url(value: object) -> bool:
    """Return True if ``value`` is a string naming a PostgreSQL database (``postgresql://...``)."""
    return isinstance(value, str) and value.lower().startswith(SCHEMES)


def check_url(url: str) -> dict[str, str]:
    """Parse a PostgreSQL URL without connecting.

    Args:
        url: ``postgresql://user:password@host:port/dbname?options``.

    Returns:
        Its connection parameters (libpq names: ``user``, ``host``, ``port``, ``dbname``...).

    Raises:
        DatabaseFileError: if it is not a ``postgresql://`` URL or cannot be parsed
            (the message never shows the password).
        ExtensionError: if psycopg is not installed.
    """
    psycopg = _psycopg()
    if not is_postgres_url(url):
        raise DatabaseFileError("a PostgreSQL database is named by a URL starting with postgresql:// "
                                "(e.g. postgresql://user@host:5432/skills)")
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = str(exc).strip().replace(url, "<URL>")
        raise DatabaseFileError(f"the PostgreSQL URL is malformed: {reason}") from None
    for port in str(params.get("port", "")).split(","):
        if port and not port.isdigit():
            raise DatabaseFileError(f"the PostgreSQL URL is malformed: port {port!r} is not a number")
    return params


def connect(url: str, *, register: bool = True) -> "psycopg.Connection":
    """Open an autocommit connection to the database at ``url``.

    Args:
        url: a ``postgresql://`` URL.
        register: register pgvector's types (vectors come back as numpy arrays); False
            before the ``vector`` extension is installed (see :func:`~.migrations.migrate`).

    Returns:
        The open connection.

    Raises:
        DatabaseFileError: the URL is malformed or names a database that does not exist.
        StorageIOError: the server cannot be reached.
        SkillPermissionError: the server refused the login.
        ExtensionError: psycopg is not installed, or ``register`` and the database has no
            ``vector`` extension.
    """
    psycopg = _psycopg()
    check_url(url)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise (translate(exc, url) or exc) from None
    try:
        configure(conn, url, register=register)
    except BaseException:
        conn.close()
        raise
    return conn


def configure(conn: "psycopg.Connection", url: str, *, register: bool = True) -> None:
    """Apply the session settings to ``conn`` and (if ``register``) register pgvector's types.

    Raises:
        ExtensionError: if ``register`` and the database has no ``vector`` extension.
    """
    for name, value in SESSION_SETTINGS:
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))
    if register:
        if conn.execute("SELECT to_regtype('vector')").fetchone()[0] is None:
            raise ExtensionError(
                f"{describe(url)} has no pgvector extension; open it once with a role that may run "
                "CREATE EXTENSION (skillvault installs it), or ask a superuser to run `CREATE EXTENSION vector` "
                "in that database (pgvector must be installed on the server)"
            )
        from pgvector.psycopg import register_vector

        register_vector(conn)


def open_pool(url: str, *, min_size: int = 1, max_size: int = 8, timeout: float = 30.0) -> "ConnectionPool":
    """Open a pool of connections to ``url``, each set up as :func:`connect` does.

    A first connection is made directly, so that a wrong URL, an unreachable server or a
    missing extension raises its own clear error instead of a pool timeout.

    Args:
        url: a ``postgresql://`` URL.
        min_size / max_size: connections kept open / opened at most.
        timeout: seconds a caller waits for a free connection.

    Returns:
        The open :class:`psycopg_pool.ConnectionPool` (close it with ``pool.close()``).

    Raises:
        The errors of :func:`connect`.
    """
    connect(url).close()
    try:
        from psycopg_pool import ConnectionPool
    except ImportError:
        raise ExtensionError(f"psycopg-pool is not installed; {_EXTRA_HINT}") from None
    pool = ConnectionPool(
        url, min_size=min_size, max_size=max_size, timeout=timeout, open=False,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
        configure=lambda conn: configure(conn, url),
    )
    pool.open(wait=True, timeout=timeout)
    return pool


def _psycopg():
    try:
        import psycopg
        import psycopg.conninfo  # noqa: F401 - used as psycopg.conninfo
    except ImportError:
        raise ExtensionError(f"psycopg is not installed; {_EXTRA_HINT}") from None
    return psycopg
