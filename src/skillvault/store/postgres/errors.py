"""Turn PostgreSQL errors into clear :mod:`skillvault.errors` exceptions.

The server reports causes as SQLSTATE codes (``42501`` insufficient privilege, ``40001``
serialization failure, ``53100`` disk full, ...); libpq reports a failed connection as a
bare ``OperationalError``. :func:`translate` maps each to an exception that names the
database (never its password), the cause and the fix.
"""

from __future__ import annotations

from typing import Optional

from ...errors import (
    DatabaseBusyError, DatabaseFileError, SkillPermissionError, StorageFullError, StorageIOError,
)

#: SQLSTATEs of a busy server or a lost race: trying again may succeed.
BUSY_STATES = frozenset({"40001", "40P01", "55P03", "57014", "53300"})
#: SQLSTATEs of refused rights: insufficient privilege (row-level security too), read-only transaction.
REFUSED_STATES = frozenset({"42501", "25006"})
_AUTH_PHRASES = ("password authentication failed", "no password supplied", "authentication failed",
                 "permission denied for database", "role \"")


def describe(url: str) -> str:
    """Return ``url`` as shown in messages: ``postgresql://user@host:port/db``, no password.

    A Unix-socket folder is shown where libpq reads it, in the query string
    (``postgresql://user@/db?host=/run/postgresql``); no other query parameter is shown
    (``?password=`` would be one). A URL that cannot be parsed is shown as ``'the PostgreSQL URL'``.
    """
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - a malformed URL is reported by the caller
        return "the PostgreSQL URL"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host, port = parts.get("host") or parts.get("hostaddr") or "", parts.get("port") or ""
    if any(name.startswith(("/", "@")) for name in host.split(",")):  # socket folders (or Linux abstract sockets)
        query = "&".join(f"{key}={value}" for key, value in (("host", host), ("port", port)) if value)
        return f"postgresql://{user}/{parts.get('dbname', '')}?{query}"
    return f"postgresql://{user}{_servers(host, port)}/{parts.get('dbname', '')}"


def _servers(host: str, port: str) -> str:
    """``host:port`` of each server (libpq allows a list; an IPv6 address in brackets)."""
    hosts = host.split(",")
    ports = port.split(",") if "," in port else [port] * len(hosts)
    return ",".join((f"[{name}]" if ":" in name else name) + (f":{number}" if number else "")
                    for name, number in zip(hosts, ports))


def translate(exc: BaseException, url: Optional[str]) -> Optional[Exception]:
    """Return the skillvault error for a psycopg error, or None for anything else.

    Args:
        exc: an exception raised by psycopg (others give None).
        url: the database's URL, named in the message without its password (None: "the database").

    Returns:
        :class:`SkillPermissionError` (a privilege or row-level security refusal, failed
        login), :class:`DatabaseBusyError` (serialization failure, deadlock, lock or
        statement timeout, too many connections), :class:`StorageFullError`,
        :class:`StorageIOError` (server I/O error, server unreachable), or None.
    """
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return None
    where = describe(url) if url else "the database"
    state = getattr(exc, "sqlstate", None) or ""
    text = _without(str(exc).strip(), url)
    if state in REFUSED_STATES:
        return SkillPermissionError(f"{where} refused this change: {text}")
    if state in BUSY_STATES:
        return DatabaseBusyError(f"{where} is busy or the change lost a race with another writer ({text}); try again")
    if state == "53100":
        return StorageFullError(f"{where} could not be written: the server's disk is full ({text}); nothing "
                                "of this change was saved. Free disk space on the database server and try again")
    if state == "58030":
        return StorageIOError(f"{where} reported an I/O error ({text}); nothing of this change was saved")
    if isinstance(exc, psycopg.OperationalError) and not state:
        return _connection_error(where, text)
    return None


def _connection_error(where: str, text: str) -> Exception:
    lowered = text.lower()
    if "database \"" in lowered and "does not exist" in lowered:
        return DatabaseFileError(f"{where} cannot be opened: {text}; create the database first "
                                 "(createdb NAME) or point the URL at an existing one")
    if any(phrase in lowered for phrase in _AUTH_PHRASES):
        return SkillPermissionError(f"{where} refused the login: {text}; check the user name and password")
    return StorageIOError(f"{where} cannot be reached: {text}; check that the server is running and that "
                          "host and port in the URL are right")


def _without(text: str, url: Optional[str]) -> str:
    """``text`` with ``url`` (which may hold a password) replaced by its description."""
    return text.replace(url, describe(url)) if url else text
