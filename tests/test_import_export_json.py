"""JSON export/import: round trips, 0.1.x files, all-or-nothing imports."""

from __future__ import annotations

import json

import pytest

from skillvault.errors import ImportFormatError, NotFoundError
from skillvault.models import Skill

from conftest import make_skill


def full_skill() -> Skill:
    skill = make_skill("git-rebase", ("Interactive", "git rebase -i main"), ("Safety", "never rebase shared work"))
    skill.description = "Rewriting history safely."
    skill.tags = ["git", "vcs"]
    skill.metadata = {"owner": "platform-team"}
    skill.chunks[1].required = True
    skill.chunks[1].priority = 3
    skill.chunks[0].dependencies = ["git-rebase::1"]
    return skill


def test_one_skill_round_trips_exactly(sm, tmp_path):
    sm.register(full_skill())
    original = sm.get("git-rebase")
    path = tmp_path / "git.json"
    sm.export("git-rebase", path)
    sm.register(make_skill("git-rebase", ("Other", "overwritten")))
    assert sm.import_(path) == "git-rebase"
    restored = sm.get("git-rebase").to_dict()
    # overwriting makes new versions (2: the other content, 3: the import); the rest is exact
    assert restored.pop("version") == original.version + 2
    assert restored == {k: v for k, v in original.to_dict().items() if k != "version"}


def test_whole_library_round_trips_into_a_new_db(sm, tmp_path, embed):
    from skillvault import SkillManager

    sm.register(make_skill("base", ("Intro", "base words")))
    dependent = full_skill()
    dependent.chunks[0].dependencies.append("base")
    sm.register(dependent)
    path = sm.export_all(tmp_path / "all.json")
    document = json.loads(path.read_text())
    assert document["skillvault"] == 1 and len(document["skills"]) == 2
    with SkillManager(str(tmp_path / "copy.db"), embed_fn=embed) as other:
        assert sorted(other.import_(path)) == ["base", "git-rebase"]
        assert other.history("base")[-1]["action"] == "import"
        assert [s.to_dict() for s in other.list()] == [s.to_dict() for s in sm.list()]
        assert "never rebase shared work" in other.query("git rebase", budget=500)


def test_files_written_by_0_1_x_import(sm, tmp_path):
    legacy = {
        "id": "frontend-react", "name": "Frontend React", "source": "canonical", "status": "active",
        "chunks": [{"id": "frontend-react::hooks", "skill_id": "frontend-react", "section": "React Hooks",
                    "content": "## useEffect\n\nUse useEffect for side effects...", "tokens": 50,
                    "priority": 0, "required": False, "dependencies": []}],
        "confidence": 1.0, "extracted_from": "", "created_at": "2026-04-01T10:00:00",
    }
    path = tmp_path / "react.json"
    path.write_text(json.dumps(legacy))
    sm.import_(path)
    skill = sm.get("frontend-react")
    assert (skill.status, skill.source) == ("canonical", "manual")
    assert skill.chunks[0].tokens == 9  # the real cl100k count replaces the stale 50
    assert "useEffect" in sm.query("React hooks best practices", budget=2000)


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "a", "chunks": [', "line 1: not valid JSON"),
        ('"just a string"', "expected a skill object"),
        ("[]", "no skills"),
        ('{"name": "no id"}', r"skills\[0\]\.id: is missing"),
    ],
)
def test_bad_files_import_nothing(sm, tmp_path, content, message):
    sm.register(make_skill("keep", ("A", "kept text")))
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ImportFormatError, match=message) as info:
        sm.import_(path)
    assert str(path) in str(info.value)
    assert [s.id for s in sm.list()] == ["keep"]


def test_one_bad_skill_in_a_file_skips_only_that_skill(sm, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"id": "good", "chunks": [{"id": "good::1", "content": "fine"}]}, {"id": "bad id", "chunks": []}]')
    sm.register(make_skill("keep", ("A", "kept text")))
    with pytest.raises(ImportFormatError, match=r"bad\.json: skills\[1\]\.id"):
        sm.import_(path, strict=True)  # strict: all or nothing
    assert [s.id for s in sm.list()] == ["keep"]
    assert sm.import_(path) == "good"
    report = sm.import_report(path)
    assert (report.unchanged, report.imported, report.ids) == (["good"], [], ["good"])
    [skipped] = report.skipped
    assert skipped.file == str(path) and skipped.message.startswith("skills[1].id: ")


def test_forward_dependencies_are_imported_and_reported(sm, tmp_path):
    skills = [
        {"id": "first", "chunks": [{"id": "first::1", "content": "first text", "dependencies": ["second::1"]}]},
        {"id": "second", "chunks": [{"id": "second::1", "content": "x", "dependencies": ["nowhere"]}]},
    ]
    path = tmp_path / "two.json"
    path.write_text(json.dumps(skills))
    with pytest.raises(ImportFormatError, match=r"two\.json: .*'nowhere'"):
        sm.import_(path, strict=True)
    assert sm.list() == []
    report = sm.import_report(path)
    assert report.imported == ["first", "second"]
    assert [(w.code, w.skill_id) for w in report.warnings] == [("unresolved-dependency", "second")]
    assert sm.store.unresolved_dependencies() == [
        {"skill_id": "second", "chunk_id": "second::1", "dependency": "nowhere", "status": "canonical"}]


def test_export_unknown_skill_and_missing_import_file(sm, tmp_path):
    with pytest.raises(NotFoundError):
        sm.export("ghost", tmp_path / "ghost.json")
    with pytest.raises(ImportFormatError, match="no such file"):
        sm.import_(tmp_path / "absent.json")


def test_agent_skills_folders_through_the_manager(sm, tmp_path):
    folder = tmp_path / "skills" / "pdf-tools"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        "---\nname: pdf-tools\ndescription: Extract text and tables from PDF files.\n---\n"
        "# PDF tools\n\nUse pdfplumber for text.\n\n## Tables\n\nCall page.extract_tables().\n"
    )
    assert sm.import_(tmp_path / "skills") == "pdf-tools"
    skill = sm.get("pdf-tools")
    assert skill.source == "imported" and skill.description.startswith("Extract text")
    assert "extract_tables" in sm.query("extract tables from a PDF", budget=500)
    out = sm.export("pdf-tools", tmp_path / "out")
    assert (out / "SKILL.md").read_bytes() == (folder / "SKILL.md").read_bytes()


def test_an_import_embeds_all_its_skills_in_shared_batches(openai_standin, tmp_path):
    from skillvault import SkillManager

    skills = [make_skill(f"s{i}", *[(f"part {j}", f"topic {i} detail {j} words") for j in range(3)]).to_dict()
              for i in range(10)]
    path = tmp_path / "many.json"
    path.write_text(json.dumps(skills))
    config = {"model": "text-embedding-3-small", "base_url": openai_standin.base_url, "api_key": "k"}
    seen = []
    with SkillManager(str(tmp_path / "lib.db"), embed_config=config) as sm:
        assert len(sm.import_(path, progress=lambda done, total: seen.append((done, total)))) == 10
    sizes = [len(r["body"]["input"]) for r in openai_standin.embedding_requests()]
    assert sizes == [24, 40]  # the null texts once, then all 30 chunks and 10 skill cards in one request
    assert seen[-1] == (40, 40)  # progress counts the texts embedded: chunks and cards
