"""PostgreSQL + pgvector backend of the skill store (being integrated, see issue 14).

Modules, one job each: :mod:`.connection` opens connections and pools by URL,
:mod:`.errors` turns server errors into :mod:`skillvault.errors` exceptions,
:mod:`.migrations` creates and upgrades the schema, :mod:`.vectors` fixes the vector
width once the embedder is known, :mod:`.roles` creates the agent role (grants and
row-level security), and :mod:`.search` holds the one-statement queries (hybrid search,
dependency expansion). Needs the ``postgres`` extra: ``pip install skillvault[postgres]``.
"""
