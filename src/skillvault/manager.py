"""SkillManager: the public facade. It validates arguments and wires the layers."""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from . import library, review
from .bundle import bundled_text
from .embed.base import Embedder
from .embed.recorded import MissingEmbedder
from .embed.service import EmbeddingService, Progress, embedder_identity
from .errors import (
    DatabaseBusyError, ImportFormatError, NotFoundError, SkillPermissionError, StorageFullError, StorageIOError,
    ValidationError,
)
from .formats import json_format
from .models import SOURCES, STATUSES, Skill, Status, validate_id
from .retrieval import Hit, Packing, Retriever
from .retrieval.evaluation import TriggerReport, check_cases, evaluate_triggers, load_cases
from .retrieval.skills import SkillHit
from .store import Store, is_postgres_url, open_store
from .store.migrations import MAX_USAGE_NOTE_CHARS
from .upgrade import upgrade_if_legacy
from .validation import check_callable, check_int, check_path, check_text, shown

MODES = ("human", "agent")
DEFAULT_AUTO_PROMOTE = {"usage": 5, "confidence": 0.9}
DEFAULT_DRAFT_TTL_DAYS = 30
MAX_DRAFT_TTL_DAYS = 36_500
MAINTENANCE_INTERVAL_SECONDS = 3600
#: Embedding-cache rows (vectors of an import that never finished) are dropped after this.
EMBEDDING_CACHE_DAYS = 30
MAX_QUERY_CHARS = 10_000
MAX_BUDGET = 1_000_000
MAX_K = 1_000

EmbedFn = Callable[[str], Sequence[float]]
PROGRESS = "progress(done, total)"
_LAST_MAINTENANCE_KEY = "last_maintenance"
_log = logging.getLogger("skillvault")


def make_embedder(embed_fn: Optional[EmbedFn] = None, embed_config: Optional[dict] = None) -> Embedder:
    """Pick the embedder: ``embed_fn`` if given, else ``embed_config``, else the local model.

    Raises:
        ValidationError: if both are given, or ``embed_config`` is malformed.
    """
    if embed_fn is not None and embed_config is not None:
        raise ValidationError("embed_config", "give either embed_fn or embed_config, not both")
    if embed_fn is not None:
        check_callable(embed_fn, "embed_fn", "text -> list[float]")
        from .embed.callable import CallableEmbedder

        return CallableEmbedder(embed_fn)
    if embed_config is not None:
        from .embed.config import embedder_from_config

        return embedder_from_config(embed_config)
    from .embed.local import LocalEmbedder

    return LocalEmbedder()


class SkillManager:
    """A skill library in one SQLite file.

    Args:
        db_path: the database file (created when missing).
        embed_fn: ``text -> list[float]``; ``None`` (with no ``embed_config``) means the
            built-in local embedder (all-MiniLM-L6-v2, offline) — or, for a database built
            with another embedder, that one: everything that needs no new vectors works,
            and embedding new text raises :class:`EmbedderMismatchError` saying what to pass.
        embed_config: ``{"provider": "openai", "model": ..., "base_url": ..., "api_key": ...}``
            for any OpenAI-compatible embeddings endpoint (extra ``[openai]``).
        llm_fn: ``text -> dict``, asked by :meth:`extract` whether a conversation holds
            reusable knowledge (the fields of the 0.1.x README).
        mode: ``"human"`` (full access) or ``"agent"`` (read canonical skills, write
            drafts only). ``"admin"``, the 0.1.x name, means ``"human"``.
        min_confidence: extraction threshold (0..1) for drafts.
        auto_promote: ``{"usage": int, "confidence": float}``: a draft used this often,
            this confident and conflicting with no canonical skill is promoted without
            review. ``None`` turns auto-promotion off.
        llm_config: ``{"provider": "openai" | "anthropic", "model": ..., "base_url": ...,
            "api_key": ...}`` selects a built-in extraction adapter when ``llm_fn`` is None.
        draft_ttl_days: drafts untouched this long are archived by :meth:`maintenance`
            (``None``: never).

    Raises:
        ValidationError: on a bad argument (``db_path`` must be a ``str`` or
            ``os.PathLike`` path, or ``":memory:"``).
        EmbedderMismatchError: if the database was built with another embedder.
        ExtensionError: if sqlite-vec or FTS5 cannot be loaded.
    """

    def __init__(
        self,
        db_path: Union[str, Path] = "skills.db",
        embed_fn: Optional[EmbedFn] = None,
        embed_config: Optional[dict] = None,
        llm_fn: Optional[Callable[[str], dict]] = None,
        mode: str = "human",
        min_confidence: float = 0.7,
        auto_promote: Optional[dict] = DEFAULT_AUTO_PROMOTE,
        llm_config: Optional[dict] = None,
        draft_ttl_days: Optional[float] = DEFAULT_DRAFT_TTL_DAYS,
    ):
        if mode == "admin":
            mode = "human"
        if mode not in MODES:
            raise ValidationError("mode", f"must be 'human' or 'agent', got {shown(mode)}")
        if isinstance(min_confidence, bool) or not isinstance(min_confidence, (int, float)) or not 0 <= min_confidence <= 1:
            raise ValidationError("min_confidence", f"must be a number between 0 and 1, got {shown(min_confidence)}")
        db_path = _check_db(db_path)
        self.mode = mode
        self.min_confidence = float(min_confidence)
        self.auto_promote = _check_auto_promote(auto_promote)
        self.draft_ttl_days = _check_ttl(draft_ttl_days)
        self.llm_fn = _make_llm(llm_fn, llm_config)
        embedder = make_embedder(embed_fn, embed_config)
        if not is_postgres_url(db_path):
            upgrade_if_legacy(db_path, embedder, agent=(mode == "agent"))  # a skillvault 0.1.x file
        self.store: Store = open_store(db_path, agent=(mode == "agent"))
        recorded, dim = self.store.embedder_record()
        if embed_fn is None and embed_config is None and recorded and embedder_identity(recorded) != embedder_identity(embedder.name):
            # Opened without naming an embedder (e.g. by the CLI): keep the library usable for
            # everything that needs no new vectors; embedding new text says what to pass.
            embedder = MissingEmbedder(recorded, dim, self.store.path)
        self.embeddings = EmbeddingService(self.store, embedder)
        try:
            self.embeddings.check_compatible()
        except Exception:
            self.store.close()
            raise
        self.retriever = Retriever(self.store, self.embeddings)
        if mode == "human" and not self.store.read_only and self._maintenance_due():
            try:
                self.maintenance()
            except SkillPermissionError as exc:  # a write-protected file: it still serves queries
                _log.warning("maintenance skipped: %s", exc)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the database connection."""
        self.store.close()

    def __enter__(self) -> "SkillManager":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _require_human(self, action: str) -> None:
        if self.mode == "agent":
            raise SkillPermissionError(
                f"{action} is not allowed in agent mode; agents may query skills and write drafts. "
                "Open SkillManager(..., mode='human') for this.",
                action=action,
            )

    # ------------------------------------------------------------------ skills
    def register(self, skill: Skill) -> str:
        """Store a skill (replacing an existing one with the same id) with its vectors.

        Args:
            skill: the skill; ``Chunk.tokens`` may be None (it is computed).

        Returns:
            The skill id.

        Raises:
            SkillPermissionError: in agent mode.
            ValidationError: naming the bad field (nothing is written).
            EmbeddingError: if the embedder fails (nothing is written).
        """
        if not isinstance(skill, Skill):
            raise ValidationError("skill", f"must be a Skill, got {type(skill).__name__}")
        return library.register(self.store, self.embeddings, skill)

    def register_many(self, skills: Sequence[Skill], progress: Optional[Progress] = None) -> list[str]:
        """Store many skills at once: what :meth:`register` does for each, much faster.

        All skills are validated before anything is written (all-or-nothing), embedded in
        one pass (shared batches) and written a few thousand chunks per transaction,
        each skill atomic.

        Args:
            skills: the skills, in order; an id given twice is written twice (the second
                becomes a new version, as with two :meth:`register` calls).
            progress: called as ``progress(done, total)`` over the texts embedded, then
                over the skills written (each stage starts at 0).

        Returns:
            The skill ids, in order.

        Raises:
            SkillPermissionError: in agent mode.
            ValidationError: naming ``skills[i]`` and the bad field (nothing is written),
                including a chunk id that another skill holds.
            EmbeddingError: if the embedder fails (nothing is written).
            StorageFullError, StorageIOError: the batch being written is rolled back;
                earlier batches stay written (registering them again adds new versions).
        """
        check_callable(progress, "progress", PROGRESS, optional=True)
        return library.register_many(self.store, self.embeddings, skills, progress)

    def get(self, skill_id: str) -> Optional[Skill]:
        """Return the skill with this id (with its chunks), or None."""
        skill_id = validate_id(skill_id, "skill_id")
        skill = self.store.get_skill(skill_id)
        if self.mode == "agent" and skill is not None and skill.status != Status.CANONICAL:
            return None  # agents see canonical skills only
        return skill

    def list(self, status: Optional[str] = None, source: Optional[str] = None) -> list[Skill]:
        """Return skills, optionally only those with this status and/or source.

        In agent mode only canonical skills are listed.

        Raises:
            ValidationError: for an unknown status or source.
            SkillPermissionError: in agent mode, for a status other than canonical.
        """
        if self.mode == "agent":
            if status not in (None, Status.CANONICAL):
                self._require_human(f"list(status={shown(status)})")
            status = Status.CANONICAL
        if status is not None and status not in STATUSES:
            raise ValidationError("status", f"must be one of {STATUSES} or None, got {shown(status)}")
        if source is not None and source not in SOURCES:
            raise ValidationError("source", f"must be one of {SOURCES} or None, got {shown(source)}")
        return self.store.list_skills(status=status, source=source)

    def archive(self, skill_id: str) -> None:
        """Archive a skill: it stays in the database but is no longer served.

        Raises:
            SkillPermissionError: in agent mode.
            NotFoundError: if there is no such skill.
        """
        review.archive(self.store, skill_id)

    # ------------------------------------------------------------------ retrieval
    def query(self, text: str, budget: int = 2000, explain: bool = False) -> Union[str, Packing]:
        """Return the most relevant canonical chunks (and their dependencies) as prompt text.

        Args:
            text: what the agent needs to know.
            budget: most tokens (cl100k_base) the returned text may have.
            explain: if True return a :class:`~skillvault.retrieval.Packing` with the
                text (``.text``) and why each chunk was taken or dropped.

        Returns:
            ``<skill name="...">...</skill>`` blocks joined by blank lines; "" when
            nothing relevant fits. The skills served are counted as used; if the count
            cannot be written (file busy or read-only) a warning is logged and the
            answer is still returned (also when the disk is full).

        Raises:
            ValidationError: for empty/oversized text or a budget that is not a
                positive integer.
        """
        text = _check_query_text(text)
        check_int(budget, "budget", 1, MAX_BUDGET)
        packing = self.retriever.query(text, budget)
        try:
            self.store.record_usage(packing.served_skill_ids)
        except (DatabaseBusyError, SkillPermissionError, StorageFullError, StorageIOError) as exc:
            # The answer matters more than the count; say so and serve it.
            _log.warning("query: usage of %s not recorded (%s)", packing.served_skill_ids, exc)
        return packing if explain else packing.text

    def search(self, text: str, k: int = 10) -> list[Hit]:
        """Return up to ``k`` relevant canonical chunks with their scores, best first.

        Each :class:`~skillvault.retrieval.Hit` has the chunk, skill id and name,
        vector score (cosine), lexical score (BM25, None if no word matched) and the
        fused score.

        Raises:
            ValidationError: for empty/oversized text or ``k`` outside 1..1000.
        """
        text = _check_query_text(text)
        check_int(k, "k", 1, MAX_K)
        return self.retriever.search(text, k)

    def search_skills(self, query: str, k: int = 5) -> list[SkillHit]:
        """Return up to ``k`` canonical skills that fit ``query``, best first (level 1).

        Progressive disclosure: find skills with this, read one with :meth:`get`, and
        a file it bundles with :meth:`read_file`. Skills are ranked by their card
        (name, description, when-to-use), their best chunk and their words together.

        Returns:
            :class:`~skillvault.retrieval.skills.SkillHit` items: ``id``, ``name``,
            ``description``, ``score`` and ``why`` (every ranking signal with its value
            and rank).

        Raises:
            ValidationError: for empty/oversized text or ``k`` outside 1..1000.
        """
        query = _check_query_text(query)
        check_int(k, "k", 1, MAX_K)
        return self.retriever.search_skills(query, k)

    def read_file(self, skill_id: str, path: str) -> str:
        """Return the text of a file bundled with a skill (level 3), e.g. ``references/api.md``.

        Args:
            skill_id: the skill (canonical only, in agent mode).
            path: the file's relative path inside the skill folder, as listed in
                ``skill.metadata["agent_skill"]["files"]``.

        Raises:
            ValidationError: for a malformed path.
            NotFoundError: no such skill, or it bundles no such file (the error lists
                the files it has), or the file's content was not kept.
            SkillVaultError: the file is binary (not text).
        """
        skill = self.get(skill_id)
        if skill is None:
            raise NotFoundError(f"no skill with id {skill_id!r}")
        return bundled_text(skill, path)

    def evaluate(self, cases: Union[str, Path, list]) -> TriggerReport:
        """Trigger evaluation: for each ``{"task", "expected"}`` case, is ``expected`` the first skill?

        Args:
            cases: a JSON/YAML file of cases, or the list itself; ``expected`` is a skill
                id or name.

        Returns:
            A :class:`~skillvault.retrieval.evaluation.TriggerReport`: R@1, R@3, MRR, the
            misses with what was returned instead, and skills no case triggers.

        Raises:
            ValidationError: unreadable cases, or a case expecting a skill not served.
        """
        if isinstance(cases, (str, Path)):
            cases = load_cases(check_path(cases, "cases"))
        else:
            cases = check_cases(cases)
        served = [(skill.id, skill.name) for skill in self.store.list_skills(status=Status.CANONICAL)]
        return evaluate_triggers(cases, lambda task, k: self.search_skills(task, k), served)

    # ------------------------------------------------------------------ self-growth
    def extract(self, messages_or_text: Any) -> Optional[str]:
        """Ask the LLM whether a conversation holds reusable knowledge; store it as a draft.

        Secrets are redacted before the text reaches the LLM and again from its answer.
        A near-duplicate of an existing draft is merged into it; knowledge close to a
        canonical skill becomes a proposed revision of it (``Skill.revises``).

        Args:
            messages_or_text: a list of ``{"role", "content"}`` messages (OpenAI or
                Anthropic content blocks) or plain text.

        Returns:
            The draft id (``draft::<slug>``), or None if there was nothing reusable,
            the confidence was below ``min_confidence``, or the LLM failed (the
            reason is logged on the ``skillvault`` logger; nothing is raised for it).

            Without ``llm_fn`` / ``llm_config`` it returns None and logs a warning
            (as 0.1.x did).

        Raises:
            ValidationError: if the input has the wrong shape.
        """
        from .growth.extract import DEFAULT_MAX_INPUT_TOKENS, extract

        if self.llm_fn is None:
            # 0.1.x returned None here, and its README calls extract() on a manager
            # without an LLM; keep that, but say so loudly.
            _log.warning("extract: no llm_fn or llm_config was given to SkillManager; nothing extracted")
            return None
        limit = getattr(self.llm_fn, "max_input_tokens", None) or DEFAULT_MAX_INPUT_TOKENS
        actor = "agent" if self.mode == "agent" else "human"
        draft_id = extract(self.store, self.embeddings, self.llm_fn, messages_or_text, self.min_confidence, actor, limit)
        if draft_id and self.mode == "human":
            self._promote(only=[draft_id])
        return draft_id

    def propose(
        self,
        title: str,
        playbook: str,
        examples: str = "",
        when_to_use: str = "",
        dependencies: Optional[Sequence[str]] = None,
        tags: Optional[Sequence[str]] = None,
        confidence: Optional[float] = None,
    ) -> str:
        """Store knowledge written by the caller (an agent, a script) as a draft for review.

        No LLM is involved: the fields go through what an extraction's answer goes
        through (secret redaction, near-duplicate merge into an existing draft, revision
        detection against canonical skills, the review queue), but they are checked
        strictly: bad input raises and nothing is stored.

        Args:
            title: one line, at most 80 characters.
            playbook: the steps (markdown), required.
            examples / when_to_use: optional markdown.
            dependencies: ids of canonical skills this one builds on.
            tags: labels.
            confidence: 0..1; estimated from the content when None.

        Returns:
            The draft id (new, or the near-duplicate draft it was merged into).

        Raises:
            ValidationError: naming the field and the fix.
            SkillPermissionError: the library is read-only.
        """
        from .growth.propose import propose, proposal_knowledge

        knowledge, redacted = proposal_knowledge(
            self.store, title, playbook, examples, when_to_use, dependencies, tags, confidence
        )
        if redacted:
            _log.info("propose: redacted %d secret(s)", redacted)
        actor = "agent" if self.mode == "agent" else "human"
        draft_id = propose(self.store, self.embeddings, knowledge, actor)
        if self.mode == "human":
            self._promote(only=[draft_id])
        return draft_id

    def record_usage(self, skill_id: str, helpful: Optional[bool] = None, note: Optional[str] = None) -> None:
        """Count a use of a skill (or draft), optionally with a helpful / unhelpful vote and a note.

        In human mode a draft that now meets ``auto_promote`` is promoted (unless it
        conflicts with a canonical skill, or an agent wrote it). In agent mode the use is
        recorded as an agent's report (see :meth:`usage`).

        Args:
            skill_id: the skill used.
            helpful: the vote, or None.
            note: what was right or wrong, at most 1000 characters; secrets are redacted
                before it is stored; blank or None stores no note.

        Raises:
            NotFoundError: no such skill. ValidationError: ``helpful`` not a bool/None,
                ``note`` not a string or too long.
            SkillPermissionError: the library is read-only.
        """
        skill_id = validate_id(skill_id, "skill_id")
        if helpful is not None and not isinstance(helpful, bool):
            raise ValidationError("helpful", f"must be True, False or None, got {shown(helpful)}")
        if note is not None:
            from .growth.redact import redact

            note = redact(check_text(note, "note", MAX_USAGE_NOTE_CHARS).strip()).text[:MAX_USAGE_NOTE_CHARS] or None
        if self.store.get_skill(skill_id) is None:
            raise NotFoundError(f"no skill with id {skill_id!r}")
        self.store.record_usage([skill_id], helpful, note)
        if self.mode == "human":
            self._promote(only=[skill_id])

    def usage(self, skill_id: str) -> dict:
        """Return ``{"uses", "helpful", "unhelpful", "last_used", "by_agents", "notes"}`` for a skill.

        The counts include what agents reported; ``by_agents`` (``{"uses", "helpful",
        "unhelpful"}``) is that part. It is advisory and never counts toward
        auto-promotion unless ``auto_promote["trust_agents"]`` is set. ``notes`` are the
        latest 20 notes given with :meth:`record_usage`, newest first
        (``{"at", "actor", "helpful", "note"}``).
        """
        skill_id = validate_id(skill_id, "skill_id")
        return self.store.usage_of(skill_id)

    def _promote(self, only: Optional[list[str]] = None) -> list[str]:
        from .growth.promote import promote_ready_drafts

        return promote_ready_drafts(self.store, self.embeddings, self.auto_promote, only)

    # ------------------------------------------------------------------ review
    def review_queue(self) -> list[Skill]:
        """Return the drafts awaiting review, newest first.

        Each draft carries ``confidence``, ``revises`` (the canonical skill it proposes
        to change, if any) and ``flags`` (why it was flagged, e.g. ``conflict: ...``).

        Raises:
            SkillPermissionError: in agent mode.
        """
        return review.review_queue(self.store)

    def approve(
        self,
        draft_id: str,
        reviewer: Optional[str] = None,
        note: Optional[str] = None,
        chunks: Optional[dict] = None,
        description: Optional[str] = None,
    ) -> str:
        """Make a draft canonical: a new skill, or a new version of the skill it revises.

        Args:
            draft_id: the draft.
            reviewer / note: who approves and why (recorded).
            chunks / description: "edit, then approve": the reviewer's changes, as for
                :meth:`edit_draft`, applied in the same transaction as the approval (if
                the approval fails, the edit is undone too).

        Returns:
            The canonical skill's id (the draft id no longer exists afterwards).

        Raises:
            SkillPermissionError: in agent mode. NotFoundError / ValidationError:
                unknown id, not a draft, or a bad edit (nothing is written).
        """
        if chunks is not None or description is not None:
            return review.edit_and_approve(self.store, self.embeddings, draft_id, chunks, description, reviewer, note)
        return review.approve(self.store, self.embeddings, draft_id, reviewer, note)

    def edit_draft(
        self,
        draft_id: str,
        chunks: Optional[dict] = None,
        description: Optional[str] = None,
        reviewer: Optional[str] = None,
    ) -> Skill:
        """Change a draft's text before approving it: a reviewer's edit ("edit, then approve").

        Args:
            draft_id: the draft.
            chunks: ``{chunk id: new markdown}`` for the chunks to change (ids, sections
                and everything else stay).
            description: the new description, or None to keep it.
            reviewer: who edits (recorded in the audit trail).

        Returns:
            The draft as stored now; its earlier content is kept as a version.

        Raises:
            SkillPermissionError: in agent mode. NotFoundError: unknown id.
            ValidationError: not a draft, an unknown chunk id, empty or oversized text
                (nothing is written).
        """
        return review.edit_draft(self.store, self.embeddings, draft_id, chunks, description, reviewer)

    def reject(self, draft_id: str, reason: str, reviewer: Optional[str] = None) -> None:
        """Reject a draft; it is kept with status ``rejected`` and the reason.

        Raises:
            SkillPermissionError: in agent mode. ValidationError: empty reason or not
                a draft. NotFoundError: unknown id.
        """
        review.reject(self.store, draft_id, reason, reviewer)

    def restore(self, skill_id: str) -> str:
        """Bring back an archived skill (an expired draft returns to the queue).

        Returns:
            Its new status.
        """
        return review.restore(self.store, skill_id)

    def rollback(self, skill_id: str, version: int, reviewer: Optional[str] = None) -> int:
        """Restore the content of a kept version of a skill, as a new version.

        Args:
            skill_id / version: the skill and the kept version whose content is restored.
            reviewer: who rolls back (recorded in the audit trail; default ``"human"``).

        Returns:
            The new version number.

        Raises:
            SkillPermissionError: in agent mode. NotFoundError: unknown skill/version.
        """
        return review.rollback(self.store, self.embeddings, skill_id, version, reviewer)

    def versions(self, skill_id: str) -> list[int]:
        """Return the kept version numbers of a skill."""
        skill_id = validate_id(skill_id, "skill_id")
        return self.store.versions(skill_id)

    def history(self, skill_id: str) -> list[dict]:
        """Return the audit trail of a skill (who, when, action, reason), oldest first."""
        return review.history(self.store, skill_id)

    def maintenance(self) -> dict:
        """Archive drafts past their TTL and promote drafts that qualify. Cheap to call.

        Returns:
            ``{"expired": [ids], "promoted": [ids]}``.
        """
        from .growth.promote import expire_drafts

        expired = expire_drafts(self.store, self.draft_ttl_days) if self.draft_ttl_days is not None else []
        promoted = self._promote()
        self.store.drop_cached_vectors(older_than=time.time() - EMBEDDING_CACHE_DAYS * 86_400)
        self.store.set_meta(_LAST_MAINTENANCE_KEY, str(time.time()))
        return {"expired": expired, "promoted": promoted}

    def _maintenance_due(self) -> bool:
        last = self.store.get_meta(_LAST_MAINTENANCE_KEY)
        return last is None or time.time() - float(last) > MAINTENANCE_INTERVAL_SECONDS

    # ------------------------------------------------------------------ import / export
    def export(self, skill_id: str, path: Union[str, Path]) -> Path:
        """Write one skill to ``path``: a ``.json`` file, or else an Agent Skills folder.

        A path ending in ``.json`` gets the JSON form (0.1.x compatible); any other
        path is a parent folder that receives ``<skill_id>/SKILL.md``.

        Returns:
            The file or folder written.

        Raises:
            NotFoundError: if there is no such skill.
            ValidationError: if ``path`` is not a usable ``str`` / ``os.PathLike`` path.
        """
        skill_id = validate_id(skill_id, "skill_id")
        path = check_path(path, "path")
        skill = self.store.get_skill(skill_id)
        if skill is None:
            raise NotFoundError(f"no skill with id {skill_id!r}")
        if _export_target_is_json(path):
            path.write_text(json_format.dump_skill(skill), encoding="utf-8")
            return path
        from .formats.skill_md import write_skill_folder

        return write_skill_folder(skill, path)

    def export_all(
        self, path: Union[str, Path], status: Optional[str] = None, progress: Optional[Progress] = None
    ) -> Path:
        """Write every skill (or those with ``status``) to a JSON file or a folder of SKILL.md folders.

        A ``.json`` file gets every skill of the library (or of ``status``). A folder
        gets one Agent Skills folder per skill, named by
        :func:`~skillvault.formats.spec.spec_name` (a valid Agent Skills name); without
        ``status``, rejected and archived skills are left out. Every skill is checked
        before anything is written: a skill that cannot be written is named in the error
        and nothing is written. A folder that does not exist yet is written under a
        temporary name and renamed at the end, so it appears whole or not at all.

        Args:
            path: ``*.json`` for one JSON file, else a folder.
            status: only skills with this status.
            progress: called as ``progress(done, total)`` per skill folder written.

        Returns:
            The file or folder written.

        Raises:
            ValidationError: for a bad ``path``, ``status`` or ``progress``, or a skill
                that cannot be written as a folder (named; nothing is written then).
        """
        path = check_path(path, "path")
        check_callable(progress, "progress", PROGRESS, optional=True)
        is_json = _export_target_is_json(path)
        with self.store.snapshot():  # one consistent state while other processes write
            skills = self.list(status=status)
        if is_json:
            path.write_text(json_format.dump_library(skills), encoding="utf-8")
            return path
        from .formats.skill_md import export_folders

        if status is None:
            skills = [skill for skill in skills if skill.status not in (Status.REJECTED, Status.ARCHIVED)]
        return export_folders(skills, path, progress)

    def backup(self, dest: Union[str, Path], progress: Optional[Progress] = None) -> Path:
        """Copy the whole library to a new file, safely while other processes write.

        Uses SQLite's online backup API: the copy is one consistent state of the
        library (skills, versions, audit log, usage, vectors) and opens like the original.

        Args:
            dest: the new database file; it must not exist yet.
            progress: called as ``progress(pages_done, pages_total)``.

        Returns:
            The path of the copy.

        Raises:
            ValidationError: if ``dest`` exists or is the library itself.
        """
        dest = check_path(dest, "dest", utf8=True)  # opened by SQLite, which wants UTF-8
        check_callable(progress, "progress", PROGRESS, optional=True)
        if dest.exists():
            raise ValidationError("dest", f"{str(dest)!r} already exists; give a new file name (a backup never overwrites)")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.store.backup(str(dest), progress)
        return dest

    def import_(
        self, path: Union[str, Path], progress: Optional[Progress] = None, strict: bool = False
    ) -> Union[str, list[str]]:
        """Import skills from a JSON file or from Agent Skills (SKILL.md) folders.

        Each skill is imported on its own (atomically): a skill that cannot be read is
        skipped with a logged warning (file, line, reason) and the others are imported.
        Re-importing unchanged content writes nothing; changed content becomes a new
        version. Use :meth:`import_report` for the full report.

        Args:
            path: a JSON file (one skill, a list, a library file), a SKILL.md folder or
                a folder of them.
            progress: called as ``progress(done, total)`` in two stages, each starting
                with ``(0, total)``: skill folders read, then texts embedded. What is
                embedded is kept as it goes: an interrupted import, run again, embeds
                only what it had not.
            strict: refuse the whole import (nothing written) if any skill would be
                skipped or any warning given (spec advice, secrets, unresolved
                dependencies).

        Returns:
            The skill id when the path held one importable skill, else the list of
            ids (imported, updated and unchanged, in file order).

        Raises:
            SkillPermissionError: in agent mode.
            ImportFormatError: naming the file, line and problem, when the path cannot
                be read, nothing in it is importable, or (``strict``) anything is wrong;
                nothing is imported then.
            ValidationError: if ``path`` is not a usable ``str`` / ``os.PathLike`` path.
        """
        report = self._import(path, progress, strict)
        for finding in report.skipped + report.warnings:
            _log.warning("import: %s", finding)
        if not report.ids and report.skipped:
            from .importing import _refusal

            raise _refusal(report, report.skipped)
        return report.ids[0] if len(report.ids) == 1 else report.ids

    def import_report(self, path: Union[str, Path], progress: Optional[Progress] = None, strict: bool = False):
        """Import like :meth:`import_` and return what happened, skill by skill.

        Returns:
            An :class:`~skillvault.importing.ImportReport`: ``imported``, ``updated``
            (new versions), ``unchanged`` (nothing written), ``skipped`` and
            ``warnings`` (:class:`~skillvault.formats.spec.Finding`: file, line,
            reason), ``ids`` and ``versions``. Nothing is raised for skipped skills.

        Raises:
            SkillPermissionError: in agent mode.
            ImportFormatError: when the path as a whole cannot be read, or (``strict``)
                anything would be skipped or warned about (the report is on the
                exception's ``report`` attribute); nothing is imported then.
            ValidationError: if ``path`` is not a usable path.
        """
        return self._import(path, progress, strict)

    def _import(self, path: Any, progress: Optional[Progress], strict: bool) -> Any:
        from .importing import import_path

        path = check_path(path, "path")
        check_callable(progress, "progress", PROGRESS, optional=True)
        if not isinstance(strict, bool):
            raise ValidationError("strict", f"must be True or False, got {shown(strict)}")
        if not path.exists():
            raise ImportFormatError(f"{path}: no such file or folder")
        return import_path(self.store, self.embeddings, path, strict, progress)

    def sync(self, path: Union[str, Path], check: bool = False, force: bool = False) -> Any:
        """Write the canonical skills as an Agent Skills tree ``path/<name>/SKILL.md`` (+ files).

        Only what changed is rewritten; folders of skills that left canonical are
        removed, but only folders sync wrote (recorded in ``path/.skillvault-sync.json``).
        A folder sync did not write is a conflict and left alone; one a person edited
        since the last sync is reported (``edited``) and kept unless ``force``.

        Args:
            path: the skills folder (created when missing), e.g. ``.claude/skills``.
            check: only compute the plan; write nothing.
            force: overwrite (or remove) folders edited since the last sync.

        Returns:
            A :class:`~skillvault.sync.SyncPlan` (``in_sync``, items per action, ``to_dict()``).

        Raises:
            ValidationError: ``path`` is a file or its manifest is malformed.
        """
        from .sync import apply_sync, plan_sync

        path = check_path(path, "path")
        for name, value in (("check", check), ("force", force)):
            if not isinstance(value, bool):
                raise ValidationError(name, f"must be True or False, got {shown(value)}")
        with self.store.snapshot():
            skills = self.store.list_skills(status=Status.CANONICAL)
        plan = plan_sync(skills, path, force)
        return plan if check else apply_sync(plan)

    def sync_from(self, path: Union[str, Path], check: bool = False) -> Any:
        """Turn a person's edits in a synced skills tree into drafts for review.

        An edited folder of a canonical skill becomes a draft revising it (approving
        merges it section by section); a new folder becomes a new draft; unchanged
        folders, and edits already pending as a draft, write nothing.

        Args:
            path: the skills folder holding the edits.
            check: only compute the plan; write nothing.

        Returns:
            A :class:`~skillvault.sync_from.FromPlan` (``to_dict()``; ``draft_id`` per item).

        Raises:
            ValidationError: ``path`` is not a folder, its manifest is malformed, or a
                folder's skill cannot be stored.
            SkillPermissionError: the library is read-only.
        """
        from .sync_from import apply_from, plan_from

        path = check_path(path, "path")
        if not isinstance(check, bool):
            raise ValidationError("check", f"must be True or False, got {shown(check)}")
        plan = plan_from(self.store, path)
        if check:
            return plan
        return apply_from(self.store, self.embeddings, plan, "agent" if self.mode == "agent" else "human")

    def lint(self, skill_ids: Optional[Sequence[str]] = None) -> list:
        """Check stored skills: spec advice, broken references, unresolved dependencies,
        oversized chunks, secrets (the findings of ``skillvault lint``).

        A draft is checked as what approving it would make canonical (the skill it
        revises with its sections merged in, or the draft under its canonical id); the
        review queue shows these findings.

        Args:
            skill_ids: the skills to check (default: every skill).

        Returns:
            :class:`~skillvault.formats.spec.Finding` objects (``file`` is ``"library:<id>"``).

        Raises:
            NotFoundError: for an id that names no skill.
        """
        from .lint import draft_findings, lint_skills

        if skill_ids is None:
            skills = self.store.list_skills()
        else:
            if isinstance(skill_ids, str) or not isinstance(skill_ids, (list, tuple)):
                raise ValidationError("skill_ids", "must be a list of skill ids or None")
            skills = []
            for skill_id in skill_ids:
                skill = self.store.get_skill(validate_id(skill_id, "skill_ids[]"))
                if skill is None:
                    raise NotFoundError(f"no skill with id {skill_id!r}")
                skills.append(skill)
        drafts = [skill for skill in skills if skill.status == Status.DRAFT]
        others = [skill for skill in skills if skill.status != Status.DRAFT]
        found = lint_skills(others, self.store.unresolved_dependencies())
        for draft in drafts:
            found += draft_findings(self.store, draft)
        return found

    # ------------------------------------------------------------------ maintenance
    def reindex(self, progress: Optional[Progress] = None) -> int:
        """Re-embed every chunk with this manager's embedder (e.g. after a model change).

        Args:
            progress: called as ``progress(done, total)`` while embedding.

        Returns:
            The number of chunks re-embedded.
        """
        check_callable(progress, "progress", PROGRESS, optional=True)
        count = library.reindex(self.store, self.embeddings, progress)
        self.retriever = Retriever(self.store, self.embeddings)
        return count

    def stats(self) -> dict:
        """Return counts by status, chunks, tokens, DB size, embedder and extension versions."""
        counts = self.store.counts()
        by_status = {status: counts["by_status"].get(status, 0) for status in STATUSES}
        name, dim = self.store.embedder_record()
        driver = self.store.driver_info()
        return {
            **by_status,
            "pending_review": by_status[Status.DRAFT],
            "skills": sum(by_status.values()),
            "by_source": {source: counts["by_source"].get(source, 0) for source in SOURCES},
            "chunks": counts["chunks"],
            "tokens": counts["tokens"],
            "db_bytes": self.store.size_bytes(),
            "backend": getattr(self.store, "backend", "sqlite"),
            "embedder": {"name": name or self.embeddings.name, "dim": dim},
            "sqlite": {"module": driver.module, "version": driver.sqlite_version},
            "sqlite_vec": driver.vec_version,
            "fts5": driver.fts5,
            "schema_version": self.store.schema_version,
        }


def reindex(
    db_path: Union[str, Path],
    embed_fn: Optional[EmbedFn] = None,
    embed_config: Optional[dict] = None,
    progress: Optional[Progress] = None,
) -> int:
    """Re-embed a whole database with a new embedder (the fix for an embedder mismatch).

    Args:
        db_path: the database.
        embed_fn / embed_config: the new embedder, as for :class:`SkillManager`.
        progress: called as ``progress(done, total)``.

    Returns:
        The number of chunks re-embedded.
    """
    check_callable(progress, "progress", PROGRESS, optional=True)
    store = open_store(_check_db(db_path))
    try:
        return library.reindex(store, EmbeddingService(store, make_embedder(embed_fn, embed_config)), progress)
    finally:
        store.close()


def _check_db(db_path: Any) -> str:
    """Return ``db_path`` as a string: a ``postgresql://`` URL as given, else a checked file
    path (or ``":memory:"``; SQLite wants UTF-8 names)."""
    if is_postgres_url(db_path):
        return db_path
    return str(check_path(db_path, "db_path", utf8=True))


def _check_auto_promote(value: Any) -> Optional[dict]:
    if value is None:
        return None
    if not isinstance(value, dict) or not {"usage", "confidence"} <= set(value) <= {"usage", "confidence", "trust_agents"}:
        raise ValidationError(
            "auto_promote", 'must be {"usage": int, "confidence": float} (optionally "trust_agents": bool) or None'
        )
    trust_agents = value.get("trust_agents", False)
    if not isinstance(trust_agents, bool):
        raise ValidationError("auto_promote.trust_agents", f"must be True or False, got {trust_agents!r}")
    usage, confidence = value["usage"], value["confidence"]
    check_int(usage, "auto_promote.usage", 1)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise ValidationError("auto_promote.confidence", f"must be a number between 0 and 1, got {shown(confidence)}")
    return {"usage": usage, "confidence": float(confidence), "trust_agents": trust_agents}


def _check_ttl(value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_DRAFT_TTL_DAYS:
        raise ValidationError(
            "draft_ttl_days", f"must be a number of days above 0 and at most {MAX_DRAFT_TTL_DAYS}, or None; got {shown(value)}"
        )
    return float(value)


def _make_llm(llm_fn: Any, llm_config: Optional[dict]) -> Optional[Callable[[str], Any]]:
    if llm_fn is not None and llm_config is not None:
        raise ValidationError("llm_config", "give either llm_fn or llm_config, not both")
    if llm_fn is not None:
        check_callable(llm_fn, "llm_fn", "text -> dict")
        return llm_fn
    if llm_config is not None:
        from .growth.llm import llm_from_config

        return llm_from_config(llm_config)
    return None


def _export_target_is_json(path: Path) -> bool:
    """Return True for a ``.json`` export target, False for a folder; raise if the path
    exists as the other kind (a file where a folder is wanted, or the reverse)."""
    is_json = path.suffix.lower() == ".json"
    if path.exists() and (path.is_dir() if is_json else not path.is_dir()):
        wanted = "a file name ending in .json" if is_json else "a folder (or a new name)"
        raise ValidationError("path", f"{str(path)!r} exists and is not {wanted}; give another path")
    return is_json


def _check_query_text(text: Any) -> str:
    return check_text(text, "text", MAX_QUERY_CHARS, allow_empty=False)


AGENT = "agent"
HUMAN = "human"
#: Who may call each public method of :class:`SkillManager`: ``AGENT`` (agents and humans)
#: or ``HUMAN`` (humans only; agent mode raises SkillPermissionError). Every public method
#: must be listed: an unlisted one makes this module fail to import, so nothing is open to
#: agents by accident. The SQLite-level guard (store/guard.py) holds whatever this says.
METHOD_RIGHTS: dict[str, str] = {
    "query": AGENT, "search": AGENT, "search_skills": AGENT, "read_file": AGENT, "evaluate": AGENT,
    "get": AGENT, "list": AGENT, "extract": AGENT, "propose": AGENT, "record_usage": AGENT, "usage": AGENT, "stats": AGENT,
    "close": AGENT,
    "register": HUMAN, "register_many": HUMAN, "archive": HUMAN, "review_queue": HUMAN, "approve": HUMAN, "reject": HUMAN,
    "edit_draft": HUMAN, "restore": HUMAN, "rollback": HUMAN, "versions": HUMAN, "history": HUMAN, "maintenance": HUMAN,
    "export": HUMAN, "export_all": HUMAN, "backup": HUMAN, "import_": HUMAN, "reindex": HUMAN,
    "import_report": HUMAN, "lint": HUMAN,
    # sync writes files from canonical skills only, which an agent may read anyway (it touches
    # nothing in the library); sync_from writes drafts through the agents' draft path.
    "sync": AGENT, "sync_from": AGENT,
}


def _human_only(name: str, method: Callable) -> Callable:
    @functools.wraps(method)
    def guarded(self: SkillManager, *args: Any, **kwargs: Any) -> Any:
        self._require_human(name)
        return method(self, *args, **kwargs)

    return guarded


def _apply_rights(cls: type) -> None:
    public = {name for name, value in vars(cls).items() if callable(value) and not name.startswith("_")}
    if public != set(METHOD_RIGHTS):
        raise RuntimeError(
            f"METHOD_RIGHTS must list every public SkillManager method exactly: "
            f"unlisted {sorted(public - set(METHOD_RIGHTS))}, unknown {sorted(set(METHOD_RIGHTS) - public)}"
        )
    for name, who in METHOD_RIGHTS.items():
        if who == HUMAN:
            setattr(cls, name, _human_only(name, getattr(cls, name)))


_apply_rights(SkillManager)
