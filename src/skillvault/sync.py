"""Sync the canonical skills to an Agent Skills tree (``DIR/<name>/SKILL.md`` + bundled files),
and bring a person's edits in that tree back as drafts.

``plan_sync`` compares three things per folder: what the library would write now (the
one SKILL.md writer, :func:`skillvault.formats.skill_md.plan_skill_folder`), what is on
disk, and what sync wrote last time (the manifest ``DIR/.skillvault-sync.json``: folder
-> skill id, version and SHA-256 of every file it wrote). From them:

* ``write``: a canonical skill with no folder yet;
* ``update``: a folder sync wrote, unedited since, whose skill changed (only the files
  that differ are rewritten, files the skill no longer bundles are deleted);
* ``remove``: a folder sync wrote, unedited since, whose skill left canonical
  (archived, rejected, renamed...);
* ``edited``: a folder sync wrote that a person changed since; left alone (import the
  edits with :func:`plan_from` / ``--from``, or overwrite with ``force``);
* ``conflict``: a folder (or file, or link) sync did not write, where a skill would go,
  or a skill that cannot be written; never touched;
* ``unchanged``: on disk already as the library would write it. A folder sync did not
  write is adopted (recorded in the manifest, nothing written) only when it holds exactly
  that and the skill was approved from a ``--from`` draft of that folder.

``apply_sync`` carries a plan out: new folders appear whole (written under a hidden
temporary name, then renamed), changed files are replaced atomically, and the manifest
is written atomically at the end (also after a failure, with what was done). A sync of
an unchanged library writes nothing at all. Symbolic links in DIR are never followed:
a linked skill folder is a conflict, a link inside a synced folder counts as an edit.
Hidden files (``.name``) and ``__pycache__`` inside a folder are not looked at, unless
the skill itself bundles such a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from .bundle import check_bundled_name
from .errors import ImportFormatError, ValidationError
from .formats.skill_md import SKILL_FILE, plan_skill_folder
from .formats.spec import spec_name
from .models import Skill

__all__ = ["MANIFEST", "SyncItem", "SyncPlan", "plan_sync", "apply_sync", "folder_hashes"]

#: The file in DIR that records what sync wrote.
MANIFEST = ".skillvault-sync.json"
MANIFEST_FORMAT = "skillvault-sync"
MANIFEST_VERSION = 1
#: What :func:`folder_hashes` records for a symbolic link or a special file (never equal to a hash).
LINK = "symlink"
SPECIAL = "special file"

WRITE, UPDATE, REMOVE, EDITED, CONFLICT, UNCHANGED = "write", "update", "remove", "edited", "conflict", "unchanged"
#: The actions that mean the tree is not in step with the library.
DRIFT = (WRITE, UPDATE, REMOVE, EDITED, CONFLICT)


@dataclass
class SyncItem:
    """What sync does (or would do) with one folder of DIR.

    Attributes:
        folder: the folder's name in DIR.
        action: ``write``, ``update``, ``remove``, ``edited``, ``conflict`` or ``unchanged``.
        skill_id: the skill the folder holds (or held, or would hold).
        reason: for ``edited`` and ``conflict``, what is wrong and how to fix it.
        files: for ``write`` / ``update``, the files written; for ``edited``, the files
            that differ from what sync wrote.
        deleted: files deleted (``update`` of a skill that dropped a file, ``remove``).
    """

    folder: str
    action: str
    skill_id: Optional[str] = None
    reason: str = ""
    files: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    _outputs: dict[str, bytes] = field(default_factory=dict, repr=False)
    _disk: Optional[dict[str, str]] = field(default=None, repr=False)
    _entry: Optional[dict] = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready form (the ``sync --json`` item shape)."""
        return {"folder": self.folder, "skill_id": self.skill_id, "reason": self.reason,
                "files": list(self.files), "deleted": list(self.deleted)}


@dataclass
class SyncPlan:
    """What :func:`plan_sync` found; :func:`apply_sync` carries it out.

    Attributes:
        root: DIR.
        items: one :class:`SyncItem` per folder, sorted by folder name.
        force: edited folders are overwritten (or removed).
        applied: True once :func:`apply_sync` ran.
    """

    root: Path
    items: list[SyncItem]
    force: bool = False
    applied: bool = False
    _manifest: dict = field(default_factory=dict, repr=False)
    _old_manifest: dict = field(default_factory=dict, repr=False)

    def of(self, action: str) -> list[SyncItem]:
        """The items with this action."""
        return [item for item in self.items if item.action == action]

    @property
    def in_sync(self) -> bool:
        """True when nothing is to write, update or remove, and nothing is edited or in conflict."""
        return not any(item.action in DRIFT for item in self.items)

    def to_dict(self) -> dict:
        """JSON-ready form: ``{"dir", "applied", "in_sync", "write", "update", "remove",
        "edited", "conflict", "unchanged"}`` (lists of :meth:`SyncItem.to_dict`)."""
        data: dict[str, Any] = {"dir": str(self.root), "applied": self.applied, "in_sync": self.in_sync}
        for action in DRIFT + (UNCHANGED,):
            data[action] = [item.to_dict() for item in self.of(action)]
        return data


# --------------------------------------------------------------------------- hashing


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: str) -> str:
    """SHA-256 of a regular file, opened without following a link (``SPECIAL`` if it is not one)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return SPECIAL  # swapped for a link, or unreadable: not what sync wrote
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return SPECIAL
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_hashes(folder: Union[str, Path], keep: Iterable[str] = ()) -> dict[str, str]:
    """Return ``{relative posix path: sha256}`` of the files in a folder, links not followed.

    Hidden entries and ``__pycache__`` are left out (as the SKILL.md reader does) unless
    their path is in ``keep``. A symbolic link is recorded as :data:`LINK`, a FIFO or
    device as :data:`SPECIAL`, so it never matches what sync wrote.
    """
    kept = set(keep)
    found: dict[str, str] = {}

    def walk(directory: str, prefix: str) -> None:
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                rel = prefix + entry.name
                hidden = entry.name.startswith(".") or entry.name == "__pycache__"
                if hidden and not any(k == rel or k.startswith(rel + "/") for k in kept):
                    continue
                if entry.is_symlink():
                    found[rel] = LINK
                elif entry.is_dir(follow_symlinks=False):
                    walk(entry.path, rel + "/")
                elif entry.is_file(follow_symlinks=False):
                    found[rel] = _file_sha256(entry.path)
                else:
                    found[rel] = SPECIAL

    walk(os.fspath(folder), "")
    return found


# --------------------------------------------------------------------------- manifest


def _manifest_error(path: Path, problem: str) -> ValidationError:
    return ValidationError(str(path), f"{problem}; it is not a sync manifest skillvault wrote. Remove it to "
                           "start over (the folders it listed are then treated as not written by sync: "
                           "reported as conflicts, never overwritten or deleted)")


def read_manifest(root: Path) -> dict[str, dict]:
    """Return the folders the manifest in ``root`` records (``{}`` if there is none).

    Raises:
        ValidationError: the manifest is a link, unreadable, or malformed (naming the fix).
    """
    path = root / MANIFEST
    if not os.path.lexists(path):
        return {}
    if path.is_symlink() or not path.is_file():
        raise _manifest_error(path, "is a symbolic link or not a regular file")
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise _manifest_error(path, f"cannot be read as JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or not isinstance(data.get("folders"), dict):
        raise _manifest_error(path, f"has no 'format': {MANIFEST_FORMAT!r} and 'folders' mapping")
    if data.get("version") != MANIFEST_VERSION:
        raise _manifest_error(path, f"has version {data.get('version')!r}; this skillvault reads {MANIFEST_VERSION}")
    folders: dict[str, dict] = {}
    for name, entry in data["folders"].items():
        # The manifest decides what may be deleted: only plain names inside the root.
        if not isinstance(name, str) or not name or name.startswith(".") or "/" in name or "\\" in name:
            raise _manifest_error(path, f"lists the folder {name!r}, which is not a plain folder name")
        if not isinstance(entry, dict) or not isinstance(entry.get("skill"), str) or not isinstance(entry.get("files"), dict):
            raise _manifest_error(path, f"folder {name!r} has no 'skill' and 'files'")
        for rel, digest in entry["files"].items():
            try:
                if rel != SKILL_FILE:
                    check_bundled_name(rel)
            except ValidationError:
                raise _manifest_error(path, f"folder {name!r} lists the file {rel!r}, which leaves its folder") from None
            if not isinstance(digest, str) or len(digest) != 64:
                raise _manifest_error(path, f"folder {name!r} file {rel!r} has no SHA-256")
        folders[name] = {"skill": entry["skill"], "version": entry.get("version"), "files": dict(entry["files"])}
    return folders


def _write_manifest(root: Path, folders: dict[str, dict]) -> None:
    data = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION,
            "folders": {name: folders[name] for name in sorted(folders)}}
    _atomic_write(root / MANIFEST, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def _atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; give it a new file's usual mode
        os.replace(tmp, target)  # replaces a link itself, never what it points to
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- plan


def check_root(path: Union[str, Path]) -> Path:
    """Return DIR as a Path; it may be missing (sync creates it), not a file.

    Raises:
        ValidationError: ``path`` exists and is not a folder.
    """
    root = Path(path)
    if os.path.lexists(root) and not root.is_dir():
        raise ValidationError("dir", f"{str(root)!r} exists and is not a folder; give a folder of skill folders "
                              "(e.g. .claude/skills)")
    return root


def desired_folders(
    skills: list[Skill], manifest: Optional[dict] = None
) -> tuple[dict[str, tuple[Skill, dict[str, bytes]]], list[SyncItem]]:
    """Render each skill with the SKILL.md writer: ``({folder: (skill, {file: bytes})}, conflicts)``.

    A skill that cannot be written, or whose folder name another skill already takes,
    is a conflict. Of two skills for one folder, the one the ``manifest`` records there
    keeps it (else the first by id).
    """
    holder = {name: entry["skill"] for name, entry in (manifest or {}).items()}
    wanted: dict[str, tuple[Skill, dict[str, bytes]]] = {}
    conflicts: list[SyncItem] = []
    # Rendered into an empty folder: what is in DIR (links included) never shapes the bytes.
    with tempfile.TemporaryDirectory(prefix=".skillvault-render.") as blank:
        for skill in sorted(skills, key=lambda s: (holder.get(spec_name(s.id)) != s.id, s.id)):
            name = spec_name(skill.id)
            if name in wanted:
                conflicts.append(SyncItem(name, CONFLICT, skill.id, f"skills {wanted[name][0].id!r} and {skill.id!r} "
                                          f"would both be written as the folder {name!r}; only the first is synced"))
                continue
            try:
                folder, outputs, _findings = plan_skill_folder(skill, blank)
            except (ValidationError, ImportFormatError) as exc:
                conflicts.append(SyncItem(name, CONFLICT, skill.id, f"cannot be written as a SKILL.md folder ({exc})"))
                continue
            wanted[name] = (skill, {path.relative_to(folder).as_posix(): data for path, data in outputs})
    return wanted, conflicts


def plan_sync(skills: list[Skill], path: Union[str, Path], force: bool = False) -> SyncPlan:
    """Compare DIR with what the library would write; write nothing.

    Args:
        skills: the canonical skills.
        path: DIR (may be missing).
        force: plan to overwrite (or remove) folders edited since the last sync.

    Returns:
        A :class:`SyncPlan` (see the module docstring for the actions).

    Raises:
        ValidationError: DIR is a file, or its manifest is malformed.
    """
    root = check_root(path)
    manifest = read_manifest(root) if root.is_dir() else {}
    wanted, items = desired_folders(skills, manifest)
    blocked = {item.folder for item in items if item.folder not in wanted}  # unwritable skills: folder kept
    new_manifest = {name: manifest[name] for name in blocked if name in manifest}  # kept as they are
    for name in sorted((set(wanted) | set(manifest)) - blocked):
        entry, want = manifest.get(name), wanted.get(name)
        target = root / name
        exists = os.path.lexists(target)
        skill_id = want[0].id if want else entry["skill"]
        if exists and (target.is_symlink() or not target.is_dir()):
            if want:
                kind = "a symbolic link" if target.is_symlink() else "a file"
                items.append(SyncItem(name, CONFLICT, skill_id, f"{target} is {kind}, not a folder sync wrote; it is "
                                      "left alone (links are not followed); remove it to let sync write the skill"))
            continue  # a manifest entry whose folder became a file or link is dropped: not ours any more
        if want is None:
            if not exists:
                continue  # gone already: forget it
            disk = folder_hashes(target, entry["files"])
            if disk == entry["files"] or force:
                items.append(SyncItem(name, REMOVE, skill_id, deleted=sorted(disk), _disk=disk))
            else:
                new_manifest[name] = entry
                items.append(SyncItem(name, EDITED, skill_id, _differs(disk, entry["files"]) + "; the skill is no longer "
                                      "canonical, so sync would remove the folder: import the edits as drafts with "
                                      "`--from`, or remove it with --force", files=_changed(disk, entry["files"])))
            continue
        skill, outputs = want
        hashes = {rel: _sha256(data) for rel, data in outputs.items()}
        record = {"skill": skill.id, "version": skill.version, "files": hashes}
        if entry is None and exists:
            if _made_from(skill, name) and folder_hashes(target, hashes) == hashes:
                new_manifest[name] = record
                items.append(SyncItem(name, UNCHANGED, skill_id, "approved from this folder (--from); now recorded"))
                continue
            items.append(SyncItem(name, CONFLICT, skill_id, f"{target} was not written by sync (it is not in "
                                  f"{MANIFEST}); it is left alone: move or rename it to let sync write skill {skill.id!r}"))
            continue
        if not exists:
            new_manifest[name] = record
            items.append(SyncItem(name, WRITE, skill_id, files=sorted(outputs), _outputs=outputs, _entry=record))
            continue
        disk = folder_hashes(target, set(entry["files"]) | set(hashes))
        if disk == hashes:
            new_manifest[name] = record
            items.append(SyncItem(name, UNCHANGED, skill_id))
        elif disk == entry["files"] or force:
            new_manifest[name] = record
            changed = {rel: data for rel, data in outputs.items() if disk.get(rel) != hashes[rel]}
            items.append(SyncItem(name, UPDATE, skill_id, files=sorted(changed),
                                  deleted=sorted(set(disk) - set(hashes)), _outputs=changed, _disk=disk, _entry=record))
        else:
            new_manifest[name] = entry
            items.append(SyncItem(name, EDITED, skill_id, _differs(disk, entry["files"]) + "; not overwritten: import "
                                  "the edits as drafts with `--from`, or overwrite them with --force",
                                  files=_changed(disk, entry["files"])))
    items.sort(key=lambda item: (item.folder, item.skill_id or ""))
    return SyncPlan(root, items, force, _manifest=new_manifest, _old_manifest=manifest)


def _made_from(skill: Skill, folder: str) -> bool:
    """True if ``skill`` was approved from a draft ``--from`` made of a folder of this name."""
    origin = skill.metadata.get("sync_from") if isinstance(skill.metadata, dict) else None
    return isinstance(origin, dict) and origin.get("folder") == folder


def _changed(disk: dict[str, str], recorded: dict[str, str]) -> list[str]:
    return sorted(rel for rel in set(disk) | set(recorded) if disk.get(rel) != recorded.get(rel))


def _differs(disk: dict[str, str], recorded: dict[str, str]) -> str:
    changed = _changed(disk, recorded)
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    return f"edited locally since the last sync ({shown})"


# --------------------------------------------------------------------------- apply


def apply_sync(plan: SyncPlan) -> SyncPlan:
    """Carry out a plan: write, update and remove folders, then write the manifest.

    Before a folder is changed its files are hashed again; one edited since the plan
    was made becomes ``edited`` and is left alone (unless the plan was forced). The
    manifest is written (atomically) only when it changes, and also when a failure
    stops the sync part-way, recording what was done.

    Returns:
        The plan, ``applied`` set.

    Raises:
        OSError: the file system refused a write (what was done is in the manifest).
    """
    if plan.applied:
        raise ValidationError("plan", "was applied already; make a new plan")
    root = plan.root
    manifest = dict(plan._manifest)
    # Until a folder is done, the manifest keeps what it said before (also if we stop part-way).
    pending = [item for item in plan.items if item.action in (WRITE, UPDATE, REMOVE)]
    try:
        for item in list(pending):
            folder = root / item.folder
            if item.action == WRITE:
                root.mkdir(parents=True, exist_ok=True)
                if os.path.lexists(folder):
                    _demote(item, "appeared since the plan was made; it is left alone")
                    continue
                _write_new_folder(root, item)
            else:
                if folder.is_symlink() or folder_hashes(folder, set(item._disk or ())) != item._disk:
                    _demote(item, "changed while sync was running; it is left alone")
                    continue
                for rel in item.deleted:
                    _unlink(folder, rel)
                for rel, data in item._outputs.items():
                    _replace_file(folder, rel, data)
                if item.action == REMOVE:
                    _prune(folder, root)
            pending.remove(item)
    finally:
        plan.applied = True
        for item in pending:  # not done: as before
            if item.folder in plan._old_manifest:
                manifest[item.folder] = plan._old_manifest[item.folder]
            else:
                manifest.pop(item.folder, None)
        if manifest != plan._old_manifest and root.is_dir():
            _write_manifest(root, manifest)
    return plan


def _demote(item: SyncItem, why: str) -> None:
    """Turn an item that can no longer be done into an ``edited`` (or ``conflict``) one."""
    item.action = EDITED if item.action in (UPDATE, REMOVE) else CONFLICT
    item.reason, item.files, item.deleted = f"{item.folder} {why}", [], []


def _write_new_folder(root: Path, item: SyncItem) -> None:
    """Write a whole folder under a hidden temporary name, then rename it into place."""
    staging = Path(tempfile.mkdtemp(prefix=f".{item.folder}.", suffix=".partial", dir=root))
    try:
        for rel, data in item._outputs.items():
            target = staging.joinpath(*rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it 0700
        os.rename(staging, root / item.folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace_file(folder: Path, rel: str, data: bytes) -> None:
    """Atomically replace ``folder/rel``; a link, file or folder in the way (forced only) is removed, not followed."""
    parent = folder
    parts = rel.split("/")
    for part in parts[:-1]:
        parent = parent / part
        if os.path.lexists(parent) and (parent.is_symlink() or not parent.is_dir()):
            os.unlink(parent)
        parent.mkdir(exist_ok=True)
    target = parent / parts[-1]
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    _atomic_write(target, data)


def _unlink(folder: Path, rel: str) -> None:
    target = folder.joinpath(*rel.split("/"))
    if os.path.lexists(target):
        os.unlink(target)  # a link is removed itself
    _prune(target.parent, folder)


def _prune(directory: Path, stop: Path) -> None:
    """Remove ``directory`` and its parents below ``stop`` while they are empty."""
    current = directory
    while current != stop and stop in current.parents:
        try:
            os.rmdir(current)
        except OSError:
            return  # not empty (e.g. hidden files a person keeps there): left as it is
        current = current.parent
