"""The one agent-mode library a server process holds, used from one thread.

Tool handlers run on the server's event loop; every call into the
:class:`~skillvault.SkillManager` is handed to a single worker thread, so the
manager's SQLite connections are only ever used from that thread and calls never
overlap, while the event loop keeps serving other requests.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from ..errors import SkillVaultError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..manager import SkillManager

T = TypeVar("T")


class AgentLibrary:
    """An agent-mode :class:`~skillvault.SkillManager` owned by one worker thread.

    Args:
        open_manager: called once, on the worker thread, to open the manager; it
            must return a manager in agent mode.

    Raises:
        ValueError: if the manager is not in agent mode.
        Whatever ``open_manager`` raises (e.g. a missing library).
    """

    def __init__(self, open_manager: Callable[[], "SkillManager"]):
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skillvault-mcp")
        try:
            self._sm = self._executor.submit(open_manager).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise
        if self._sm.mode != "agent":
            self.close()
            raise ValueError("the MCP server serves agents: open the library with mode='agent'")

    @property
    def has_llm(self) -> bool:
        """True when the library has an LLM for extraction."""
        return self._sm.llm_fn is not None

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(manager, *args)`` on the worker thread and wait for it (for start-up code)."""
        return self._executor.submit(fn, self._sm, *args).result()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(manager, *args)`` on the worker thread without blocking the event loop.

        Raises:
            ToolError: carrying the message of a :class:`~skillvault.errors.SkillVaultError`
                (bad argument, unknown skill, read-only library...), which the client
                receives as a tool error; anything else propagates (the SDK reports it
                without details).
        """
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, self._sm, *args))
        except SkillVaultError as exc:
            raise ToolError(str(exc)) from None

    def close(self) -> None:
        """Close the manager and stop the worker thread."""
        try:
            self._executor.submit(self._sm.close).result()
        finally:
            self._executor.shutdown(wait=True)
