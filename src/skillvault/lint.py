"""Findings about skills: what ``skillvault lint`` prints and what import reports.

One place decides what is wrong with a skill, whether it is read from disk (a
SKILL.md folder, a folder of them, a JSON file, a markdown file) or stored in the
library. The Agent Skills format checks themselves are in
:mod:`skillvault.formats.spec` (which the readers and writers use too); this module
adds what needs more than one file: secrets (the redaction detector of
:mod:`skillvault.growth.redact`), dependencies that name nothing, and the reading of
whole paths.

Severities: ``"error"`` — the skill cannot be imported (import skips it);
``"warning"`` — it can, but something should be fixed. :func:`exit_code` maps findings
to ``skillvault lint``'s exit code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Optional, Union

from .errors import ImportFormatError
from .formats.spec import (
    ERROR, WARNING, Finding, check_chunk_sizes, check_front_matter, check_references, spec_name,
)
from .models import Skill, Status

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .store import Store

__all__ = [
    "Finding", "ReadResult", "read_path", "skill_findings", "secret_findings", "dependency_findings",
    "lint_paths", "lint_skills", "exit_code", "EXIT_CLEAN", "EXIT_WARNINGS", "EXIT_ERRORS",
]

#: ``skillvault lint`` exit codes (documented in docs/cli.md).
EXIT_CLEAN = 0
EXIT_WARNINGS = 1
EXIT_ERRORS = 2


@dataclass
class ReadResult:
    """Skills read from one path, one by one.

    Attributes:
        items: ``(skill, findings)`` for every skill that could be read, in file order;
            the findings (warnings) include secrets.
        errors: one ``"error"`` finding per skill that could not be read.
        warnings: findings about the path itself (e.g. a skipped symbolic link).
        files: the file each skill came from, by skill id.
    """

    items: list[tuple[Skill, list[Finding]]] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)


def read_path(
    path: Union[str, Path], bundled_secrets: bool = True, progress: Optional[Callable[[int, int], None]] = None
) -> ReadResult:
    """Read a SKILL.md folder, a folder of them, a JSON file or a markdown file.

    Args:
        path: what to read.
        bundled_secrets: also search bundled files for secrets (``lint`` does; import
            does not: the detector runs at about 0.6 MB/s and public collections bundle
            tens of megabytes of references — SKILL.md itself, which becomes the served
            chunks, is always searched).
        progress: called as ``progress(done, total)`` in folders read, from
            ``(0, total)`` (a file counts as one step).

    Raises:
        ImportFormatError: when the path as a whole cannot be read (missing, not JSON,
            a folder holding no SKILL.md, ...). A bad skill inside it is an entry in
            :attr:`ReadResult.errors` instead.
    """
    path = Path(path)
    if not path.exists():
        raise ImportFormatError(f"{path}: no such file or folder")
    if path.is_dir():
        return _read_folders(path, bundled_secrets, progress)
    if progress:
        progress(0, 1)  # one file: a reading stage of one step, so the stages stay the same
    result = _read_json(path) if path.suffix.lower() == ".json" else _read_markdown(path)
    if progress:
        progress(1, 1)
    return result


def _read_folders(path: Path, bundled_secrets: bool, progress: Optional[Callable[[int, int], None]]) -> ReadResult:
    from .formats.skill_md import scan_skill_folders

    clean: dict[str, bool] = {}
    scan = scan_skill_folders(
        path, lambda skill, skill_md: _folder_secrets(skill, skill_md, clean if bundled_secrets else None), progress
    )
    result = ReadResult(items=scan.skills, errors=scan.errors, warnings=scan.warnings)
    result.files = {skill_id: str(skill_md) for skill_id, skill_md in scan.files.items()}
    return result


def _read_json(path: Path) -> ReadResult:
    from .formats.json_format import scan_skills

    result = ReadResult()
    skills, errors = scan_skills(path)
    result.errors = [Finding(ERROR, "invalid-skill", reason, str(path)) for _index, reason in errors]
    for skill in skills:
        result.files[skill.id] = str(path)
        result.items.append((skill, chunk_size_findings(skill, str(path)) + secret_findings(skill, str(path))))
    return result


def _read_markdown(path: Path) -> ReadResult:
    from .formats.skill_md import read_skill_markdown

    result = ReadResult()
    try:
        skill = read_skill_markdown(path)
    except ImportFormatError as exc:
        result.errors.append(Finding(ERROR, "unreadable", _without_location(exc), str(path), getattr(exc, "line", None)))
        return result
    result.files[skill.id] = str(path)
    result.items.append((skill, skill_findings(skill, str(path))))
    return result


def _without_location(exc: ImportFormatError) -> str:
    text = str(exc)
    prefix = f"{getattr(exc, 'path', '')}:{getattr(exc, 'line', '')}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


# Documentation shows where a secret goes ("Bearer your_token", "user:password@host",
# "YOUR_KEY"): the redaction detector (built to err on the side of removing) flags those,
# lint does not. A real key or password practically never spells these words.
_PLACEHOLDER_WORDS = re.compile(
    r"your|here|example|placeholder|xxx|change_?me|dummy|sample|fake|redacted|password|passwd|token|secret"
    r"|api_?key|pwd|pass\b|hunter2|-key\b|<|>|\{|\$", re.IGNORECASE)
# A lower-case word or identifier (``acceptable``, ``trigger_rate``, ``user:root``) is code
# or an example, not a password.
_PLAIN_WORDS = re.compile(r"[a-z_]+(?::[a-z_]+)?")


def _secrets_in(text: str, file: str, skill_id: Optional[str], first_line: Optional[int], what: str = "") -> list[Finding]:
    from .growth.redact import redact

    found = []
    for item in redact(text).findings:
        value = text[item.start:item.end].strip("\"'`,; ")
        if _PLACEHOLDER_WORDS.search(value) or _PLAIN_WORDS.fullmatch(value):
            continue
        line = first_line + _line_of(text, item.start) - 1 if first_line is not None else None
        found.append(Finding(WARNING, "secret", f"{what}looks like a secret ({item.kind}); remove it (or "
                             "replace it by a placeholder) before the skill is shared", file, line, skill_id))
    return found


#: Bundled files larger than this (characters) are not searched for secrets (schemas,
#: data sets): the detector costs about a second per megabyte.
MAX_SECRET_SCAN_CHARS = 200_000


def _folder_secrets(skill: Skill, skill_md: Path, seen: Optional[dict[str, bool]]) -> list[Finding]:
    """Secrets in a skill folder's SKILL.md and (unless ``seen`` is None) its bundled text files.

    ``seen`` maps the hash of each bundled file already scanned clean (public
    collections bundle the same schemas in several skills) so each is scanned once.
    """
    import hashlib

    try:
        text = skill_md.read_bytes().decode("utf-8", "replace")
    except OSError:
        return []
    found = _secrets_in(text, str(skill_md), skill.id, 1)
    if seen is None:
        return found
    files = (skill.metadata.get("agent_skill") or {}).get("files") or {}
    for rel, content in sorted(files.items()):
        if not isinstance(content, str) or len(content) > MAX_SECRET_SCAN_CHARS:
            continue
        digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()
        if seen.get(digest):
            continue
        here = _secrets_in(content, str(skill_md.parent / rel), skill.id, 1)
        seen[digest] = not here
        found += here
    return found


def secret_findings(skill: Skill, file: str) -> list[Finding]:
    """Warnings for secrets in a skill's description, chunks and bundled text files.

    Lines are unknown (the skill is not a file); each finding names the section.
    """
    found = _secrets_in(skill.description, file, skill.id, None, "the description ") if skill.description else []
    for chunk in skill.chunks:
        found += _secrets_in(chunk.content, file, skill.id, None, f"section {chunk.section!r} ")
    agent = skill.metadata.get("agent_skill") if isinstance(skill.metadata, dict) else None
    files = (agent or {}).get("files") if isinstance(agent, dict) else None
    for rel, content in sorted((files or {}).items()):
        if isinstance(content, str):
            found += _secrets_in(content, file, skill.id, None, f"bundled file {rel!r} ")
    return found


def skill_findings(skill: Skill, file: Optional[str] = None) -> list[Finding]:
    """Every single-skill finding for a skill that is not a SKILL.md folder (a stored
    skill, a markdown file, a JSON entry): what its export would break of the spec,
    broken references, oversized chunks and secrets.

    Args:
        skill: the skill (chunk ``tokens`` are counted when missing).
        file: where to say it is (default ``"library:<id>"``).
    """
    file = file or f"library:{skill.id}"
    name = spec_name(skill.id)
    agent = skill.metadata.get("agent_skill") if isinstance(skill.metadata, dict) else None
    agent = agent if isinstance(agent, dict) else {}
    found: list[Finding] = []
    if name != skill.id:
        found.append(Finding(WARNING, "name-format", f"id {skill.id!r} is not a valid Agent Skills name; an "
                             f"export names it {name!r}", file, None, skill.id))
    found += check_front_matter(name, skill.description, agent.get("compatibility"), file=file, skill_id=skill.id)
    found = [Finding(f.severity, f.code, f.message, f.file, None, f.skill_id) for f in found]
    omitted = [o.get("path") for o in agent.get("omitted_files") or [] if isinstance(o, dict)]
    found += [Finding(f.severity, f.code, f.message, f.file, None, f.skill_id)
              for f in check_references(skill.chunks, agent.get("files") or {}, file=file, skill_id=skill.id,
                                        omitted=omitted)]
    found += chunk_size_findings(skill, file)
    found += secret_findings(skill, file)
    return found


def chunk_size_findings(skill: Skill, file: str) -> list[Finding]:
    """Chunks given whole (JSON, Python, stored) that are too long to fit a prompt budget
    well; a SKILL.md reader splits long sections itself."""
    from .tokens import count_tokens_many

    missing = [c.content for c in skill.chunks if c.tokens is None]
    counted = iter(count_tokens_many(missing)) if missing else iter(())
    tokens = [c.tokens if c.tokens is not None else next(counted) for c in skill.chunks]
    return [Finding(f.severity, f.code, f.message, f.file, None, f.skill_id)
            for f in check_chunk_sizes(skill.chunks, tokens, file=file, skill_id=skill.id)]


def dependency_findings(skills: Iterable[Skill], known_ids: set[str], files: Optional[dict] = None) -> list[Finding]:
    """Warnings for chunk dependencies that name no chunk and no skill in ``known_ids``
    nor among ``skills`` themselves (dependencies may point forward: they resolve when
    the target is registered, and query-time expansion skips them until then)."""
    skills = list(skills)
    known = set(known_ids)
    known.update(s.id for s in skills)
    known.update(c.id for s in skills for c in s.chunks)
    found = []
    for skill in skills:
        file = (files or {}).get(skill.id) or f"library:{skill.id}"
        for chunk in skill.chunks:
            for dep in chunk.dependencies:
                if dep not in known:
                    found.append(_unresolved(chunk.id, dep, file, skill.id))
    return found


def _unresolved(chunk_id: str, dep: str, file: str, skill_id: str) -> Finding:
    return Finding(WARNING, "unresolved-dependency", f"chunk {chunk_id!r} depends on {dep!r}, which names no "
                   "chunk or skill (yet); it resolves when that is registered", file, None, skill_id)


def lint_paths(paths: Iterable[Union[str, Path]], known_ids: Iterable[str] = ()) -> list[Finding]:
    """Lint files and folders; dependencies may name anything in them or in ``known_ids``.

    A path that cannot be read at all gives one error finding (nothing is raised).
    """
    results: list[ReadResult] = []
    found: list[Finding] = []
    for path in paths:
        try:
            results.append(read_path(path))
        except ImportFormatError as exc:
            found.append(Finding(ERROR, "unreadable", _without_location(exc), str(getattr(exc, "path", "") or path),
                                 getattr(exc, "line", None)))
    skills = [skill for r in results for skill, _ in r.items]
    files = {sid: f for r in results for sid, f in r.files.items()}
    for result in results:
        found += result.warnings + result.errors
        for _skill, findings in result.items:
            found += findings
    found += dependency_findings(skills, set(known_ids), files)
    return found


def lint_skills(skills: Iterable[Skill], unresolved: Iterable[dict]) -> list[Finding]:
    """Lint stored skills; ``unresolved`` is the store's list of dangling dependencies."""
    skills = list(skills)
    found: list[Finding] = []
    for skill in skills:
        found += skill_findings(skill)
    wanted = {s.id for s in skills}
    for dep in unresolved:
        if dep["skill_id"] in wanted:
            found.append(_unresolved(dep["chunk_id"], dep["dependency"], f"library:{dep['skill_id']}", dep["skill_id"]))
    return found


def draft_findings(store: "Store", draft: Skill) -> list[Finding]:
    """Lint what approving ``draft`` would make canonical (what a reviewer should see).

    That is the canonical skill it revises with the draft's sections merged in, or the
    draft under the id approval gives it (so the ``draft::`` prefix is not a finding).
    Findings name the draft (``library:<draft id>``).
    """
    from .review import canonical_id_for, merge_revision

    target = store.get_skill(draft.revises) if draft.revises else None
    if target is not None and target.status == Status.CANONICAL:
        result = merge_revision(target, draft).skill
    else:
        result = draft.renamed(canonical_id_for(store, draft))
    file = f"library:{draft.id}"
    return [Finding(f.severity, f.code, f.message, file, f.line, draft.id) for f in skill_findings(result, file)]


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when there are no findings, 1 for warnings only, 2 when any is an error."""
    severities = {f.severity for f in findings}
    if ERROR in severities:
        return EXIT_ERRORS
    return EXIT_WARNINGS if severities else EXIT_CLEAN
