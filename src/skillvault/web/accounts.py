"""Reviewer accounts and API tokens, kept in a small JSON file beside the library.

The file (``<library>.reviewers.json``, mode 0600) holds:

* users: ``name -> argon2id hash`` of the password (argon2-cffi); users are reviewers;
* tokens: ``{"name", "role", "sha256", "created"}``; a token is 32 random bytes (shown
  once, when it is made), stored only as its SHA-256 (a random token needs no slow hash)
  and compared in constant time. ``role`` is ``"reviewer"`` or ``"agent"``.

The file is rewritten atomically (temporary file, then rename) and read again when it
changes, so ``skillvault users ...`` works while the server runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from ..errors import NotFoundError, ValidationError

REVIEWER = "reviewer"
AGENT = "agent"
ROLES = (REVIEWER, AGENT)
TOKEN_PREFIX = "svt_"
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class Principal:
    """Who a request acts for.

    Attributes:
        name: the user's or token's name (recorded as the reviewer of what they do).
        role: ``"reviewer"`` (human rights) or ``"agent"`` (read and propose only).
        via: ``"session"`` or ``"token"``.
    """

    name: str
    role: str
    via: str

    @property
    def is_reviewer(self) -> bool:
        """True for a reviewer."""
        return self.role == REVIEWER


def accounts_path(db_path: os.PathLike | str) -> Path:
    """Return the accounts file of the library at ``db_path``."""
    return Path(f"{db_path}.reviewers.json")


def check_name(name: object, field: str = "name") -> str:
    """Return ``name`` if it is a usable user or token name.

    Raises:
        ValidationError: it is not 1-64 letters, digits and ``. _ @ -``.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError(field, "must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    return name


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """The reviewers and tokens of one library.

    Args:
        path: the JSON file (created on the first change).
    """

    def __init__(self, path: os.PathLike | str):
        from argon2 import PasswordHasher

        self.path = Path(path)
        self._hasher = PasswordHasher()
        self._data: dict = {"users": {}, "tokens": []}
        self._stamp: Optional[tuple[int, int]] = None
        # Verifying against a dummy hash for unknown users keeps their login as slow as a real one.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    # ------------------------------------------------------------------ file
    def _load(self) -> dict:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._data, self._stamp = {"users": {}, "tokens": []}, None
            return self._data
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._data = {"users": dict(data.get("users", {})), "tokens": list(data.get("tokens", []))}
            self._stamp = stamp
        return self._data

    def _save(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".reviewers-", dir=self.path.parent)
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(data, stream, indent=2)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self._stamp = None

    # ------------------------------------------------------------------ users
    def users(self) -> list[str]:
        """Return the reviewers' names, sorted."""
        return sorted(self._load()["users"])

    def add_user(self, name: str, password: str) -> None:
        """Create a reviewer, or set a new password for an existing one.

        Raises:
            ValidationError: a bad name, or a password shorter than 8 characters.
        """
        name = check_name(name)
        if not isinstance(password, str) or not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
            raise ValidationError("password", f"must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
        data = self._load()
        data["users"][name] = self._hasher.hash(password)
        self._save(data)

    def remove_user(self, name: str) -> None:
        """Delete a reviewer (their open sessions end at their next request).

        Raises:
            NotFoundError: no such user.
        """
        data = self._load()
        if data["users"].pop(name, None) is None:
            raise NotFoundError(f"no reviewer named {name!r}; see `skillvault users list`")
        self._save(data)

    def login(self, name: str, password: str) -> Optional[Principal]:
        """Return the reviewer if ``password`` is theirs, else None (no hint which part was wrong)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        stored = self._load()["users"].get(name) if isinstance(name, str) else None
        try:
            self._hasher.verify(stored or self._dummy_hash, password if isinstance(password, str) else "")
        except (VerificationError, InvalidHashError):
            return None
        return Principal(name, REVIEWER, "session") if stored else None

    def has_user(self, name: str) -> bool:
        """True while ``name`` is a reviewer."""
        return name in self._load()["users"]

    # ------------------------------------------------------------------ tokens
    def tokens(self) -> list[dict]:
        """Return the tokens as ``{"name", "role", "created"}`` (never the token itself)."""
        return [{key: token[key] for key in ("name", "role", "created")} for token in self._load()["tokens"]]

    def add_token(self, name: str, role: str) -> str:
        """Make a token; return it (it is not stored and cannot be shown again).

        Raises:
            ValidationError: a bad name or role, or a token of that name exists.
        """
        name = check_name(name)
        if role not in ROLES:
            raise ValidationError("role", f"must be one of {ROLES}, got {role!r}")
        data = self._load()
        if any(token["name"] == name for token in data["tokens"]):
            raise ValidationError("name", f"a token named {name!r} exists; revoke it first or pick another name")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        data["tokens"].append({"name": name, "role": role, "sha256": _token_digest(token), "created": created})
        self._save(data)
        return token

    def revoke_token(self, name: str) -> None:
        """Delete the token called ``name``.

        Raises:
            NotFoundError: no such token.
        """
        data = self._load()
        kept = [token for token in data["tokens"] if token["name"] != name]
        if len(kept) == len(data["tokens"]):
            raise NotFoundError(f"no token named {name!r}; see `skillvault users list`")
        data["tokens"] = kept
        self._save(data)

    def check_token(self, token: str) -> Optional[Principal]:
        """Return who ``token`` belongs to, or None; every stored digest is compared in constant time."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            return None
        digest = _token_digest(token)
        found = None
        for stored in self._load()["tokens"]:
            if hmac.compare_digest(stored["sha256"], digest):
                found = stored
        return Principal(found["name"], found["role"], "token") if found else None
