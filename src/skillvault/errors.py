"""Exceptions raised by skillvault.

Every error names the field (or thing) at fault and how to fix it. Each class also
subclasses the builtin that fits (``ValueError``, ``KeyError``, ``PermissionError``,
``RuntimeError``) so callers that catch builtins keep working.
"""

from __future__ import annotations


class SkillVaultError(Exception):
    """Base class of every skillvault error."""


class ValidationError(SkillVaultError, ValueError):
    """Bad input: a field has a wrong type, size or value.

    Attributes:
        field: dotted name of the offending field, e.g. ``"chunks[2].id"``.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def within(self, prefix: str) -> "ValidationError":
        """Return the same error located inside ``prefix`` (e.g. ``skills[3]``).

        A leading ``skill.`` of the field is replaced, so ``skill.chunks[0].id`` within
        ``skills[3]`` becomes ``skills[3].chunks[0].id``.
        """
        inner = self.field[len("skill."):] if self.field.startswith("skill.") else self.field
        return ValidationError(f"{prefix}.{inner}", self.message)


class NotFoundError(SkillVaultError, KeyError):
    """A skill (or chunk, or version) that was asked for does not exist."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class SkillPermissionError(SkillVaultError, PermissionError):
    """The operation is not allowed in the current mode (e.g. agent mode).

    Attributes:
        action: the SkillManager call that agent mode refused (e.g. ``"approve"``), or
            None when the refusal has another cause (a read-only file, the SQLite guard).
    """

    def __init__(self, message: str, action: str | None = None):
        super().__init__(message)
        self.action = action


class EmbeddingError(SkillVaultError, ValueError):
    """The embedder failed or returned something that is not a usable vector."""


class EmbedderMismatchError(SkillVaultError, ValueError):
    """The database was built with another embedder than the one in use."""


class ExtensionError(SkillVaultError, RuntimeError):
    """A required SQLite extension (sqlite-vec, FTS5) cannot be loaded."""


class ImportFormatError(SkillVaultError, ValueError):
    """A file given to import is not a valid skill file; nothing was imported."""


class LLMError(SkillVaultError, RuntimeError):
    """An LLM adapter could not get an answer from its provider."""


class SchemaVersionError(SkillVaultError, RuntimeError):
    """The database was written by a newer skillvault than the one running."""


class DatabaseFileError(SkillVaultError, ValueError):
    """The file given as the database cannot be opened as an SQLite database."""


class DatabaseBusyError(SkillVaultError, RuntimeError):
    """Another connection held the write lock longer than the busy timeout."""


class LegacyDatabaseError(SkillVaultError, RuntimeError):
    """The database was written by skillvault 0.1.x and has to be migrated first."""


class StorageFullError(SkillVaultError, OSError):
    """The disk (or the database's size limit) is full; nothing of the failed write was kept."""


class StorageIOError(SkillVaultError, OSError):
    """The operating system reported an I/O error reading or writing the database file."""


class BackendNotAvailableError(SkillVaultError, NotImplementedError):
    """The database URL names a storage backend this skillvault cannot open (yet)."""
