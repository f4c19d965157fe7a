"""Importing what people publish (issue 11, items 1-4) and `skillvault lint`.

The fixture root ``fixtures/agent_skills`` is written in the style of public Agent Skills
repositories: five skill folders, one with a description over the spec's 1024 characters,
one whose front matter is broken YAML, one linking to a bundled file it does not have,
one with bundled ``references/`` and ``scripts/`` files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skillvault.cli import errors as exit_codes
from skillvault.cli.app import app
from skillvault.errors import ImportFormatError, ValidationError
from skillvault.models import Chunk, Skill

from conftest import make_skill, run_sql

FIXTURES = Path(__file__).parent / "fixtures" / "agent_skills"
GOOD = ["database-lookup", "git-hygiene", "incident-triage", "pdf-forms"]


@pytest.fixture
def root(tmp_path) -> Path:
    copy = tmp_path / "skills"
    shutil.copytree(FIXTURES, copy)
    return copy


def digest(sm) -> list:
    return [(s.id, s.version, s.status) for s in sm.list()]


# --------------------------------------------------------------------------- whole roots


def test_whole_root_imports_every_valid_skill_and_reports_the_broken_one(sm, root):
    report = sm.import_report(root)
    assert report.imported == GOOD and report.ids == GOOD
    assert (report.updated, report.unchanged) == ([], [])
    [skipped] = report.skipped
    assert skipped.file == str(root / "broken-front-matter" / "SKILL.md") and skipped.line == 4
    assert "not valid YAML" in skipped.message and skipped.severity == "error"
    codes = {(w.skill_id, w.code) for w in report.warnings}
    assert ("database-lookup", "description-too-long") in codes
    assert ("incident-triage", "broken-reference") in codes
    long = next(w for w in report.warnings if w.code == "description-too-long")
    assert long.file.endswith("database-lookup/SKILL.md") and long.line == 3
    assert sorted(s.id for s in sm.list()) == GOOD
    assert len(sm.get("database-lookup").description) > 1024
    pdf = sm.get("pdf-forms").metadata["agent_skill"]
    assert sorted(pdf["files"]) == ["references/fields.md", "scripts/fill.py"]
    assert "kubectl logs --previous" in sm.query("pod keeps restarting in CrashLoopBackOff", budget=400)


def test_import_keeps_its_0_1_return_value_and_logs_what_it_skipped(sm, root, caplog):
    assert sm.import_(root) == GOOD
    assert "broken-front-matter" in caplog.text and "description-too-long" in caplog.text
    assert sm.import_(root / "git-hygiene") == "git-hygiene"
    with pytest.raises(ImportFormatError, match=r"broken-front-matter.SKILL\.md:4: .*not valid YAML"):
        sm.import_(root / "broken-front-matter")  # nothing importable: an error, as in 0.1.x


def test_strict_import_writes_nothing_when_anything_is_wrong(sm, root):
    sm.register(make_skill("keep", ("A", "kept text")))
    before = digest(sm)
    with pytest.raises(ImportFormatError, match="broken-front-matter") as info:
        sm.import_report(root, strict=True)
    assert digest(sm) == before
    assert len(info.value.report.skipped) == 1 and info.value.report.warnings
    shutil.rmtree(root / "broken-front-matter")
    with pytest.raises(ImportFormatError, match="description"):  # a warning is enough under --strict
        sm.import_(root, strict=True)
    assert digest(sm) == before
    assert sm.import_(root / "git-hygiene", strict=True) == "git-hygiene"


# --------------------------------------------------------------------------- re-import


def test_reimporting_unchanged_skills_is_a_no_op_and_changes_are_new_versions(sm, root, embed):
    sm.import_report(root)
    versions = {s.id: s.version for s in sm.list()}
    history = len(sm.history("git-hygiene"))
    embedded = len(embed.calls)
    again = sm.import_report(root)
    assert (again.imported, again.updated, again.unchanged) == ([], [], GOOD)
    assert {s.id: s.version for s in sm.list()} == versions
    assert len(sm.history("git-hygiene")) == history and len(embed.calls) == embedded  # nothing written or embedded
    skill_md = root / "git-hygiene" / "SKILL.md"
    skill_md.write_text(skill_md.read_text().replace("own branches only", "own branches only, after a fetch"))
    changed = sm.import_report(root)
    assert changed.updated == ["git-hygiene"] and changed.unchanged == [i for i in GOOD if i != "git-hygiene"]
    assert changed.versions["git-hygiene"] == versions["git-hygiene"] + 1
    assert sm.versions("git-hygiene")[-1] == versions["git-hygiene"] + 1


# --------------------------------------------------------------------------- round trip


def test_round_trip_through_export_all_and_back(sm, root, tmp_path, embed):
    from skillvault import SkillManager

    sm.import_(root)
    out = sm.export_all(tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == GOOD
    for name in GOOD:
        assert (out / name / "SKILL.md").read_bytes() == (root / name / "SKILL.md").read_bytes()
    assert (out / "pdf-forms" / "scripts" / "fill.py").read_bytes() == (root / "pdf-forms" / "scripts" / "fill.py").read_bytes()
    assert sm.import_report(out).unchanged == GOOD
    with SkillManager(str(tmp_path / "copy.db"), embed_fn=embed) as other:
        assert other.import_report(out).imported == GOOD


# --------------------------------------------------------------------------- export --all


def test_export_all_validates_everything_first_and_names_the_failing_skill(sm, tmp_path):
    for i in range(16):
        sm.register(make_skill(f"skill-{i:02d}", ("Body", f"text {i}")))
    bad = make_skill("zz-bad", ("Body", "text"))
    bad.metadata = {"agent_skill": {"files": {"ok.txt": "fine"}}}
    sm.register(bad)
    run_sql(sm.store,  # what an older version could have stored: a file name that escapes the folder
        "UPDATE skills SET metadata = ? WHERE id = 'zz-bad'",
        (json.dumps({"agent_skill": {"files": {"../escape.txt": "x"}}}),))
    sm.store.conn.commit()
    with pytest.raises(ValidationError, match=r"'zz-bad'.*nothing was written"):
        sm.export_all(tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []  # no staging left
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(ValidationError, match="zz-bad"):
        sm.export_all(existing)
    assert list(existing.iterdir()) == []


def test_export_all_leaves_out_rejected_and_archived_and_names_folders_validly(sm, tmp_path):
    sm.register(make_skill("kept", ("Body", "kept")))
    for status in ("draft", "rejected", "archived"):
        sm.register(Skill(id=f"draft::{status}-notes", name=f"{status} notes", status=status, source="extracted",
                          chunks=[Chunk(id=f"draft::{status}-notes::a", content=f"{status} text")]))
    out = sm.export_all(tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == ["draft-draft-notes", "kept"]
    front = (out / "kept" / "SKILL.md").read_text()
    assert front.startswith("---\nname: kept\n---\n")  # no description is invented
    only = sm.export_all(tmp_path / "rejected", status="rejected")
    assert [p.name for p in only.iterdir()] == ["draft-rejected-notes"]


def test_export_all_refuses_two_skills_with_the_same_folder_name(sm, tmp_path):
    sm.register(make_skill("notes", ("Body", "a")))
    sm.register(make_skill("Notes", ("Body", "b")))
    with pytest.raises(ValidationError, match="'notes' and 'Notes'|'Notes' and 'notes'"):
        sm.export_all(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_add_accepts_what_export_writes(sm, tmp_path):
    sm.register(Skill(id="long", description="d" * 2000, chunks=[Chunk(id="long::a", content="text")]))
    out = sm.export("long", tmp_path)
    report = sm.import_report(out)
    assert report.updated == ["long"] and report.skipped == []  # now source "imported", with its front matter
    assert [w.code for w in report.warnings] == ["description-too-long"]
    assert sm.get("long").description == "d" * 2000


# --------------------------------------------------------------------------- dependencies


def test_mutual_dependencies_registered_one_by_one(sm):
    first = make_skill("deploy", ("Steps", "deploy with the pipeline"))
    first.chunks[0].dependencies = ["rollback::0"]
    sm.register(first)  # its target does not exist yet
    assert sm.store.unresolved_dependencies() == [
        {"skill_id": "deploy", "chunk_id": "deploy::0", "dependency": "rollback::0", "status": "canonical"}]
    assert [f.code for f in sm.lint(["deploy"])] == ["description-missing", "unresolved-dependency"]
    assert "deploy with the pipeline" in sm.query("deploy pipeline", budget=500)  # unresolved ids are skipped
    second = make_skill("rollback", ("Steps", "roll back by redeploying the previous tag"))
    second.chunks[0].dependencies = ["deploy"]
    sm.register(second)
    assert sm.store.unresolved_dependencies() == []
    served = sm.query("deploy pipeline", budget=500)
    assert "deploy with the pipeline" in served and "previous tag" in served


# --------------------------------------------------------------------------- lint


def test_lint_findings_on_files(root):
    from skillvault.lint import exit_code, lint_paths

    findings = lint_paths([root])
    by_code = {}
    for finding in findings:
        by_code.setdefault(finding.code, []).append(finding)
    assert [f.file for f in by_code["unreadable"]] == [str(root / "broken-front-matter" / "SKILL.md")]
    [broken] = by_code["broken-reference"]
    assert broken.file.endswith("incident-triage/SKILL.md") and broken.line == 11
    assert exit_code(findings) == 2
    assert exit_code([f for f in findings if f.severity == "warning"]) == 1
    assert exit_code(lint_paths([root / "pdf-forms"])) == 0


def test_lint_finds_secrets_oversized_chunks_and_dangling_dependencies(tmp_path):
    from skillvault.lint import lint_paths

    folder = tmp_path / "ops"
    folder.mkdir()
    body = "# Ops\n\n## Access\n\nexport OPENAI_API_KEY=sk-proj-" + "a1B2c3D4e5" * 5 + "\n\n## Long\n\n" + \
        "Every paragraph of this section repeats itself. " * 200 + "\n"
    (folder / "SKILL.md").write_text("---\nname: ops\ndescription: Ops notes.\n---\n" + body)
    findings = lint_paths([folder])
    secret = next(f for f in findings if f.code == "secret")
    assert secret.line == 9 and "sk-proj" not in secret.message
    # a long markdown section is split into parts on reading, so it is not a finding there ...
    assert not any(f.code == "chunk-too-long" for f in findings)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "SKILL.md").write_text(
        "---\nname: docs\ndescription: Examples.\n---\n# Auth\n\n"
        'curl -H "Authorization: Bearer your_access_token"\n'
        "engine = create_engine('postgresql://user:pwd@host:5432/db')\nexport API_KEY=YOUR_KEY\n"
        "did_pass = rate >= threshold\n")
    assert [f for f in lint_paths([docs]) if f.code == "secret"] == []  # placeholders in documentation
    deps = tmp_path / "deps.json"
    long_text = "Every paragraph of this section repeats itself. " * 200
    deps.write_text(json.dumps([{"id": "a", "chunks": [{"id": "a::1", "content": "x", "dependencies": ["b", "zz"]}]},
                                {"id": "b", "chunks": [{"id": "b::1", "content": "y", "dependencies": ["a::1"]},
                                                       {"id": "b::2", "content": long_text}]}]))
    json_findings = lint_paths([deps])
    dangling = [f for f in json_findings if f.code == "unresolved-dependency"]
    assert [(f.skill_id, "'zz'" in f.message) for f in dangling] == [("a", True)]
    # ... but a chunk given whole (JSON, Python) is
    assert [f.skill_id for f in json_findings if f.code == "chunk-too-long"] == ["b"]


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def run(tmp_path, openai_standin, monkeypatch):
    env = {"SKILLVAULT_DB": str(tmp_path / "skills.db"), "NO_COLOR": "1", "COLUMNS": "400",
           "SKILLVAULT_EMBED_MODEL": "text-embedding-3-small", "SKILLVAULT_EMBED_BASE_URL": openai_standin.base_url,
           "SKILLVAULT_EMBED_API_KEY": "sk-test"}
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, code: int = 0):
        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, (result.exit_code, result.output)
        return result

    return invoke


def test_cli_import_prints_the_report_and_exits_non_zero_only_with_strict(run, root):
    result = run("import", str(root))
    assert f"Imported 4 skills: {', '.join(GOOD)}" in result.stdout
    assert "Skipped 1 skill" in result.stdout
    assert "broken-front-matter/SKILL.md:4: error:" in result.stderr
    assert "database-lookup/SKILL.md:3: warning:" in result.stderr and "[description-too-long]" in result.stderr
    again = run("import", str(root))
    assert f"Unchanged 4 skills (nothing written): {', '.join(GOOD)}" in again.stdout
    assert "Imported" not in again.stdout
    skill_md = root / "pdf-forms" / "SKILL.md"
    skill_md.write_text(skill_md.read_text() + "\n## Signing\n\nSign after flattening.\n")
    assert "Updated 1 skill (new version): pdf-forms (version 2)" in run("import", str(root)).stdout
    strict = run("import", "--strict", str(root), code=exit_codes.ERROR)
    assert "nothing imported (--strict)" in strict.stderr
    data = json.loads(run("import", "--json", str(root)).stdout)
    assert data["unchanged"] == GOOD and data["skipped"][0]["line"] == 4


def test_cli_lint_exit_codes_and_output(run, root):
    result = run("lint", str(root), code=2)
    assert "broken-front-matter/SKILL.md:4: error:" in result.stdout
    assert "incident-triage/SKILL.md:11: warning:" in result.stdout and "1 error," in result.stdout
    assert run("lint", str(root / "incident-triage"), code=1).stdout.count("warning:") == 1
    assert run("lint", str(root / "pdf-forms")).stdout.strip().endswith("0 errors, 0 warnings")
    run("import", str(root / "git-hygiene"))
    assert json.loads(run("lint", "--json", "git-hygiene").stdout) == {"findings": [], "exit_code": 0}
    run("lint", "no-such-skill", code=exit_codes.NOT_FOUND)
    data = json.loads(run("--json", "lint").stdout)
    assert data["exit_code"] == 0


def test_cli_doctor_reports_unresolved_dependencies(run, tmp_path):
    deps = tmp_path / "deps.json"
    deps.write_text(json.dumps([{"id": "a", "chunks": [{"id": "a::1", "content": "x", "dependencies": ["later"]}]}]))
    run("import", str(deps))
    checks = {c["name"]: c for c in json.loads(run("doctor", "--json").stdout)["checks"]}
    assert "1 unresolved" in checks["Dependencies"]["value"] and "a::1 -> later" in checks["Dependencies"]["value"]
    assert checks["Dependencies"]["ok"]
