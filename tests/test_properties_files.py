"""Property tests: hostile import files give success or a SkillVaultError, never a crash,
and a failed import leaves the database exactly as it was.

Two families, each 1,000 generated cases against one database for the whole module:

* JSON files: skill documents with random and wrong-typed field values, deep nesting,
  huge numbers, NaN, lone surrogates, odd bundled file names, then the text mangled
  (cut short, made invalid UTF-8, nesting spliced in);
* SKILL.md folders: front matter with random keys and values, YAML aliases and anchors,
  tags, tabs, unicode; bodies with headings and fences; odd bundled files and links.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skillvault import SkillManager
from skillvault.errors import SkillVaultError

from conftest import word_vector
from digest import table_digest

CASES = settings(
    max_examples=1000,
    deadline=None,
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# What a symlink out of the skill folder points at; generated text cannot contain it by chance
# (an earlier marker, "private", came back in a generated license value "private_key").
OUTSIDE_TEXT = "outside-the-folder-3f9c2a71"


def small_vector(text: str) -> list[float]:
    return word_vector(text, 32)


class Library:
    """The module's database, with a digest of every row that is recomputed only when an
    import succeeded (a failed one must leave it unchanged)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.sm = SkillManager(str(folder / "props.db"), embed_fn=small_vector)
        self.state = self.digest()
        self.outcomes = {family: {"imported": 0, "refused": 0} for family in ("json", "skill_md")}

    def digest(self) -> str:
        return table_digest(self.sm.store.conn)

    def check_import(self, path: Path, family: str) -> None:
        try:
            self.sm.import_(path)
        except SkillVaultError:
            self.outcomes[family]["refused"] += 1
            assert self.digest() == self.state, "a failed import changed the database"
        else:
            self.outcomes[family]["imported"] += 1
            self.state = self.digest()


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    lib = Library(tmp_path_factory.mktemp("props"))
    yield lib
    lib.sm.close()


# --------------------------------------------------------------------------- building blocks

#: True about one time in 30 (hypothesis draws small integers far more often than others).
RARELY = st.sampled_from([False] * 29 + [True])
SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
PLAIN = st.text(st.one_of(st.characters(), st.sampled_from("\x00\t\r\n\u2028\ufeff#-:/\\\"'")), max_size=30)



@st.composite
def texts(draw) -> str:
    """Text of any characters; one in 40 holds a lone surrogate."""
    text = draw(PLAIN)
    if draw(RARELY):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(SURROGATES) + text[cut:]
    return text


TEXT = texts()
HUGE_INTS = st.one_of(st.integers(min_value=2**63 - 2, max_value=2**63 + 2),
                      st.integers(min_value=-2**300, max_value=2**300))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), HUGE_INTS, st.floats(), TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
GOOD_IDS = st.sampled_from(["alpha", "beta", "gamma-1", "delta.x", "e:f@g+h"])
BAD_IDS = st.one_of(st.sampled_from(["x" * 201, "../etc", "", " ", "a b", "a/b", "draft::x"]), TEXT)
HOSTILE = st.one_of(JSON_VALUES, BAD_IDS, HUGE_INTS, st.floats(), SURROGATES)


def sometimes_bad(good):
    """Mostly a good value, sometimes anything at all."""
    return st.one_of(good, good, good, JSON_VALUES)


WEIRD_NAMES = st.one_of(
    st.sampled_from(["scripts/run.sh", "references/REF.md", "assets/logo.png", "a b/c-d_e.f"]),
    st.sampled_from([
        "scripts/run.sh", "a/b/c.txt", "../../x", "../x", "/etc/passwd", "C:/x", "C:x", "a\\..\\b",
        "a//b", "./a", "a/./b", "a/", "", "nul\x00", "line\nbreak", "SKILL.md", "skill.md",
        "a:stream", "\ud800.txt", "x" * 1001, "a", "a/b", "日本/語.md", " ", "...", ".hidden",
    ]),
    TEXT,
)
FILE_CONTENTS = st.one_of(
    TEXT,
    st.fixed_dictionaries({"base64": st.one_of(st.sampled_from(["AAEC", "QQ==", "not base64!", ""]), TEXT)}),
    JSON_VALUES,
)
METADATA = st.one_of(
    st.fixed_dictionaries({}, optional={
        "agent_skill": st.fixed_dictionaries({}, optional={
            "files": st.one_of(st.dictionaries(WEIRD_NAMES, FILE_CONTENTS, max_size=4), JSON_VALUES),
            "body": TEXT, "body_sha256": TEXT, "key_order": JSON_VALUES, "newline": TEXT,
            "extra": JSON_VALUES, "omitted_files": JSON_VALUES,
        }),
        "note": JSON_VALUES,
        "deep": st.just("@@DEEP@@"),
    }),
    st.dictionaries(TEXT, JSON_VALUES, max_size=3),
)
CHUNK_FIELDS = ["id", "skill_id", "section", "content", "tokens", "priority", "required", "dependencies"]
SKILL_FIELDS = ["id", "name", "chunks", "source", "status", "confidence", "extracted_from", "created_at",
                "description", "tags", "version", "revises", "metadata", "flags"]


@st.composite
def skills(draw) -> dict:
    """A valid skill, then a few fields replaced by hostile values or deleted."""
    skill_id = draw(GOOD_IDS)
    chunks = [
        {"id": f"{skill_id}::{i}", "section": draw(TEXT), "content": draw(st.text(min_size=1, max_size=60)),
         "tokens": draw(st.none() | st.integers(0, 50)), "priority": draw(st.integers(-3, 3)),
         "required": draw(st.booleans()), "dependencies": []}
        for i in range(draw(st.integers(1, 3)))
    ]
    skill = {
        "id": skill_id, "name": draw(TEXT), "chunks": chunks,
        "source": draw(st.sampled_from(["manual", "imported", "canonical", "draft"])),
        "status": draw(st.sampled_from(["canonical", "active", "archived", "draft"])),
        "confidence": draw(st.floats(0, 1)), "extracted_from": draw(TEXT),
        "created_at": draw(st.sampled_from([None, "2026-04-01T10:00:00", "2026-04-01T10:00:00+02:00"])),
        "description": draw(TEXT), "tags": draw(st.lists(TEXT, max_size=3)), "version": draw(st.integers(1, 3)),
        "metadata": draw(METADATA), "flags": draw(st.lists(TEXT, max_size=2)),
    }
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
        target = skill if draw(st.booleans()) else draw(st.sampled_from(chunks))
        field = draw(st.sampled_from(SKILL_FIELDS if target is skill else CHUNK_FIELDS))
        if draw(st.integers(0, 4)):
            target[field] = draw(HOSTILE)
        else:
            target.pop(field, None)
    return skill


SKILLS = skills()
DOCUMENTS = st.one_of(
    SKILLS,
    SKILLS,
    st.lists(SKILLS, min_size=1, max_size=3),
    st.fixed_dictionaries({"skillvault": sometimes_bad(st.just(1)),
                           "skills": sometimes_bad(st.lists(SKILLS, min_size=1, max_size=3))}),
    JSON_VALUES,
)


# --------------------------------------------------------------------------- JSON import files


@st.composite
def json_files(draw) -> bytes:
    document = draw(DOCUMENTS)
    text = json.dumps(document, ensure_ascii=draw(st.sampled_from([True, True, True, False])), allow_nan=True)
    depth = draw(st.sampled_from([1, 30, 45, 70, 900, 5000, 100_000]))
    text = text.replace('"@@DEEP@@"', "[" * depth + "]" * depth)
    mangle = draw(st.sampled_from(["none"] * 12 + ["cut", "huge-number", "bom", "latin1", "nesting", "nan"]))
    if mangle == "cut":
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    elif mangle == "huge-number":
        text = text.replace("1", "1" * draw(st.sampled_from([20, 400, 4301, 20_000])), 1)
    elif mangle == "bom":
        text = "\ufeff" + text
    elif mangle == "nesting":
        depth = draw(st.integers(1, 3000))
        text = "[" * depth + text + "]" * depth
    elif mangle == "nan":
        text = text.replace("0", draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"])), 1)
    data = text.encode("utf-8", "surrogatepass")
    if mangle == "latin1":
        data = text.encode("latin-1", "replace")
    return data


@CASES
@given(data=json_files())
def test_json_import_files_succeed_or_fail_cleanly(library, data):
    path = library.folder / "in.json"
    path.write_bytes(data)
    library.check_import(path, "json")


# --------------------------------------------------------------------------- SKILL.md folders

YAML_KEYS = st.one_of(
    st.sampled_from(["name", "description", "license", "compatibility", "allowed-tools", "metadata",
                     "version", "tags", "<<", "? complex", "- item", "name", "true", "1", "~"]),
    st.text(st.characters(blacklist_characters="\n\r"), max_size=10),
)
YAML_VALUES = st.one_of(
    st.sampled_from([
        "&a x", "*a", "&a [1, 2]", "[*a, *a]", "!!binary aGVsbG8=", "!!python/object:os.system",
        "1e999", ".nan", "-.inf", "0x1F", "0o17", "190:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
        "~", "yes", "'quoted'", '"\\ud800"', '"\\x00"', "{a: 1, a: 2}", "|\n  block\n  text", ">\n  folded",
        "\t", "!!set {a, b}", "!!omap [a: 1]", "!!str 3", "!!int x", "!!float x", "[1, [2, [3]]]",
        "{a: {b: {c: d}}}", "1" * 5000, "- a\n- b", "\n  nested: value\n  other: [1, 2]", "&b\n  k: v",
        "? [a, b]\n: c", "@reserved", "`tick`", "%TAG", "!local x", "\"unterminated", "[unclosed",
    ]),
    st.text(st.characters(blacklist_characters="\r"), max_size=25),
)
FRONT_LINES = st.one_of(
    st.builds(lambda k, v: f"{k}: {v}", YAML_KEYS, YAML_VALUES),
    st.builds(lambda k, v: f"  {k}: {v}", YAML_KEYS, YAML_VALUES),
    st.builds(lambda k, v: f"\t{k}: {v}", YAML_KEYS, YAML_VALUES),
    st.text(max_size=20),
    st.sampled_from(["---", "...", "%YAML 1.1", "# comment", "", "- list item"]),
)
BODY_LINES = st.one_of(
    st.builds(lambda level, text: "#" * level + " " + text, st.integers(1, 7), st.text(max_size=20)),
    st.sampled_from(["```", "~~~", "```python", "    # indented", "#", "# ", "---", "", "## Same", "## Same"]),
    st.text(max_size=40),
)
FOLDER_NAME = "skill-x"
NAMES = st.one_of(st.sampled_from([FOLDER_NAME, "other-name", "Skill X", "", "a" * 70, "-bad-", "a--b"]), TEXT)


SAFE_TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp")), min_size=1, max_size=25)
QUOTED = SAFE_TEXT.map(lambda text: json.dumps(text, ensure_ascii=False))  # a YAML double-quoted string
GOOD_LINES = st.one_of(
    st.builds(lambda v: f"license: {v}", QUOTED),
    st.builds(lambda v: f"compatibility: {v}", QUOTED),
    st.sampled_from(["allowed-tools: Bash(python:*) Read", "allowed-tools: [Read, Write]", "version: 1.0",
                     "metadata:\n  author: me\n  tags: [a, b]", "metadata: {nested: {deeper: [1, 2.5, null, true]}}",
                     "tags: &t [a, b]", "empty:", "when: 2024-01-01"]),
    st.builds(lambda k, v: f"{k}: {v}", st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), QUOTED),
)
MUTATIONS = ["line", "line", "alias-bomb", "deep", "opener", "closer", "drop-name", "drop-description",
             "control", "tab", "no-body", "crlf"]


@st.composite
def skill_md_texts(draw) -> bytes:
    """A valid SKILL.md (name, description, optional keys, a body), then 0-3 hostile edits."""
    name = draw(st.one_of(st.just(FOLDER_NAME), st.just(FOLDER_NAME), NAMES))
    lines = [f"name: {name}", f"description: {draw(st.one_of(QUOTED, QUOTED, YAML_VALUES))}"]
    lines += draw(st.lists(GOOD_LINES, max_size=4, unique_by=lambda line: line.split(":")[0]))
    body = ["# " + draw(SAFE_TEXT), draw(SAFE_TEXT)] + draw(st.lists(BODY_LINES, max_size=6))
    opener, closer, newline = "---", "---", "\n"
    count = draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), min_size=count, max_size=count)):
        if mutation == "line":
            lines.insert(draw(st.integers(0, len(lines))), draw(FRONT_LINES))
        elif mutation == "alias-bomb":
            lines.append("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]")
            lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, draw(st.integers(1, 9)))]
        elif mutation == "deep":
            depth = draw(st.integers(1, 3000))
            lines.append("deep: " + "[" * depth + "]" * draw(st.sampled_from([depth, 0])))
        elif mutation == "opener":
            opener = draw(st.sampled_from(["--- ", "", "\ufeff---", "----", "---\t# c"]))
        elif mutation == "closer":
            closer = draw(st.sampled_from(["...", "", "--- ", "----"]))
        elif mutation in ("drop-name", "drop-description") and lines:
            lines = [line for line in lines if not line.startswith(mutation[5:] + ":")]
        elif mutation == "control":
            index = draw(st.integers(0, len(lines)))
            char = draw(st.sampled_from(["\x00", "\x1b", "\x85", "\ufffe", "\u2028"]))
            lines.insert(index, f"k{index}: a" + char + "b")
        elif mutation == "tab":
            lines = [("\t" + line) if draw(st.booleans()) else line for line in lines]
        elif mutation == "no-body":
            body = draw(st.lists(st.sampled_from(["", "   ", "\t"]), max_size=3))
        elif mutation == "crlf":
            newline = "\r\n"
    text = newline.join([opener, *lines, closer, *body]) + newline
    data = text.encode("utf-8", "surrogatepass")
    if draw(RARELY):
        data += b"\xff\xfe invalid utf-8"
    return data


EXTRAS = st.lists(
    st.tuples(
        st.sampled_from(["scripts/run.sh", "a:b.txt", "back\\slash", "skill.md", "x" * 200, "日本.txt",
                         "deep/" * 20 + "f", ".hidden", "__pycache__/x.pyc", "bin.dat", "link", "dirlink"]),
        st.binary(max_size=40),
    ),
    max_size=3,
)


@CASES
@given(text=skill_md_texts(), extras=EXTRAS, wrap=st.booleans())
def test_skill_md_folders_succeed_or_fail_cleanly(library, text, extras, wrap):
    root = library.folder / "md"
    shutil.rmtree(root, ignore_errors=True)
    folder = root / FOLDER_NAME if wrap else root
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_bytes(text)
    outside = library.folder / "outside.txt"
    outside.write_text(OUTSIDE_TEXT)
    for name, data in extras:
        target = folder / name
        if name in ("link", "dirlink") and hasattr(os, "symlink"):
            if not (target.is_symlink() or target.exists()):
                target.symlink_to(outside if name == "link" else library.folder, target_is_directory=name == "dirlink")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    library.check_import(root, "skill_md")
    assert OUTSIDE_TEXT not in json.dumps([s.metadata for s in library.sm.list()])


def test_both_outcomes_happened(library):
    """Each family reaches both success and refusal often (run after the two properties)."""
    for family, outcome in library.outcomes.items():
        if outcome["imported"] + outcome["refused"] < 1000:
            pytest.skip(f"run together with the {family} property test")
        assert outcome["imported"] >= 100 and outcome["refused"] >= 100, (family, outcome)
