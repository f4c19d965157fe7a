"""Shared set-up of the review console tests: a small library, accounts, the app, a live server."""

from __future__ import annotations

import atexit
import re
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from skillvault import SkillManager
from skillvault.web.accounts import Accounts, accounts_path
from skillvault.web.app import create_app
from skillvault.web.sessions import Sessions

from conftest import make_skill, word_vector

PASSWORD = "correct horse battery"
REBASE = ("Rebase a branch safely", "- fetch first\n- rebase onto origin/main\n- never rebase shared branches")
CRON = ("Schedule cron jobs", "- edit with crontab -e\n- log output to a file")
GIT_V1 = "## Playbook\n\n- git commit often\n- push daily"
GIT_V2 = "## Playbook\n\n- git commit small changes\n- push daily"
GIT_PITFALLS = "## Pitfalls\n\nnever force push main"


@dataclass
class Console:
    """A library with one canonical skill (two versions) and two drafts, and its accounts."""

    db: str
    accounts: Accounts
    reviewer_token: str
    agent_token: str
    drafts: dict = field(default_factory=dict)

    def manager(self) -> SkillManager:
        """A human-mode manager on the same file (close it)."""
        return SkillManager(self.db, embed_fn=word_vector)

    def open_manager(self, mode: str) -> SkillManager:
        return SkillManager(self.db, embed_fn=word_vector, mode=mode)

    def app(self, sessions: Sessions | None = None):
        return create_app(self.open_manager, self.accounts, sessions=sessions)


_TEMPLATE: dict = {}


def make_console(tmp_path) -> Console:
    """Build the library: ``git`` (versions 1 and 2), new-skill drafts ``rebase`` and ``cron``, draft
    ``git`` revising ``git``; reviewer ``ana`` and tokens ``ana-cli`` (reviewer) and ``bot`` (agent).

    The library is built once per test session and copied into ``tmp_path`` for each test.
    """
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="skillvault-console-"))
        atexit.register(shutil.rmtree, folder, True)
        _TEMPLATE.update(_build(folder))
    db = tmp_path / "skills.db"
    for source in Path(_TEMPLATE["db"]).parent.iterdir():
        shutil.copy2(source, tmp_path / source.name)
    accounts = Accounts(accounts_path(db))
    return Console(str(db), accounts, _TEMPLATE["reviewer_token"], _TEMPLATE["agent_token"], dict(_TEMPLATE["drafts"]))


def _build(folder: Path) -> dict:
    db = str(folder / "skills.db")
    with SkillManager(db, embed_fn=word_vector) as sm:
        sm.register(make_skill("git", ("Playbook", GIT_V1), ("Pitfalls", GIT_PITFALLS)))
        sm.register(make_skill("git", ("Playbook", GIT_V2), ("Pitfalls", GIT_PITFALLS)))
        drafts = {"rebase": sm.propose(REBASE[0], REBASE[1], when_to_use="before merging a feature branch"),
                  "cron": sm.propose(CRON[0], CRON[1], when_to_use="recurring jobs on a server"),
                  "git": sm.propose("Git", "- git commit small changes often\n- push daily\n- pull with rebase first",
                                    when_to_use="git commit push daily work")}
    accounts = Accounts(accounts_path(db))
    accounts.add_user("ana", PASSWORD)
    return {"db": db, "drafts": drafts, "reviewer_token": accounts.add_token("ana-cli", "reviewer"),
            "agent_token": accounts.add_token("bot", "agent")}


def library_state(db: str) -> dict:
    """Everything a request could change: skills with their text, audit rows, versions, usage."""
    import sqlean as sqlite3

    conn = sqlite3.connect(db)
    try:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("skills", "chunks", "audit_log", "skill_versions", "usage", "agent_usage")}
    finally:
        conn.close()


def login_token(html: str) -> str:
    """The login form's hidden token."""
    return re.search(r'name="login_token" value="([^"]+)"', html).group(1)


def csrf_of(html: str) -> str:
    """The session's CSRF token in a page's forms."""
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The console served by uvicorn on 127.0.0.1 in a thread (for the browser tests)."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the console did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
