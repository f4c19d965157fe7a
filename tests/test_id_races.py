"""Ids are chosen and written in one step: processes racing on alike titles lose nothing
(issue 10, point 4). Each scenario starts its processes at one barrier and repeats."""

from __future__ import annotations

import hashlib
import multiprocessing

import pytest

from skillvault import SkillManager
from skillvault.errors import SkillVaultError

from conftest import make_skill, word_vector
from test_growth import ASYNC_ANSWER, ScriptedLLM

DIM = 256
PAIRS = [(f"X{n} Beta", f"x{n}-beta") for n in range(8)]
_fork = multiprocessing.get_context("fork")


def small_vector(text: str) -> list[float]:
    return word_vector(text, DIM)


def answer(title: str, words: str) -> dict:
    return {**ASYNC_ANSWER, "title": title, "playbook": f"- {words}", "examples": "", "when_to_use": words}


def _extract(db_path: str, title: str, words: str, barrier, results) -> None:
    sm = SkillManager(db_path, embed_fn=small_vector, llm_fn=ScriptedLLM(answer(title, words)), auto_promote=None)
    barrier.wait()
    results.put((title, sm.extract(f"user: {words}")))
    sm.close()


def _approve(db_path: str, draft_id: str, barrier, results) -> None:
    sm = SkillManager(db_path, embed_fn=small_vector, auto_promote=None)
    barrier.wait()
    try:
        results.put((draft_id, sm.approve(draft_id)))
    except SkillVaultError as exc:
        results.put((draft_id, type(exc).__name__))
    sm.close()


def run_together(target, argument_sets: list[tuple]) -> list:
    barrier, results = _fork.Barrier(len(argument_sets)), _fork.Queue()
    processes = [_fork.Process(target=target, args=(*args, barrier, results)) for args in argument_sets]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    return [results.get(timeout=5) for _ in processes]


@pytest.fixture
def library(db_path):
    sm = SkillManager(db_path, embed_fn=small_vector, auto_promote=None)
    sm.register(make_skill("git", ("Rebase", "git rebase main keeps history linear")))  # records the embedder
    yield sm
    sm.close()


def words_for(title: str) -> str:
    """Unrelated words per title, so that drafts are not merged as near-duplicates."""
    tag = hashlib.sha256(title.encode()).hexdigest()[:8]
    return " ".join(f"w{tag}{i}" for i in range(6))


@pytest.mark.parametrize("mode", ["human", "agent"])
def test_simultaneous_extractions_of_alike_titles_keep_both_drafts(library, db_path, agent_path, mode):
    def worker(db, title, words, barrier, results):
        sm = SkillManager(db, embed_fn=small_vector, llm_fn=ScriptedLLM(answer(title, words)), mode=mode, auto_promote=None)
        barrier.wait()
        results.put((title, sm.extract(f"user: {words}")))
        sm.close()

    for first, second in PAIRS:
        where = agent_path if mode == "agent" else db_path
        results = dict(run_together(worker, [(where, t, words_for(t), ) for t in (first, second)]))
        assert None not in results.values()
        assert results[first] != results[second]
        for title, draft_id in results.items():
            draft = library.store.get_skill(draft_id)
            assert draft.name == title and words_for(title) in draft.chunks[0].content
    assert len(library.review_queue()) == 2 * len(PAIRS)


def test_simultaneous_approvals_of_alike_titles_make_two_skills(library, db_path):
    llm = ScriptedLLM(*[answer(t, words_for(t)) for pair in PAIRS for t in pair])
    human = SkillManager(db_path, embed_fn=small_vector, llm_fn=llm, auto_promote=None)
    drafts = [(human.extract("user: x"), human.extract("user: y")) for _ in PAIRS]
    human.close()
    for pair in drafts:
        results = dict(run_together(_approve, [(db_path, draft_id) for draft_id in pair]))
        canonical = [results[draft_id] for draft_id in pair]
        assert len(set(canonical)) == 2, canonical
        for skill_id in canonical:
            skill = library.get(skill_id)
            assert skill.status == "canonical" and skill.version == 1 and library.versions(skill_id) == [1]
    assert len(library.list(status="canonical")) == 2 * len(PAIRS) + 1


def test_a_draft_approved_twice_at_once_becomes_one_skill(library, db_path):
    llm = ScriptedLLM(*[answer(f"Topic {n}", words_for(f"Topic {n}")) for n in range(6)])
    human = SkillManager(db_path, embed_fn=small_vector, llm_fn=llm, auto_promote=None)
    drafts = [human.extract("user: x") for _ in range(6)]
    human.close()
    for draft_id in drafts:
        outcomes = sorted(outcome for _, outcome in run_together(_approve, [(db_path, draft_id)] * 2))
        approved = [o for o in outcomes if not o.endswith("Error")]
        assert len(approved) == 1 and outcomes != approved, outcomes  # one wins, the other gets a clear error
        assert library.versions(approved[0]) == [1]
    assert len(library.list(status="canonical")) == len(drafts) + 1


def test_a_merge_keeps_the_text_it_replaced(library, db_path):
    first = answer("Retry flaky calls", "retry with backoff and jitter")
    better = {**answer("Retry flaky calls", "retry with capped exponential backoff"), "confidence": 0.95}
    human = SkillManager(db_path, embed_fn=small_vector, llm_fn=ScriptedLLM(first, better), auto_promote=None)
    try:
        draft_id = human.extract("user: a")
        assert human.extract("user: b") == draft_id  # same title: merged, the more confident text wins
        assert "capped exponential" in human.get(draft_id).chunks[0].content
        assert human.versions(draft_id) == [1]
        kept = human.store.get_version(draft_id, 1)
        assert "backoff and jitter" in kept.chunks[0].content
        approved = human.approve(draft_id)
        assert human.store.get_version(draft_id, 1) is not None  # the draft's history outlives it
        assert human.versions(approved) == [1]
    finally:
        human.close()
