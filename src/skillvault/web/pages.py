"""The reviewers' pages: login, dashboard, review queue, skill browser, history and rollback.

Server-rendered (Jinja2) with a little JavaScript; every form posts back with the
session's CSRF token and ends in a redirect that shows what happened (or why nothing did).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ..errors import NotFoundError, SkillVaultError
from ..models import Status
from .api import approve_draft, decide_many
from .auth import (
    LOGIN_CSRF_COOKIE, checked_form, login_token_matches, new_login_token, page_session, safe_next, state_of,
)
from .dashboard import dashboard
from .errors import message_for
from .sessions import COOKIE, Session
from .views import draft_review, hit_dict, skill_detail, skill_hit_dict

router = APIRouter(include_in_schema=False)
CHUNK_FIELD = "chunk:"


def render(request: Request, template: str, session: Optional[Session] = None, status: int = 200, **context) -> HTMLResponse:
    """Render a page with the session's user, CSRF token and pending messages."""
    page = state_of(request).templates.get_template(template)
    html = page.render(
        request=request, user=session.user if session else None, csrf=session.csrf if session else "",
        messages=session.take_messages() if session else [], **context,
    )
    return HTMLResponse(html, status_code=status)


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


async def _act(request: Request, session: Session, fn: Callable, done: Callable[[Any], str]) -> None:
    """Run ``fn(manager)`` on the reviewers' manager; flash ``done(result)``, or the error."""
    try:
        result = await state_of(request).libraries.human.call(fn)
    except SkillVaultError as exc:
        session.flash("error", message_for(exc))
        return
    session.flash("ok", done(result))


# ---------------------------------------------------------------------- login
def _over_tls(request: Request) -> bool:
    """True when the browser reached the console over HTTPS (e.g. through a TLS proxy):
    its cookies are then marked Secure."""
    return request.url.scheme == "https"


def _login_page(request: Request, next_path: str, error: str = "", status: int = 200) -> HTMLResponse:
    token = new_login_token()
    response = render(request, "login.html", status=status, login_token=token, next=safe_next(next_path), error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=_over_tls(request))
    return response


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002 - the query parameter's name
    return _login_page(request, next)


@router.post("/login")
async def login(request: Request) -> HTMLResponse:
    form = await request.form()
    next_path = safe_next(form.get("next"))
    if not login_token_matches(request, form.get("login_token")):
        return _login_page(request, next_path, "The login form expired; please log in again.", 403)
    state = state_of(request)
    name = form.get("name", "")
    keys = [f"name:{name}", f"client:{request.client.host if request.client else '-'}"]
    wait = state.throttle.wait_seconds(keys)
    if wait > 0:
        return _login_page(request, next_path, f"Too many failed logins for this name or from this address; "
                                               f"try again in {max(1, round(wait / 60))} min.", 429)
    principal = state.accounts.login(name, form.get("password", ""))
    if principal is None:
        state.throttle.failed(keys)
        return _login_page(request, next_path, "Wrong name or password.", 401)
    state.throttle.succeeded(keys[0])
    session = state.sessions.start(principal.name)
    response = _back(next_path)
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", path="/", secure=_over_tls(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    session, _form = await checked_form(request)
    state_of(request).sessions.end(session.id)
    response = _back("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


# ---------------------------------------------------------------------- dashboard
@router.get("/")
async def home(request: Request, session: Session = Depends(page_session)) -> HTMLResponse:
    data = await state_of(request).libraries.human.call(dashboard)
    return render(request, "dashboard.html", session, page="dashboard", data=data)


# ---------------------------------------------------------------------- review
@router.get("/review")
async def review_queue(request: Request, session: Session = Depends(page_session)) -> HTMLResponse:
    drafts = await state_of(request).libraries.human.call(lambda sm: [draft_review(sm, d) for d in sm.review_queue()])
    return render(request, "review.html", session, page="review", drafts=drafts)


def _text(value: Any) -> Any:
    """A text box's value with the browser's CRLF line ends made LF (anything else as sent)."""
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


@router.post("/review/{draft_id}/approve")
async def approve(request: Request, draft_id: str) -> RedirectResponse:
    session, form = await checked_form(request)
    note = (form.get("note") or "").strip() or None
    chunks, description = None, None
    if form.get("edited") == "1":  # "edit, then approve": the form carries the edited text
        chunks = {key[len(CHUNK_FIELD):]: _text(value) for key, value in form.items() if key.startswith(CHUNK_FIELD)}
        description = _text(form.get("description", ""))
    await _act(request, session, lambda sm: approve_draft(sm, draft_id, session.user, note, chunks, description),
               lambda done: f"Approved {draft_id}: now {done['skill_id']} version {done['version']}")
    return _back("/review")


@router.post("/review/{draft_id}/reject")
async def reject(request: Request, draft_id: str) -> RedirectResponse:
    session, form = await checked_form(request)
    reason = form.get("reason", "")
    await _act(request, session, lambda sm: sm.reject(draft_id, reason, reviewer=session.user),
               lambda _none: f"Rejected {draft_id}")
    return _back("/review")


@router.post("/review/batch")
async def batch(request: Request) -> RedirectResponse:
    session, form = await checked_form(request)
    action, ids = form.get("action"), form.getlist("ids")
    if action not in ("approve", "reject") or not ids:
        session.flash("error", "Tick at least one draft, then choose approve or reject.")
        return _back("/review")
    try:
        result = await state_of(request).libraries.human.call(
            decide_many, action, ids, session.user, form.get("reason"), None)
    except SkillVaultError as exc:
        session.flash("error", message_for(exc))
        return _back("/review")
    verb = "Approved" if action == "approve" else "Rejected"
    if result["done"]:
        session.flash("ok", f"{verb} {len(result['done'])}: " + ", ".join(item["draft_id"] for item in result["done"]))
    for item in result["failed"]:
        session.flash("error", f"{item['draft_id']}: {item['message']}")
    return _back("/review")


# ---------------------------------------------------------------------- skills
@router.get("/skills")
async def skills(request: Request, q: str = "", session: Session = Depends(page_session)) -> HTMLResponse:
    query = q.strip()

    def read(sm):
        if not query:
            return {"skills": sm.list(status=Status.CANONICAL)}
        return {"skill_hits": [skill_hit_dict(r, h) for r, h in enumerate(sm.search_skills(query, k=10), 1)],
                "chunk_hits": [hit_dict(r, h) for r, h in enumerate(sm.search(query, k=10), 1)]}

    try:
        found = await state_of(request).libraries.human.call(read)
    except SkillVaultError as exc:
        return render(request, "skills.html", session, status=422, page="skills", q=q, error=message_for(exc))
    return render(request, "skills.html", session, page="skills", q=q, **found)


@router.get("/skills/{skill_id}")
async def skill(request: Request, skill_id: str, session: Session = Depends(page_session)) -> HTMLResponse:
    def read(sm):
        found = sm.get(skill_id)
        if found is None:
            raise NotFoundError(f"no skill with id {skill_id!r}")
        return {"skill": skill_detail(found, sm.usage(skill_id)), "versions": sm.versions(skill_id),
                "events": sm.history(skill_id)}

    data = await state_of(request).libraries.human.call(read)
    return render(request, "skill.html", session, page="skills", **data)


@router.post("/skills/{skill_id}/rollback")
async def rollback(request: Request, skill_id: str) -> RedirectResponse:
    session, form = await checked_form(request)
    try:
        version = int(form.get("version", ""))
    except ValueError:
        session.flash("error", "version: choose one of the kept versions")
        return _back(f"/skills/{skill_id}")
    await _act(request, session, lambda sm: sm.rollback(skill_id, version, reviewer=session.user),
               lambda new: f"Version {version} restored as version {new}")
    return _back(f"/skills/{skill_id}")


# ---------------------------------------------------------------------- API docs
@router.get("/docs")
async def api_docs(request: Request) -> HTMLResponse:
    """The REST API's reference, rendered from its OpenAPI schema (no scripts from elsewhere)."""
    schema = request.app.openapi()
    return render(request, "docs.html", state_of(request).sessions.get(request.cookies.get(COOKIE)),
                  page="docs", schema=schema)
