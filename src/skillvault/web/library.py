"""The two managers a server holds, each used from its own thread.

Reviewers act through a human-mode :class:`~skillvault.SkillManager`; agent tokens
through an agent-mode one, so what agents may do is what agent mode allows, enforced by
SQLite (docs/security.md). Each manager's SQLite connections are used from one worker
thread only; handlers wait for it without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .accounts import Principal

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..manager import SkillManager

T = TypeVar("T")


class OwnedManager:
    """A :class:`~skillvault.SkillManager` opened and used on one worker thread.

    Args:
        open_manager: called once, on the worker thread, to open the manager.
        mode: the mode the manager must have (``"human"`` or ``"agent"``).

    Raises:
        ValueError: the manager opened in another mode.
        Whatever ``open_manager`` raises (e.g. a missing library).
    """

    def __init__(self, open_manager: Callable[[], "SkillManager"], mode: str):
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"skillvault-web-{mode}")
        try:
            self._sm = self._executor.submit(open_manager).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise
        if self._sm.mode != mode:
            self.close()
            raise ValueError(f"expected a manager in {mode} mode, got {self._sm.mode}")

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(manager, *args)`` on the worker thread and wait for it."""
        return self._executor.submit(fn, self._sm, *args).result()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(manager, *args)`` on the worker thread without blocking the event loop.

        Raises:
            Whatever ``fn`` raises (skillvault errors become HTTP answers in :mod:`.errors`).
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, self._sm, *args))

    def close(self) -> None:
        """Close the manager and stop the worker thread."""
        try:
            self._executor.submit(self._sm.close).result()
        finally:
            self._executor.shutdown(wait=True)


class Libraries:
    """The human-mode and agent-mode managers of one library.

    Args:
        open_manager: ``mode -> SkillManager`` opening the library in that mode.
    """

    def __init__(self, open_manager: Callable[[str], "SkillManager"]):
        self.human = OwnedManager(lambda: open_manager("human"), "human")
        try:
            self.agent = OwnedManager(lambda: open_manager("agent"), "agent")
        except BaseException:
            self.human.close()
            raise

    def for_principal(self, principal: Principal) -> OwnedManager:
        """Return the manager that acts for ``principal``: agents get the agent-mode one."""
        return self.human if principal.is_reviewer else self.agent

    def close(self) -> None:
        """Close both managers."""
        try:
            self.agent.close()
        finally:
            self.human.close()
