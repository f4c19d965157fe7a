"""Global options and opening the library they describe.

``--db`` (env ``SKILLVAULT_DB``, default ``skills.db`` in the current folder, as in
0.1.x), ``--agent`` (agent mode), ``--json`` and the embedder: the built-in local
model unless ``--embed-model`` (env ``SKILLVAULT_EMBED_MODEL``) names a model of an
OpenAI-compatible endpoint (``--embed-base-url`` / ``SKILLVAULT_EMBED_BASE_URL``,
key from ``SKILLVAULT_EMBED_API_KEY`` or ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .errors import fail

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..manager import SkillManager

DEFAULT_DB = "skills.db"
API_KEY_ENV = "SKILLVAULT_EMBED_API_KEY"
LLM_API_KEY_ENV = "SKILLVAULT_LLM_API_KEY"
LOCAL_MODEL = "local"


class LibraryURL(str):
    """``--db`` given as a ``postgresql://`` URL: the string SkillManager opens, with the
    two :class:`~pathlib.Path` methods the commands ask a library file (whether the
    library exists is the server's to say when it is opened)."""

    def exists(self) -> bool:
        return True

    def resolve(self) -> "LibraryURL":
        return self


def library_location(value: str):
    """Return ``--db``'s value as a :class:`LibraryURL` (a PostgreSQL URL) or a ``Path``."""
    from ..store.postgres.connection import is_postgres_url

    return LibraryURL(value) if is_postgres_url(value) else Path(value)


def shown_location(db) -> str:
    """Return a library's location as messages and ``--json`` show it: a PostgreSQL URL
    without its password (see :func:`~skillvault.store.postgres.errors.describe`), a path as it is."""
    from ..store.postgres.connection import is_postgres_url
    from ..store.postgres.errors import describe

    return describe(db) if is_postgres_url(db) else str(db)


@dataclass
class Settings:
    """The global options of one invocation.

    Attributes:
        db: the database file, or a :class:`LibraryURL` of a PostgreSQL database.
        agent: open in agent mode.
        json: print JSON instead of tables (also settable per command).
        embed_model: an OpenAI-compatible embedding model, or None / ``"local"`` for
            the built-in local embedder.
        embed_base_url: the endpoint of that model (None: the SDK's default).
        embed_dimensions: ask the endpoint for vectors this wide (None: full width).
        llm_model: the chat model ``extract`` asks (None: no LLM; extraction is refused).
        llm_provider: ``"openai"`` (any OpenAI-compatible endpoint) or ``"anthropic"``.
        llm_base_url: the endpoint of that model (None: the SDK's default).
    """

    db: Path
    agent: bool = False
    json: bool = False
    embed_model: Optional[str] = None
    embed_base_url: Optional[str] = None
    embed_dimensions: Optional[int] = None
    llm_model: Optional[str] = None
    llm_provider: str = "openai"
    llm_base_url: Optional[str] = None

    @property
    def mode(self) -> str:
        """``"agent"`` or ``"human"``."""
        return "agent" if self.agent else "human"

    def embed_config(self) -> Optional[dict]:
        """Return the ``embed_config`` for SkillManager (None means the local embedder)."""
        model = (self.embed_model or "").strip()
        if not model or model == LOCAL_MODEL:
            if self.embed_base_url or self.embed_dimensions:
                fail("--embed-base-url / --embed-dimensions need --embed-model (or SKILLVAULT_EMBED_MODEL)", 2)
            return None
        extra = {"dimensions": self.embed_dimensions} if self.embed_dimensions else {}
        return _endpoint_config("openai", model, self.embed_base_url, API_KEY_ENV, extra)

    def llm_config(self) -> Optional[dict]:
        """Return the ``llm_config`` for SkillManager, or None when no LLM model is set.

        The key comes from ``SKILLVAULT_LLM_API_KEY``, else the provider SDK's own variable
        (``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``).
        """
        model = (self.llm_model or "").strip()
        if not model:
            if self.llm_base_url:
                fail("--llm-base-url needs --llm-model (or SKILLVAULT_LLM_MODEL)", 2)
            return None
        return _endpoint_config(self.llm_provider, model, self.llm_base_url, LLM_API_KEY_ENV)

    def open(self, create: bool = False) -> "SkillManager":
        """Open the library with these settings.

        Args:
            create: make the database when it does not exist; otherwise a missing
                file is an error that says how to create one.

        Raises:
            CliError: the database is missing (and ``create`` is False).
            skillvault.errors.*: from :class:`~skillvault.SkillManager` (e.g. a
                different embedder recorded in the file).
        """
        self.require_db(create)
        from ..errors import EmbedderMismatchError
        from ..manager import SkillManager

        try:
            return SkillManager(self.db, embed_config=self.embed_config(), llm_config=self.llm_config(), mode=self.mode)
        except EmbedderMismatchError as exc:
            fail(f"{exc} (from the command line: pass --embed-model / SKILLVAULT_EMBED_MODEL with the "
                 "embedder the file was built with, or run `skillvault reindex` with the new one)")

    def require_db(self, create: bool = False) -> None:
        """Fail with a hint when the database file does not exist (unless ``create``)."""
        if not create and str(self.db) != ":memory:" and not self.db.exists():
            fail(f"no skill library at {shown_location(self.db)}; create one with `skillvault init` "
                 "or point to one with --db PATH / SKILLVAULT_DB")


def _endpoint_config(provider: str, model: str, base_url: Optional[str], key_env: str, extra: Optional[dict] = None) -> dict:
    """An ``embed_config`` / ``llm_config`` dict: the key comes from ``key_env`` when it is set."""
    config: dict = {"provider": provider, "model": model, **(extra or {})}
    if base_url:
        config["base_url"] = base_url
    api_key = os.environ.get(key_env)
    if api_key:
        config["api_key"] = api_key
    return config
