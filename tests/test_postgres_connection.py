"""Opening PostgreSQL by URL: clear errors (never showing the password), pgvector types, the pool."""

from __future__ import annotations

import threading

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from pg_rows import add_skill, axis, open_library
from skillvault.errors import DatabaseBusyError, DatabaseFileError, ExtensionError, SkillPermissionError, StorageIOError
from skillvault.store.postgres.connection import check_url, connect, is_postgres_url, open_pool
from skillvault.store.postgres.errors import describe, translate
from skillvault.store.postgres.migrations import migrate

SECRET = "hunter2-secret"


def _login_role(pg_url: str, name: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{SECRET}'")
        conn.execute(f'GRANT CONNECT ON DATABASE "{conninfo_to_dict(pg_url)["dbname"]}" TO {name}')


@pytest.mark.parametrize("url", [
    "skills.db", "mysql://u@h/db", f"postgresql://u:{SECRET}@[::1/db", f"postgresql://u:{SECRET}@h/db?bogus=1",
    f"postgresql://u:{SECRET}@h:notaport/db",
])
def test_malformed_urls_are_refused_without_showing_the_password(url):
    with pytest.raises(DatabaseFileError) as caught:
        connect(url)
    assert SECRET not in str(caught.value)
    assert "postgresql://" in str(caught.value) or "malformed" in str(caught.value)


def test_an_unreachable_server_is_named_without_its_password():
    with pytest.raises(StorageIOError, match="cannot be reached") as caught:
        connect(f"postgresql://someone:{SECRET}@127.0.0.1:1/skills")
    assert "postgresql://someone@127.0.0.1:1/skills" in str(caught.value) and SECRET not in str(caught.value)


def test_a_missing_database_and_a_wrong_password_are_told_apart(pg_server, pg_url):
    with pytest.raises(DatabaseFileError, match="does not exist"):
        connect(pg_server.url("no_such_database"))
    _login_role(pg_url, "wrong_pw")
    with pytest.raises(SkillPermissionError, match="refused the login") as caught:
        connect(pg_server.url(conninfo_to_dict(pg_url)["dbname"], "wrong_pw", "not-" + SECRET))
    assert SECRET not in str(caught.value)


def test_a_database_without_pgvector_is_refused_clearly(pg_url):
    with pytest.raises(ExtensionError, match="CREATE EXTENSION vector"):
        connect(pg_url)
    connect(pg_url, register=False).close()  # before migrating, it can be opened without the types


def test_a_role_that_may_not_install_pgvector_gets_an_extension_error(pg_server, pg_url):
    _login_role(pg_url, "plain_owner")
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("GRANT CREATE ON SCHEMA public TO plain_owner")
    conn = connect(pg_server.url(conninfo_to_dict(pg_url)["dbname"], "plain_owner", SECRET), register=False)
    with pytest.raises(ExtensionError, match="superuser"):
        migrate(conn)
    # Nothing half-done is left: the first migration rolled back whole.
    assert conn.execute("SELECT to_regclass('schema_version'), to_regclass('skills')").fetchone() == (None, None)


def test_a_role_that_may_not_migrate_gets_a_permission_error(pg_server, pg_url):
    _login_role(pg_url, "reader")
    conn = connect(pg_server.url(conninfo_to_dict(pg_url)["dbname"], "reader", SECRET), register=False)
    with pytest.raises(SkillPermissionError, match="permission denied"):
        migrate(conn)


def test_vectors_come_back_as_arrays_and_the_pool_serves_threads(pg_url):
    owner = open_library(pg_url)
    add_skill(owner, "s", chunks=[("A", "a", axis(0)), ("B", "b", axis(1))])
    pool = open_pool(pg_url, min_size=2, max_size=2)
    results: dict[int, np.ndarray] = {}

    def read(pk: int) -> None:
        with pool.connection() as conn:
            results[pk] = conn.execute("SELECT embedding FROM chunk_vectors WHERE chunk_pk = %s", (pk,)).fetchone()[0]

    threads = [threading.Thread(target=read, args=(pk,)) for pk in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    pool.close()
    assert np.allclose(results[1].to_numpy(), axis(0)) and np.allclose(results[2].to_numpy(), axis(1))
    with open_pool(pg_url, min_size=1, max_size=1) as second:
        with second.connection() as conn:
            assert conn.execute("SHOW hnsw.iterative_scan").fetchone()[0] == "strict_order"


def test_a_pool_on_a_bad_url_fails_at_once_with_the_real_cause():
    with pytest.raises(StorageIOError, match="cannot be reached"):
        open_pool(f"postgresql://u:{SECRET}@127.0.0.1:1/db", timeout=60)


def test_a_held_lock_becomes_a_busy_error(pg_url):
    owner = open_library(pg_url)
    add_skill(owner, "s")
    holder = psycopg.connect(pg_url)
    holder.execute("UPDATE skills SET name = 'held' WHERE id = 's'")
    waiter = connect(pg_url)
    waiter.execute("SET lock_timeout = '100ms'")
    with pytest.raises(psycopg.errors.LockNotAvailable) as caught:
        waiter.execute("UPDATE skills SET name = 'waited' WHERE id = 's'")
    error = translate(caught.value, pg_url)
    assert isinstance(error, DatabaseBusyError) and "try again" in str(error)
    holder.rollback()


def test_url_helpers():
    assert is_postgres_url("postgresql://h/db") and is_postgres_url("POSTGRES://h/db")
    assert not is_postgres_url("skills.db") and not is_postgres_url(None)
    assert check_url("postgresql://u@h:5433/db")["port"] == "5433"
    assert describe(f"postgresql://u:{SECRET}@h:5433/db?sslmode=require") == "postgresql://u@h:5433/db"
    assert translate(ValueError("x"), None) is None


@pytest.mark.parametrize(("url", "shown"), [
    (f"postgresql://u:{SECRET}@h:5433/db", "postgresql://u@h:5433/db"),
    (f"postgresql://u@h/db?password={SECRET}&sslmode=require", "postgresql://u@h/db"),
    (f"postgresql://postgres:{SECRET}@/bench?host=%2Ftmp%2Fx", "postgresql://postgres@/bench?host=/tmp/x"),
    (f"postgresql://postgres@/bench?host=/tmp/x&port=5433&password={SECRET}",
     "postgresql://postgres@/bench?host=/tmp/x&port=5433"),
    (f"postgres://u:{SECRET}@h1,h2:5433/db", "postgresql://u@h1,h2:5433/db"),
    (f"postgresql://u:{SECRET}@[::1]:5432/db", "postgresql://u@[::1]:5432/db"),
    (f"postgresql://u:{SECRET}@[::1/db", "the PostgreSQL URL"),
])
def test_describe_names_the_database_without_its_password(url, shown):
    assert describe(url) == shown
    if "?host=" in shown:  # what is shown of a socket URL still opens the same database
        assert conninfo_to_dict(shown) == {k: v for k, v in conninfo_to_dict(url).items() if k != "password"}
