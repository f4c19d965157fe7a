"""Hostile import files: YAML alias bombs, oversized or deeply nested documents, symbolic
links and bundled file names that leave the import root (issue 10, items 9 and 12)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from skillvault.errors import ImportFormatError, ValidationError
from skillvault.formats.skill_md import read_skill_folder, write_skill_folder
from skillvault.models import Chunk, Skill

from digest import table_digest

BODY = "# Title\n\nSome instructions.\n"


def skill_folder(parent: Path, name: str, front: str, body: str = BODY) -> Path:
    folder = parent / name
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: d\n{front}---\n{body}")
    return folder


def alias_bomb(levels: int, width: int = 9) -> str:
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- YAML front matter


def test_yaml_alias_bomb_is_refused_quickly_and_imports_nothing(sm, tmp_path):
    bomb = alias_bomb(8)
    assert len(bomb) <= 450  # 9**8 = 43 million strings once expanded
    folder = skill_folder(tmp_path / "lib", "bomb", bomb)
    sm.register(Skill(id="keep", chunks=[Chunk(id="keep::a", content="kept text")]))
    before = table_digest(sm.store.conn)
    started = time.perf_counter()
    with pytest.raises(ImportFormatError, match=r"SKILL\.md:5: .*alias") as info:
        sm.import_(tmp_path / "lib")
    assert time.perf_counter() - started < 2
    assert str(folder / "SKILL.md") in str(info.value)
    assert table_digest(sm.store.conn) == before


def test_even_a_small_alias_is_refused(tmp_path):
    folder = skill_folder(tmp_path, "small", "base: &b {x: 1}\ncopy: *b\n")
    with pytest.raises(ImportFormatError, match=r"SKILL\.md:5: .*alias.*write the value out"):
        read_skill_folder(folder)


def test_merge_keys_need_aliases_and_are_refused(tmp_path):
    folder = skill_folder(tmp_path, "merge", "base: &b {x: 1}\nmerged:\n  <<: *b\n")
    with pytest.raises(ImportFormatError, match="alias"):
        read_skill_folder(folder)


def test_anchor_without_alias_is_harmless(tmp_path):
    folder = skill_folder(tmp_path, "anchor", "tags: &t [a, b]\n")
    assert read_skill_folder(folder).metadata["agent_skill"]["extra"] == {"tags": ["a", "b"]}


def test_front_matter_over_the_byte_limit(tmp_path):
    folder = skill_folder(tmp_path, "big", "notes: '" + "x" * 70_000 + "'\n")
    with pytest.raises(ImportFormatError, match=r"SKILL\.md:1: front matter is \d+ bytes; the limit is 65536"):
        read_skill_folder(folder)


@pytest.mark.parametrize("nested", ["[" * 3000 + "]" * 3000, "{a: " * 3000 + "1" + "}" * 3000])
def test_deep_front_matter_nesting_is_an_import_error(tmp_path, nested):
    folder = skill_folder(tmp_path, "deep", f"x: {nested}\n")
    with pytest.raises(ImportFormatError, match=r"SKILL\.md:4: .*nests deeper than 20 levels"):
        read_skill_folder(folder)


def test_front_matter_nesting_up_to_the_limit_is_read(tmp_path):
    folder = skill_folder(tmp_path, "ok", "x: " + "[" * 19 + "1" + "]" * 19 + "\n")
    value = read_skill_folder(folder).metadata["agent_skill"]["extra"]["x"]
    for _ in range(19):
        value = value[0]
    assert value == 1


def test_front_matter_number_too_long_for_python(tmp_path):
    folder = skill_folder(tmp_path, "num", "n: 1" + "0" * 5000 + "\n")
    with pytest.raises(ImportFormatError, match=r"SKILL\.md:\d+: .*cannot be read"):
        read_skill_folder(folder)


# --------------------------------------------------------------------------- JSON import


def one_skill(**fields) -> dict:
    return {"id": "s", "chunks": [{"id": "s::a", "content": "text"}], **fields}


def test_json_file_over_the_size_limit(sm, tmp_path, monkeypatch):
    from skillvault.formats import json_format

    monkeypatch.setattr(json_format, "MAX_JSON_FILE_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(one_skill(description="x" * 2000)))
    with pytest.raises(ImportFormatError, match=r"big\.json: is \d+ bytes; the limit is 1000"):
        sm.import_(path)
    assert sm.list() == []


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_deep_json_nesting_is_an_import_error_naming_the_file(sm, tmp_path, depth):
    path = tmp_path / "deep.json"
    path.write_text('{"id": "s", "metadata": {"x": ' + "[" * depth + "]" * depth + "}}")
    with pytest.raises(ImportFormatError, match=r"deep\.json: .*nest") as info:
        sm.import_(path)
    assert "recursion" not in str(info.value)
    assert sm.list() == []


def test_json_metadata_nesting_over_the_limit(sm, tmp_path):
    path = tmp_path / "nest.json"
    path.write_text(json.dumps(one_skill(metadata={"x": json.loads("[" * 40 + "]" * 40)})))
    with pytest.raises(ImportFormatError, match=r"nest\.json: skills\[0\]\.metadata: is nested more than 32 levels"):
        sm.import_(path)


def test_json_metadata_over_the_size_limit(sm, tmp_path, monkeypatch):
    from skillvault import models

    monkeypatch.setattr(models, "MAX_METADATA_CHARS", 5_000)
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(one_skill(metadata={"blob": "x" * 6_000})))
    with pytest.raises(ImportFormatError, match=r"meta\.json: skills\[0\]\.metadata: is larger than 5000 characters"):
        sm.import_(path)
    assert sm.list() == []


@pytest.mark.parametrize("number", ["1" + "0" * 5000, "1e999", "-1e999", "NaN"])
def test_json_numbers_python_cannot_hold(sm, tmp_path, number):
    path = tmp_path / "num.json"
    path.write_text('{"id": "s", "chunks": [{"id": "s::a", "content": "t"}], "metadata": {"n": ' + number + "}}")
    with pytest.raises(ImportFormatError, match=r"num\.json: "):
        sm.import_(path)
    assert sm.list() == []


# --------------------------------------------------------------------------- symbolic links

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")


@needs_symlinks
def test_symlinked_skill_md_pointing_outside_is_refused(sm, tmp_path):
    outside = tmp_path / "private.md"
    outside.write_text("---\nname: leak\ndescription: d\n---\n# Private\n\nsecret notes\n")
    folder = tmp_path / "root" / "leak"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").symlink_to(outside)
    with pytest.raises(ImportFormatError, match=r"SKILL\.md:1: is a symbolic link"):
        sm.import_(folder)
    with pytest.raises(ImportFormatError, match=r"SKILL\.md:1: is a symbolic link"):
        sm.import_(tmp_path / "root")
    assert sm.list() == []


@needs_symlinks
def test_symlinked_skill_folder_is_skipped_with_a_warning(sm, tmp_path, caplog):
    private = skill_folder(tmp_path / "private", "hidden", "", body="# Hidden\n\nsecret notes\n")
    (private / "id_rsa").write_text("PRIVATE")
    root = tmp_path / "root"
    skill_folder(root, "public", "")
    (root / "linked").symlink_to(private, target_is_directory=True)
    assert sm.import_(root) == "public"
    assert "linked" in caplog.text and "symbolic link" in caplog.text
    assert [s.id for s in sm.list()] == ["public"]


@needs_symlinks
def test_symlinked_bundled_files_and_folders_are_not_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    outside_dir = tmp_path / "outside"
    outside_dir.mkdir()
    (outside_dir / "key.pem").write_text("KEY")
    folder = skill_folder(tmp_path / "root", "links", "")
    (folder / "scripts").mkdir()
    (folder / "scripts" / "run.sh").write_text("echo ok\n")
    (folder / "scripts" / "leak.txt").symlink_to(secret)
    (folder / "refs").symlink_to(outside_dir, target_is_directory=True)
    agent = read_skill_folder(folder).metadata["agent_skill"]
    assert agent["files"] == {"scripts/run.sh": "echo ok\n"}
    omitted = {o["path"]: o["reason"] for o in agent["omitted_files"]}
    assert set(omitted) == {"refs", "scripts/leak.txt"}
    assert all("symbolic link" in reason for reason in omitted.values())
    assert "TOP SECRET" not in json.dumps(agent)


@needs_symlinks
def test_symlinked_root_itself_is_the_users_choice(sm, tmp_path):
    real = skill_folder(tmp_path / "real", "mine", "")
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    assert sm.import_(tmp_path / "alias") == "mine"


# --------------------------------------------------------------------------- bundled file names

BAD_NAMES = [
    "../../x", "../x", "a/../../x", "/etc/passwd", "C:/Windows/x", "C:x", "a\\..\\b", "..\\x",
    "a//b", "./a", "a/./b", "a/", "", "nul\x00byte", "line\nbreak", "SKILL.md", "skill.MD",
    "x" * 1001, "a:stream", "\ud800.txt",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_json_import_refuses_bad_bundled_file_names(sm, tmp_path, name):
    skill = one_skill(metadata={"agent_skill": {"files": {"ok.txt": "fine", name: "pwned"}}})
    path = tmp_path / "files.json"
    path.write_text(json.dumps(skill))
    with pytest.raises(ImportFormatError, match=r"files\.json: skills\[0\]\.metadata\['agent_skill'\]\['files'\]"):
        sm.import_(path)
    assert sm.list() == []


@pytest.mark.parametrize("name", BAD_NAMES)
def test_register_and_export_agree_with_import_on_names(sm, tmp_path, name):
    skill = Skill(id="s", chunks=[Chunk(id="s::a", content="t")],
                  metadata={"agent_skill": {"files": {name: "pwned"}}})
    with pytest.raises(ValidationError, match=r"files"):
        skill.validate()
    with pytest.raises(ImportFormatError, match="escapes|overwrite|characters|control|Unicode|non-empty"):
        write_skill_folder(skill, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "files, message",
    [
        ({"a": "x", "a/b": "y"}, "also a file"),
        ({"a.bin": {"base64": "not base64!"}}, "invalid base64"),
        ({"a.bin": {"base64": "QQ==", "extra": 1}}, "must be a string or"),
        ({"a.txt": 12}, "must be a string or"),
        ({f"f{i}": "" for i in range(1001)}, "1001 files; the limit is 1000"),
        ({"big": "x" * 1_000_001}, "1000001 bytes; the limit is 1000000"),
        ({f"f{i}": "x" * 900_000 for i in range(12)}, "in all; the limit is 10000000"),
        ("not a map", "must be a mapping"),
    ],
)
def test_json_import_bounds_bundled_files(sm, tmp_path, files, message):
    path = tmp_path / "files.json"
    path.write_text(json.dumps(one_skill(metadata={"agent_skill": {"files": files}})))
    with pytest.raises(ImportFormatError, match=re.escape(message)):
        sm.import_(path)
    assert sm.list() == []


def test_good_bundled_names_round_trip_through_json_and_folders(sm, tmp_path):
    files = {"scripts/run.sh": "echo hi\n", "assets/日本.txt": "ok", "a b/c-d_e.f": "sp",
             "bin/x.bin": {"base64": "AAEC"}}
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(one_skill(metadata={"agent_skill": {"files": files}})))
    sm.import_(path)
    out = sm.export("s", tmp_path / "out")
    assert (out / "bin" / "x.bin").read_bytes() == b"\x00\x01\x02"
    assert (out / "assets" / "日本.txt").read_text() == "ok"


def test_skill_folder_with_unportable_file_names_omits_them(tmp_path):
    folder = skill_folder(tmp_path, "odd", "")
    (folder / "notes:v1.md").write_text("colon")
    (folder / "back\\slash").write_text("bs")
    (folder / "good.md").write_text("good")
    agent = read_skill_folder(folder).metadata["agent_skill"]
    assert agent["files"] == {"good.md": "good"}
    assert sorted(o["path"] for o in agent["omitted_files"]) == ["back\\slash", "notes:v1.md"]


def test_skill_folder_with_too_many_files_keeps_the_first_ones(tmp_path, monkeypatch):
    from skillvault.formats import skill_md

    monkeypatch.setattr(skill_md, "MAX_BUNDLED_FILES", 3)
    folder = skill_folder(tmp_path, "many", "")
    for i in range(6):
        (folder / f"f{i}.txt").write_text(str(i))
    agent = read_skill_folder(folder).metadata["agent_skill"]
    assert sorted(agent["files"]) == ["f0.txt", "f1.txt", "f2.txt"]
    assert [o["path"] for o in agent["omitted_files"]] == ["f3.txt", "f4.txt", "f5.txt"]


def test_skill_folder_nested_too_deep_omits_the_deep_part(tmp_path):
    folder = skill_folder(tmp_path, "deepdirs", "")
    deep = folder.joinpath(*["d"] * 20)
    deep.mkdir(parents=True)
    (deep / "f.txt").write_text("deep")
    (folder / "d" / "top.txt").write_text("top")
    agent = read_skill_folder(folder).metadata["agent_skill"]
    assert agent["files"] == {"d/top.txt": "top"}
    assert any("deeper than" in o["reason"] for o in agent["omitted_files"])


@needs_symlinks
def test_export_does_not_write_through_links_in_the_output_folder(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    skill = Skill(id="s", chunks=[Chunk(id="s::a", content="t")],
                  metadata={"agent_skill": {"files": {"scripts/run.sh": "echo"}}})
    for link in ("SKILL.md", "scripts"):
        out = tmp_path / f"out-{link}" / "s"
        out.mkdir(parents=True)
        (out / link).symlink_to(outside if link == "SKILL.md" else tmp_path, target_is_directory=link == "scripts")
        with pytest.raises(ImportFormatError, match="outside the skill folder through a symbolic link"):
            write_skill_folder(skill, out.parent)
    assert outside.read_text() == "keep me"
    assert not (tmp_path / "run.sh").exists()


def test_null_values_in_metadata_and_front_matter_are_kept(tmp_path):
    """JSON null / YAML ~ is JSON data (a regression of the strict metadata check)."""
    skill = Skill(id="n", chunks=[Chunk(id="n::a", content="t")], metadata={"k": None, "l": [None]}).validate()
    assert skill.metadata == {"k": None, "l": [None]}
    folder = skill_folder(tmp_path, "nul", "license: ~\n")
    assert read_skill_folder(folder).metadata["agent_skill"]["license"] is None


def test_lone_surrogates_in_a_json_file_are_an_import_error(sm, tmp_path):
    path = tmp_path / "sur.json"
    path.write_text('{"id": "s", "description": "bad \\udc00 text", "chunks": [{"id": "s::a", "content": "t"}]}')
    with pytest.raises(ImportFormatError, match=r"sur\.json: skills\[0\]\.description: holds a lone surrogate"):
        sm.import_(path)
    assert sm.list() == []


@pytest.mark.parametrize(
    "front, message",
    [
        ('license: "MIT \\ud800"\n', "lone surrogate"),
        ("blob: !!binary aGVsbG8=\n", "got bytes"),
        ("n: .inf\n", "not a JSON number"),
        ("n: 0x" + "f" * 40 + "\n", "outside the 64-bit integer range"),
        ("m: {1: a}\n", "keys must be strings"),
    ],
)
def test_front_matter_values_that_are_not_plain_data_name_their_line(tmp_path, front, message):
    folder = skill_folder(tmp_path, "plain", front)
    with pytest.raises(ImportFormatError, match=r"SKILL\.md:4: front matter.*" + message):
        read_skill_folder(folder)


def test_control_character_in_front_matter_names_its_line(tmp_path):
    folder = skill_folder(tmp_path, "ctl", "license: a\x1fb\n")  # found by test_properties_files
    with pytest.raises(ImportFormatError, match=r"SKILL\.md:4: front matter is not valid YAML \(character 0x001f"):
        read_skill_folder(folder)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_json_import_refuses_a_fifo_instead_of_blocking(sm, tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(ImportFormatError, match=r"pipe\.json: is not a regular file"):
        sm.import_(fifo)
