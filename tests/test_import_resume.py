"""An interrupted import resumes without embedding again what it had embedded (issue 11, item 10),
and reports progress in two stages from the start."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from skillvault import SkillManager
from skillvault.embed import service

from conftest import make_skill, word_vector

FIXTURES = Path(__file__).parent / "fixtures" / "agent_skills"


class InterruptingEmbed:
    """embed_fn that records the texts it embeds and is interrupted (Ctrl-C) after ``stop_after`` of them."""

    def __init__(self, stop_after: int | None = None):
        self.stop_after = stop_after
        self.texts: list[str] = []

    def __call__(self, text: str) -> list[float]:
        if self.stop_after is not None and len(self.texts) >= self.stop_after:
            raise KeyboardInterrupt
        self.texts.append(text)
        return word_vector(text)


@pytest.fixture
def root(tmp_path) -> Path:
    copy = tmp_path / "skills"
    shutil.copytree(FIXTURES, copy)
    shutil.rmtree(copy / "broken-front-matter")
    return copy


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(service, "BATCH_SIZE", 4)
    monkeypatch.setattr(service, "CACHE_FLUSH_SECONDS", 0.0)  # every batch is saved as it is embedded


def cache_rows(db_path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM embedding_cache").fetchone()[0]


def test_an_interrupted_import_embeds_only_what_it_had_not(db_path, root, small_batches):
    total = InterruptingEmbed()
    with SkillManager(str(db_path) + ".reference", embed_fn=total) as reference:
        reference.import_(root)
    probe_texts = len(service.NULL_TEXTS)
    needed = len(total.texts) - probe_texts  # the texts of chunks and cards
    assert needed > 12

    first = InterruptingEmbed(stop_after=probe_texts + 12)
    with SkillManager(db_path, embed_fn=first) as sm:
        with pytest.raises(KeyboardInterrupt):
            sm.import_(root)
        assert sm.list() == []  # the skills are written together at the end
    assert cache_rows(db_path) == 12  # three batches of four were saved as they were embedded

    second = InterruptingEmbed()
    with SkillManager(db_path, embed_fn=second) as sm:
        report = sm.import_report(root)
        assert sorted(report.imported) == ["database-lookup", "git-hygiene", "incident-triage", "pdf-forms"]
        embedded_before = set(first.texts[probe_texts:])
        assert not embedded_before & set(second.texts)  # nothing finished was embedded again
        assert len(second.texts) == 1 + needed - 12  # the embedder's probe (checked on open), then the rest
        assert "kubectl logs --previous" in sm.query("pod keeps restarting in CrashLoopBackOff", budget=400)
    assert cache_rows(db_path) == 0  # stored with the skills now; the cache is emptied


def test_the_cache_of_an_import_that_never_finished_is_dropped_by_maintenance(db_path, root, small_batches):
    probe_texts = len(service.NULL_TEXTS)
    with SkillManager(db_path, embed_fn=InterruptingEmbed(stop_after=probe_texts + 8)) as sm:
        with pytest.raises(KeyboardInterrupt):
            sm.import_(root)
    assert cache_rows(db_path) == 8
    with SkillManager(db_path, embed_fn=InterruptingEmbed()) as sm:
        sm.maintenance()
        assert cache_rows(db_path) == 8  # recent: kept for a resumed import
        with sqlite3.connect(db_path) as conn:
            conn.execute("UPDATE embedding_cache SET created_at = ?", (time.time() - 31 * 86_400,))
        sm.maintenance()
    assert cache_rows(db_path) == 0


def test_import_reports_progress_from_the_start_in_two_stages(sm, root):
    calls: list[tuple[int, int]] = []
    sm.import_(root, progress=lambda done, total: calls.append((done, total)))
    starts = [i for i, (done, _total) in enumerate(calls) if done == 0]
    assert starts == [0, 5]  # reading 4 folders: (0,4) .. (4,4); then embedding
    assert calls[:5] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    embedding = calls[5:]
    total = embedding[0][1]
    assert total > 4 and embedding[-1] == (total, total)
    assert [done for done, _ in embedding] == sorted(done for done, _ in embedding)


def test_an_agent_cannot_write_the_embedding_cache(db_path, root, embed):
    with SkillManager(db_path, embed_fn=embed) as human:
        human.import_(root / "git-hygiene")
    with SkillManager(db_path, embed_fn=embed, mode="agent") as agent:
        with pytest.raises(Exception, match="readonly|read-only|not authorized|agent"):
            agent.store.cache_vectors([("x", [0.0] * 8)])
        with pytest.raises(Exception, match="readonly|read-only|not authorized|prohibited"):
            agent.store.conn.execute("INSERT INTO embedding_cache VALUES ('x', x'00', 0)")
    assert cache_rows(db_path) == 0


def test_a_json_import_reports_the_same_two_stages(sm, tmp_path):
    source = tmp_path / "one.json"
    sm.register(make_skill("git", ("Rebase", "git rebase main keeps history linear")))
    sm.export("git", source)
    with SkillManager(str(tmp_path / "other.db"), embed_fn=word_vector) as other:
        calls: list[tuple[int, int]] = []
        other.import_(source, progress=lambda done, total: calls.append((done, total)))
    assert calls[:2] == [(0, 1), (1, 1)]  # reading one file
    assert calls[2][0] == 0 and calls[-1][0] == calls[-1][1] > 0  # then embedding
