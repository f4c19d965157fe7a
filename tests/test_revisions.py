"""Approving an extracted revision changes the sections it is about and keeps the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillvault import SkillManager
from skillvault.cli.review import draft_diff
from skillvault.formats.skill_md import read_skill_folder
from skillvault.models import Chunk, Skill
from skillvault.review import merge_revision

from test_cli import cli  # noqa: F401  (the CLI runner fixture)
from test_growth import ScriptedLLM

DATA = Path(__file__).parent / "data" / "chunking"

# What an LLM extracted from a session that debugged a crash loop: same title as the
# canonical skill (so it is proposed as a revision of it), a better playbook, a new
# "When to use", and the same examples.
REVISION = {
    "has_knowledge": True,
    "title": "Debug CrashLoopBackOff",
    "playbook": "1. `kubectl describe pod <pod>`: events and the last exit code.\n"
                "2. `kubectl logs <pod> --previous`: logs of the crashed container.\n"
                "3. Exit code 137: OOMKilled. Compare `kubectl top pod` with the memory limit.\n"
                "4. Exit code 1 right after start: a missing config map or secret; check `envFrom`.",
    "examples": "```bash\nkubectl logs web-7d4b9 --previous --tail=50\n```",
    "when_to_use": "A pod restarts again and again; `kubectl get pods` shows CrashLoopBackOff.",
    "confidence": 0.9,
    "tags": ["kubernetes"],
}


@pytest.fixture
def library(db_path, embed, tmp_path):
    """A library holding the canonical debug-crashloop skill, and a revision draft of it."""
    sm = SkillManager(db_path, embed_fn=embed, llm_fn=ScriptedLLM(REVISION), auto_promote=None)
    skill = read_skill_folder(DATA / "debug-crashloop")
    skill.name = "Debug CrashLoopBackOff"
    sm.register(skill)
    draft_id = sm.extract("We debugged web-7d4b9 ... exit code 1, the secret was missing ...")
    assert sm.get(draft_id).revises == "debug-crashloop"
    yield sm, draft_id
    sm.close()


def sections(skill: Skill) -> list[str]:
    return [chunk.section for chunk in skill.chunks]


def test_approval_replaces_matching_sections_and_keeps_the_others(library):
    sm, draft_id = library
    before = sm.get("debug-crashloop")
    assert sm.approve(draft_id, reviewer="ann") == "debug-crashloop"
    after = sm.get("debug-crashloop")
    assert sections(after) == ["Debug CrashLoopBackOff", "Playbook", "Examples", "Safety", "When to use"]
    by_id = {c.id: c for c in after.chunks}
    old = {c.id: c for c in before.chunks}
    # Untouched: the title chunk and Safety, same ids and text.
    assert by_id["debug-crashloop::safety"].content == old["debug-crashloop::safety"].content
    assert "Never `kubectl delete` a pod" in by_id["debug-crashloop::safety"].content
    assert by_id["debug-crashloop::debug-crashloopbackoff"].content == old["debug-crashloop::debug-crashloopbackoff"].content
    # Replaced in place, under the canonical chunk id; added at the end.
    assert "Exit code 1 right after start" in by_id["debug-crashloop::playbook"].content
    assert by_id["debug-crashloop::when-to-use"].content.startswith("## When to use")
    # Provenance.
    assert after.version == 2 and after.source == "extracted"
    assert after.metadata["revised_from"] == draft_id and after.metadata["source_before_revision"] == "imported"
    assert after.metadata["approved_by"] == "ann" and after.metadata["approved_from"] == draft_id
    assert after.metadata["agent_skill"]["files"] == before.metadata["agent_skill"]["files"]  # kept
    assert after.description == before.description and after.created_at == before.created_at
    assert "kubernetes" in after.tags
    entry = sm.history("debug-crashloop")[-1]
    assert entry["action"] == "approve" and entry["details"]["from_version"] == 1
    assert entry["details"]["sections"] == {
        "Debug CrashLoopBackOff": "unchanged", "Playbook": "changed", "Examples": "unchanged",
        "Safety": "unchanged", "When to use": "added"}
    assert sm.history(draft_id)[-1]["details"]["revises"] == "debug-crashloop"
    # Served: the kept Safety section and the new playbook.
    assert "Never `kubectl delete`" in sm.query("kubectl delete pod production safety", budget=2000)
    assert "missing config map" in sm.query("exit code 1 missing config map secret envFrom", budget=2000)


def test_versions_and_rollback_after_a_revision(library):
    sm, draft_id = library
    sm.approve(draft_id)
    assert sm.versions("debug-crashloop") == [1, 2]
    assert sm.rollback("debug-crashloop", 1) == 3
    restored = sm.get("debug-crashloop")
    assert sections(restored) == ["Debug CrashLoopBackOff", "Playbook", "Examples", "Safety"]
    assert "Exit code 1 right after start" not in restored.chunks[1].content


def test_revised_imported_skill_exports_with_its_sections(library, tmp_path):
    sm, draft_id = library
    sm.approve(draft_id)
    text = (sm.export("debug-crashloop", tmp_path) / "SKILL.md").read_text()
    assert text.startswith("---\nname: debug-crashloop\n")
    heads = [line for line in text.splitlines() if line.startswith("#")]
    assert heads == ["# Debug CrashLoopBackOff", "## Playbook", "## Examples", "## Safety", "## When to use"]


def test_titles_match_ignoring_case_and_spaces_and_split_parts_are_one_section():
    long_pitfalls = "## Common pitfalls\n\n" + "\n\n".join(
        f"- Pitfall {i}: the request fails with a 400 error when max_tokens is missing." * 6 for i in range(20))
    from skillvault.formats.skill_md import split_body

    target = Skill(id="api", name="API", source="manual", chunks=[c for c, _ in split_body(
        "## Setup\n\nInstall it.\n\n" + long_pitfalls + "\n\n## Safety\n\nNo keys in logs.", "api")])
    assert [c.id for c in target.chunks][:3] == ["api::setup", "api::common-pitfalls", "api::common-pitfalls.2"]
    parts = [c.id for c in target.chunks if c.id.startswith("api::common-pitfalls")]
    target.chunks.append(Chunk(id="api::notes", section="Notes", content="See pitfalls.", dependencies=[parts[-1]]))
    draft = Skill(id="draft::api", name="API", source="extracted", status="draft", revises="api", chunks=[
        Chunk(id="draft::api::pitfalls", section="  common   PITFALLS ", content="## Common pitfalls\n\nOnly one left."),
        Chunk(id="draft::api::tips", section="Tips", content="## Tips\n\nBe brief.", dependencies=["draft::api::pitfalls"]),
    ])
    revision = merge_revision(target, draft)
    assert [(c.section, c.change) for c in revision.changes] == [
        ("Setup", "unchanged"), ("Common pitfalls", "changed"), ("Safety", "unchanged"), ("Notes", "unchanged"),
        ("Tips", "added")]
    assert revision.changes[1].before == parts and revision.changes[1].after == ["api::common-pitfalls"]
    skill = revision.skill
    assert [c.id for c in skill.chunks] == ["api::setup", "api::common-pitfalls", "api::safety", "api::notes", "api::tips"]
    by_id = {c.id: c for c in skill.chunks}
    assert by_id["api::notes"].dependencies == ["api::common-pitfalls"]  # followed the replaced part
    assert by_id["api::tips"].dependencies == ["api::common-pitfalls"]
    assert skill.source == "extracted" and skill.metadata["revised_from"] == "draft::api"
    skill.validate()
    assert [c.id for c in target.chunks][-1] == "api::notes" and draft.chunks[0].id == "draft::api::pitfalls"  # untouched


def test_a_draft_that_changes_nothing_keeps_the_source():
    target = Skill(id="s", name="S", chunks=[Chunk(id="s::a", section="A", content="## A\n\ntext")])
    draft = Skill(id="draft::s", name="S", status="draft", source="extracted",
                  chunks=[Chunk(id="draft::s::a", section="a", content="## A\n\ntext\n")])
    revision = merge_revision(target, draft)
    assert not revision.changed and revision.skill.source == "manual" and "revised_from" not in revision.skill.metadata
    assert draft_diff(draft, target) == []


def test_review_diff_shows_changes_per_section(library):
    sm, draft_id = library
    lines = draft_diff(sm.get(draft_id), sm.get("debug-crashloop"))
    assert lines[:2] == ["--- debug-crashloop (version 1)", f"+++ {draft_id}"]
    heads = [line for line in lines if line.startswith("@@ ") and line.endswith(" @@") and ": " in line]
    assert heads == ["@@ Debug CrashLoopBackOff: unchanged @@", "@@ Playbook: changed @@",
                     "@@ Examples: unchanged @@", "@@ Safety: unchanged @@", "@@ When to use: added @@"]
    assert "+4. Exit code 1 right after start: a missing config map or secret; check `envFrom`." in lines
    assert "+## When to use" in lines
    assert not any(line.startswith("-") and "Never" in line for line in lines)  # Safety is not removed


def test_cli_review_queue_json_and_interactive_review(cli):
    with SkillManager(cli.db, embed_config=cli.config, llm_fn=ScriptedLLM(REVISION), auto_promote=None) as sm:
        skill = read_skill_folder(DATA / "debug-crashloop")
        skill.name = "Debug CrashLoopBackOff"
        sm.register(skill)
        draft_id = sm.extract("We debugged web-7d4b9 ... exit code 1, the secret was missing ...")
    row = json.loads(cli("review-queue", "--json").stdout)[0]
    assert row["revises"] == "debug-crashloop"
    assert {c["section"]: c["change"] for c in row["changes"]} == {
        "Debug CrashLoopBackOff": "unchanged", "Playbook": "changed", "Examples": "unchanged",
        "Safety": "unchanged", "When to use": "added"}
    out = cli("review", input="a\n").stdout
    assert "@@ Safety: unchanged @@" in out and "@@ Playbook: changed @@" in out and "+## When to use" in out
    assert f"Approved {draft_id} -> debug-crashloop" in out
    shown = json.loads(cli("show", "debug-crashloop", "--json").stdout)
    assert [c["section"] for c in shown["chunks"]] == [
        "Debug CrashLoopBackOff", "Playbook", "Examples", "Safety", "When to use"]
    assert shown["source"] == "extracted"


def test_a_long_extracted_playbook_is_split_and_replaces_the_section(db_path, embed):
    steps = "\n".join(f"{i}. Check item {i}: run `kubectl get events --field-selector involvedObject.name=web-{i}` "
                      "and compare the restart count with the previous deploy." for i in range(1, 60))
    answer = {**REVISION, "playbook": steps}
    with SkillManager(db_path, embed_fn=embed, llm_fn=ScriptedLLM(answer), auto_promote=None) as sm:
        skill = read_skill_folder(DATA / "debug-crashloop")
        skill.name = "Debug CrashLoopBackOff"
        sm.register(skill)
        draft = sm.get(sm.extract("a long session"))
        parts = [c for c in draft.chunks if c.section.startswith("Playbook")]
        assert len(parts) > 1 and parts[1].id == f"{draft.id}::playbook.2"
        assert parts[1].content.startswith("## Playbook (continued)\n\n")
        sm.approve(draft.id)
        after = sm.get("debug-crashloop")
        ids = [c.id for c in after.chunks]
        assert ids[:3] == ["debug-crashloop::debug-crashloopbackoff", "debug-crashloop::playbook", "debug-crashloop::playbook.2"]
        assert "debug-crashloop::safety" in ids
        assert after.chunks[2].dependencies == ["debug-crashloop::playbook"]


# --------------------------------------------------------------------------- lint in review


def test_review_findings_describe_what_approval_would_make(db_path, embed):
    with SkillManager(db_path, embed_fn=embed, auto_promote=None) as sm:
        skill = read_skill_folder(DATA / "debug-crashloop")
        skill.name = "Debug CrashLoopBackOff"
        sm.register(skill)
        assert skill.description and sm.lint(["debug-crashloop"]) == []
        # A revision: merged into a skill that has a description, so none is missing.
        revision = sm.propose("Debug CrashLoopBackOff", REVISION["playbook"] + "\n5. See [the runbook](references/oom.md).")
        assert sm.get(revision).revises == "debug-crashloop"
        found = {(f.code, f.skill_id, f.file) for f in sm.lint([revision])}
        assert found == {("broken-reference", revision, f"library:{revision}")}
        # A new skill: no description yet, and the draft:: prefix of its id is not a finding.
        new = sm.propose("Rotate TLS certificates", "- renew with certbot\n- reload nginx")
        assert {f.code for f in sm.lint([new])} == {"description-missing"}
        sm.approve(revision)
        assert {f.code for f in sm.lint(["debug-crashloop"])} == {"broken-reference"}  # what review announced


def test_cli_review_queue_and_review_show_lint_findings(cli):
    with SkillManager(cli.db, embed_config=cli.config, auto_promote=None) as sm:
        skill = read_skill_folder(DATA / "debug-crashloop")
        skill.name = "Debug CrashLoopBackOff"
        sm.register(skill)
        draft_id = sm.propose("Debug CrashLoopBackOff", REVISION["playbook"] + "\n5. See [the runbook](references/oom.md).")
    row = json.loads(cli("review-queue", "--json").stdout)[0]
    assert [(f["code"], f["severity"]) for f in row["lint"]] == [("broken-reference", "warning")]
    assert "1 warning" in cli("review-queue").stdout
    out = cli("review", input="s\n").stdout
    assert f"library:{draft_id}: warning: links to 'references/oom.md'" in " ".join(out.split())
