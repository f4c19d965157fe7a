"""The review console in a real browser: Playwright driving Debian's chromium against a live server.

Each step is checked in the database too. Screenshots go to a temporary folder, or to
``$SKILLVAULT_SCREENSHOTS`` (``SKILLVAULT_SCREENSHOTS=docs/screenshots`` refreshes the
README's pictures).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from web_console import GIT_V1, PASSWORD, LiveServer, make_console

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    return make_console(tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="module")
def server(console):
    with LiveServer(console.app()) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("SKILLVAULT_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def log_in(page, password=PASSWORD):
    page.goto("/login")
    page.fill("input[name=name]", "ana")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_log_in_and_see_the_dashboard(page, shots):
    log_in(page, password="not the password")
    assert page.locator(".message.error").inner_text() == "Wrong name or password."
    log_in(page)
    page.wait_for_url("**/")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert "3\nawaiting review" in page.locator(".counts").inner_text()
    assert page.locator("svg.chart rect.bar").count() >= 12  # drafts per week, twelve weeks


def test_edit_a_draft_then_approve_it(page, console, shots):
    log_in(page)
    page.goto("/review")
    draft = page.locator(f"article[data-draft='{console.drafts['rebase']}']")
    assert "fetch first" in draft.locator(".changes").inner_text()
    revision = page.locator(f"article[data-draft='{console.drafts['git']}']")
    assert "Now: Git" in revision.locator(".current").inner_text()
    assert "changed" in revision.locator(".badge").all_inner_texts()
    page.screenshot(path=str(shots / "review-queue.png"), full_page=True)
    draft.locator("details.edit summary").click()
    box = draft.locator("details.edit textarea", has_text="fetch first")
    box.fill("## Playbook\n\n- fetch first\n- rebase with --update-refs, never on shared branches")
    draft.locator("details.edit textarea[name=description]").fill("Rebase without losing work")
    draft.locator("details.edit button[type=submit]").click()
    assert "Approved " + console.drafts["rebase"] in page.locator(".message.ok").inner_text()
    with console.manager() as sm:
        assert sm.get(console.drafts["rebase"]) is None
        skill = next(s for s in sm.list(status="canonical") if s.metadata.get("approved_from") == console.drafts["rebase"])
        edited = next(chunk for chunk in skill.chunks if "--update-refs" in chunk.content)
        assert edited.content == "## Playbook\n\n- fetch first\n- rebase with --update-refs, never on shared branches"
        assert skill.description == "Rebase without losing work" and skill.metadata["approved_by"] == "ana"


def test_reject_a_draft_with_a_reason(page, console):
    log_in(page)
    page.goto("/review")
    draft = page.locator(f"article[data-draft='{console.drafts['cron']}']")
    draft.locator("form.reject input[name=reason]").fill("covered by the ops runbook")
    draft.locator("form.reject button").click()
    assert "Rejected " + console.drafts["cron"] in page.locator(".message.ok").inner_text()
    with console.manager() as sm:
        assert sm.get(console.drafts["cron"]).status == "rejected"
        last = sm.history(console.drafts["cron"])[-1]
        assert (last["action"], last["actor"], last["reason"]) == ("reject", "ana", "covered by the ops runbook")


def test_search_shows_scores_and_why(page, shots):
    log_in(page)
    page.goto("/skills")
    page.fill("input[name=q]", "force push to main")
    page.click("form.search button")
    first = page.locator("tr.skill-hit").first
    assert "Git" in first.inner_text() and "cosine" in first.locator("td.why").inner_text()
    assert float(first.locator("td.num").inner_text()) > 0
    page.screenshot(path=str(shots / "search.png"), full_page=True)


def test_roll_back_a_skill(page, console, shots):
    log_in(page)
    page.goto("/skills/git")
    page.select_option("form.rollback select", "1")
    page.click("form.rollback button")
    assert "Version 1 restored as version 3" in page.locator(".message.ok").inner_text()
    assert "rollback" in page.locator("table.events").inner_text()
    page.screenshot(path=str(shots / "history.png"), full_page=True)
    with console.manager() as sm:
        skill = sm.get("git")
        assert skill.version == 3 and skill.chunks[0].content == GIT_V1
        last = sm.history("git")[-1]
        assert (last["action"], last["actor"], last["details"]["to_version"]) == ("rollback", "ana", 1)


def test_dashboard_charts_use_and_decisions(page, console, shots):
    with console.manager() as sm:
        for _ in range(3):
            sm.query("git commit push")
        uses = sm.usage("git")["uses"]
        decided = [e["action"] for d in console.drafts.values() for e in sm.history(d) if e["action"] in ("approve", "reject")]
    log_in(page)
    page.wait_for_url("**/")
    assert page.locator("svg.chart title", has_text=f"git: {uses} uses").count() == 1
    rate = f"{100 * decided.count('approve') / len(decided):.0f}%" if decided else "-"
    assert page.locator("#approval b").inner_text() == rate
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
