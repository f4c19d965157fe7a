"""propose(): drafts written by the caller, with no LLM, through the extraction's checks."""

from __future__ import annotations

import pytest

from skillvault import SkillManager
from skillvault.errors import ValidationError

from conftest import make_skill
from digest import file_digest as db_digest

PLAYBOOK = "- read the pod's events with kubectl describe\n- check the previous container's logs with --previous"


@pytest.fixture
def library(db_path, embed):
    human = SkillManager(db_path, embed_fn=embed, auto_promote=None)
    human.register(make_skill("kubectl-basics", ("Pods", "kubectl get pods lists pods; kubectl describe shows events")))
    yield human
    human.close()


@pytest.fixture
def agent(library, agent_path, embed):
    manager = SkillManager(agent_path, embed_fn=embed, mode="agent")
    yield manager
    manager.close()


def test_agent_proposal_becomes_a_draft_in_the_review_queue(agent, library):
    draft_id = agent.propose(
        "Debug a pod in CrashLoopBackOff", PLAYBOOK, examples="```\nkubectl logs web-1 --previous\n```",
        when_to_use="a pod restarts over and over", dependencies=["kubectl-basics"], tags=["kubernetes"],
    )
    draft = library.get(draft_id)
    assert draft_id.startswith("draft::debug-a-pod-in-crashloopbackoff")
    assert draft.status == "draft" and draft.source == "extracted"
    assert [c.section for c in draft.chunks] == ["Playbook", "Examples", "When to use"]
    assert draft.chunks[0].dependencies == ["kubectl-basics"]
    assert draft.tags == ["kubernetes"]
    assert 0.5 <= draft.confidence <= 0.95 and draft.metadata["confidence_estimated"] is True
    assert "proposed by agent" in draft.extracted_from
    assert draft_id in [d.id for d in library.review_queue()]
    assert library.history(draft_id)[0]["actor"] == "agent"
    assert "CrashLoopBackOff" not in agent.query("pod restarts CrashLoopBackOff", budget=500)  # not served until approved
    library.approve(draft_id)
    assert "kubectl logs web-1 --previous" in agent.query("pod restarts CrashLoopBackOff", budget=500)


def test_secrets_in_a_proposal_are_redacted(agent, library):
    draft_id = agent.propose("Call the billing API", "- export BILLING_TOKEN=sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c\n- curl it")
    text = "\n".join(c.content for c in library.get(draft_id).chunks)
    assert "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c" not in text
    assert "REDACTED" in text


def test_a_repeated_proposal_merges_into_the_same_draft(agent, library):
    first = agent.propose("Debug a pod in CrashLoopBackOff", PLAYBOOK)
    second = agent.propose("Debug a pod in CrashLoopBackOff", PLAYBOOK + "\n- check resource limits", confidence=0.99)
    assert second == first
    assert len([d for d in library.review_queue() if d.id.startswith("draft::debug-a-pod")]) == 1
    assert "resource limits" in library.get(first).chunks[0].content


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"title": "", "playbook": PLAYBOOK}, "title"),
        ({"title": "two\nlines", "playbook": PLAYBOOK}, "title"),
        ({"title": "x" * 81, "playbook": PLAYBOOK}, "title"),
        ({"title": 7, "playbook": PLAYBOOK}, "title"),
        ({"title": "ok", "playbook": "   "}, "playbook"),
        ({"title": "ok", "playbook": PLAYBOOK, "examples": ["a"]}, "examples"),
        ({"title": "ok", "playbook": PLAYBOOK, "dependencies": "kubectl-basics"}, "dependencies"),
        ({"title": "ok", "playbook": PLAYBOOK, "dependencies": ["no-such-skill"]}, "dependencies[0]"),
        ({"title": "ok", "playbook": PLAYBOOK, "dependencies": ["../etc"]}, "dependencies[0]"),
        ({"title": "ok", "playbook": PLAYBOOK, "tags": "k8s"}, "tags"),
        ({"title": "ok", "playbook": PLAYBOOK, "confidence": 1.5}, "confidence"),
        ({"title": "ok", "playbook": PLAYBOOK, "confidence": float("nan")}, "confidence"),
        ({"title": "ok", "playbook": PLAYBOOK, "confidence": True}, "confidence"),
    ],
)
def test_bad_proposals_are_refused_and_change_nothing(agent, db_path, kwargs, field):
    before = db_digest(db_path)
    with pytest.raises(ValidationError) as caught:
        agent.propose(**kwargs)
    assert caught.value.field == field
    assert db_digest(db_path) == before


def test_a_draft_is_not_a_valid_dependency(agent, library):
    draft_id = agent.propose("Debug a pod in CrashLoopBackOff", PLAYBOOK)
    with pytest.raises(ValidationError, match="not a canonical skill"):
        agent.propose("Another one entirely", "- do a thing\n- then another", dependencies=[draft_id])
