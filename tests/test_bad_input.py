"""Bad input: clear errors that name the field, and nothing changes."""

from __future__ import annotations

import pytest

from skillvault import SkillManager
from skillvault.errors import NotFoundError, SkillPermissionError, ValidationError
from skillvault.models import Chunk, Skill

from conftest import make_skill


def snapshot(sm):
    return [s.to_dict() for s in sm.list()], sm.stats()["chunks"]


@pytest.fixture
def seeded(sm):
    sm.register(make_skill("base", ("Intro", "base text")))
    return sm


@pytest.mark.parametrize(
    "skill, field",
    [
        (Skill(id="", name="x", chunks=[Chunk(id="a", content="t")]), "skill.id"),
        (Skill(id="x" * 201, name="x", chunks=[Chunk(id="a", content="t")]), "skill.id"),
        (Skill(id="../etc/passwd", name="x", chunks=[Chunk(id="a", content="t")]), "skill.id"),
        (Skill(id="ok", name="x", chunks=[Chunk(id="a b", content="t")]), "skill.chunks[0].id"),
        (Skill(id="ok", name="x", chunks=[]), "skill.chunks"),
        (Skill(id="ok", name="x", chunks=[Chunk(id="a", content="t"), Chunk(id="a", content="u")]), "skill.chunks[1].id"),
        (Skill(id="ok", name="x", chunks=[Chunk(id="a", content="   ")]), "skill.chunks[0].content"),
        (Skill(id="ok", name="x", chunks=[Chunk(id="a", content="x" * 100_001)]), "skill.chunks[0].content"),
        (Skill(id="ok", name="x", chunks=[Chunk(id="a", skill_id="other", content="t")]), "skill.chunks[0].skill_id"),
        (Skill(id="ok", name="x", chunks=[Chunk(id="a", content="t", tokens=-1)]), "skill.chunks[0].tokens"),
        (Skill(id="ok", name="x", chunks=[Chunk(id="a", content="t", required="yes")]), "skill.chunks[0].required"),
        (Skill(id="ok", name="x", status="published", chunks=[Chunk(id="a", content="t")]), "skill.status"),
        (Skill(id="ok", name="x", confidence=1.5, chunks=[Chunk(id="a", content="t")]), "skill.confidence"),
        (Skill(id="ok", name="x", chunks=[Chunk(id="a", content="t", dependencies=["a"])]), "skill.chunks[0].dependencies[0]"),
    ],
)
def test_invalid_skills_are_refused_by_field(seeded, skill, field):
    before = snapshot(seeded)
    with pytest.raises(ValidationError) as info:
        seeded.register(skill)
    assert info.value.field == field
    assert str(info.value).startswith(field)
    assert snapshot(seeded) == before


def test_register_needs_a_skill(seeded):
    with pytest.raises(ValidationError, match="must be a Skill"):
        seeded.register({"id": "x"})


@pytest.mark.parametrize("budget", [0, -5, 1.5, "100", True, None])
def test_budget_must_be_a_positive_int(seeded, budget):
    with pytest.raises(ValidationError) as info:
        seeded.query("base", budget=budget)
    assert info.value.field == "budget"


@pytest.mark.parametrize("text", ["", "   ", None, 42, "x" * 10_001])
def test_query_text_is_checked(seeded, text):
    with pytest.raises(ValidationError) as info:
        seeded.query(text)
    assert info.value.field == "text"


@pytest.mark.parametrize("k", [0, -1, 1001, 2.0])
def test_search_k_is_checked(seeded, k):
    with pytest.raises(ValidationError) as info:
        seeded.search("base", k=k)
    assert info.value.field == "k"


def test_unknown_ids_and_filters(seeded):
    assert seeded.get("missing") is None
    with pytest.raises(NotFoundError, match="missing"):
        seeded.archive("missing")
    with pytest.raises(ValidationError, match="status"):
        seeded.list(status="active-ish")
    with pytest.raises(ValidationError, match="skill_id"):
        seeded.get("bad id with spaces")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"mode": "root"}, "mode"),
        ({"min_confidence": 2}, "min_confidence"),
        ({"embed_fn": "not callable"}, "embed_fn"),
        ({"embed_fn": lambda t: [1.0], "embed_config": {"model": "m"}}, "embed_config"),
    ],
)
def test_constructor_arguments_are_checked(db_path, kwargs, field):
    with pytest.raises(ValidationError) as info:
        SkillManager(db_path, **kwargs)
    assert info.value.field == field


def test_agent_mode_cannot_create_a_library(db_path, embed):
    with pytest.raises(SkillPermissionError, match="create it in human mode first"):
        SkillManager(db_path, embed_fn=embed, mode="agent")


def test_agent_mode_refuses_writes_with_permission_error(db_path, agent_path, embed):
    SkillManager(db_path, embed_fn=embed).close()
    agent = SkillManager(agent_path, embed_fn=embed, mode="agent")
    with pytest.raises(PermissionError):
        agent.register(make_skill("x", ("a", "b")))
    with pytest.raises(SkillPermissionError):
        agent.archive("x")
