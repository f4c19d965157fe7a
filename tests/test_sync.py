"""`skillvault sync DIR` / `--from DIR`: real skill folders, real files, real SQLite.

The library is made by importing tests/fixtures/agent_skills (public-style skills, one
with references/ and scripts/); sync writes it out and the tree is read back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillvault import SkillManager
from skillvault.errors import ValidationError
from skillvault.formats.skill_md import read_skill_folders
from skillvault.sync import MANIFEST
from test_cli import cli, one_error_line  # noqa: F401  (the CLI fixture: stand-in embedder)

FIXTURES = Path(__file__).parent / "fixtures" / "agent_skills"
GOOD = ["database-lookup", "git-hygiene", "incident-triage", "pdf-forms"]  # broken-front-matter is skipped on import


@pytest.fixture
def lib(sm):
    report = sm.import_report(FIXTURES)
    assert sorted(report.ids) == GOOD
    return sm


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def stamps(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime_ns, inode) of every file and folder under root, and of root itself."""
    paths = [root, *sorted(root.rglob("*"))]
    return {p.relative_to(root).as_posix(): (p.lstat().st_mtime_ns, p.lstat().st_ino) for p in paths}


def manifest(root: Path) -> dict:
    return json.loads((root / MANIFEST).read_text())["folders"]


def actions(plan) -> dict[str, str]:
    return {item.folder: item.action for item in plan.items}


# --------------------------------------------------------------------------- sync DIR


def test_round_trip_is_byte_for_byte(lib, tmp_path):
    out = tmp_path / "skills"  # missing: created
    plan = lib.sync(out)
    assert plan.applied and sorted(item.folder for item in plan.of("write")) == GOOD
    written = files_of(out)
    assert MANIFEST in written
    for name in GOOD:
        assert {rel: data for rel, data in written.items() if rel.startswith(name + "/")} == {
            f"{name}/{rel}": data for rel, data in files_of(FIXTURES / name).items()}
    assert "pdf-forms/references/fields.md" in written and "pdf-forms/scripts/fill.py" in written
    assert not (out / "broken-front-matter").exists()
    # Read back with the one reader: the same skills as the library's.
    back = {skill.id: skill for skill in read_skill_folders(out)}
    for skill_id in GOOD:
        stored = lib.get(skill_id)
        assert [(c.section, c.content) for c in back[skill_id].chunks] == [(c.section, c.content) for c in stored.chunks]
        assert back[skill_id].metadata["agent_skill"]["files"] == stored.metadata["agent_skill"]["files"]
    assert sorted(manifest(out)) == GOOD
    assert manifest(out)["pdf-forms"]["skill"] == "pdf-forms"
    assert sorted(manifest(out)["pdf-forms"]["files"]) == ["SKILL.md", "references/fields.md", "scripts/fill.py"]


def test_a_second_sync_writes_nothing(lib, tmp_path):
    out = tmp_path / "skills"
    lib.sync(out)
    before = stamps(out)
    plan = lib.sync(out)
    assert plan.in_sync and set(actions(plan).values()) == {"unchanged"}
    assert stamps(out) == before  # no file, folder or manifest touched
    assert lib.sync(out, check=True).in_sync


def test_only_what_changed_is_rewritten(lib, tmp_path):
    out = tmp_path / "skills"
    lib.sync(out)
    before = stamps(out)
    skill = lib.get("pdf-forms")
    skill.description = "Fill PDF forms."
    del skill.metadata["agent_skill"]["files"]["scripts/fill.py"]
    lib.register(skill)
    check = lib.sync(out, check=True)
    assert actions(check)["pdf-forms"] == "update" and not check.in_sync
    assert stamps(out) == before  # --check writes nothing
    plan = lib.sync(out)
    item = plan.of("update")[0]
    assert (item.files, item.deleted) == (["SKILL.md"], ["scripts/fill.py"])
    after = stamps(out)
    assert after["pdf-forms/SKILL.md"] != before["pdf-forms/SKILL.md"]
    assert after["pdf-forms/references/fields.md"] == before["pdf-forms/references/fields.md"]
    assert not (out / "pdf-forms" / "scripts").exists()  # emptied folder pruned
    assert b"description: Fill PDF forms." in (out / "pdf-forms" / "SKILL.md").read_bytes()
    modes = {p.lstat().st_mode for p in out.rglob("*") if p.is_file()}
    assert len(modes) == 1  # a rewritten file has the mode of the others (not a temporary file's 0600)
    for name in ("git-hygiene", "database-lookup", "incident-triage"):
        assert after[f"{name}/SKILL.md"] == before[f"{name}/SKILL.md"]
    assert "scripts/fill.py" not in manifest(out)["pdf-forms"]["files"]
    assert lib.sync(out, check=True).in_sync


def test_a_skill_that_left_canonical_is_removed_but_a_foreign_folder_is_not(lib, tmp_path):
    out = tmp_path / "skills"
    lib.sync(out)
    foreign = out / "team-notes"
    foreign.mkdir()
    (foreign / "SKILL.md").write_text("---\nname: team-notes\ndescription: ours\n---\nHands off.\n")
    (out / "README.txt").write_text("a loose file\n")
    lib.archive("git-hygiene")
    check = lib.sync(out, check=True)
    assert actions(check)["git-hygiene"] == "remove" and "team-notes" not in actions(check)
    assert (out / "git-hygiene" / "SKILL.md").exists()
    plan = lib.sync(out)
    assert [item.folder for item in plan.of("remove")] == ["git-hygiene"]
    assert not (out / "git-hygiene").exists()
    assert (foreign / "SKILL.md").read_text().endswith("Hands off.\n")
    assert (out / "README.txt").exists()
    assert "git-hygiene" not in manifest(out)
    assert lib.sync(out).in_sync


def test_a_foreign_folder_with_a_skills_name_is_a_conflict_and_kept(lib, tmp_path):
    out = tmp_path / "skills"
    (out / "pdf-forms").mkdir(parents=True)
    (out / "pdf-forms" / "SKILL.md").write_text("---\nname: pdf-forms\ndescription: my own\n---\nMine.\n")
    plan = lib.sync(out)
    conflict = plan.of("conflict")
    assert [item.folder for item in conflict] == ["pdf-forms"]
    assert "not written by sync" in conflict[0].reason and "move or rename" in conflict[0].reason
    assert (out / "pdf-forms" / "SKILL.md").read_text().endswith("Mine.\n")
    assert not (out / "pdf-forms" / "references").exists()
    assert "pdf-forms" not in manifest(out)
    assert sorted(item.folder for item in plan.of("write")) == ["database-lookup", "git-hygiene", "incident-triage"]
    # Even a foreign folder holding exactly the skill stays foreign (sync did not write it).
    exact = out / "git-hygiene-copy"
    lib.register(lib.get("git-hygiene").renamed("git-hygiene-copy"))
    exact.mkdir()
    (exact / "SKILL.md").write_bytes((out / "git-hygiene" / "SKILL.md").read_bytes().replace(
        b"name: git-hygiene", b"name: git-hygiene-copy"))
    assert actions(lib.sync(out))["git-hygiene-copy"] == "conflict"
    # Archiving the skill never deletes the folder sync did not write.
    lib.archive("pdf-forms")
    lib.sync(out)
    assert (out / "pdf-forms" / "SKILL.md").read_text().endswith("Mine.\n")


def test_a_local_edit_is_reported_and_kept_unless_forced(lib, tmp_path):
    out = tmp_path / "skills"
    lib.sync(out)
    edited = out / "git-hygiene" / "SKILL.md"
    edited.write_text(edited.read_text() + "\n## Tags\n\nSign release tags.\n")
    check = lib.sync(out, check=True)
    item = check.of("edited")[0]
    assert (item.folder, item.files) == ("git-hygiene", ["SKILL.md"])
    assert "--from" in item.reason and "--force" in item.reason
    assert not check.in_sync
    # A change in the library does not overwrite the edit either.
    skill = lib.get("git-hygiene")
    skill.description = "Changed in the library."
    lib.register(skill)
    plan = lib.sync(out)
    assert actions(plan)["git-hygiene"] == "edited"
    assert edited.read_text().endswith("Sign release tags.\n")
    forced = lib.sync(out, force=True)
    assert actions(forced)["git-hygiene"] == "update"
    assert "Sign release tags" not in edited.read_text() and "Changed in the library." in edited.read_text()
    assert lib.sync(out, check=True).in_sync


def test_an_edited_folder_of_an_archived_skill_is_kept(lib, tmp_path):
    out = tmp_path / "skills"
    lib.sync(out)
    (out / "git-hygiene" / "NOTES.md").write_text("mine\n")
    lib.archive("git-hygiene")
    plan = lib.sync(out)
    assert actions(plan)["git-hygiene"] == "edited" and plan.of("edited")[0].files == ["NOTES.md"]
    assert (out / "git-hygiene" / "SKILL.md").exists() and "git-hygiene" in manifest(out)
    lib.sync(out, force=True)
    assert not (out / "git-hygiene").exists()


def test_links_are_never_followed(lib, tmp_path):
    out, elsewhere = tmp_path / "skills", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "SKILL.md").write_text("precious\n")
    out.mkdir()
    (out / "incident-triage").symlink_to(elsewhere, target_is_directory=True)
    plan = lib.sync(out)
    assert actions(plan)["incident-triage"] == "conflict" and "symbolic link" in plan.of("conflict")[0].reason
    assert (elsewhere / "SKILL.md").read_text() == "precious\n"
    # A link inside a synced folder counts as an edit; --force removes the link, not its target.
    (out / "pdf-forms" / "references" / "fields.md").unlink()
    (out / "pdf-forms" / "references" / "fields.md").symlink_to(elsewhere / "SKILL.md")
    assert actions(lib.sync(out, check=True))["pdf-forms"] == "edited"
    lib.sync(out, force=True)
    assert not (out / "pdf-forms" / "references" / "fields.md").is_symlink()
    assert (out / "pdf-forms" / "references" / "fields.md").read_bytes() == (
        FIXTURES / "pdf-forms" / "references" / "fields.md").read_bytes()
    assert (elsewhere / "SKILL.md").read_text() == "precious\n"


def test_an_edit_after_the_plan_and_a_failure_part_way_leave_an_honest_record(lib, tmp_path, monkeypatch):
    from skillvault import sync as sync_module

    out = tmp_path / "skills"
    lib.sync(out)
    lib.archive("git-hygiene")
    skill = lib.get("pdf-forms")
    skill.description = "Fill PDF forms."
    lib.register(skill)
    # Edited between the plan and its application: left alone, reported as edited.
    plan = sync_module.plan_sync(lib.list(status="canonical"), out)
    (out / "git-hygiene" / "SKILL.md").write_text("mine now\n")
    sync_module.apply_sync(plan)
    assert actions(plan)["git-hygiene"] == "edited" and (out / "git-hygiene" / "SKILL.md").read_text() == "mine now\n"
    assert "git-hygiene" in manifest(out)
    # A write that fails part-way: what was not done stays recorded as it was.
    (out / "git-hygiene" / "SKILL.md").unlink()
    (out / "git-hygiene").rmdir()
    lib.sync(out)  # the manifest forgets the vanished folder
    skill.description = "Fill PDF forms, again."
    lib.register(skill)
    lib.restore("git-hygiene")

    def broken(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sync_module, "_replace_file", broken)
    with pytest.raises(OSError):
        lib.sync(out)
    assert "git-hygiene" in manifest(out)  # written before the failure: recorded
    assert actions(lib.sync(out, check=True))["pdf-forms"] == "update"  # not "edited": the record is the old one
    monkeypatch.undo()
    lib.sync(out)
    assert lib.sync(out, check=True).in_sync


def test_bad_dir_and_bad_manifest_change_nothing(lib, tmp_path):
    a_file = tmp_path / "skills.txt"
    a_file.write_text("x")
    with pytest.raises(ValidationError, match="exists and is not a folder"):
        lib.sync(a_file)
    assert a_file.read_text() == "x"
    out = tmp_path / "skills"
    lib.sync(out)
    data = json.loads((out / MANIFEST).read_text())
    data["folders"]["../escape"] = {"skill": "x", "version": 1, "files": {"SKILL.md": "0" * 64}}
    (out / MANIFEST).write_text(json.dumps(data))
    lib.archive("git-hygiene")
    before = stamps(out)
    with pytest.raises(ValidationError, match=r"\.skillvault-sync\.json.*not a plain folder name.*Remove it"):
        lib.sync(out)
    assert stamps(out) == before
    (out / MANIFEST).write_text("{not json")
    with pytest.raises(ValidationError, match="cannot be read as JSON"):
        lib.sync(out, check=True)
    with pytest.raises(ValidationError, match="check"):
        lib.sync(out, check="yes")


# --------------------------------------------------------------------------- --from DIR


def test_from_an_edited_folder_makes_a_revision_draft_that_approval_merges(lib, tmp_path):
    out = tmp_path / "skills"
    lib.sync(out)
    skill_md = out / "pdf-forms" / "SKILL.md"
    text = skill_md.read_text()
    skill_md.write_text(text.replace("- Checkbox values are names such as `/Yes`, not booleans.",
                                     "- Checkbox values are names such as `/Yes` or `/On`, never booleans."))
    (out / "pdf-forms" / "references" / "fields.md").write_text("Field reference, second edition.\n")
    canonical_before = lib.get("pdf-forms").to_dict()
    plan = lib.sync_from(out)
    assert [(i.folder, i.action) for i in plan.items if i.action != "unchanged"] == [("pdf-forms", "revise")]
    draft_id = plan.of("revise")[0].draft_id
    draft = lib.get(draft_id)
    assert draft.status == "draft" and draft.revises == "pdf-forms"
    assert lib.get("pdf-forms").to_dict() == canonical_before  # nothing canonical until approved
    assert [d.id for d in lib.review_queue()] == [draft_id]
    # Idempotent: the same edits again create nothing.
    again = lib.sync_from(out)
    assert again.of("revise") == [] and again.of("proposed")[0].draft_id == draft_id
    assert [d.id for d in lib.review_queue()] == [draft_id]
    assert lib.approve(draft_id) == "pdf-forms"
    merged = lib.get("pdf-forms")
    assert merged.version == 2
    pitfalls = next(c for c in merged.chunks if c.section == "Pitfalls")
    assert "`/On`, never booleans" in pitfalls.content
    assert merged.metadata["agent_skill"]["files"]["references/fields.md"] == "Field reference, second edition.\n"
    # The library now holds what the person wrote: the tree is in sync again.
    assert lib.sync(out, check=True).in_sync


def test_from_a_new_folder_makes_a_new_draft_and_an_unchanged_tree_nothing(lib, tmp_path):
    out = tmp_path / "skills"
    lib.sync(out)
    assert lib.sync_from(out).of("unchanged") and lib.review_queue() == []  # unchanged tree: nothing
    new = out / "release-notes"
    new.mkdir()
    (new / "SKILL.md").write_text("---\nname: release-notes\ndescription: Write release notes from merged "
                                  "pull requests.\n---\n## Steps\n\nGroup changes by area; link each PR.\n")
    (out / "not-a-skill").mkdir()
    plan = lib.sync_from(out)
    assert plan.of("new")[0].folder == "release-notes" and plan.of("new")[0].revises is None
    assert plan.of("skipped")[0].folder == "not-a-skill" and "SKILL.md not found" in plan.of("skipped")[0].reason
    draft = lib.get(plan.of("new")[0].draft_id)
    assert draft.status == "draft" and draft.revises is None and lib.get("release-notes") is None
    assert lib.sync_from(out).of("new") == []
    # Edited again while pending: the same draft is updated, not a second one made.
    (new / "SKILL.md").write_text((new / "SKILL.md").read_text() + "\n## Tone\n\nPlain words.\n")
    third = lib.sync_from(out)
    assert third.of("new")[0].draft_id == draft.id and len(lib.review_queue()) == 1
    assert lib.approve(draft.id) == "release-notes"
    # The approved skill is exactly the folder: sync adopts it instead of reporting a conflict.
    plan = lib.sync(out)
    assert actions(plan)["release-notes"] == "unchanged" and "release-notes" in manifest(out)
    assert (new / "SKILL.md").read_text().endswith("Plain words.\n")


def test_from_check_writes_nothing_and_agents_may_propose(lib, agent_path, embed, tmp_path):
    out = tmp_path / "skills"
    lib.sync(out)
    (out / "git-hygiene" / "SKILL.md").write_text((out / "git-hygiene" / "SKILL.md").read_text() + "\n## More\n\nx y.\n")
    assert lib.sync_from(out, check=True).of("revise") and lib.review_queue() == []
    with SkillManager(agent_path, embed_fn=embed, mode="agent") as agent:
        plan = agent.sync_from(out)
        assert agent.sync(tmp_path / "agent-skills").of("write")  # reading canonical skills is allowed
    draft = lib.get(plan.of("revise")[0].draft_id)
    assert draft.revises == "git-hygiene" and draft.status == "draft"
    assert lib.store.is_agent_draft(draft.id)
    with pytest.raises(ValidationError, match="is not a folder"):
        lib.sync_from(tmp_path / "missing")


def test_two_skills_for_one_folder_and_an_unwritable_skill_are_conflicts(lib, tmp_path):
    from skillvault.sync import plan_sync

    out = tmp_path / "skills"
    lib.sync(out)
    twin = lib.get("pdf-forms").renamed("PDF-forms")  # a valid id, written as the folder "pdf-forms" too
    lib.register(twin)
    plan = lib.sync(out)
    [conflict] = plan.of("conflict")  # the folder stays with the skill sync wrote there
    assert conflict.skill_id == "PDF-forms"
    assert conflict.folder == "pdf-forms" and "would both be written as the folder" in conflict.reason
    assert any(i.folder == "pdf-forms" and i.action == "unchanged" for i in plan.items)  # the first one stays synced
    # A skill the writer refuses keeps its folder (never removed as if it had left the library).
    broken = lib.get("git-hygiene")
    broken.metadata["agent_skill"]["files"] = {"../escape.txt": "x"}  # not validated here, as a bad row would be
    canonical = [s for s in lib.list(status="canonical") if s.id != "git-hygiene"] + [broken]
    plan = plan_sync(canonical, out, force=True)
    item = next(i for i in plan.items if i.folder == "git-hygiene")
    assert item.action == "conflict" and "cannot be written" in item.reason
    assert not plan.of("remove")


# --------------------------------------------------------------------------- CLI


def test_cli_exit_codes_and_json(cli, tmp_path):  # noqa: F811
    cli("import", str(FIXTURES))
    out = tmp_path / "skills"
    first = cli("sync", str(out))
    assert "wrote: pdf-forms" in first.stdout
    assert cli("sync", str(out), "--check").stdout.strip().endswith("4 unchanged (nothing written: --check)")
    (out / "git-hygiene" / "SKILL.md").write_text("---\nname: git-hygiene\ndescription: d\n---\nEdited.\n")
    result = cli("sync", str(out), "--check", "--json", code=1)
    data = json.loads(result.stdout)
    assert data["in_sync"] is False and data["applied"] is False
    assert [item["folder"] for item in data["edited"]] == ["git-hygiene"]
    assert len(data["unchanged"]) == 3
    # A plain sync leaves the edit and says so (exit 1); --from turns it into a draft.
    kept = cli("sync", str(out), code=1)
    assert "edited locally: git-hygiene" in kept.stdout
    assert cli("sync", "--from", str(out), "--check", code=1).stdout.startswith("revision draft: git-hygiene")
    made = json.loads(cli("--json", "sync", "--from", str(out)).stdout)
    assert made["applied"] and made["revise"][0]["revises"] == "git-hygiene"
    assert made["revise"][0]["draft_id"].startswith("draft::git-hygiene")
    assert json.loads(cli("sync", "--from", str(out), "--json").stdout)["proposed"]
    cli("sync", "--from", str(out), "--check")  # nothing left to propose: exit 0
    assert cli("sync", str(out), "--force").stdout.startswith("updated: git-hygiene")
    cli("sync", str(out), "--check")


def test_cli_user_errors_are_one_line(cli, tmp_path):  # noqa: F811
    cli("import", str(FIXTURES))
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    assert "exists and is not a folder" in one_error_line(cli("sync", str(a_file), code=1))
    assert "one of them" in one_error_line(cli("sync", code=2))
    assert "one of them" in one_error_line(cli("sync", str(tmp_path), "--from", str(tmp_path), code=2))
    assert "--force goes with" in one_error_line(cli("sync", "--from", str(tmp_path), "--force", code=2))
    (tmp_path / "pdf-forms").mkdir()
    conflict = cli("sync", str(tmp_path), code=1)  # a foreign folder named like a skill: skipped, exit 1
    assert "conflict: pdf-forms" in conflict.stdout and "not written by sync" in conflict.stdout
