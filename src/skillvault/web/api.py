"""The REST API under ``/api``: what the library offers, with its errors and permissions.

Every route takes a bearer token (:func:`.auth.api_principal`) and calls the manager of
that principal: a reviewer's is human-mode, an agent's is agent-mode, so an agent token
gets 403 wherever the library refuses agent mode, and nothing changes.
"""

from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from ..errors import NotFoundError, SkillPermissionError, SkillVaultError, ValidationError
from .accounts import Principal
from .auth import api_principal, state_of
from .errors import error_body
from .views import draft_review, hit_dict, packing_dict, skill_detail, skill_hit_dict, skill_summary

router = APIRouter(prefix="/api", tags=["skillvault"])


class ProposeBody(BaseModel):
    """A draft written by the caller (see ``SkillManager.propose``)."""

    title: str = Field(description="One line, at most 80 characters.")
    playbook: str = Field(description="The steps (markdown).")
    examples: str = ""
    when_to_use: str = ""
    dependencies: Optional[list[str]] = None
    tags: Optional[list[str]] = None
    confidence: Optional[float] = None


class QueryBody(BaseModel):
    """A query: the packed prompt text, and with ``explain`` every packing decision."""

    text: str
    budget: int = 2000
    explain: bool = True


class EditBody(BaseModel):
    """A reviewer's edit of a draft: new text for some chunks and/or the description."""

    chunks: Optional[dict[str, str]] = Field(None, description="chunk id -> new markdown")
    description: Optional[str] = None


class ApproveBody(EditBody):
    """Approve a draft, optionally editing it first (edit, then approve)."""

    note: Optional[str] = None


class RejectBody(BaseModel):
    """Reject a draft; the reason is required and kept."""

    reason: str


class BatchBody(BaseModel):
    """Approve or reject several drafts; each succeeds or fails on its own."""

    action: Literal["approve", "reject"]
    ids: list[str] = Field(min_length=1, max_length=500)
    reason: Optional[str] = Field(None, description="Required to reject.")
    note: Optional[str] = None


class RollbackBody(BaseModel):
    """The kept version whose content becomes a new version."""

    version: int


class UsageBody(BaseModel):
    """A use of a skill, with an optional vote and note."""

    helpful: Optional[bool] = None
    note: Optional[str] = None


async def _call(request: Request, principal: Principal, fn, *args):
    return await state_of(request).libraries.for_principal(principal).call(fn, *args)


def _reviewer(principal: Principal) -> Optional[str]:
    return principal.name if principal.is_reviewer else None


@router.get("/me", summary="Who the token belongs to")
async def me(principal: Principal = Depends(api_principal)) -> dict:
    return {"name": principal.name, "role": principal.role}


@router.get("/skills", summary="List skills (agents: canonical only)")
async def list_skills(request: Request, status: Optional[str] = None, source: Optional[str] = None,
                      principal: Principal = Depends(api_principal)) -> list[dict]:
    skills = await _call(request, principal, lambda sm: sm.list(status=status, source=source))
    return [skill_summary(skill) for skill in skills]


@router.get("/skills/{skill_id}", summary="One skill with its text")
async def get_skill(request: Request, skill_id: str, principal: Principal = Depends(api_principal)) -> dict:
    def read(sm):
        skill = sm.get(skill_id)
        if skill is None:
            raise NotFoundError(f"no skill with id {skill_id!r}" + ("" if principal.is_reviewer else " among reviewed skills"))
        return skill_detail(skill, sm.usage(skill_id))

    return await _call(request, principal, read)


@router.get("/skills/{skill_id}/files/{path:path}", summary="A file bundled with a skill")
async def read_file(request: Request, skill_id: str, path: str, principal: Principal = Depends(api_principal)) -> dict:
    text = await _call(request, principal, lambda sm: sm.read_file(skill_id, path))
    return {"skill_id": skill_id, "path": path, "text": text}


@router.get("/skills/{skill_id}/history", summary="Kept versions and audit trail (reviewers)")
async def history(request: Request, skill_id: str, principal: Principal = Depends(api_principal)) -> dict:
    def read(sm):
        events, versions = sm.history(skill_id), sm.versions(skill_id)
        if not events and not versions and sm.get(skill_id) is None:
            raise NotFoundError(f"no skill with id {skill_id!r} and no history for it")
        return {"skill_id": skill_id, "versions": versions, "events": events}

    return await _call(request, principal, read)


@router.post("/skills/{skill_id}/rollback", summary="Restore a kept version as a new version (reviewers)")
async def rollback(request: Request, skill_id: str, body: RollbackBody,
                   principal: Principal = Depends(api_principal)) -> dict:
    version = await _call(request, principal, lambda sm: sm.rollback(skill_id, body.version, reviewer=_reviewer(principal)))
    return {"skill_id": skill_id, "restored_version": body.version, "version": version}


@router.get("/skills/{skill_id}/usage", summary="Usage counts and notes")
async def usage(request: Request, skill_id: str, principal: Principal = Depends(api_principal)) -> dict:
    return await _call(request, principal, lambda sm: sm.usage(skill_id))


@router.post("/skills/{skill_id}/usage", summary="Count a use, with an optional vote and note")
async def record_usage(request: Request, skill_id: str, body: UsageBody,
                       principal: Principal = Depends(api_principal)) -> dict:
    def record(sm):
        sm.record_usage(skill_id, helpful=body.helpful, note=body.note)
        return sm.usage(skill_id)

    return await _call(request, principal, record)


@router.get("/search", summary="Chunks that fit a query, with their scores")
async def search(request: Request, q: str = Query(description="The query."), k: int = 10,
                 principal: Principal = Depends(api_principal)) -> list[dict]:
    hits = await _call(request, principal, lambda sm: sm.search(q, k=k))
    return [hit_dict(rank, hit) for rank, hit in enumerate(hits, 1)]


@router.get("/search/skills", summary="Skills that fit a query, with why each matched")
async def search_skills(request: Request, q: str = Query(description="The task."), k: int = 5,
                        principal: Principal = Depends(api_principal)) -> list[dict]:
    hits = await _call(request, principal, lambda sm: sm.search_skills(q, k=k))
    return [skill_hit_dict(rank, hit) for rank, hit in enumerate(hits, 1)]


@router.post("/query", summary="Packed prompt text for a query, with the reason for each chunk")
async def query(request: Request, body: QueryBody, principal: Principal = Depends(api_principal)) -> dict:
    packing = await _call(request, principal, lambda sm: sm.query(body.text, budget=body.budget, explain=True))
    return packing_dict(packing) if body.explain else {"text": packing.text}


@router.get("/stats", summary="Counts, sizes, embedder")
async def stats(request: Request, principal: Principal = Depends(api_principal)) -> dict:
    return await _call(request, principal, lambda sm: sm.stats())


@router.get("/drafts", summary="The review queue, with diffs and lint findings (reviewers)")
async def drafts(request: Request, principal: Principal = Depends(api_principal)) -> list[dict]:
    return await _call(request, principal, lambda sm: [draft_review(sm, draft) for draft in sm.review_queue()])


@router.post("/drafts", status_code=201, summary="Propose a draft (agents and reviewers)")
async def propose(request: Request, body: ProposeBody, principal: Principal = Depends(api_principal)) -> dict:
    draft_id = await _call(request, principal, lambda sm: sm.propose(**body.model_dump()))
    return {"draft_id": draft_id, "status": "draft"}


@router.get("/drafts/{draft_id}", summary="One draft for review (reviewers)")
async def draft(request: Request, draft_id: str, principal: Principal = Depends(api_principal)) -> dict:
    def read(sm):
        found = [d for d in sm.review_queue() if d.id == draft_id]
        if not found:
            raise NotFoundError(f"no draft with id {draft_id!r} awaits review")
        return draft_review(sm, found[0])

    return await _call(request, principal, read)


@router.patch("/drafts/{draft_id}", summary="Edit a draft's text (reviewers)")
async def edit(request: Request, draft_id: str, body: EditBody, principal: Principal = Depends(api_principal)) -> dict:
    def change(sm):
        skill = sm.edit_draft(draft_id, chunks=body.chunks, description=body.description, reviewer=_reviewer(principal))
        return skill_detail(skill)

    return await _call(request, principal, change)


@router.post("/drafts/{draft_id}/approve", summary="Approve a draft, optionally editing it first (reviewers)")
async def approve(request: Request, draft_id: str, body: ApproveBody = ApproveBody(),
                  principal: Principal = Depends(api_principal)) -> dict:
    def decide(sm):
        return approve_draft(sm, draft_id, _reviewer(principal), body.note, body.chunks, body.description)

    return await _call(request, principal, decide)


@router.post("/drafts/{draft_id}/reject", summary="Reject a draft with a reason (reviewers)")
async def reject(request: Request, draft_id: str, body: RejectBody, principal: Principal = Depends(api_principal)) -> dict:
    await _call(request, principal, lambda sm: sm.reject(draft_id, body.reason, reviewer=_reviewer(principal)))
    return {"draft_id": draft_id, "status": "rejected"}


@router.post("/drafts/batch", summary="Approve or reject several drafts (reviewers)")
async def batch(request: Request, body: BatchBody, principal: Principal = Depends(api_principal)) -> dict:
    def run(sm):
        return decide_many(sm, body.action, body.ids, _reviewer(principal), body.reason, body.note)

    return await _call(request, principal, run)


def approve_draft(sm, draft_id: str, reviewer: Optional[str], note: Optional[str] = None,
                  chunks: Optional[dict] = None, description: Optional[str] = None) -> dict:
    """Approve a draft, edited first when edits are given (one transaction); return
    ``{"draft_id", "skill_id", "version"}``.

    Raises:
        skillvault errors: from the edit or the approval (nothing is written then).
    """
    skill_id = sm.approve(draft_id, reviewer=reviewer, note=note, chunks=chunks, description=description)
    return {"draft_id": draft_id, "skill_id": skill_id, "status": "canonical", "version": sm.get(skill_id).version}


def decide_many(sm, action: str, ids: list[str], reviewer: Optional[str], reason: Optional[str] = None,
                note: Optional[str] = None) -> dict:
    """Approve or reject each draft of ``ids`` on its own.

    Returns:
        ``{"done": [{"draft_id", ...}], "failed": [{"draft_id", "error", "message", "field"}]}``.

    Raises:
        ValidationError: rejecting without a reason (nothing is done).
        SkillPermissionError: an agent-mode manager (nothing is done).
    """
    if action == "reject" and not (reason or "").strip():
        raise ValidationError("reason", "must be a non-empty string saying why the drafts are rejected")
    done, failed = [], []
    for draft_id in ids:
        try:
            if action == "approve":
                done.append(approve_draft(sm, draft_id, reviewer, note))
            else:
                sm.reject(draft_id, reason, reviewer=reviewer)
                done.append({"draft_id": draft_id, "status": "rejected"})
        except SkillPermissionError:
            raise
        except SkillVaultError as exc:
            failed.append({"draft_id": draft_id, **error_body(exc)})
    return {"done": done, "failed": failed}
