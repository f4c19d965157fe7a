"""Review: queue, approve/reject, audit trail, versions and rollback, usage and
auto-promotion, draft TTL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from skillvault import SkillManager
from skillvault.errors import NotFoundError, ValidationError
from skillvault.models import utc_now

from conftest import make_skill, run_sql
from test_growth import ASYNC_ANSWER, ScriptedLLM

KNITTING = {
    "has_knowledge": True, "title": "Knitting sleeves in the round", "confidence": 0.8,
    "playbook": "- cast on with a circular needle\n- join without twisting", "when_to_use": "sweater sleeves",
}


@pytest.fixture
def manager(db_path, embed):
    def make(*answers, **kwargs):
        return SkillManager(db_path, embed_fn=embed, llm_fn=ScriptedLLM(*answers), **kwargs)

    return make


def test_queue_is_newest_first_with_review_fields(manager):
    sm = manager(ASYNC_ANSWER, KNITTING, auto_promote=None)
    first = sm.extract("a")
    second = sm.extract("b")
    run_sql(sm.store, "UPDATE skills SET created_at = ? WHERE id = ?", ((utc_now() - timedelta(hours=1)).isoformat(), first))
    queue = sm.review_queue()
    assert [d.id for d in queue] == [second, first]
    assert queue[0].confidence == 0.8 and queue[0].revises is None and queue[0].flags == []


def test_approve_makes_a_canonical_skill_that_is_served(manager):
    sm = manager(ASYNC_ANSWER)
    draft_id = sm.extract("a")
    skill_id = sm.approve(draft_id, reviewer="ann", note="useful")
    assert skill_id == "async-error-handling-in-python"
    skill = sm.get(skill_id)
    assert skill.status == "canonical" and skill.chunks[0].id == f"{skill_id}::playbook"
    assert skill.metadata["approved_from"] == draft_id and skill.metadata["approved_by"] == "ann"
    assert sm.get(draft_id) is None and sm.review_queue() == []
    assert "asyncio.gather" in sm.query("asyncio gather return_exceptions", budget=500)
    entries = sm.history(skill_id)
    assert entries[-1]["action"] == "approve" and entries[-1]["actor"] == "ann" and entries[-1]["reason"] == "useful"
    assert [e["action"] for e in sm.history(draft_id)] == ["extract", "approve"]


def test_approving_a_title_that_exists_gets_a_free_id(manager):
    sm = manager(ASYNC_ANSWER, auto_promote=None)
    sm.register(make_skill("async-error-handling-in-python", ("Other", "unrelated knitting text"), name="Knitting notes"))
    draft = sm.get(sm.extract("a"))
    assert draft.revises is None  # not similar in content, and the name differs
    assert sm.approve(draft.id) == "async-error-handling-in-python-2"


def test_reject_keeps_the_draft_and_the_reason(manager):
    sm = manager(ASYNC_ANSWER)
    draft_id = sm.extract("a")
    sm.reject(draft_id, reason="Not useful")
    draft = sm.get(draft_id)
    assert draft.status == "rejected" and "rejected: Not useful" in draft.flags
    assert sm.review_queue() == []
    entry = sm.history(draft_id)[-1]
    assert (entry["action"], entry["reason"], entry["actor"]) == ("reject", "Not useful", "human")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_reject_needs_a_reason(manager, reason):
    sm = manager(ASYNC_ANSWER)
    draft_id = sm.extract("a")
    with pytest.raises(ValidationError, match="reason"):
        sm.reject(draft_id, reason=reason)
    assert sm.get(draft_id).status == "draft"


def test_review_actions_need_a_draft(manager):
    sm = manager()
    sm.register(make_skill("canon", ("A", "text")))
    with pytest.raises(ValidationError, match="not a draft"):
        sm.approve("canon")
    with pytest.raises(NotFoundError):
        sm.reject("draft::ghost", reason="x")


def test_versions_are_kept_and_rollback_restores_one(manager):
    sm = manager()
    sm.register(make_skill("deploy", ("Steps", "deploy with helm v2")))
    sm.register(make_skill("deploy", ("Steps", "deploy with helm v3")))
    assert sm.get("deploy").version == 2 and sm.versions("deploy") == [1, 2]
    assert sm.rollback("deploy", 1) == 3
    skill = sm.get("deploy")
    assert skill.version == 3 and skill.chunks[0].content == "deploy with helm v2"
    assert "helm v2" in sm.query("deploy with helm", budget=200)
    assert [e["action"] for e in sm.history("deploy")] == ["register", "register", "rollback"]
    assert sm.history("deploy")[-1]["details"]["to_version"] == 1
    with pytest.raises(NotFoundError, match=r"kept versions: \[1, 2, 3\]"):
        sm.rollback("deploy", 9)


def test_query_counts_served_skills(manager):
    sm = manager()
    sm.register(make_skill("git", ("Rebase", "git rebase main")))
    sm.register(make_skill("bread", ("Starter", "feed the sourdough starter")))
    sm.query("git rebase", budget=200)
    sm.query("git rebase main", budget=200)
    assert sm.usage("git")["uses"] == 2 and sm.usage("bread")["uses"] == 0
    sm.record_usage("git", helpful=False)
    assert sm.usage("git") == {**sm.usage("git"), "uses": 3, "unhelpful": 1, "helpful": 0}
    with pytest.raises(NotFoundError):
        sm.record_usage("ghost")
    with pytest.raises(ValidationError, match="helpful"):
        sm.record_usage("git", helpful="yes")


def test_a_used_confident_draft_is_promoted_automatically(manager):
    sm = manager({**ASYNC_ANSWER, "confidence": 0.95}, auto_promote={"usage": 3, "confidence": 0.9})
    draft_id = sm.extract("a")
    sm.record_usage(draft_id)
    sm.record_usage(draft_id)
    assert sm.get(draft_id).status == "draft"
    sm.record_usage(draft_id, helpful=True)
    assert sm.get(draft_id) is None
    skill = sm.get("async-error-handling-in-python")
    assert skill.status == "canonical"
    entry = sm.history(skill.id)[-1]
    assert entry["action"] == "auto-promote" and entry["actor"] == "auto-promote" and "usage 3 >= 3" in entry["reason"]


def test_a_not_confident_enough_draft_waits_for_a_human(manager):
    sm = manager({**ASYNC_ANSWER, "confidence": 0.8}, auto_promote={"usage": 1, "confidence": 0.9})
    draft_id = sm.extract("a")
    for _ in range(5):
        sm.record_usage(draft_id)
    assert sm.get(draft_id).status == "draft"


def test_a_conflicting_draft_is_flagged_not_promoted(manager):
    sm = manager({**ASYNC_ANSWER, "confidence": 0.95, "title": "Python async error handling tips"},
                 auto_promote={"usage": 1, "confidence": 0.9})
    sm.register(make_skill("async-errors", ("Playbook", ASYNC_ANSWER["playbook"]), ("Examples", ASYNC_ANSWER["examples"]),
                           ("When", ASYNC_ANSWER["when_to_use"]), name="Async errors"))
    draft_id = sm.extract("a")
    sm.record_usage(draft_id)
    draft = sm.get(draft_id)
    assert draft.status == "draft"
    assert any(flag.startswith("conflict: it proposes a revision of canonical skill async-errors") for flag in draft.flags)
    assert sm.get("async-errors").version == 1
    assert sm.history(draft_id)[-1]["action"] == "flag-conflict"


def test_same_title_as_a_canonical_skill_is_a_conflict(manager):
    sm = manager({**KNITTING, "confidence": 0.95}, auto_promote={"usage": 1, "confidence": 0.9})
    sm.register(make_skill("knit", ("Other", "completely different words about tax returns"), name="Knitting sleeves in the round"))
    draft_id = sm.extract("a")
    sm.record_usage(draft_id)
    assert sm.get(draft_id).status == "draft"
    assert any("same title as canonical skill knit" in f or "revision of canonical skill knit" in f for f in sm.get(draft_id).flags)


def test_maintenance_archives_stale_drafts_and_restore_brings_them_back(manager, db_path, embed):
    sm = manager(ASYNC_ANSWER, KNITTING, draft_ttl_days=30, auto_promote=None)
    old = sm.extract("a")
    fresh = sm.extract("b")
    run_sql(sm.store, "UPDATE skills SET updated_at = ? WHERE id = ?", ((utc_now() - timedelta(days=31)).isoformat(), old))
    result = sm.maintenance()
    assert result["expired"] == [old]
    assert sm.get(old).status == "archived" and any(f.startswith("expired") for f in sm.get(old).flags)
    assert [d.id for d in sm.review_queue()] == [fresh]
    assert [s.id for s in sm.list(status="archived", source="extracted")] == [old]
    assert sm.restore(old) == "draft"
    assert sm.get(old).flags == [] and {d.id for d in sm.review_queue()} == {old, fresh}
    assert sm.history(old)[-2]["action"] == "expire" and sm.history(old)[-2]["actor"] == "maintenance"


def test_maintenance_runs_when_a_manager_opens(manager, db_path, embed):
    sm = manager(ASYNC_ANSWER, auto_promote=None)
    draft_id = sm.extract("a")
    run_sql(sm.store, "UPDATE skills SET updated_at = ? WHERE id = ?", ((utc_now() - timedelta(days=40)).isoformat(), draft_id))
    sm.store.conn.execute("DELETE FROM meta WHERE key = 'last_maintenance'")
    sm.close()
    reopened = SkillManager(db_path, embed_fn=embed)
    assert reopened.get(draft_id).status == "archived"


@pytest.mark.parametrize(
    "kwargs, field",
    [({"auto_promote": {"usage": 0, "confidence": 0.9}}, "auto_promote.usage"),
     ({"auto_promote": {"usage": 2}}, "auto_promote"),
     ({"auto_promote": {"usage": 2, "confidence": 3}}, "auto_promote.confidence"),
     ({"draft_ttl_days": 0}, "draft_ttl_days"),
     ({"llm_fn": 5}, "llm_fn"),
     ({"llm_fn": lambda t: {}, "llm_config": {"provider": "openai", "model": "m"}}, "llm_config")],
)
def test_growth_arguments_are_checked(db_path, embed, kwargs, field):
    with pytest.raises(ValidationError) as info:
        SkillManager(db_path, embed_fn=embed, **kwargs)
    assert info.value.field == field
