"""The agent role: a login that reads canonical skills and adds drafts and usage only.

What such a role may do is enforced by the server in two layers:

* **GRANTs** decide which commands it may run on which tables (and columns): SELECT on
  what query() reads, INSERT on drafts and their records, UPDATE of drafts (never their
  id) and of its own usage counts, DELETE of drafts' chunks and draft vectors. Nothing
  else: no TRUNCATE, no DDL (no CREATE on the schema, no TEMP on the database), no
  membership in any other role.
* **Row-level security** (the policies of migration 5, see
  :data:`~.migrations.POLICIES`) decides which rows: only canonical skills and drafts
  are visible, a written skill row must be an agent's extracted draft, chunks and vectors
  only of drafts, audit rows and notes only as actor ``agent``, usage counts only its own.

The tables' owner (the human side, which migrated the schema) is not bound by the
policies; every other role is. See docs/security.md.
"""

from __future__ import annotations

import re

from ...errors import ValidationError

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: table -> (command, columns or None for all), granted to agent roles.
AGENT_GRANTS: dict[str, tuple[tuple[str, tuple[str, ...] | None], ...]] = {
    "schema_version": (("SELECT", None),),
    "meta": (("SELECT", None),),
    "skills": (("SELECT", None), ("INSERT", None), ("UPDATE", (
        "name", "source", "status", "confidence", "extracted_from", "description", "tags", "version", "revises",
        "metadata", "created_at", "updated_at", "flags", "author"))),
    "chunks": (("SELECT", None), ("DELETE", None), ("INSERT", (
        "id", "skill_id", "position", "section", "content", "tokens", "priority", "required", "dependencies",
        "embed_hash", "skill_name"))),
    "chunk_vectors": (("SELECT", None),),
    "draft_vectors": (("SELECT", None), ("INSERT", None), ("DELETE", None)),
    "skill_versions": (("SELECT", None), ("INSERT", None)),
    "audit_log": (("INSERT", ("at", "actor", "action", "skill_id", "reason", "details")),),
    "usage": (("SELECT", None),),
    "agent_usage": (("SELECT", None), ("INSERT", ("skill_id", "uses", "helpful", "unhelpful", "last_used")),
                    ("UPDATE", ("uses", "helpful", "unhelpful", "last_used"))),
    "usage_notes": (("INSERT", ("skill_id", "at", "actor", "helpful", "note")),),
    "skill_cards": (("SELECT", None),),
    "skill_files": (("SELECT", None),),
}


def create_agent_role(conn, role_name: str, password: str) -> None:
    """Create a login role for agents on this library's database, or re-grant an existing one.

    The password is hashed (SCRAM-SHA-256) before it is sent, so it never appears in the
    server's statement log. Also takes TEMP on this database away from PUBLIC (giving it
    back to the calling role), so that no agent can create even temporary tables.

    Args:
        conn: an autocommit connection to a migrated database, as the tables' owner
            with the CREATEROLE right (or a superuser).
        role_name: lower-case letters, digits and underscores, at most 63 characters.
        password: the role's password (not empty).

    Raises:
        ValidationError: if the name or password is unusable.
        SkillPermissionError: if the connected role may not create roles or grant.
    """
    from psycopg import sql

    from .errors import translate

    if not isinstance(role_name, str) or not _ROLE_NAME.fullmatch(role_name) or role_name.startswith("pg_"):
        raise ValidationError("role_name", "must be 1-63 lower-case letters, digits or underscores, "
                                           f"not starting with a digit or pg_, got {role_name!r}")
    if not isinstance(password, str) or not password:
        raise ValidationError("password", "must be a non-empty string")
    role = sql.Identifier(role_name)
    hashed = conn.pgconn.encrypt_password(password.encode(), role_name.encode(), b"scram-sha-256").decode()
    options = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS PASSWORD {}").format(
        sql.Literal(hashed))
    database = sql.Identifier(conn.info.dbname)
    try:
        with conn.transaction():
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role_name,)).fetchone()
            verb = sql.SQL("ALTER ROLE") if exists else sql.SQL("CREATE ROLE")
            conn.execute(sql.SQL("{} {} {}").format(verb, role, options))
            schema = sql.Identifier(conn.execute("SELECT current_schema()").fetchone()[0])
            conn.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(database))
            conn.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO CURRENT_USER").format(database))
            conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(schema))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
            for table, grants in AGENT_GRANTS.items():
                for command, columns in grants:
                    cols = sql.SQL("") if columns is None else sql.SQL(" ({})").format(
                        sql.SQL(", ").join(map(sql.Identifier, columns)))
                    conn.execute(sql.SQL("GRANT {}{} ON {} TO {}").format(
                        sql.SQL(command), cols, sql.Identifier(table), role))
    except Exception as exc:
        translated = translate(exc, None)
        if translated is None:
            raise
        raise translated from exc
