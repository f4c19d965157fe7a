"""Importing skills from files and folders, skill by skill, with a report.

:func:`import_path` reads a JSON file or Agent Skills folders with
:func:`skillvault.lint.read_path` (so import reports what ``skillvault lint`` finds,
except secrets inside bundled files, which only lint searches: the detector is slow on
the megabytes of references public collections bundle), then:

* a skill that cannot be read or fails validation is **skipped** (file, line, reason);
  the others are imported — one bad folder never sinks the rest;
* a skill whose content equals the stored one is **unchanged**: nothing is written, no
  new version;
* a new id is **imported**; changed content of an existing id is **updated** (a new
  version);
* each skill is atomic: one refused by the store is skipped, the rest written, in
  batches of a few thousand chunks, one transaction each
  (:meth:`~skillvault.store.sqlite.Store.save_skills_batched`); a storage failure
  (disk full) rolls back the batch it hit and stops the import, keeping the batches
  before it (importing again finds them unchanged). All are
  embedded in one pass first, and what is embedded is kept in the database's embedding
  cache as it goes: an interrupted import, run again, embeds only what it had not
  (``progress`` reports reading the folders, then embedding; each stage starts at 0);
* with ``strict=True`` any skipped skill or warning refuses the whole import before
  anything is written, and the rest is written in one transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Union

from . import library
from .embed.service import EmbeddingService, Progress
from .errors import ImportFormatError, ValidationError
from .formats.spec import ERROR, Finding
from .lint import dependency_findings, read_path
from .models import Skill
from .store import Store

__all__ = ["ImportReport", "import_path"]


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        path: what was imported.
        ids: every skill of the path now in the library (imported, updated or
            unchanged), in file order — what :meth:`SkillManager.import_` returns.
        imported: ids that were new.
        updated: ids whose content changed: each got a new version (see ``versions``).
        unchanged: ids whose content was already stored: nothing written.
        skipped: ``"error"`` findings (file, line, reason) for skills not imported.
        warnings: ``"warning"`` findings (spec advice, secrets, unresolved dependencies...).
        versions: the version now stored, for each imported or updated id.
        strict: whether the import ran in strict mode.
    """

    path: str
    ids: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    strict: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing was skipped."""
        return not self.skipped

    def summary(self) -> str:
        """One line, e.g. ``"2 imported, 1 updated, 3 unchanged, 1 skipped, 4 warnings"``."""
        parts = [f"{len(self.imported)} imported", f"{len(self.updated)} updated", f"{len(self.unchanged)} unchanged",
                 f"{len(self.skipped)} skipped", f"{len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''}"]
        return ", ".join(parts)

    def to_dict(self) -> dict:
        """The JSON shape (documented in docs/cli.md)."""
        data = asdict(self)
        data["skipped"] = [f.to_dict() for f in self.skipped]
        data["warnings"] = [f.to_dict() for f in self.warnings]
        return data


def _content(skill: Skill) -> dict:
    """What makes two versions of a skill the same (not dates, versions or token counts)."""
    data = skill.to_dict()
    for key in ("created_at", "version"):
        data.pop(key, None)
    for chunk in data.get("chunks", []):
        chunk.pop("tokens", None)
    return data


def _embed_hashes(prepared: list) -> list[str]:
    hashes = [item.embed_hash for chunks in prepared for item in chunks]
    return hashes + [chunks.card.embed_hash for chunks in prepared if getattr(chunks, "card", None) is not None]


def _refusal(report: ImportReport, findings: list[Finding]) -> ImportFormatError:
    first = findings[0]
    more = f" (and {len(findings) - 1} more problem{'s' if len(findings) > 2 else ''})" if len(findings) > 1 else ""
    exc = ImportFormatError(f"{first.where}: {first.message}{more}" if first.file else f"{first.message}{more}")
    exc.path = first.file  # type: ignore[attr-defined]
    exc.line = first.line  # type: ignore[attr-defined]
    exc.report = report  # type: ignore[attr-defined]
    return exc


def import_path(
    store: Store, embeddings: EmbeddingService, path: Union[str, Path], strict: bool = False,
    progress: Optional[Progress] = None,
) -> ImportReport:
    """Import what is valid in ``path``; see the module docstring.

    Raises:
        ImportFormatError: when the path as a whole cannot be read, or (``strict``) when
            anything would be skipped or warned about; nothing is written then. The
            exception's ``report`` attribute holds the report in the strict case.
    """
    embeddings.check_compatible()
    read = read_path(path, bundled_secrets=False, progress=progress)  # lint searches bundled files too
    report = ImportReport(path=str(path), strict=strict)
    report.skipped = list(read.errors)
    report.warnings = list(read.warnings)

    ready: list[Skill] = []
    seen: set[str] = set()
    for skill, findings in read.items:
        file = read.files.get(skill.id, str(path))
        if skill.id in seen:
            report.skipped.append(Finding(ERROR, "duplicate-id", f"skill id {skill.id!r} appears more than once; "
                                          "the first one is imported", file, None, skill.id))
            continue
        try:
            checked = library.checked_copy(skill)
        except ValidationError as exc:
            report.skipped.append(Finding(ERROR, "invalid-skill", str(exc), file, None, skill.id))
            continue
        seen.add(skill.id)
        report.warnings += findings
        ready.append(checked)
    known = store.existing_ids({dep for s in ready for c in s.chunks for dep in c.dependencies})
    report.warnings += dependency_findings(ready, known, read.files)

    if strict and (report.skipped or report.warnings):
        raise _refusal(report, report.skipped + report.warnings)

    changed: list[Skill] = []
    for skill in ready:
        stored = store.get_skill(skill.id)
        if stored is not None and _content(stored) == _content(skill):
            report.unchanged.append(skill.id)
            report.versions[skill.id] = stored.version
        else:
            changed.append(skill)
            (report.updated if stored is not None else report.imported).append(skill.id)
    prepared = library.embedded(changed, embeddings, progress, resumable=True)
    if strict:
        try:
            store.save_skills(list(zip(changed, prepared)), embeddings.name)
        except ValidationError as exc:
            raise ImportFormatError(f"{path}: {exc}") from None
    else:
        refused = store.save_skills_batched(list(zip(changed, prepared)), embeddings.name, action="import")
        for index, exc in refused.items():  # e.g. a chunk id another skill owns
            skill_id = changed[index].id
            report.skipped.append(Finding(ERROR, "invalid-skill", str(exc), read.files.get(skill_id, str(path)),
                                          None, skill_id))
            for bucket in (report.imported, report.updated):
                if skill_id in bucket:
                    bucket.remove(skill_id)
    # The vectors are stored with their skills now (or the skill was refused): the copies
    # kept for resuming an interrupted import are no longer needed.
    store.drop_cached_vectors(_embed_hashes(prepared))
    written = set(report.imported) | set(report.updated)
    for skill in changed:
        if skill.id in written:
            report.versions[skill.id] = skill.version
    present = written | set(report.unchanged)
    report.ids = [skill.id for skill in ready if skill.id in present]
    return report
