"""Tests for Agent Skills folders (SKILL.md) <-> Skill conversion."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from skillvault.errors import ImportFormatError, ValidationError
from skillvault.formats.skill_md import (
    read_skill_folder,
    read_skill_folders,
    split_body,
    write_skill_folder,
)
from skillvault.models import Chunk, Skill

# Written the way write_skill_folder writes front matter (yaml.safe_dump, standard order).
STANDARD = """\
---
name: pdf-processing
description: Extract text and tables from PDF files. Use when the user mentions PDFs.
license: Apache-2.0
allowed-tools: Bash(python:*) Read
metadata:
  author: example-org
  version: '1.0'
---
Intro text before any heading.

# PDF Processing

## Quick start

Run the script:

```bash
# this is a shell comment, not a heading
python scripts/extract.py in.pdf
```

## Quick start

Second section with the same heading.

### Edge cases
Encrypted files need a password.
#### Deep heading stays inside
"""

SCRIPT = b"#!/usr/bin/env python3\r\nprint('hello \xc3\xa9')\n\n"


def make_skill(tmp_path: Path, text: str, folder: str = "pdf-processing", files: dict | None = None) -> Path:
    skill_dir = tmp_path / folder
    skill_dir.mkdir(parents=True)
    (skill_dir / "SKILL.md").write_bytes(text.encode("utf-8"))
    for rel, data in (files or {}).items():
        target = skill_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return skill_dir


def comparable(skill: Skill) -> dict:
    data = skill.to_dict()
    data.pop("created_at")
    return data


# --------------------------------------------------------------------------- splitting


def test_heading_split_ignores_hash_lines_in_code_fences(tmp_path):
    skill = read_skill_folder(make_skill(tmp_path, STANDARD))
    sections = [c.section for c in skill.chunks]
    # "# PDF Processing" has no text of its own: it is merged into the next chunk.
    assert sections == ["Overview", "Quick start", "Quick start", "Edge cases"]
    quick = skill.chunks[1]
    assert quick.content.startswith("# PDF Processing\n\n## Quick start\n")
    assert "# this is a shell comment, not a heading" in quick.content
    assert "python scripts/extract.py in.pdf\n```" in quick.content
    assert skill.chunks[3].content == (
        "### Edge cases\nEncrypted files need a password.\n#### Deep heading stays inside"
    )


def test_overview_chunk_and_no_overview_when_blank(tmp_path):
    skill = read_skill_folder(make_skill(tmp_path, STANDARD))
    assert skill.chunks[0].section == "Overview"
    assert skill.chunks[0].content == "Intro text before any heading."
    assert skill.chunks[0].id == "pdf-processing::overview"

    other = make_skill(tmp_path, "---\nname: b\ndescription: d\n---\n\n\n## Only\ntext\n", folder="b")
    chunks = read_skill_folder(other).chunks
    assert [c.section for c in chunks] == ["Only"]
    assert chunks[0].content == "## Only\ntext"


def test_chunk_ids_unique_for_repeated_headings():
    body = "## Step\na\n## Step\nb\n## Step 2\nc\n## Step\nd\n"
    chunks = [c for c, _ in split_body(body, "s")]
    assert [c.id for c in chunks] == ["s::step", "s::step-2", "s::step-2-2", "s::step-3"]
    assert len({c.id for c in chunks}) == len(chunks)


def test_tilde_fence_and_longer_closing_fence():
    body = "~~~~\n# not a heading\n~~~\n# still not\n~~~~~\n# Real\nx\n"
    chunks = [c for c, _ in split_body(body, "s")]
    assert [c.section for c in chunks] == ["Overview", "Real"]
    assert "# still not" in chunks[0].content


def test_closing_hashes_stripped_from_heading_text():
    chunks = [c for c, _ in split_body("## Use C# ##\nbody\n", "s")]
    assert chunks[0].section == "Use C#"


# --------------------------------------------------------------------------- fields


def test_fields_and_metadata_kept(tmp_path):
    folder = make_skill(
        tmp_path,
        STANDARD.replace("license: Apache-2.0\n", "license: Apache-2.0\nx-custom:\n  - a\nreleased: 2024-01-02\n"),
        files={"scripts/extract.py": SCRIPT, "references/REF.md": "# Ref\n"},
    )
    skill = read_skill_folder(folder)
    assert (skill.id, skill.name, skill.source, skill.status) == (
        "pdf-processing", "pdf-processing", "imported", "canonical"
    )
    assert skill.description.startswith("Extract text and tables")
    agent = skill.metadata["agent_skill"]
    assert agent["license"] == "Apache-2.0"
    assert agent["allowed-tools"] == "Bash(python:*) Read"
    assert agent["metadata"] == {"author": "example-org", "version": "1.0"}
    assert agent["extra"] == {"x-custom": ["a"], "released": "2024-01-02"}  # date kept as text
    assert sorted(agent["files"]) == ["references/REF.md", "scripts/extract.py"]
    assert agent["files"]["scripts/extract.py"] == SCRIPT.decode("utf-8")
    assert agent["body"] == STANDARD.split("---\n", 2)[2]
    assert all(c.skill_id == "pdf-processing" for c in skill.chunks)


def test_name_differing_from_folder_is_accepted(tmp_path, caplog):
    folder = make_skill(tmp_path, STANDARD, folder="some-other-folder")
    skill = read_skill_folder(folder)
    assert skill.id == "pdf-processing"
    assert "differs from the folder name" in caplog.text


def test_binary_and_oversized_bundled_files(tmp_path, monkeypatch):
    from skillvault.formats import skill_md

    png = b"\x89PNG\r\n\x1a\n\x00\xff\xfe"
    monkeypatch.setattr(skill_md, "MAX_BUNDLED_FILE_BYTES", 50)
    folder = make_skill(tmp_path, STANDARD, files={"assets/logo.png": png, "assets/big.txt": "x" * 51,
                                                   ".git/config": "secret"})
    agent = read_skill_folder(folder).metadata["agent_skill"]
    assert agent["files"] == {"assets/logo.png": {"base64": base64.b64encode(png).decode()}}
    assert [o["path"] for o in agent["omitted_files"]] == ["assets/big.txt"]

    out = write_skill_folder(read_skill_folder(folder), tmp_path / "out")
    assert (out / "assets" / "logo.png").read_bytes() == png
    assert not (out / "assets" / "big.txt").exists()


# --------------------------------------------------------------------------- round trip


def test_round_trip_is_equal_and_byte_identical(tmp_path):
    original = make_skill(tmp_path / "in", STANDARD, files={"scripts/extract.py": SCRIPT})
    first = read_skill_folder(original)
    out = write_skill_folder(first, tmp_path / "out")
    assert out == tmp_path / "out" / "pdf-processing"
    assert (out / "SKILL.md").read_bytes() == (original / "SKILL.md").read_bytes()
    assert (out / "scripts" / "extract.py").read_bytes() == SCRIPT
    second = read_skill_folder(out)
    assert comparable(second) == comparable(first)


def test_round_trip_keeps_key_order_and_crlf(tmp_path):
    text = STANDARD.replace(
        "license: Apache-2.0\nallowed-tools: Bash(python:*) Read\n",
        "allowed-tools: Bash(python:*) Read\nlicense: Apache-2.0\n",
    ).replace("\n", "\r\n")
    original = make_skill(tmp_path / "in", text)
    out = write_skill_folder(read_skill_folder(original), tmp_path / "out")
    assert (out / "SKILL.md").read_bytes() == text.encode("utf-8")


def test_edited_chunks_rebuild_body(tmp_path):
    skill = read_skill_folder(make_skill(tmp_path / "in", STANDARD))
    skill.chunks[3].content = "### Edge cases\nNew advice."
    skill.chunks.append(Chunk(id="pdf-processing::tips", section="Tips", content="Be brief."))
    out = write_skill_folder(skill, tmp_path / "out")
    text = (out / "SKILL.md").read_text()
    assert "New advice." in text and "Encrypted files" not in text
    assert text.endswith("### Edge cases\nNew advice.\n\n## Tips\n\nBe brief.\n")
    again = read_skill_folder(out)
    assert [c.section for c in again.chunks] == ["Overview", "Quick start", "Quick start", "Edge cases", "Tips"]
    assert [c.content for c in again.chunks] == [c.content for c in skill.chunks[:4]] + ["## Tips\n\nBe brief."]


def test_write_manual_skill_without_agent_metadata(tmp_path):
    skill = Skill(id="deploy-app", name="Deploy", description="How to deploy.",
                  chunks=[Chunk(id="deploy-app::steps", section="Steps", content="1. build\n2. ship")])
    out = write_skill_folder(skill, tmp_path)
    assert (out / "SKILL.md").read_text() == (
        "---\nname: deploy-app\ndescription: How to deploy.\n---\n## Steps\n\n1. build\n2. ship\n"
    )
    back = read_skill_folder(out)
    assert back.id == "deploy-app" and back.chunks[0].section == "Steps"


# --------------------------------------------------------------------------- errors


def error_for(tmp_path: Path, text: str) -> ImportFormatError:
    folder = make_skill(tmp_path, text, folder="bad")
    with pytest.raises(ImportFormatError) as info:
        read_skill_folder(folder)
    return info.value


def assert_names(exc: ImportFormatError, tmp_path: Path, line: int, words: str) -> None:
    message = str(exc)
    assert message.startswith(f"{tmp_path / 'bad' / 'SKILL.md'}:{line}: "), message
    assert words in message, message
    assert exc.line == line


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("no front matter\n# Title\n", 1, "must start with a '---'"),
        ("---\nname: bad\ndescription: d\n# Title\n", 1, "never closed"),
        ("---\nname: bad\ndescription: [unclosed\nlicense: x\n---\nbody\n", 4, "not valid YAML"),
        ("---\nname: bad\n  oops: indent\n---\nbody\n", 3, "not valid YAML"),
        ("---\nname: 42\ndescription: d\n---\nbody\n", 2, "must be a string"),
        ("---\nname: bad\ndescription:\n  - a\n---\nbody\n", 3, "must be a string"),
        ("---\nname: has space\ndescription: d\n---\nbody\n", 2, "'has-space'"),
        ("---\nname: bad\nname: again\ndescription: d\n---\nbody\n", 3, "appears twice"),
        ("---\n- a list\n---\nbody\n", 2, "must be a YAML mapping"),
        ("---\nname: bad\ndescription: d\nmetadata: text\n---\nbody\n", 4, "'metadata' must be a mapping"),
        ("---\nname: bad\ndescription: d\n---\n\n   \n", 5, "no text"),
    ],
)
def test_errors_name_file_and_line(tmp_path, text, line, words):
    assert_names(error_for(tmp_path, text), tmp_path, line, words)


@pytest.mark.parametrize(
    "text, line, code, words",
    [
        ("---\ndescription: d\n---\nbody\n", 1, "name-missing", "using the folder name 'bad'"),
        ("---\n---\nbody\n", 1, "name-missing", "no 'name'"),
        ("---\nname: bad\n---\nbody\n", 1, "description-missing", "no 'description'"),
        ("---\nname: bad\ndescription: '  '\n---\nbody\n", 3, "description-missing", "no 'description'"),
        ("---\nname: bad\ndescription: " + "x" * 1025 + "\n---\nbody\n", 3, "description-too-long",
         "1025 characters; the spec advises at most 1024"),
        ("---\nname: Bad_Name\ndescription: d\n---\nbody\n", 2, "name-format", "'bad-name'"),
        ("---\nname: bad\ndescription: d\ncompatibility: " + "c" * 501 + "\n---\nbody\n", 4,
         "compatibility-too-long", "501"),
        ("---\nname: bad\ndescription: d\n---\n# T\n\nSee [the guide](references/guide.md).\n", 7,
         "broken-reference", "'references/guide.md'"),
    ],
)
def test_spec_advice_is_a_warning_with_file_and_line(tmp_path, caplog, text, line, code, words):
    from skillvault.formats.skill_md import read_skill_folder_findings

    folder = make_skill(tmp_path, text, folder="bad")
    skill, findings = read_skill_folder_findings(folder)
    assert skill.id in ("bad", "Bad_Name")
    [finding] = [f for f in findings if f.code == code]
    assert finding.severity == "warning" and finding.line == line and words in finding.message, finding
    assert finding.file == str(folder / "SKILL.md")
    read_skill_folder(folder)  # the plain reader logs the same findings
    assert code in caplog.text


def test_links_to_bundled_files_are_not_findings(tmp_path):
    from skillvault.formats.skill_md import read_skill_folder_findings

    text = ("---\nname: ok\ndescription: d\n---\n# T\n\nSee [guide](./references/guide.md#part), "
            "[site](https://example.com/x.md), [up](#t), ![img](assets/logo.png \"Logo\")\n\n"
            "```\n[not a link](nowhere.md)\n```\n")
    folder = make_skill(tmp_path, text, folder="ok", files={"references/guide.md": "g", "assets/logo.png": b"\x89"})
    _skill, findings = read_skill_folder_findings(folder)
    assert findings == []


def test_missing_skill_md(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportFormatError, match=re.escape(str(tmp_path / "empty" / "SKILL.md")) + ":1: "):
        read_skill_folder(tmp_path / "empty")


def test_non_utf8_skill_md(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "SKILL.md").write_bytes(b"---\nname: bad\ndescription: caf\xe9\n---\nbody\n")
    with pytest.raises(ImportFormatError, match=r"SKILL\.md:3: is not UTF-8"):
        read_skill_folder(folder)


# --------------------------------------------------------------------------- path escape


@pytest.mark.parametrize("bad", ["../evil.py", "scripts/../../evil.py", "/tmp/evil.py", "a\\..\\b", "SKILL.md"])
def test_write_refuses_paths_escaping_the_folder(tmp_path, bad):
    skill = read_skill_folder(make_skill(tmp_path / "in", STANDARD))
    skill.metadata["agent_skill"]["files"] = {"scripts/ok.py": "ok", bad: "pwned"}
    with pytest.raises(ImportFormatError, match="escapes|overwrite"):
        write_skill_folder(skill, tmp_path / "out")
    # Nothing was written: the check runs before any file is created.
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.py").exists()


def test_write_warns_about_description_over_spec_limit_and_reads_it_back(tmp_path, caplog):
    # One validator: what `add` and `register` accept, export writes and import reads back.
    skill = Skill(id="x", description="d" * 2000, chunks=[Chunk(id="x::a", content="a")])
    out = write_skill_folder(skill, tmp_path)
    assert "description-too-long" in caplog.text
    assert read_skill_folder(out).description == "d" * 2000


def test_write_invents_no_description_and_names_folders_validly(tmp_path, caplog):
    from skillvault.formats.skill_md import read_skill_folder_findings

    skill = Skill(id="draft::My_Notes", name="My notes", chunks=[Chunk(id="draft::My_Notes::a", content="a")])
    out = write_skill_folder(skill, tmp_path)
    assert out == tmp_path / "draft-my-notes"
    assert (out / "SKILL.md").read_text() == "---\nname: draft-my-notes\n---\n## Section\n\na\n"
    assert "name-format" in caplog.text and "description-missing" in caplog.text
    back, findings = read_skill_folder_findings(out)
    assert (back.id, back.description) == ("draft-my-notes", "")
    assert [f.code for f in findings] == ["description-missing"]


# --------------------------------------------------------------------------- many folders


def test_many_folders_read_sorted(tmp_path):
    root = tmp_path / "lib"
    for name in ["zeta", "alpha", "mid-one"]:
        make_skill(root, f"---\nname: {name}\ndescription: about {name}\n---\n# {name}\ntext\n", folder=name)
    (root / "not-a-skill").mkdir()
    (root / "README.md").write_text("hi")
    skills = read_skill_folders(root)
    assert [s.id for s in skills] == ["alpha", "mid-one", "zeta"]
    # A skill folder itself is read as one skill.
    assert [s.id for s in read_skill_folders(root / "zeta")] == ["zeta"]


def test_one_bad_folder_fails_the_whole_read(tmp_path):
    root = tmp_path / "lib"
    make_skill(root, "---\nname: good\ndescription: d\n---\nbody\n", folder="good")
    make_skill(root, "---\nname: worse\ndescription: [a]\n---\nbody\n", folder="worse")
    with pytest.raises(ImportFormatError, match=r"worse.SKILL\.md:3: .*'description'"):
        read_skill_folders(root)


def test_scan_reads_every_good_folder_and_reports_the_bad_ones(tmp_path):
    from skillvault.formats.skill_md import scan_skill_folders

    root = tmp_path / "lib"
    make_skill(root, "---\nname: good\ndescription: d\n---\nbody\n", folder="good")
    make_skill(root, "---\nname: worse\ndescription: [a]\n---\nbody\n", folder="worse")
    make_skill(root, "---\nname: good\ndescription: again\n---\nbody\n", folder="zz-copy")
    make_skill(root, "---\nname: long\ndescription: " + "x" * 1500 + "\n---\nbody\n", folder="long")
    scan = scan_skill_folders(root)
    assert [s.id for s, _ in scan.skills] == ["good", "long"]
    assert [f.code for f in scan.skills[1][1]] == ["description-too-long"]
    assert [(Path(e.file).parent.name, e.line, e.code) for e in scan.errors] == [
        ("worse", 3, "unreadable"), ("zz-copy", 1, "duplicate-name")]
    assert "must be a string" in scan.errors[0].message


def test_duplicate_names_across_folders_and_empty_dir(tmp_path):
    root = tmp_path / "lib"
    make_skill(root, "---\nname: same\ndescription: d\n---\nbody\n", folder="a")
    make_skill(root, "---\nname: same\ndescription: d\n---\nbody\n", folder="b")
    with pytest.raises(ImportFormatError, match="also used by"):
        read_skill_folders(root)
    (tmp_path / "none").mkdir()
    with pytest.raises(ImportFormatError, match="holds no SKILL.md"):
        read_skill_folders(tmp_path / "none")


# --------------------------------------------------------------------------- single markdown files


def test_markdown_file_without_front_matter(tmp_path):
    from skillvault.formats.skill_md import read_skill_markdown

    path = tmp_path / "React Hooks.md"
    path.write_text("# React hooks\n\nIntro text.\n\n## useEffect\n\nClean up effects.\n")
    skill = read_skill_markdown(path)
    assert (skill.id, skill.name, skill.source, skill.status) == ("react-hooks", "React hooks", "manual", "canonical")
    assert [c.section for c in skill.chunks] == ["React hooks", "useEffect"]
    assert skill.metadata == {} and skill.description == ""
    assert read_skill_markdown(path, skill_id="hooks", source="imported").id == "hooks"


def test_markdown_file_with_front_matter_round_trips(tmp_path):
    from skillvault.formats.skill_md import read_skill_markdown, write_skill_folder

    text = "---\nname: pdf-tools\ndescription: Work with PDFs.\nlicense: MIT\n---\n# PDF\n\nUse pypdf.\n"
    path = tmp_path / "anything.md"
    path.write_text(text)
    skill = read_skill_markdown(path)
    assert (skill.id, skill.name, skill.description) == ("pdf-tools", "pdf-tools", "Work with PDFs.")
    assert skill.metadata["agent_skill"]["license"] == "MIT"
    out = write_skill_folder(skill, tmp_path / "out")
    assert (out / "SKILL.md").read_text() == text


def test_skill_md_without_front_matter_takes_folder_name(tmp_path):
    from skillvault.formats.skill_md import read_skill_markdown

    folder = tmp_path / "git-tips"
    folder.mkdir()
    (folder / "SKILL.md").write_text("Rebase before merging.\n")
    skill = read_skill_markdown(folder / "SKILL.md")
    assert skill.id == "git-tips" and skill.chunks[0].section == "Overview"


@pytest.mark.parametrize("text, line, words", [
    ("---\nname: x\nname: y\n---\nBody\n", 3, "twice"),
    ("---\nname: [a\n---\nBody\n", 3, "not valid YAML"),
    ("---\nname: ok\n---\n\n\n", 4, "no text"),
    ("---\nname: 5\n---\nBody\n", 2, "must be a string"),
    ("---\nname: has space\n---\nBody\n", 2, "not allowed"),
    ("---\nname: ok\nmetadata: [1]\n---\nBody\n", 3, "mapping"),
    ("---\nname: ok\n", 1, "never closed"),
])
def test_markdown_file_errors_name_file_and_line(tmp_path, text, line, words):
    from skillvault.formats.skill_md import read_skill_markdown

    path = tmp_path / "bad.md"
    path.write_text(text)
    with pytest.raises(ImportFormatError) as info:
        read_skill_markdown(path)
    assert str(info.value).startswith(f"{path}:{line}: ") and words in str(info.value)


def test_markdown_file_missing(tmp_path):
    from skillvault.formats.skill_md import read_skill_markdown

    with pytest.raises(ImportFormatError, match="no such file"):
        read_skill_markdown(tmp_path / "none.md")


def test_skill_markdown_body_matches_what_is_written(tmp_path):
    from skillvault.formats.skill_md import skill_markdown_body, write_skill_folder

    skill = Skill(id="notes", chunks=[Chunk(id="notes::a", section="Overview", content="Intro."),
                                      Chunk(id="notes::b", section="Steps", content="Do it.")])
    body = skill_markdown_body(skill)
    assert body == "Intro.\n\n## Steps\n\nDo it.\n"
    assert (write_skill_folder(skill, tmp_path) / "SKILL.md").read_text().endswith("---\n" + body)
