"""Reviewer sessions: kept in the server's memory, ended by logout, idleness or age.

A session id is 32 random bytes in an HttpOnly, SameSite=Strict cookie; the server keeps
who it belongs to, its CSRF token and one-shot messages for the next page. Sessions end
after ``idle_seconds`` without a request or ``max_seconds`` in all, and when the server
restarts (reviewers log in again).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

COOKIE = "skillvault_session"
DEFAULT_IDLE_SECONDS = 30 * 60
DEFAULT_MAX_SECONDS = 8 * 3600


@dataclass
class Session:
    """One reviewer's login.

    Attributes:
        id: the cookie value.
        user: the reviewer's name.
        csrf: the token every form of this session must send back.
        started / seen: when it began and when it was last used (clock seconds).
        messages: ``(kind, text)`` to show on the next page (``"ok"`` or ``"error"``).
    """

    id: str
    user: str
    csrf: str
    started: float
    seen: float
    messages: list[tuple[str, str]] = field(default_factory=list)

    def csrf_matches(self, sent: Optional[str]) -> bool:
        """True when ``sent`` is this session's CSRF token (compared in constant time)."""
        return isinstance(sent, str) and hmac.compare_digest(sent.encode(), self.csrf.encode())

    def flash(self, kind: str, text: str) -> None:
        """Keep a message for the next page."""
        self.messages.append((kind, text))

    def take_messages(self) -> list[tuple[str, str]]:
        """Return the kept messages and forget them."""
        messages, self.messages = self.messages, []
        return messages


class Sessions:
    """The live sessions of one server.

    Args:
        idle_seconds: a session unused this long has ended.
        max_seconds: a session this old has ended, however busy.
        clock: returns the time in seconds (tests move it).
    """

    def __init__(self, idle_seconds: float = DEFAULT_IDLE_SECONDS, max_seconds: float = DEFAULT_MAX_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.clock = clock
        self._live: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, user: str) -> Session:
        """Begin a session for ``user``."""
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._live[session.id] = session
        return session

    def get(self, session_id: Optional[str]) -> Optional[Session]:
        """Return the live session with this id (and mark it used), or None if none or ended."""
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            session = self._live.get(session_id)
            if session is None:
                return None
            if now - session.seen > self.idle_seconds or now - session.started > self.max_seconds:
                del self._live[session_id]
                return None
            session.seen = now
            return session

    def end(self, session_id: Optional[str]) -> None:
        """End a session (logout); unknown ids are ignored."""
        with self._lock:
            self._live.pop(session_id or "", None)
