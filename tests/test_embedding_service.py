"""Embedding through the store: context, batching, hash cache, recorded embedder, reindex."""

from __future__ import annotations

import numpy as np
import pytest

import skillvault
from skillvault import SkillManager
from skillvault.errors import EmbedderMismatchError, EmbeddingError
from skillvault.models import Chunk, Skill

from conftest import WORD_DIM, CountingEmbed, make_skill, word_vector


def test_chunks_are_embedded_with_their_context(sm, embed):
    sm.register(make_skill("react", ("Hooks", "use effects"), name="Frontend React"))
    assert "Frontend React\nHooks\nuse effects" in embed.calls


def test_unchanged_text_is_never_embedded_again(sm, embed):
    skill = make_skill("git", ("Rebase", "git rebase main"), ("Merge", "git merge main"))
    sm.register(skill)
    first = len(embed.calls)
    sm.register(skill)  # same text: nothing new to embed
    assert len(embed.calls) == first
    skill.chunks[1].content = "git merge --no-ff main"
    sm.register(skill)
    assert embed.calls[first:] == ["Git\nMerge\ngit merge --no-ff main"]


def test_identical_texts_in_one_skill_are_embedded_once(sm, embed):
    sm.register(Skill(id="dup", name="Dup", chunks=[
        Chunk(id="dup::a", section="S", content="same words"),
        Chunk(id="dup::b", section="S", content="same words"),
    ]))
    assert embed.calls.count("Dup\nS\nsame words") == 1
    assert len(sm.get("dup").chunks) == 2


def test_embedder_name_and_width_are_recorded(sm):
    sm.register(make_skill("a", ("x", "alpha")))
    stats = sm.stats()
    assert stats["embedder"]["dim"] == WORD_DIM
    assert stats["embedder"]["name"].startswith("callable:") and "CountingEmbed" in stats["embedder"]["name"]


def test_opening_with_another_named_embedder_is_a_clear_error(db_path, embed, openai_standin):
    with SkillManager(db_path, embed_fn=embed) as sm:
        sm.register(make_skill("a", ("x", "alpha beta")))
    config = {"model": "text-embedding-3-small", "base_url": openai_standin.base_url, "api_key": "k"}
    with pytest.raises(EmbedderMismatchError) as info:
        SkillManager(db_path, embed_config=config)
    message = str(info.value)
    assert "CountingEmbed" in message and "openai:text-embedding-3-small" in message and "reindex" in message


@pytest.mark.parametrize("width", [64, WORD_DIM])
def test_another_embed_fn_is_caught_by_its_probe_before_any_vector_is_mixed(db_path, embed, width):
    with SkillManager(db_path, embed_fn=embed) as sm:
        sm.register(make_skill("a", ("x", "alpha beta")))

    def other(text):  # same or other width, different model
        return list(np.roll(word_vector(text, width), 7))

    sm = SkillManager(db_path, embed_fn=other)
    with pytest.raises(EmbedderMismatchError, match="reindex"):
        sm.query("alpha", budget=100)
    with pytest.raises(EmbedderMismatchError):
        sm.register(make_skill("b", ("x", "beta")))
    assert sm.get("b") is None


def test_the_same_embed_fn_under_another_name_is_accepted(db_path, embed):
    with SkillManager(db_path, embed_fn=embed) as sm:
        sm.register(make_skill("a", ("x", "alpha beta")))

    def renamed(text):
        return word_vector(text)

    with SkillManager(db_path, embed_fn=renamed) as sm:
        assert "alpha beta" in sm.query("alpha beta", budget=100)


def test_reindex_switches_embedder_with_progress(db_path, embed):
    with SkillManager(db_path, embed_fn=embed) as sm:
        for i in range(3):
            sm.register(make_skill(f"s{i}", ("x", f"alpha beta {i}"), ("y", f"gamma delta {i}")))

    def narrow(text):
        return word_vector(text, 64)

    seen = []
    assert skillvault.reindex(db_path, embed_fn=narrow, progress=lambda done, total: seen.append((done, total))) == 6
    assert seen[-1] == (6, 6)
    with SkillManager(db_path, embed_fn=narrow) as sm:
        assert sm.stats()["embedder"]["dim"] == 64
        assert "gamma delta 1" in sm.query("gamma delta 1", budget=200)
    with pytest.raises(EmbedderMismatchError):
        SkillManager(db_path, embed_fn=embed).query("gamma", budget=100)


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda text: ["a", "b"], "non-numeric"),
        (lambda text: [float("nan"), 1.0], "NaN"),
        (lambda text: [0.0, 0.0], "all-zero"),
        (lambda text: "not a vector", "not a list of numbers"),
        (lambda text: [], "empty vectors"),
        (lambda text: [True, False], "non-numeric"),
    ],
)
def test_unusable_vectors_are_refused_and_nothing_is_written(db_path, bad, message):
    sm = SkillManager(db_path, embed_fn=bad)
    with pytest.raises(EmbeddingError, match=message):
        sm.register(make_skill("a", ("x", "alpha")))
    assert sm.list() == [] and sm.stats()["chunks"] == 0


def test_wrong_width_later_is_refused(db_path):
    width = {"n": 8}
    sm = SkillManager(db_path, embed_fn=lambda text: list(np.ones(width["n"])))
    sm.register(make_skill("a", ("x", "alpha")))
    width["n"] = 9
    with pytest.raises(EmbeddingError, match="9-d vectors but this database holds 8-d"):
        sm.register(make_skill("b", ("x", "beta")))
    with pytest.raises(EmbeddingError, match="9-d"):
        sm.query("alpha", budget=100)
    assert sm.get("b") is None


def test_embed_batch_attribute_is_used_for_batches(db_path):
    calls = []

    def embed_one(text):
        raise AssertionError("the batch form should be used")

    def embed_batch(texts):
        calls.append(len(texts))
        return [word_vector(t) for t in texts]

    embed_one.embed_batch = embed_batch
    sm = SkillManager(db_path, embed_fn=embed_one)
    sm.register(make_skill("many", *[(f"s{i}", f"text number {i}") for i in range(100)]))
    assert calls == [24, 64, 37]  # the null texts (recorded on the first write), then the chunks and the card


def test_changes_by_another_connection_are_seen(db_path, embed):
    reader = SkillManager(db_path, embed_fn=CountingEmbed())
    writer = SkillManager(db_path, embed_fn=embed)
    writer.register(make_skill("git", ("Rebase", "git rebase main")))
    assert "git rebase main" in reader.query("git rebase", budget=100)
    writer.archive("git")
    assert reader.query("git rebase", budget=100) == ""


def test_a_library_opened_without_its_embedder_works_where_no_new_vector_is_needed(db_path, embed, tmp_path):
    from skillvault.errors import EmbedderMismatchError

    with SkillManager(db_path, embed_fn=embed, llm_fn=lambda text: {
        "has_knowledge": True, "title": "Skill id", "playbook": "- one\n- two", "confidence": 0.9}, auto_promote=None) as sm:
        sm.register(make_skill("git", ("Rebase", "git rebase main")))
        draft_id = sm.extract("conversation")
    calls_before = len(embed.calls)
    with SkillManager(db_path) as plain:  # no embedder given: not the local model here
        assert plain.embeddings.name == "callable:conftest.CountingEmbed"
        assert sorted(s.id for s in plain.list()) == [draft_id, "git"]
        assert plain.stats()["embedder"]["name"] == "callable:conftest.CountingEmbed"
        assert [d.id for d in plain.review_queue()] == [draft_id]
        assert plain.approve(draft_id) == "skill-id"  # its text was embedded before
        plain.export("git", tmp_path / "git.json")
        assert plain.import_(tmp_path / "git.json") == "git"
        with pytest.raises(EmbedderMismatchError, match=r"embed_fn=\.\.\. or embed_config=\.\.\.; CLI: --embed-model"):
            plain.query("git rebase", budget=100)
        with pytest.raises(EmbedderMismatchError):
            plain.register(make_skill("new", ("x", "text never embedded")))
    assert len(embed.calls) == calls_before
    with SkillManager(db_path, embed_fn=embed) as sm:
        assert "git rebase main" in sm.query("git rebase", budget=100)


def test_after_reindex_another_embed_fn_of_the_same_width_is_still_caught(db_path, embed):
    """reindex records the new embedder's probe; without it any same-width embed_fn got in."""
    with SkillManager(db_path, embed_fn=embed) as sm:
        sm.register(make_skill("a", ("x", "alpha beta")))

    def rolled(text):
        return list(np.roll(word_vector(text), 3))

    skillvault.reindex(db_path, embed_fn=rolled)
    with pytest.raises(EmbedderMismatchError, match="probe"):
        SkillManager(db_path, embed_fn=embed).register(make_skill("b", ("x", "beta")))
    with SkillManager(db_path, embed_fn=rolled) as sm:
        assert sm.get("b") is None and "alpha beta" in sm.query("alpha beta", budget=100)
