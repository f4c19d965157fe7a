"""Long sections are split into parts (formats/chunking.py), on realistic Agent Skills."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from skillvault.formats.chunking import (
    MAX_CHUNK_TOKENS,
    joined_parts,
    section_title,
    split_section,
    split_skill_chunks,
)
from skillvault.formats.skill_md import read_skill_folder, split_body, write_skill_folder
from skillvault.models import Chunk, Skill
from skillvault.tokens import count_tokens

CLAUDE_API = Path(__file__).parent / "data" / "chunking" / "claude-api"


def body_of(folder: Path) -> str:
    return (folder / "SKILL.md").read_text(encoding="utf-8").split("---\n", 2)[2]


@pytest.fixture
def claude_api() -> Skill:
    return read_skill_folder(CLAUDE_API)


def test_a_long_section_is_split_into_parts_under_the_cap(claude_api):
    body = body_of(CLAUDE_API)
    pitfalls = body[body.index("## Common pitfalls"):body.index("## Safety")].rstrip()
    assert count_tokens(pitfalls) > 2 * MAX_CHUNK_TOKENS  # the fixture really is long
    parts = [c for c in claude_api.chunks if c.id.startswith("claude-api::common-pitfalls")]
    assert [c.id for c in parts] == [
        "claude-api::common-pitfalls", "claude-api::common-pitfalls.2", "claude-api::common-pitfalls.3"]
    assert [c.section for c in parts] == [f"Common pitfalls ({k}/3)" for k in (1, 2, 3)]
    assert all(count_tokens(c.content) <= MAX_CHUNK_TOKENS for c in claude_api.chunks)
    # Short sections are untouched, ids and sections as before.
    assert [c.id for c in claude_api.chunks if c not in parts] == [
        "claude-api::claude-api", "claude-api::quick-start", "claude-api::safety", "claude-api::examples"]
    assert next(c for c in claude_api.chunks if c.id == "claude-api::safety").section == "Safety"


def test_parts_stand_alone_and_keep_code_blocks_whole(claude_api):
    parts = [c for c in claude_api.chunks if c.id.startswith("claude-api::common-pitfalls")]
    assert parts[0].content.startswith("## Common pitfalls\n\nThese are the mistakes")
    for part in parts[1:]:
        assert part.content.startswith("## Claude API > Common pitfalls (continued)\n\n#### ")
        assert part.dependencies == ["claude-api::common-pitfalls"]
    assert parts[0].dependencies == []
    for part in parts:  # every fence opened in a part is closed in it
        fences = [line for line in part.content.splitlines() if line.startswith("```")]
        assert len(fences) % 2 == 0
        assert not part.content.rstrip().endswith(":")  # no introduction cut from its example
    # Nothing lost, nothing added but the context lines.
    body = body_of(CLAUDE_API)
    pitfalls = body[body.index("## Common pitfalls"):body.index("## Safety")].rstrip()
    assert joined_parts(parts) == [(parts[0], pitfalls)]


def test_split_ids_are_stable(claude_api):
    again = read_skill_folder(CLAUDE_API)
    assert [(c.id, c.section, c.content, c.dependencies) for c in again.chunks] == [
        (c.id, c.section, c.content, c.dependencies) for c in claude_api.chunks]


def test_file_lines_of_parts_point_at_their_text():
    text = (CLAUDE_API / "SKILL.md").read_text(encoding="utf-8")
    body = text.split("---\n", 2)[2]
    first_line = text[: len(text) - len(body)].count("\n") + 1
    lines = text.splitlines()
    for chunk, line in split_body(body, "claude-api", first_line):
        own = chunk.content.split("(continued)\n\n", 1)[-1]
        assert lines[line - 1] == own.splitlines()[0]


def test_round_trip_of_a_split_skill_is_byte_identical(claude_api, tmp_path):
    out = write_skill_folder(claude_api, tmp_path)
    assert (out / "SKILL.md").read_bytes() == (CLAUDE_API / "SKILL.md").read_bytes()


def test_round_trip_through_the_library(sm, tmp_path):
    shutil.copytree(CLAUDE_API, tmp_path / "in" / "claude-api")
    sm.import_(tmp_path / "in" / "claude-api")
    stored = sm.get("claude-api")
    assert any(c.id == "claude-api::common-pitfalls.3" for c in stored.chunks)
    out = sm.export("claude-api", tmp_path / "out")
    assert (out / "SKILL.md").read_bytes() == (CLAUDE_API / "SKILL.md").read_bytes()


def test_edited_split_skill_rebuilds_the_section_whole(claude_api, tmp_path):
    claude_api.chunks[-1].content = "## Examples\n\nNone yet."  # chunks changed: the body is rebuilt
    out = write_skill_folder(claude_api, tmp_path)
    text = (out / "SKILL.md").read_text(encoding="utf-8")
    assert "(continued)" not in text and "(1/3)" not in text and text.count("## Common pitfalls") == 1
    again = read_skill_folder(out)
    assert [(c.id, c.content) for c in again.chunks] == [(c.id, c.content) for c in claude_api.chunks]


def test_a_split_section_packs_within_the_default_budget(sm, tmp_path):
    shutil.copytree(CLAUDE_API, tmp_path / "claude-api")
    sm.import_(tmp_path / "claude-api")
    packing = sm.query("model answer truncated: stop_reason max_tokens, raise the limit", budget=2000, explain=True)
    taken = [d.chunk_id for d in packing.decisions if d.taken]
    assert packing.used_tokens <= 2000 and "claude-api::common-pitfalls.2" in taken
    assert "claude-api::common-pitfalls" in taken  # with the section's opening, as its dependency
    text = packing.text
    assert text.index("## Common pitfalls\n") < text.index("## Claude API > Common pitfalls (continued)")
    assert "stop_reason" in text


def test_one_long_paragraph_or_code_block_is_cut_at_lines():
    code = "```python\n" + "\n".join(f"total_{i} = compute_total(rows[{i}], factor=2)  # row {i}" for i in range(150)) + "\n```"
    parts = split_section("## Script\n\nRun this:\n\n" + code, ["Script"], max_tokens=300)
    assert len(parts) > 2 and all(count_tokens(p.content) <= 300 for p in parts)
    for part in parts:
        own = part.content.split("(continued)\n\n", 1)[-1]
        assert all(line.startswith(("total_", "```", "## Script", "Run this:")) or not line for line in own.splitlines())
    words = split_section("## Wall\n\n" + "word " * 2000, ["Wall"], max_tokens=200)
    assert all(count_tokens(p.content) <= 200 for p in words)
    assert "".join(p.content.split("(continued)\n\n", 1)[-1].removeprefix("## Wall\n\n") for p in words) == ("word " * 2000).rstrip()


def test_section_title_and_overview_split():
    assert section_title("Common pitfalls (2/3)") == "Common pitfalls" and section_title("Setup") == "Setup"
    body = "\n\n".join(f"Paragraph {i}: " + "some plain words " * 40 for i in range(8))
    pairs = split_body(body, "notes")
    assert [c.section for c, _ in pairs][:2] == [f"Overview (1/{len(pairs)})", f"Overview (2/{len(pairs)})"]
    assert pairs[1][0].content.startswith("## Overview (continued)\n\n")


def test_registered_chunks_are_not_split_but_can_be_on_request(sm):
    long_text = "\n\n".join(f"Step {i}: run the migration for shard {i} and check the row counts." * 4 for i in range(60))
    skill = Skill(id="migrate", name="Migrate", chunks=[
        Chunk(id="migrate::steps", section="Steps", content=long_text, required=True),
        Chunk(id="migrate::notes", section="Notes", content="Take a backup first.", dependencies=["migrate::steps"]),
    ])
    sm.register(skill)
    assert [c.id for c in sm.get("migrate").chunks] == ["migrate::steps", "migrate::notes"]  # the caller's ids
    split = split_skill_chunks(skill)
    assert [c.id for c in split.chunks][:3] == ["migrate::steps", "migrate::steps.2", "migrate::steps.3"]
    assert all(count_tokens(c.content) <= MAX_CHUNK_TOKENS for c in split.chunks)
    assert all(c.required for c in split.chunks if c.id.startswith("migrate::steps"))
    assert split.chunks[1].dependencies == ["migrate::steps"] and split.chunks[-1].dependencies == ["migrate::steps"]
    assert [c.id for c in skill.chunks] == ["migrate::steps", "migrate::notes"]  # the original is untouched
    sm.register(split)
    assert len(sm.get("migrate").chunks) == len(split.chunks)


def test_a_section_over_the_hard_limit_is_left_whole_and_refused(tmp_path):
    from skillvault.errors import ImportFormatError
    from skillvault.models import MAX_CONTENT_CHARS

    body = "## Huge\n\n" + "\n\n".join("A paragraph of ordinary words. " * 10 for _ in range(400))
    assert len(body) > MAX_CONTENT_CHARS
    assert len(split_body(body, "huge")) == 1
    folder = tmp_path / "huge"
    folder.mkdir()
    (folder / "SKILL.md").write_text(f"---\nname: huge\ndescription: Too big.\n---\n{body}\n")
    with pytest.raises(ImportFormatError, match="the limit is 100000"):
        read_skill_folder(folder)
