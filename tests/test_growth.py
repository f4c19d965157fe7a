"""Self-growth: extraction input, untrusted LLM output, secrets, drafts, dedup/merge."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest

from skillvault import SkillManager
from skillvault.errors import ValidationError

from conftest import make_skill, stored_bytes
from test_redact import CASES, case_text

ASYNC_ANSWER = {
    "has_knowledge": True,
    "title": "Async error handling in Python",
    "playbook": "1. Use asyncio.gather with return_exceptions=True\n2. Inspect each result for exceptions",
    "examples": "```python\nresults = await asyncio.gather(*tasks, return_exceptions=True)\n```",
    "when_to_use": "When several coroutines run together and one may fail.",
    "dependencies": [],
    "confidence": 0.85,
    "tags": ["python", "asyncio"],
}


class ScriptedLLM:
    """llm_fn that answers from a queue and records every prompt text it got."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, text):
        self.prompts.append(text)
        answer = self.answers.pop(0) if self.answers else {"has_knowledge": False}
        if isinstance(answer, Exception):
            raise answer
        return copy.deepcopy(answer)


@pytest.fixture
def grow(db_path, embed):
    """Factory: a human-mode manager with a scripted LLM."""
    managers = []

    def make(*answers, **kwargs):
        llm = ScriptedLLM(*answers)
        manager = SkillManager(db_path, embed_fn=embed, llm_fn=llm, **kwargs)
        managers.append(manager)
        return manager, llm

    yield make
    for manager in managers:
        manager.close()


def table_counts(sm):
    return {t: sm.store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("skills", "chunks", "draft_vectors", "audit_log")}


# ------------------------------------------------------------------ input shapes
def test_openai_messages_become_role_lines(grow):
    sm, llm = grow(ASYNC_ANSWER)
    sm.extract([
        {"role": "user", "content": "How do I handle errors in async Python?"},
        {"role": "assistant", "content": "Use try/except with asyncio.gather...",
         "tool_calls": [{"type": "function", "function": {"name": "run_python", "arguments": "{\"code\": \"1\"}"}}]},
    ])
    assert "user: How do I handle errors in async Python?" in llm.prompts[0]
    assert "assistant: Use try/except with asyncio.gather..." in llm.prompts[0]
    assert "[tool call run_python:" in llm.prompts[0]


def test_anthropic_content_blocks_and_plain_text(grow):
    sm, llm = grow(ASYNC_ANSWER, ASYNC_ANSWER)
    sm.extract([
        {"role": "user", "content": [{"type": "text", "text": "Why does my gather hang?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "t1", "name": "read_file", "input": {"path": "main.py"}},
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "await gather(a, b)"}]}]},
    ])
    prompt = llm.prompts[0]
    assert "Why does my gather hang?" in prompt and '[tool call read_file: {"path": "main.py"}]' in prompt
    assert "[tool result] await gather(a, b)" in prompt
    sm.extract("just a plain text transcript")
    assert llm.prompts[1] == "just a plain text transcript"


@pytest.mark.parametrize(
    "bad, field",
    [(None, "messages"), ([{"content": "no role"}], "messages[0].role"), (["text"], "messages[0]"),
     ([{"role": "user", "content": 5}], "messages[0].content"), ("   ", "messages"), ([], "messages")],
)
def test_bad_conversations_are_refused(grow, bad, field):
    sm, llm = grow(ASYNC_ANSWER)
    with pytest.raises(ValidationError) as info:
        sm.extract(bad)
    assert info.value.field == field and llm.prompts == []


def test_extract_without_an_llm_returns_none_loudly(sm, caplog):
    with caplog.at_level(logging.WARNING, logger="skillvault"):
        assert sm.extract("hello") is None
    assert any("no llm_fn or llm_config" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert sm.list() == []


def test_long_conversations_keep_the_end_and_say_so(grow, caplog):
    sm, llm = grow(ASYNC_ANSWER)
    llm.max_input_tokens = 50
    conversation = "start of the story. " + "filler words here. " * 400 + "THE RESOLUTION IS AT THE END"
    with caplog.at_level(logging.INFO, logger="skillvault"):
        sm.extract(conversation)
    prompt = llm.prompts[0]
    assert prompt.startswith("[... the first ") and "trimmed" in prompt
    assert prompt.endswith("THE RESOLUTION IS AT THE END") and "start of the story" not in prompt
    assert any("trimmed" in record.message for record in caplog.records)


# ------------------------------------------------------------------ the draft
def test_a_draft_is_stored_with_its_shape(grow):
    sm, _ = grow(ASYNC_ANSWER)
    draft_id = sm.extract("user: async errors?\nassistant: use gather")
    assert draft_id == "draft::async-error-handling-in-python"
    draft = sm.get(draft_id)
    assert (draft.status, draft.source, draft.confidence) == ("draft", "extracted", 0.85)
    assert [c.section for c in draft.chunks] == ["Playbook", "Examples", "When to use"]
    assert draft.chunks[0].content.startswith("## Playbook\n\n1. Use asyncio.gather")
    assert draft.extracted_from.startswith("sha256:") and "use gather" in draft.extracted_from
    assert draft.tags == ["python", "asyncio"]
    # drafts are not served
    assert sm.query("asyncio gather return_exceptions", budget=500) == ""
    assert sm.history(draft_id)[0]["action"] == "extract"


def test_below_min_confidence_stores_nothing(grow):
    sm, _ = grow({**ASYNC_ANSWER, "confidence": 0.5})
    assert sm.extract("text") is None and sm.list() == []


def test_missing_confidence_is_estimated_from_completeness(grow):
    answer = {k: v for k, v in ASYNC_ANSWER.items() if k != "confidence"}
    sm, _ = grow(answer, {"has_knowledge": True, "title": "Thin", "playbook": "do it"})
    draft = sm.get(sm.extract("a"))
    assert 0.7 <= draft.confidence <= 0.95 and draft.metadata["confidence_estimated"] is True
    assert sm.extract("b") is None  # "do it": 0.5, below 0.7


def test_titles_that_slug_alike_do_not_collide(grow):
    second = {"has_knowledge": True, "title": "Async: error handling in Python!", "confidence": 0.8,
              "playbook": "- knit the sleeves in the round\n- block the wool sweater", "when_to_use": "winter knitting"}
    sm, _ = grow(ASYNC_ANSWER, second)
    first_id = sm.extract("a")
    second_id = sm.extract("b")
    assert first_id != second_id and second_id.startswith("draft::async-error-handling-in-python-")
    assert sm.get(first_id).name == ASYNC_ANSWER["title"] and sm.get(second_id).name == second["title"]


# ------------------------------------------------------------------ untrusted output
@pytest.mark.parametrize(
    "answer, reason",
    [
        ("this is not json at all", "not a JSON object"),
        ('{"has_knowledge": true, "title": "x", "playbook": ', "not a JSON object"),
        (["a", "list"], "must be a JSON object"),
        ({"has_knowledge": True, "playbook": "steps"}, "no usable title"),
        ({"has_knowledge": True, "title": "T"}, "no usable playbook"),
        (RuntimeError("model overloaded"), "LLM call failed"),
    ],
)
def test_unusable_answers_leave_nothing_and_log_why(grow, caplog, answer, reason):
    sm, _ = grow(answer)
    before = table_counts(sm)
    with caplog.at_level(logging.INFO, logger="skillvault"):
        assert sm.extract("conversation") is None
    assert table_counts(sm) == before
    assert any(reason in record.getMessage() for record in caplog.records)


def test_answers_are_repaired_where_safe(grow):
    sm, _ = grow({
        "has_knowledge": "true",
        "title": "  Deploy\n  with   care  " + "x" * 200,
        "playbook": ["build the image", "push it", "roll out"],
        "examples": "e" * 50_000,
        "when_to_use": {"staging": "always", "prod": "after review"},
        "dependencies": ["../../etc/passwd", "x'; DROP TABLE skills;--", "not-registered", 42],
        "confidence": "0.9",
        "tags": "Deploy, K8S ,  ",
    })
    draft = sm.get(sm.extract("c"))
    assert draft.name.startswith("Deploy with care x") and len(draft.name) == 80
    assert "- build the image\n- push it\n- roll out" in draft.chunks[0].content
    assert draft.chunks[0].dependencies == []
    examples = [c for c in draft.chunks if c.section.startswith("Examples")]  # long: split into parts
    assert len(examples) > 1 and all(c.tokens <= 512 for c in examples) and "too long" in examples[-1].content
    assert sum(len(c.content.split("(continued)\n\n")[-1]) for c in examples) < 21_000
    assert "**staging**: always" in draft.chunks[-1].content
    assert draft.confidence == 0.9 and draft.tags == ["deploy", "k8s"]
    assert sm.store.conn.execute("SELECT COUNT(*) FROM skills").fetchone()[0] == 1


def test_dependencies_on_known_canonical_skills_are_kept(grow):
    sm, _ = grow({**ASYNC_ANSWER, "dependencies": ["python-basics", "unknown-one"]})
    sm.register(make_skill("python-basics", ("Intro", "python basics")))
    draft = sm.get(sm.extract("c"))
    assert draft.chunks[0].dependencies == ["python-basics"]


# ------------------------------------------------------------------ secrets
def test_planted_secrets_never_reach_the_llm_or_the_database(grow, db_path):
    secrets = [secret for _kind, secret, _sentence in CASES]
    kinds = {kind for kind, _secret, _sentence in CASES}
    assert len(kinds) >= 20
    conversation = [{"role": "user", "content": case_text(*case)} for case in CASES]
    leaky_answer = {
        **ASYNC_ANSWER,
        "title": "Credentials handling " + secrets[0],
        "playbook": "\n".join(f"- step {i}: {case_text(*case)}" for i, case in enumerate(CASES)),
        "examples": "export TOKEN=" + secrets[2],
        "tags": [secrets[5]],
    }
    sm, llm = grow(leaky_answer)
    draft_id = sm.extract(conversation)
    assert draft_id is not None
    stored = stored_bytes(sm.store, db_path)
    for secret in secrets:
        assert secret not in llm.prompts[0], f"sent to the LLM: {secret[:12]}..."
        assert secret.encode() not in stored, f"stored in the DB: {secret[:12]}..."
    assert b"[REDACTED:" in stored


# ------------------------------------------------------------------ dedup and revisions
def test_a_near_duplicate_merges_into_the_existing_draft(grow):
    weaker = {**ASYNC_ANSWER, "confidence": 0.75}
    stronger = {**ASYNC_ANSWER, "title": "Handling async errors in Python", "confidence": 0.95,
                "playbook": ASYNC_ANSWER["playbook"] + "\n3. Log exceptions with their task name"}
    sm, _ = grow(weaker, stronger, auto_promote=None)
    first = sm.extract("first conversation")
    second = sm.extract("second conversation")
    assert second == first
    drafts = sm.review_queue()
    assert [d.id for d in drafts] == [first]
    merged = drafts[0]
    assert merged.confidence == 0.95 and "Log exceptions" in merged.chunks[0].content
    assert merged.metadata["merges"] == 1 and sm.usage(first)["uses"] == 1
    assert [e["action"] for e in sm.history(first)] == ["extract", "merge"]


def test_knowledge_close_to_a_canonical_skill_becomes_a_revision(grow):
    sm, _ = grow({**ASYNC_ANSWER, "title": "Python async error handling tips"})
    sm.register(make_skill("async-errors", ("Playbook", ASYNC_ANSWER["playbook"]), ("Examples", ASYNC_ANSWER["examples"]),
                           ("When", ASYNC_ANSWER["when_to_use"]), name="Async error handling in Python"))
    draft_id = sm.extract("c")
    draft = sm.get(draft_id)
    assert draft.revises == "async-errors" and draft.flags[0].startswith("revises async-errors")
    canonical_id = sm.approve(draft_id, reviewer="ann", note="clearer")
    assert canonical_id == "async-errors"
    skill = sm.get("async-errors")
    assert skill.version == 2 and skill.name == "Async error handling in Python"
    assert sm.versions("async-errors") == [1, 2]
    assert sm.get(draft_id) is None


# ------------------------------------------------------------------ built-in adapters
def test_built_in_openai_adapter_end_to_end(db_path, embed, openai_standin):
    import json

    openai_standin.chat_replies.append("Here you go:\n```json\n" + json.dumps(ASYNC_ANSWER) + "\n```")
    config = {"provider": "openai", "model": "gpt-4o-mini", "base_url": openai_standin.base_url, "api_key": "sk-t"}
    with SkillManager(db_path, embed_fn=embed, llm_config=config) as sm:
        token = "ghp_" + "R8sT2uV4wX6yZ8aB0cD2eF4gH6iJ8kL0mN2o"
        draft_id = sm.extract([{"role": "user", "content": f"my token is {token}; how do I handle async errors?"}])
        assert draft_id == "draft::async-error-handling-in-python"
    body = [r for r in openai_standin.requests if r["path"] == "/v1/chat/completions"][0]["body"]
    prompt = "\n".join(m["content"] for m in body["messages"])
    assert body["model"] == "gpt-4o-mini" and body["response_format"] == {"type": "json_object"}
    assert "how do I handle async errors?" in prompt and token not in prompt and "[REDACTED:github-token]" in prompt


def test_built_in_anthropic_adapter_end_to_end(db_path, embed, anthropic_standin):
    import json

    anthropic_standin.replies.append(json.dumps(ASYNC_ANSWER))
    config = {"provider": "anthropic", "model": "claude-test", "base_url": anthropic_standin.base_url, "api_key": "sk-ant-t"}
    with SkillManager(db_path, embed_fn=embed, llm_config=config) as sm:
        draft_id = sm.extract([{"role": "user", "content": [{"type": "text", "text": "async errors again"}]}])
        assert sm.get(draft_id).status == "draft"
    request = anthropic_standin.message_requests()[0]
    assert request["body"]["model"] == "claude-test" and "async errors again" in json.dumps(request["body"])


def test_a_failing_provider_loses_nothing(db_path, embed, openai_standin, caplog):
    openai_standin.fail_next(10, status=500)
    config = {"provider": "openai", "model": "gpt-4o-mini", "base_url": openai_standin.base_url, "api_key": "k",
              "max_retries": 0}
    with SkillManager(db_path, embed_fn=embed, llm_config=config) as sm:
        with caplog.at_level(logging.WARNING, logger="skillvault"):
            assert sm.extract("some conversation") is None
        assert sm.list() == []
    assert any("LLM call failed" in r.getMessage() and "500" in r.getMessage() for r in caplog.records)
