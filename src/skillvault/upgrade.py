"""Upgrading a library written by the published skillvault 0.1.x to the current format.

Two ways in:

* :class:`~skillvault.SkillManager` in human mode upgrades a 0.1.x file in place when it
  opens it (:func:`upgrade_if_legacy`): the file is first copied to
  ``<file>.0.1.3-backup`` and a warning on the ``skillvault`` logger says so. Agent
  mode refuses with :class:`~skillvault.errors.SkillPermissionError`.
* :func:`migrate` (CLI: ``skillvault migrate OLD.db [--to NEW.db]``).

Every skill, chunk, status, confidence, dependency, review record and usage count is
kept (what the old format allowed but the current one cannot hold is listed in the
report's notes and stays in the old file). Vectors are carried over when the current
embedder reproduces the stored ones (same width, and a few chunks re-embedded give the
same vectors); otherwise every chunk is embedded anew. The new library is built in a
temporary file beside the target and renamed over it only once complete, so a failure
at any point (an embedder that raises, a full disk) leaves the old file as it was.

The old format itself is described in :mod:`skillvault.store.legacy`.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

import numpy as np

from . import library
from .embed.base import Embedder
from .embed.service import PROBE_MIN_SIMILARITY, EmbeddingService, Progress, embedding_text
from .errors import DatabaseBusyError, DatabaseFileError, SkillPermissionError, StorageFullError, ValidationError
from .models import Chunk
from .store import PreparedChunk, SQLiteStore, legacy
from .store.connection import connect
from .validation import check_callable, check_path

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .manager import EmbedFn

log = logging.getLogger("skillvault")

#: How many chunks are re-embedded to decide whether stored vectors can be kept.
PROBE_CHUNKS = 3


@dataclass
class MigrationReport:
    """What a migration did.

    Attributes:
        source / target: the 0.1.x file and the upgraded library (the same for in place).
        backup: the copy of the original made for an in-place upgrade, else None.
        skills / chunks: how many were written.
        vectors_carried / vectors_embedded: chunk vectors kept from the old file / made anew.
        reviews / usage: review records and usage counts written.
        renamed: old id -> new id for ids that are not valid any more.
        notes: what was repaired or left out, one line each.
    """

    source: str
    target: str
    backup: Optional[str] = None
    skills: int = 0
    chunks: int = 0
    vectors_carried: int = 0
    vectors_embedded: int = 0
    reviews: int = 0
    usage: int = 0
    renamed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: what was migrated where (and where the backup is)."""
        where = "in place" if self.source == self.target else f"to {self.target}"
        text = (
            f"upgraded {self.source} from skillvault {legacy.LEGACY_RELEASE} {where}: {self.skills} skills, "
            f"{self.chunks} chunks ({self.vectors_carried} vectors carried over, {self.vectors_embedded} embedded), "
            f"{self.reviews} review records, {self.usage} usage counts"
        )
        return text + (f"; the original is kept at {self.backup}" if self.backup else "")


def library_format(path: Union[str, Path]) -> str:
    """Say what ``path`` holds: ``"missing"``, ``"0.1.x"``, ``"current"`` or ``"other"``.

    Raises:
        ExtensionError: if sqlite-vec cannot be loaded.
    """
    path = str(path)
    if path == ":memory:" or not os.path.exists(path) or os.path.getsize(path) == 0:
        return "missing"
    if legacy.may_be_legacy(path):
        try:
            conn, _ = connect(path)
        except DatabaseFileError:
            return "other"
        try:
            if legacy.is_legacy(conn):
                return "0.1.x"
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
        return "current" if "meta" in tables and version > 0 else "other"
    return "current"  # a non-zero user_version; opening it tells the rest


def upgrade_if_legacy(path: str, embedder: Embedder, agent: bool) -> Optional[MigrationReport]:
    """Upgrade ``path`` in place if it is a 0.1.x library (see the module docstring).

    Args:
        path: the database file.
        embedder: the embedder the library will be used with.
        agent: True in agent mode, which may not upgrade anything.

    Returns:
        The report, or None if there was nothing to upgrade.

    Raises:
        SkillPermissionError: in agent mode, for a 0.1.x file.
        EmbeddingError, StorageFullError, DatabaseBusyError: the file is left as it was.
    """
    if library_format(path) != "0.1.x":
        return None
    if agent:
        raise SkillPermissionError(
            f"{path!r} was written by skillvault {legacy.LEGACY_RELEASE} and must be upgraded before an agent can "
            f"open it; run `skillvault migrate {path}`, or open it once in human mode (SkillManager(..., "
            "mode='human'), or the CLI without --agent), which upgrades it in place and keeps a backup"
        )
    report = _upgrade(path, None, embedder, None)
    log.warning("%s", report.summary())
    for note in report.notes:
        log.warning("%s: %s", path, note)
    return report


def migrate(
    old: Union[str, Path],
    to: Optional[Union[str, Path]] = None,
    embed_fn: Optional["EmbedFn"] = None,
    embed_config: Optional[dict] = None,
    progress: Optional[Progress] = None,
) -> MigrationReport:
    """Upgrade a skillvault 0.1.x library.

    Args:
        old: the 0.1.x database file.
        to: write the upgraded library here (a new file) and leave ``old`` untouched;
            None upgrades ``old`` in place after copying it to ``<old>.0.1.3-backup``.
        embed_fn / embed_config: the embedder, as for :class:`~skillvault.SkillManager`
            (default: the built-in local model).
        progress: called as ``progress(done, total)`` while embedding.

    Returns:
        A :class:`MigrationReport`.

    Raises:
        DatabaseFileError: ``old`` is missing or not a 0.1.x library.
        ValidationError: ``to`` exists already; ``old`` / ``to`` is not a ``str`` or
            ``os.PathLike`` path; ``progress`` is not callable.
        EmbeddingError, StorageFullError, DatabaseBusyError: nothing was changed.
    """
    from .manager import make_embedder

    old = str(check_path(old, "old", utf8=True))
    target = None if to is None else str(check_path(to, "to", utf8=True))
    check_callable(progress, "progress", "progress(done, total)", optional=True)
    kind = library_format(old)
    if kind != "0.1.x":
        reason = {
            "missing": "there is no such file",
            "current": "it is in the current format already; there is nothing to migrate",
        }.get(kind, "it is not a skillvault library")
        raise DatabaseFileError(f"{old!r} is not a skillvault 0.1.x library: {reason}")
    if target is not None and os.path.exists(target):
        raise ValidationError("to", f"{target!r} exists already; name a new file, or leave --to out to upgrade {old!r} in place")
    return _upgrade(old, target, make_embedder(embed_fn, embed_config), progress)


# --------------------------------------------------------------------------- the work


def _upgrade(source: str, target: Optional[str], embedder: Embedder, progress: Optional[Progress]) -> MigrationReport:
    backup = None
    if target is None:
        _check_not_open(source)
        backup = legacy.free_backup_path(source)
        _copy_file(source, backup)
    try:
        report = _build(source, target or source, embedder, progress)
    except BaseException:
        if backup is not None:
            _remove_files(backup)
        raise
    report.backup = backup
    return report


def _copy_file(source: str, dest: str) -> None:
    """Copy the database file byte for byte (no other program has it open: no WAL to include)."""
    try:
        shutil.copy2(source, dest)
    except BaseException as exc:
        _remove_files(dest)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise StorageFullError(
                f"no room for the backup {dest!r} of {source!r} ({exc.strerror}); nothing was changed. "
                "Free disk space there, or migrate to another disk with `skillvault migrate OLD.db --to NEW.db`"
            ) from exc
        raise


def _build(source: str, target: str, embedder: Embedder, progress: Optional[Progress]) -> MigrationReport:
    """Read ``source``, write the library to a temporary file, rename it to ``target``."""
    conn, _ = connect(source)
    try:
        old = legacy.read_library(conn, source)
    finally:
        conn.close()
    report = MigrationReport(source=source, target=target, renamed=old.renamed, notes=old.notes)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".migrating",
                               dir=os.path.dirname(os.path.abspath(target)))
    os.close(fd)
    try:
        store = SQLiteStore(tmp)
        try:
            _write(store, EmbeddingService(store, embedder), old, report, progress)
        finally:
            store.close()
        if target == source:
            _check_not_open(source)
        os.replace(tmp, target)
    finally:
        _remove_files(tmp)
    return report


def _write(store: SQLiteStore, embeddings: EmbeddingService, old: legacy.LegacyLibrary,
           report: MigrationReport, progress: Optional[Progress]) -> None:
    ready = []
    for skill in old.skills:
        try:
            ready.append(library.checked_copy(skill))
        except ValidationError as exc:
            raise exc.within(f"skills[{skill.id!r}]") from None
    chunks = [chunk for skill in ready for chunk in skill.chunks]
    texts = {chunk.id: embedding_text(skill.name, chunk) for skill in ready for chunk in skill.chunks}
    embeddings.null_vectors()  # records the embedder (and its width) in the new library
    carried = _carried_vectors(old.vectors, chunks, embeddings)
    missing = [chunk.id for chunk in chunks if chunk.id not in carried]
    fresh = dict(zip(missing, embeddings.vectors_for([texts[i] for i in missing], progress)))
    items = []
    for skill in ready:
        prepared = []
        for chunk in skill.chunks:
            if chunk.id in carried:  # 0.1.3 embedded the content alone: hash what was embedded
                prepared.append(PreparedChunk(chunk, embeddings.hash_of(chunk.content), carried[chunk.id]))
            else:
                prepared.append(PreparedChunk(chunk, *fresh[chunk.id]))
        items.append((skill, prepared))
    legacy.write_reviews(store, old)
    store.save_skills(items, embeddings.name, actor=legacy.MIGRATION_ACTOR, action="migrate")
    legacy.write_records(store, old)
    report.skills, report.chunks = len(ready), len(chunks)
    report.vectors_carried, report.vectors_embedded = len(carried), len(missing)
    report.reviews, report.usage = len(old.reviews), len(old.usage)


def _carried_vectors(stored: dict[str, np.ndarray], chunks: list[Chunk], embeddings: EmbeddingService) -> dict[str, np.ndarray]:
    """The stored vectors (unit length) if this embedder made them, else nothing.

    0.1.3 did not record its embedder, so a few chunks are embedded again: the stored
    vectors are kept only if every probe has the same width and points the same way.
    """
    candidates = [chunk for chunk in chunks if chunk.id in stored]
    if not candidates:
        return {}
    probes = candidates[:: max(1, len(candidates) // PROBE_CHUNKS)][:PROBE_CHUNKS]
    fresh = embeddings.embed([chunk.content for chunk in probes], any_width=True)
    width = fresh.shape[1]
    for chunk, vector in zip(probes, fresh):
        old = stored[chunk.id]
        if old.shape[0] != width or float(vector @ (old / np.linalg.norm(old))) < PROBE_MIN_SIMILARITY:
            return {}
    return {
        chunk.id: (stored[chunk.id] / np.linalg.norm(stored[chunk.id])).astype(np.float32)
        for chunk in candidates
        if stored[chunk.id].shape[0] == width
    }


def _check_not_open(path: str) -> None:
    """Refuse to replace a database another program has open (its WAL files exist)."""
    if os.path.exists(path + "-wal") or os.path.exists(path + "-shm"):
        raise DatabaseBusyError(
            f"{path!r} is open in another program (it has -wal/-shm files); close that program and try again"
        )


def _remove_files(path: str) -> None:
    for name in (path, path + "-wal", path + "-shm", path + "-journal"):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass
