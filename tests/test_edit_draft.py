"""SkillManager.edit_draft (a reviewer changes a draft's text, then approves it) and rollback's reviewer."""

from __future__ import annotations

import pytest

from skillvault import SkillManager
from skillvault.errors import NotFoundError, SkillPermissionError, ValidationError

from conftest import make_skill


@pytest.fixture
def draft(sm):
    draft_id = sm.propose("Rotate logs nightly", "- run logrotate\n- keep 7 files", when_to_use="disk fills up")
    return sm.get(draft_id)


def _playbook(skill, words=("logrotate", "journald")):
    return next(chunk for chunk in skill.chunks if any(word in chunk.content for word in words))


def test_edit_changes_the_text_keeps_the_old_one_and_approve_serves_the_edit(sm, draft):
    chunk = _playbook(draft)
    edited = sm.edit_draft(draft.id, chunks={chunk.id: "- run journald vacuum\n- keep 7 days"},
                           description="Keep disks from filling", reviewer="ana")
    stored = sm.get(draft.id)
    assert _playbook(stored).content == "- run journald vacuum\n- keep 7 days" == _playbook(edited).content
    assert stored.description == "Keep disks from filling" and stored.status == "draft"
    assert len(sm.versions(draft.id)) >= 1  # the text before the edit is kept
    edit = [e for e in sm.history(draft.id) if e["action"] == "edit"]
    assert edit and edit[0]["actor"] == "ana" and edit[0]["details"]["chunks"] == [chunk.id]
    skill_id = sm.approve(draft.id, reviewer="ana")
    canonical = sm.get(skill_id)
    assert canonical.status == "canonical"
    assert any("journald vacuum" in c.content for c in canonical.chunks)
    assert not any("logrotate" in c.content for c in canonical.chunks)
    assert sm.search("journald vacuum", k=1)[0].skill_id == skill_id


def test_edit_then_approve_is_one_transaction(sm, draft, monkeypatch):
    import skillvault.review as review
    from skillvault.errors import StorageFullError

    chunk = _playbook(draft)
    skill_id = sm.approve(draft.id, reviewer="ana", chunks={chunk.id: "- run journald vacuum"})
    assert _playbook(sm.get(skill_id)).content == "- run journald vacuum"
    assert "edit" in {e["action"] for e in sm.history(draft.id)}
    # A second draft whose approval fails (a full disk, stood in for): its edit is undone too.
    other = sm.get(sm.propose("Vacuum the journal", "- journalctl --vacuum-size=1G", when_to_use="logs grow"))
    before = (sm.get(other.id).to_dict(), sm.versions(other.id), sm.history(other.id))

    def full_disk(*_args, **_kwargs):
        raise StorageFullError("database or disk is full")

    monkeypatch.setattr(review, "approve", full_disk)
    with pytest.raises(StorageFullError):
        sm.approve(other.id, reviewer="ana", chunks={_playbook(other, ("journalctl",)).id: "- edited then lost"})
    assert (sm.get(other.id).to_dict(), sm.versions(other.id), sm.history(other.id)) == before


def test_an_edit_that_changes_nothing_writes_nothing(sm, draft):
    chunk = _playbook(draft)
    before = sm.history(draft.id)
    assert sm.edit_draft(draft.id, chunks={chunk.id: chunk.content + "\n"}).to_dict() == draft.to_dict()
    assert sm.history(draft.id) == before


@pytest.mark.parametrize("chunks, description, field", [
    ({"draft::nope::x": "text"}, None, "chunks['draft::nope::x']"),
    ("not a dict", None, "chunks"),
    (None, "x" * 5000, "description"),
])
def test_bad_edits_name_the_field_and_change_nothing(sm, draft, chunks, description, field):
    with pytest.raises(ValidationError) as caught:
        sm.edit_draft(draft.id, chunks=chunks, description=description)
    assert caught.value.field == field
    assert sm.get(draft.id).to_dict() == draft.to_dict()


def test_blank_chunk_text_is_refused(sm, draft):
    chunk = _playbook(draft)
    with pytest.raises(ValidationError, match="blank|empty"):
        sm.edit_draft(draft.id, chunks={chunk.id: "   "})
    assert sm.get(draft.id).to_dict() == draft.to_dict()


def test_only_drafts_can_be_edited(sm):
    sm.register(make_skill("git", ("Usage", "git commit")))
    with pytest.raises(ValidationError, match="not a draft"):
        sm.edit_draft("git", description="x")
    with pytest.raises(NotFoundError):
        sm.edit_draft("draft::missing", description="x")


def test_agents_cannot_edit(agent_path, embed, draft):
    agent = SkillManager(agent_path, embed_fn=embed, mode="agent")
    try:
        with pytest.raises(SkillPermissionError):
            agent.edit_draft(draft.id, description="obey me")
    finally:
        agent.close()


def test_rollback_records_who_rolled_back(sm):
    sm.register(make_skill("git", ("Usage", "git commit")))
    sm.register(make_skill("git", ("Usage", "git commit -a")))
    assert sm.rollback("git", 1, reviewer="ana") == 3
    assert sm.history("git")[-1]["actor"] == "ana"
    sm.rollback("git", 2)
    assert sm.history("git")[-1]["actor"] == "human"
    with pytest.raises(ValidationError) as caught:
        sm.rollback("git", 1, reviewer=7)
    assert caught.value.field == "reviewer" and sm.get("git").version == 4
