"""Failed-login throttling: a name or a client address that fails too often waits.

Argon2 makes each guess slow, but not slow enough against a patient script; so after
:data:`MAX_FAILURES` failed logins within :data:`WINDOW_SECONDS` for one reviewer name,
or from one client address, further attempts for it are refused (without checking the
password) until the oldest failure leaves the window. A successful login clears the
name's failures. Kept in memory: a restart forgets them, like the sessions.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Callable, Iterable

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


class LoginThrottle:
    """Counts failed logins per key (a name or an address) in a sliding window.

    Args:
        max_failures: failures allowed within the window.
        window_seconds: how long a failure counts.
        clock: returns the time in seconds (tests move it).
    """

    def __init__(self, max_failures: int = MAX_FAILURES, window_seconds: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.clock = clock
        self._failures: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait_seconds(self, keys: Iterable[str]) -> float:
        """Return how long these keys must wait before another attempt (0: go ahead)."""
        now = self.clock()
        with self._lock:
            waits = [self._wait(key, now) for key in keys]
        return max(waits, default=0.0)

    def failed(self, keys: Iterable[str]) -> None:
        """Record one failed attempt for each key."""
        now = self.clock()
        with self._lock:
            for key in keys:
                self._failures[key].append(now)

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` (a reviewer who just logged in)."""
        with self._lock:
            self._failures.pop(key, None)

    def _wait(self, key: str, now: float) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and now - times[0] >= self.window_seconds:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0.0
        if len(times) < self.max_failures:
            return 0.0
        return times[-self.max_failures] + self.window_seconds - now
