"""SkillManager: the public facade. It validates arguments and wires the layers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from . import library
from .embed.base import Embedder
from .embed.service import EmbeddingService, Progress
from .errors import ImportFormatError, NotFoundError, SkillPermissionError, ValidationError
from .formats import json_format
from .models import SOURCES, STATUSES, Skill, validate_id
from .retrieval import Hit, Packing, Retriever
from .store import SQLiteStore

MODES = ("human", "agent")
MAX_QUERY_CHARS = 10_000
MAX_BUDGET = 1_000_000

EmbedFn = Callable[[str], Sequence[float]]


def make_embedder(embed_fn: Optional[EmbedFn] = None, embed_config: Optional[dict] = None) -> Embedder:
    """Pick the embedder: ``embed_fn`` if given, else ``embed_config``, else the local model.

    Raises:
        ValidationError: if both are given, or ``embed_config`` is malformed.
    """
    if embed_fn is not None and embed_config is not None:
        raise ValidationError("embed_config", "give either embed_fn or embed_config, not both")
    if embed_fn is not None:
        if not callable(embed_fn):
            raise ValidationError("embed_fn", f"must be callable (text -> list[float]), got {type(embed_fn).__name__}")
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
            built-in local embedder (all-MiniLM-L6-v2, offline).
        embed_config: ``{"provider": "openai", "model": ..., "base_url": ..., "api_key": ...}``
            for any OpenAI-compatible embeddings endpoint (extra ``[openai]``).
        llm_fn: ``text -> dict`` used by knowledge extraction (kept for it).
        mode: ``"human"`` (full access) or ``"agent"`` (read canonical skills, write
            drafts only). ``"admin"``, the 0.1.x name, means ``"human"``.
        min_confidence: extraction threshold (0..1) for drafts.
        auto_promote: ``{"usage": int, "confidence": float}`` thresholds.

    Raises:
        ValidationError: on a bad argument.
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
        auto_promote: Optional[dict] = None,
    ):
        if mode == "admin":
            mode = "human"
        if mode not in MODES:
            raise ValidationError("mode", f"must be 'human' or 'agent', got {mode!r}")
        if isinstance(min_confidence, bool) or not isinstance(min_confidence, (int, float)) or not 0 <= min_confidence <= 1:
            raise ValidationError("min_confidence", f"must be a number between 0 and 1, got {min_confidence!r}")
        if not isinstance(db_path, (str, Path)) or not str(db_path):
            raise ValidationError("db_path", "must be a file path (or ':memory:')")
        self.mode = mode
        self.llm_fn = llm_fn
        self.min_confidence = float(min_confidence)
        self.auto_promote = dict(auto_promote or {"usage": 5, "confidence": 0.9})
        embedder = make_embedder(embed_fn, embed_config)
        self.store = SQLiteStore(str(db_path))
        self.embeddings = EmbeddingService(self.store, embedder)
        try:
            self.embeddings.check_compatible()
        except Exception:
            self.store.close()
            raise
        self.retriever = Retriever(self.store, self.embeddings)

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
                "Open SkillManager(..., mode='human') for this."
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
        self._require_human("register")
        if not isinstance(skill, Skill):
            raise ValidationError("skill", f"must be a Skill, got {type(skill).__name__}")
        return library.register(self.store, self.embeddings, skill)

    def get(self, skill_id: str) -> Optional[Skill]:
        """Return the skill with this id (with its chunks), or None."""
        validate_id(skill_id, "skill_id")
        return self.store.get_skill(skill_id)

    def list(self, status: Optional[str] = None, source: Optional[str] = None) -> list[Skill]:
        """Return skills, optionally only those with this status and/or source.

        Raises:
            ValidationError: for an unknown status or source.
        """
        if status is not None and status not in STATUSES:
            raise ValidationError("status", f"must be one of {STATUSES} or None, got {status!r}")
        if source is not None and source not in SOURCES:
            raise ValidationError("source", f"must be one of {SOURCES} or None, got {source!r}")
        return self.store.list_skills(status=status, source=source)

    def archive(self, skill_id: str) -> None:
        """Archive a skill: it stays in the database but is no longer served.

        Raises:
            SkillPermissionError: in agent mode.
            NotFoundError: if there is no such skill.
        """
        self._require_human("archive")
        validate_id(skill_id, "skill_id")
        self.store.set_status(skill_id, "archived")

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
            nothing relevant fits.

        Raises:
            ValidationError: for empty/oversized text or a budget that is not a
                positive integer.
        """
        _check_query_text(text)
        if isinstance(budget, bool) or not isinstance(budget, int) or not 0 < budget <= MAX_BUDGET:
            raise ValidationError("budget", f"must be a positive integer of at most {MAX_BUDGET}, got {budget!r}")
        packing = self.retriever.query(text, budget)
        return packing if explain else packing.text

    def search(self, text: str, k: int = 10) -> list[Hit]:
        """Return up to ``k`` relevant canonical chunks with their scores, best first.

        Each :class:`~skillvault.retrieval.Hit` has the chunk, skill id and name,
        vector score (cosine), lexical score (BM25, None if no word matched) and the
        fused score.

        Raises:
            ValidationError: for empty/oversized text or ``k`` outside 1..1000.
        """
        _check_query_text(text)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 1000:
            raise ValidationError("k", f"must be an integer between 1 and 1000, got {k!r}")
        return self.retriever.search(text, k)

    # ------------------------------------------------------------------ import / export
    def export(self, skill_id: str, path: Union[str, Path]) -> Path:
        """Write one skill to ``path``: a ``.json`` file, or else an Agent Skills folder.

        A path ending in ``.json`` gets the JSON form (0.1.x compatible); any other
        path is a parent folder that receives ``<skill_id>/SKILL.md``.

        Returns:
            The file or folder written.

        Raises:
            NotFoundError: if there is no such skill.
        """
        validate_id(skill_id, "skill_id")
        skill = self.store.get_skill(skill_id)
        if skill is None:
            raise NotFoundError(f"no skill with id {skill_id!r}")
        path = Path(path)
        if path.suffix.lower() == ".json":
            path.write_text(json_format.dump_skill(skill), encoding="utf-8")
            return path
        from .formats.skill_md import write_skill_folder

        return write_skill_folder(skill, path)

    def export_all(self, path: Union[str, Path], status: Optional[str] = None) -> Path:
        """Write every skill (or those with ``status``) to a JSON file or a folder of SKILL.md folders.

        Returns:
            The file or folder written.
        """
        skills = self.list(status=status)
        path = Path(path)
        if path.suffix.lower() == ".json":
            path.write_text(json_format.dump_library(skills), encoding="utf-8")
            return path
        from .formats.skill_md import write_skill_folder

        path.mkdir(parents=True, exist_ok=True)
        for skill in skills:
            write_skill_folder(skill, path)
        return path

    def import_(self, path: Union[str, Path], progress: Optional[Progress] = None) -> Union[str, list[str]]:
        """Import skills from a JSON file or from Agent Skills (SKILL.md) folders.

        Everything in the file or folder is imported in one transaction, or nothing.

        Returns:
            The skill id when one skill was imported, else the list of ids.

        Raises:
            SkillPermissionError: in agent mode.
            ImportFormatError: naming the file and problem; nothing is imported.
        """
        self._require_human("import_")
        path = Path(path)
        if not path.exists():
            raise ImportFormatError(f"{path}: no such file or folder")
        if path.is_dir():
            from .formats.skill_md import read_skill_folders

            skills = read_skill_folders(path)
        else:
            skills = json_format.load_skills(path)
        try:
            ids = library.register_many(self.store, self.embeddings, skills, progress)
        except ValidationError as exc:
            raise ImportFormatError(f"{path}: {exc}") from None
        return ids[0] if len(ids) == 1 else ids

    # ------------------------------------------------------------------ maintenance
    def reindex(self, progress: Optional[Progress] = None) -> int:
        """Re-embed every chunk with this manager's embedder (e.g. after a model change).

        Args:
            progress: called as ``progress(done, total)`` while embedding.

        Returns:
            The number of chunks re-embedded.
        """
        self._require_human("reindex")
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
            "pending_review": by_status["draft"],
            "skills": sum(by_status.values()),
            "by_source": {source: counts["by_source"].get(source, 0) for source in SOURCES},
            "chunks": counts["chunks"],
            "tokens": counts["tokens"],
            "db_bytes": self.store.size_bytes(),
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
    store = SQLiteStore(str(db_path))
    try:
        return library.reindex(store, EmbeddingService(store, make_embedder(embed_fn, embed_config)), progress)
    finally:
        store.close()


def _check_query_text(text: Any) -> None:
    if not isinstance(text, str):
        raise ValidationError("text", f"must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValidationError("text", "must not be empty")
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationError("text", f"is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}")
