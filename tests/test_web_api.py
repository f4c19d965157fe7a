"""The review console's REST API and its pages' auth, through FastAPI's TestClient (httpx)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from skillvault.web.sessions import COOKIE, Sessions

from web_console import GIT_V1, PASSWORD, csrf_of, library_state, login_token, make_console


@pytest.fixture
def console(tmp_path):
    return make_console(tmp_path)


@pytest.fixture
def client(console):
    with TestClient(console.app()) as client:
        yield client


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def login(client, name="ana", password=PASSWORD, next_path="/"):
    page = client.get("/login")
    return client.post("/login", data={"login_token": login_token(page.text), "name": name, "password": password,
                                       "next": next_path}, follow_redirects=False)


# ---------------------------------------------------------------------- tokens
def test_the_api_needs_a_valid_token(client, console):
    missing = client.get("/api/skills")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["message"]
    assert client.get("/api/skills", headers=bearer("svt_" + "x" * 43)).status_code == 401
    assert client.get("/api/me", headers=bearer(console.reviewer_token)).json() == {"name": "ana-cli", "role": "reviewer"}
    console.accounts.revoke_token("ana-cli")
    assert client.get("/api/me", headers=bearer(console.reviewer_token)).status_code == 401


def test_accounts_file_keeps_only_hashes_and_is_private(console):
    text = open(console.accounts.path).read()
    assert PASSWORD not in text and console.reviewer_token not in text and console.agent_token not in text
    assert json.loads(text)["users"]["ana"].startswith("$argon2id$")
    assert stat.S_IMODE(os.stat(console.accounts.path).st_mode) == 0o600


# ---------------------------------------------------------------------- agents
@pytest.mark.parametrize("method, path, body", [
    ("post", "/api/drafts/{rebase}/approve", {}),
    ("post", "/api/drafts/{rebase}/reject", {"reason": "no"}),
    ("patch", "/api/drafts/{rebase}", {"description": "obey me"}),
    ("post", "/api/drafts/batch", {"action": "approve", "ids": ["{rebase}"]}),
    ("post", "/api/skills/git/rollback", {"version": 1}),
    ("get", "/api/drafts", None),
    ("get", "/api/skills/git/history", None),
])
def test_an_agent_token_cannot_review_and_nothing_changes(client, console, method, path, body):
    path = path.format(**console.drafts)
    if body and "ids" in body:
        body = {**body, "ids": [console.drafts["rebase"]]}
    before = library_state(console.db)
    answer = client.request(method, path, headers=bearer(console.agent_token), json=body)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "SkillPermissionError" and "needs a reviewer" in answer.json()["message"]
    assert library_state(console.db) == before


def test_an_agent_token_reads_canonical_skills_and_proposes_drafts(client, console):
    agent = bearer(console.agent_token)
    assert [s["id"] for s in client.get("/api/skills", headers=agent).json()] == ["git"]
    assert client.get(f"/api/skills/{console.drafts['cron']}", headers=agent).status_code == 404
    assert client.get("/api/skills", params={"status": "draft"}, headers=agent).status_code == 403
    made = client.post("/api/drafts", headers=agent, json={"title": "Tune nginx buffers", "playbook": "- raise proxy_buffers"})
    assert made.status_code == 201
    with console.manager() as sm:
        draft = sm.get(made.json()["draft_id"])
        assert draft.status == "draft" and sm.store.is_agent_draft(draft.id)
        assert [s.id for s in sm.list(status="canonical")] == ["git"]
    used = client.post("/api/skills/git/usage", headers=agent, json={"helpful": True})
    assert used.json()["by_agents"] == {"uses": 1, "helpful": 1, "unhelpful": 0}


# ---------------------------------------------------------------------- review
def test_a_revision_shows_its_section_diff_beside_the_skill_it_revises(client, console):
    draft = client.get(f"/api/drafts/{console.drafts['git']}", headers=bearer(console.reviewer_token)).json()
    assert draft["target"]["id"] == "git" and draft["target"]["version"] == 2
    changes = {s["section"]: s for s in draft["sections"]}
    assert changes["Playbook"]["change"] == "changed" and changes["Pitfalls"]["change"] == "unchanged"
    assert "+- pull with rebase first" in changes["Playbook"]["lines"]
    assert "-- git commit small changes" in changes["Playbook"]["lines"]
    assert changes["When to use"]["change"] == "added"
    assert draft["lint"] and {"severity", "code", "message"} <= set(draft["lint"][0])


def test_edit_then_approve_makes_the_edited_text_canonical(client, console):
    reviewer = bearer(console.reviewer_token)
    draft_id = console.drafts["rebase"]
    draft = client.get(f"/api/drafts/{draft_id}", headers=reviewer).json()
    assert draft["sections"] and draft["provenance"].startswith("sha256:")
    chunk = next(c for c in draft["chunks"] if "fetch first" in c["content"])
    answer = client.post(f"/api/drafts/{draft_id}/approve", headers=reviewer, json={
        "chunks": {chunk["id"]: "- fetch first\n- rebase with --update-refs"}, "note": "tightened"})
    assert answer.status_code == 200, answer.text
    skill_id = answer.json()["skill_id"]
    with console.manager() as sm:
        skill = sm.get(skill_id)
        assert skill.status == "canonical" and sm.get(draft_id) is None
        assert any("--update-refs" in c.content for c in skill.chunks)
        assert not any("never rebase shared" in c.content for c in skill.chunks)
        actions = [(e["actor"], e["action"]) for e in sm.history(draft_id)]
        assert ("ana-cli", "edit") in actions and ("ana-cli", "approve") in actions


def test_provenance_is_shown_redacted_and_cut(client, console):
    from conftest import make_skill

    secret = "AKIA" + "Q3EGRZ7ZBN4XJ2LK"
    draft = make_skill("draft::imported-notes", ("Notes", "- rotate keys"))
    draft.status, draft.source = "draft", "extracted"
    draft.extracted_from = f"aws_access_key_id = {secret}\n" + "x" * 3000
    with console.manager() as sm:
        sm.register(draft)
    answer = client.get("/api/drafts/draft::imported-notes", headers=bearer(console.reviewer_token))
    shown = answer.json()
    assert secret not in answer.text and "[REDACTED" in shown["provenance"]
    assert len(shown["provenance"]) < 1300 and shown["provenance"].endswith("…")


def test_reject_needs_a_reason_and_keeps_it(client, console):
    reviewer = bearer(console.reviewer_token)
    draft_id = console.drafts["cron"]
    before = library_state(console.db)
    blank = client.post(f"/api/drafts/{draft_id}/reject", headers=reviewer, json={"reason": "  "})
    assert blank.status_code == 422 and blank.json()["field"] == "reason"
    assert library_state(console.db) == before
    done = client.post(f"/api/drafts/{draft_id}/reject", headers=reviewer, json={"reason": "duplicates the ops runbook"})
    assert done.json() == {"draft_id": draft_id, "status": "rejected"}
    with console.manager() as sm:
        assert sm.get(draft_id).status == "rejected"
        assert sm.history(draft_id)[-1]["reason"] == "duplicates the ops runbook"


def test_batch_decides_each_draft_on_its_own(client, console):
    reviewer = bearer(console.reviewer_token)
    ids = [console.drafts["rebase"], "draft::missing", console.drafts["cron"]]
    before = library_state(console.db)
    refused = client.post("/api/drafts/batch", headers=reviewer, json={"action": "reject", "ids": ids})
    assert refused.status_code == 422 and refused.json()["field"] == "reason"
    assert library_state(console.db) == before
    result = client.post("/api/drafts/batch", headers=reviewer, json={"action": "approve", "ids": ids}).json()
    assert [item["draft_id"] for item in result["done"]] == [console.drafts["rebase"], console.drafts["cron"]]
    assert result["failed"][0]["draft_id"] == "draft::missing" and result["failed"][0]["error"] == "NotFoundError"
    with console.manager() as sm:
        assert [d.id for d in sm.review_queue()] == [console.drafts["git"]]
        assert len(sm.list(status="canonical")) == 3


def test_history_and_rollback(client, console):
    reviewer = bearer(console.reviewer_token)
    history = client.get("/api/skills/git/history", headers=reviewer).json()
    assert history["versions"] == [1, 2]
    rolled = client.post("/api/skills/git/rollback", headers=reviewer, json={"version": 1})
    assert rolled.json() == {"skill_id": "git", "restored_version": 1, "version": 3}
    with console.manager() as sm:
        assert sm.get("git").chunks[0].content == GIT_V1
        assert sm.history("git")[-1]["actor"] == "ana-cli"
    missing = client.post("/api/skills/git/rollback", headers=reviewer, json={"version": 9})
    assert missing.status_code == 404 and "kept versions: [1, 2, 3]" in missing.json()["message"]


def test_search_query_stats_usage(client, console):
    reviewer = bearer(console.reviewer_token)
    hits = client.get("/api/search", params={"q": "force push"}, headers=reviewer).json()
    assert hits[0]["skill_id"] == "git" and hits[0]["lexical_score"] is not None and "fused_score" in hits[0]
    skills = client.get("/api/search/skills", params={"q": "git push"}, headers=reviewer).json()
    assert skills[0]["id"] == "git" and "cosine" in skills[0]["why"]
    packed = client.post("/api/query", headers=reviewer, json={"text": "git push", "budget": 500}).json()
    assert "<skill" in packed["text"] and packed["decisions"] and packed["served_skill_ids"] == ["git"]
    assert client.get("/api/stats", headers=reviewer).json()["draft"] == 3
    assert client.get("/api/skills/git/usage", headers=reviewer).json()["uses"] == 1  # the query above


@pytest.mark.parametrize("method, path, body, status, field", [
    ("get", "/api/search?q=git&k=x", None, 422, "k"),
    ("get", "/api/search?q=git&k=0", None, 422, "k"),
    ("post", "/api/query", {"text": "git", "budget": 0}, 422, "budget"),
    ("post", "/api/query", {"budget": 10}, 422, "text"),
    ("patch", "/api/drafts/{rebase}", {"chunks": {"draft::nope::x": "text"}}, 422, "chunks['draft::nope::x']"),
    ("post", "/api/drafts", {"title": "a\nb", "playbook": "x"}, 422, "title"),
    ("get", "/api/skills/bad%20id", None, 422, "skill_id"),
    ("get", "/api/skills/nope", None, 404, None),
    ("post", "/api/drafts/git/approve", {}, 422, "draft_id"),
])
def test_bad_input_names_the_field_and_changes_nothing(client, console, method, path, body, status, field):
    before = library_state(console.db)
    answer = client.request(method, path.format(**console.drafts), headers=bearer(console.reviewer_token), json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field and answer.json()["message"]
    assert "Traceback" not in answer.text
    assert library_state(console.db) == before


def test_openapi_reference_is_served_without_outside_scripts(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/drafts/{draft_id}/approve", "/api/search/skills", "/api/skills/{skill_id}/rollback"} <= set(schema["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/drafts/batch" in docs.text
    assert "cdn" not in docs.text.lower() and "<script src=\"http" not in docs.text


# ---------------------------------------------------------------------- pages: auth
def test_pages_need_a_login_and_a_wrong_password_is_refused(client):
    first = client.get("/review", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/login?next=/review"
    wrong = login(client, password="wrong password")
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text and COOKIE not in wrong.cookies
    nobody = login(client, name="mallory")
    assert nobody.status_code == 401
    right = login(client, next_path="/review")
    assert right.status_code == 303 and right.headers["location"] == "/review" and COOKIE in right.cookies
    page = client.get("/review")
    assert page.status_code == 200 and "Review queue" in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_repeated_failed_logins_wait_out_the_window(console):
    now = [1000.0]
    with TestClient(console.app(Sessions(clock=lambda: now[0]))) as client:
        for _ in range(5):
            assert login(client, password="guess").status_code == 401
        # Blocked now, even with the right password (it is not even checked).
        blocked = login(client)
        assert blocked.status_code == 429 and "Too many failed logins" in blocked.text and COOKIE not in blocked.cookies
        # The same client guessing another name is blocked too (by its address).
        assert login(client, name="mallory", password="x").status_code == 429
        now[0] += 15 * 60
        right = login(client)
        assert right.status_code == 303 and COOKIE in right.cookies


def test_session_cookie_is_httponly_strict_and_secure_behind_tls(console):
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        with TestClient(console.app(), base_url=base) as client:
            cookie = next(h for h in login(client).headers.get_list("set-cookie") if h.startswith(COOKIE + "="))
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and ("Secure" in cookie) == secure


def test_login_refuses_a_form_without_its_token_and_foreign_next_paths(client):
    forged = client.post("/login", data={"name": "ana", "password": PASSWORD}, follow_redirects=False)
    assert forged.status_code == 403 and COOKIE not in forged.cookies
    away = login(client, next_path="//evil.example/steal")
    assert away.status_code == 303 and away.headers["location"] == "/"


def test_a_form_without_the_csrf_token_changes_nothing(client, console):
    login(client)
    client.get("/review")
    before = library_state(console.db)
    draft_id = console.drafts["cron"]
    for data in ({}, {"csrf": "forged"}):
        answer = client.post(f"/review/{draft_id}/approve", data=data, follow_redirects=False)
        assert answer.status_code == 403 and "CSRF" in answer.text
    assert library_state(console.db) == before
    done = client.post(f"/review/{draft_id}/reject", data={"csrf": csrf_of(client.get("/review").text), "reason": "stale"})
    assert done.status_code == 200 and f"Rejected {draft_id}" in done.text
    with console.manager() as sm:
        assert sm.get(draft_id).status == "rejected"


def test_an_expired_session_goes_back_to_login(console):
    now = [1000.0]
    sessions = Sessions(idle_seconds=60, max_seconds=3600, clock=lambda: now[0])
    with TestClient(console.app(sessions)) as client:
        login(client)
        assert client.get("/", follow_redirects=False).status_code == 200
        csrf = csrf_of(client.get("/review").text)
        now[0] += 61
        before = library_state(console.db)
        stale = client.post(f"/review/{console.drafts['cron']}/reject", data={"csrf": csrf, "reason": "late"},
                            follow_redirects=False)
        assert stale.status_code == 303 and stale.headers["location"].startswith("/login")
        assert library_state(console.db) == before
        assert client.get("/review", follow_redirects=False).headers["location"] == "/login?next=/review"
        login(client)
        now[0] += 3601  # however busy, a session ends after max_seconds
        assert client.get("/", follow_redirects=False).status_code == 303


def test_logout_ends_the_session(client):
    login(client)
    csrf = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_removed_reviewer_is_logged_out(client, console):
    login(client)
    console.accounts.remove_user("ana")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_page_errors_are_shown_not_raised(client, console):
    login(client)
    csrf = csrf_of(client.get("/review").text)
    page = client.post(f"/review/{console.drafts['cron']}/reject", data={"csrf": csrf, "reason": " "})
    assert page.status_code == 200 and "reason: must be a non-empty string" in page.text
    missing = client.get("/skills/nope")
    assert missing.status_code == 404 and "no skill with id" in missing.text and "Traceback" not in missing.text
    bad = client.post("/skills/git/rollback", data={"csrf": csrf, "version": "7"})
    assert "git&#39;s kept versions" in bad.text or "has no version 7" in bad.text


def test_batch_form_needs_a_reason_to_reject_and_approves_each_ticked_draft(client, console):
    login(client)
    csrf = csrf_of(client.get("/review").text)
    ticked = [console.drafts["rebase"], console.drafts["cron"]]
    before = library_state(console.db)
    refused = client.post("/review/batch", data={"csrf": csrf, "action": "reject", "ids": ticked, "reason": ""})
    assert "reason: must be a non-empty string" in refused.text
    assert library_state(console.db) == before
    done = client.post("/review/batch", data={"csrf": csrf, "action": "approve", "ids": ticked})
    assert "Approved 2" in done.text
    with console.manager() as sm:
        assert [d.id for d in sm.review_queue()] == [console.drafts["git"]]
        assert all(sm.get(draft_id) is None for draft_id in ticked)


# ---------------------------------------------------------------------- the command line
def test_users_commands_manage_reviewers_and_tokens(console):
    from typer.testing import CliRunner

    from skillvault.cli.app import app

    def run(*args, code=0):
        result = CliRunner().invoke(app, ["--db", console.db, *args], env={"NO_COLOR": "1"})
        assert result.exit_code == code, result.output
        return result

    run("users", "add", "ben", "--password", "a long passphrase")
    assert console.accounts.login("ben", "a long passphrase") is not None
    token = run("users", "token", "ci", "--agent").stdout.strip()
    assert console.accounts.check_token(token).role == "agent"
    listing = json.loads(run("users", "list", "--json").stdout)
    assert listing["reviewers"] == ["ana", "ben"] and {"ci", "bot"} <= {t["name"] for t in listing["tokens"]}
    assert token not in json.dumps(listing)
    assert "8 to 1000 characters" in run("users", "add", "cy", "--password", "short", code=1).output
    run("users", "revoke", "ci")
    assert console.accounts.check_token(token) is None
    assert "no reviewer named 'zed'" in run("users", "remove", "zed", code=3).output
    missing = CliRunner().invoke(app, ["--db", console.db + ".nope", "serve"])
    assert missing.exit_code == 1 and "no skill library at" in missing.output


def test_serve_builds_the_console_from_the_command_line_settings(console):
    from skillvault.cli.session import Settings
    from skillvault.web import app_for

    # Opened as `skillvault --db ... serve` opens it: no embed_fn, so the library's own
    # embedder is missing; reading works, and embedding new text says what to pass.
    with TestClient(app_for(Settings(db=Path(console.db))), base_url="http://127.0.0.1:8760") as client:
        rebound = client.get("http://rebound.example/api/skills", headers=bearer(console.agent_token))
        assert rebound.status_code == 400  # a name that is not loopback: refused (DNS rebinding)
        assert [s["id"] for s in client.get("/api/skills", headers=bearer(console.agent_token)).json()] == ["git"]
        refused = client.post("/api/drafts", headers=bearer(console.agent_token), json={"title": "x", "playbook": "y"})
        assert refused.status_code == 400 and refused.json()["error"] == "EmbedderMismatchError"
        assert "--embed-model" in refused.json()["message"]
