"""The HNSW vector index cache: life cycle on real SQLite files with real usearch graphs.

The ANN path is forced at small sizes by lowering ``vector_cache.ANN_MIN_CHUNKS``; the
exact matrix (``ANN_MIN_CHUNKS`` raised) is the reference.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from skillvault.models import Chunk, Skill
from skillvault.store import ann_index, vector_cache
from skillvault.store.ann_index import AnnIndex
from skillvault.store.side_read import SideRead
from skillvault.store.sqlite import PreparedChunk, SQLiteStore
from skillvault.store.vector_cache import index_folder
from skillvault.store.vector_index import VectorMatrix, status_codes

DIM = 64
PER_SKILL = 4


def structured(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    """Unit vectors with low intrinsic dimension, clusters and a shared direction (like MiniLM's)."""
    latent_dim = 16
    projection = rng.standard_normal((latent_dim, dim))
    centres = rng.standard_normal((40, latent_dim)) * 1.5
    latent = rng.standard_normal((n, latent_dim)) + centres[rng.integers(0, len(centres), n)]
    rows = latent @ projection + rng.standard_normal((n, dim)) * 1.0 + 3.0
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def skill_items(first: int, vectors: np.ndarray, status: str = "canonical") -> list[tuple[Skill, list[PreparedChunk]]]:
    """One skill per PER_SKILL vectors, ids ``s<number>``, numbered from ``first``."""
    items = []
    for offset in range(0, len(vectors), PER_SKILL):
        skill_id = f"s{first + offset // PER_SKILL}"
        chunks = [Chunk(id=f"{skill_id}::{j}", section=f"part {j}", content=f"text of {skill_id} part {j}", tokens=6)
                  for j in range(len(vectors[offset : offset + PER_SKILL]))]
        skill = Skill(id=skill_id, name=skill_id, status=status, chunks=chunks)
        prepared = [PreparedChunk(chunk, f"h-{chunk.id}-{os.urandom(3).hex()}", vector)
                    for chunk, vector in zip(chunks, vectors[offset : offset + PER_SKILL])]
        items.append((skill, prepared))
    return items


def register(store: SQLiteStore, first: int, vectors: np.ndarray, status: str = "canonical") -> None:
    store.save_skills(skill_items(first, vectors, status), "test-embedder")


def set_status(store: SQLiteStore, skill_id: str, status: str) -> None:
    with store.transaction():
        store.change_status(skill_id, status)


def exact_hits(path: str, query: np.ndarray, k: int, statuses=("canonical",)) -> list[int]:
    """The reference: exact search on a fresh connection."""
    saved = vector_cache.ANN_MIN_CHUNKS, vector_cache.ANN_MIN_FLOATS
    vector_cache.ANN_MIN_CHUNKS = vector_cache.ANN_MIN_FLOATS = 10**12
    try:
        store = SQLiteStore(path)
        store.rebuild_vector_index()  # from SQLite: a valid saved HNSW index would be used otherwise
        assert store.vector_index_info()["kind"] == "exact"
        return [pk for pk, _ in store.vector_search(query, k, statuses)]
    finally:
        vector_cache.ANN_MIN_CHUNKS, vector_cache.ANN_MIN_FLOATS = saved
        store.close()


def pks_of(hits) -> list[int]:
    return [pk for pk, _ in hits]


def chunk_pks(store: SQLiteStore, *skill_ids: str) -> list[int]:
    marks = ",".join("?" * len(skill_ids))
    return [row[0] for row in store.conn.execute(f"SELECT pk FROM chunks WHERE skill_id IN ({marks})", skill_ids)]


def same_sets(found: list[list[int]], expected: list[list[int]]) -> bool:
    """Nearly equal hit sets per query: HNSW may miss a neighbour now and then (a node the
    graph reaches badly), so 90% of the exact hits are asked for (the recall test below
    asks 95% over 100 queries)."""
    overlap = sum(len(set(a) & set(b)) for a, b in zip(found, expected))
    return len(found) == len(expected) and overlap >= 0.9 * sum(len(b) for b in expected)


def truth(store: SQLiteStore) -> dict[str, set[int]]:
    """The chunk keys the index must hold per status, read from SQLite."""
    held: dict[str, set[int]] = {status: set() for status in ann_index.INDEXED_STATUSES}
    for pk, status in store.conn.execute(
        "SELECT c.pk, s.status FROM chunks c JOIN skills s ON s.id = c.skill_id WHERE s.status != 'draft'"
    ):
        held[status].add(pk)
    return held


def held(store: SQLiteStore) -> dict[str, set[int]]:
    index = store._tracker.before_search()
    assert isinstance(index, AnnIndex)
    return index.contents()


@pytest.fixture
def ann(monkeypatch):
    monkeypatch.setattr(vector_cache, "ANN_MIN_CHUNKS", 50)
    # Searching as wide as these small graphs makes HNSW answers exact, so what is tested
    # is what the index holds (recall is tested on its own below).
    monkeypatch.setattr(ann_index, "EXPANSION_SEARCH", 2000)
    monkeypatch.setattr(vector_cache, "SAVE_AFTER_CHANGES", 10**9)  # saves only after builds
    monkeypatch.setattr(vector_cache, "SAVE_AT_CLOSE", 1)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_incremental_updates_give_the_answers_of_a_fresh_rebuild(ann, rng, tmp_path):
    path = str(tmp_path / "lib.db")
    store = SQLiteStore(path)
    vectors = structured(rng, 800)
    register(store, 0, vectors[:400])
    queries = structured(rng, 20)
    store.vector_search(queries[0], 10, ("canonical",))
    assert store.vector_index_info()["kind"] == "hnsw"
    register(store, 100, vectors[400:])  # new skills
    register(store, 5, structured(rng, 4))  # a skill rewritten with other vectors
    for number in range(10, 30):
        set_status(store, f"s{number}", "archived")
    set_status(store, "s12", "canonical")  # and back
    with store.transaction():
        store.delete_skill("s40")
    loads = store.vector_index_info()["full_loads"]
    assert held(store) == truth(store)
    incremental = [pks_of(store.vector_search(q, 10, ("canonical",))) for q in queries]
    archived = [pks_of(store.vector_search(q, 10, ("archived",))) for q in queries]
    assert store.vector_index_info()["full_loads"] == loads  # replayed, not rebuilt
    store.close()

    shutil.rmtree(index_folder(path))
    fresh = SQLiteStore(path)
    assert held(fresh) == truth(fresh)
    assert same_sets([pks_of(fresh.vector_search(q, 10, ("canonical",))) for q in queries], incremental)
    assert same_sets([pks_of(fresh.vector_search(q, 10, ("archived",))) for q in queries], archived)
    assert fresh.vector_index_info()["full_loads"] == 1
    fresh.close()
    assert same_sets(incremental, [exact_hits(path, q, 10) for q in queries])
    assert same_sets(archived, [exact_hits(path, q, 10, ("archived",)) for q in queries])


def test_a_saved_index_is_reused_and_a_stale_or_deleted_one_rebuilt(ann, rng, tmp_path):
    path = str(tmp_path / "lib.db")
    store = SQLiteStore(path)
    register(store, 0, structured(rng, 300))
    query = structured(rng, 1)[0]
    expected = pks_of(store.vector_search(query, 10, ("canonical",)))
    store.close()
    stamp_path = os.path.join(index_folder(path), vector_cache.STAMP)
    stamp = json.load(open(stamp_path))
    assert stamp["embedder"] == "test-embedder" and stamp["dim"] == DIM and stamp["dtype"] == "bf16"

    def reopen_loads() -> int:
        again = SQLiteStore(path)
        try:
            assert same_sets([pks_of(again.vector_search(query, 10, ("canonical",)))], [expected])
            return again.vector_index_info()["full_loads"]
        finally:
            again.close()

    summary = SQLiteStore(path)
    assert summary.vector_index_summary().startswith("HNSW (usearch, bf16) over 300 chunks; saved in")
    summary.close()
    assert reopen_loads() == 0  # loaded from the file
    reports: list[tuple[int, int]] = []
    json.dump({**stamp, "embedder": "another-model"}, open(stamp_path, "w"))
    assert reopen_loads() == 1  # stale stamp: rebuilt
    assert reopen_loads() == 0  # ...and saved again
    json.dump({**json.load(open(stamp_path)), "epoch": "0" * 16}, open(stamp_path, "w"))
    assert reopen_loads() == 1
    json.dump({**json.load(open(stamp_path)), "dtype": "f16"}, open(stamp_path, "w"))  # a graph saved as float16 by earlier builds
    assert reopen_loads() == 1
    assert json.load(open(stamp_path))["dtype"] == "bf16" and reopen_loads() == 0
    shutil.rmtree(index_folder(path))
    summary = SQLiteStore(path)
    assert "no valid saved index" in summary.vector_index_summary()
    summary.close()
    assert reopen_loads() == 1
    assert reopen_loads() == 0
    forced = SQLiteStore(path)
    forced.rebuild_vector_index(progress=lambda done, total: reports.append((done, total)))
    assert forced.vector_index_info()["full_loads"] == 1 and reports[-1] == (300, 300)
    forced.close()
    assert len(os.listdir(index_folder(path))) == 1 + 3 + 1  # stamp, one file per status, the lock


CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    from skillvault.store import ann_index, vector_cache
    vector_cache.ANN_MIN_CHUNKS = 50
    vector_cache.SAVE_AFTER_CHANGES = 10**9
    from test_ann_index import register, set_status, structured
    from skillvault.store.sqlite import SQLiteStore
    store = SQLiteStore({path!r})
    store.vector_search(structured(np.random.default_rng(1), 1)[0], 5, ("canonical",))  # built and saved
    register(store, 500, structured(np.random.default_rng(2), 80))  # committed...
    set_status(store, "s3", "archived")
    store.vector_search(structured(np.random.default_rng(1), 1)[0], 5, ("canonical",))  # ...applied in memory
    os._exit(0)  # ...and killed before the index file is written again
    """
)


def test_a_crash_between_commit_and_index_write_answers_correctly_on_the_next_open(ann, rng, tmp_path):
    path = str(tmp_path / "lib.db")
    store = SQLiteStore(path)
    register(store, 0, structured(rng, 300))
    store.close()
    script = CRASHING_WRITER.format(tests=os.path.dirname(__file__), path=path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    queries = structured(rng, 10)
    expected = [exact_hits(path, q, 10) for q in queries]
    stamp = json.load(open(os.path.join(index_folder(path), vector_cache.STAMP)))

    again = SQLiteStore(path)
    assert same_sets([pks_of(again.vector_search(q, 10, ("canonical",))) for q in queries], expected)
    assert held(again) == truth(again)
    info = again.vector_index_info()
    assert info["full_loads"] == 0 and info["seq"] > stamp["seq"]  # the file, then the log replayed
    assert info["chunks"] == 380
    again.close()

    # A truncated graph file (a crash while writing, a full disk) is rebuilt.
    stamp = json.load(open(os.path.join(index_folder(path), vector_cache.STAMP)))
    graph = os.path.join(index_folder(path), stamp["files"]["canonical"]["name"])
    with open(graph, "r+b") as handle:
        handle.truncate(os.path.getsize(graph) // 2)
    third = SQLiteStore(path)
    assert same_sets([pks_of(third.vector_search(q, 10, ("canonical",))) for q in queries], expected)
    assert third.vector_index_info()["full_loads"] == 1 and held(third) == truth(third)
    third.close()


def test_another_connections_writes_are_seen_by_the_next_query_without_a_rebuild(ann, rng, tmp_path):
    path = str(tmp_path / "lib.db")
    writer = SQLiteStore(path)
    register(writer, 0, structured(rng, 300))
    query = structured(rng, 1)[0]
    writer.vector_search(query, 10, ("canonical",))  # builds and saves
    reader = SQLiteStore(path)
    before = pks_of(reader.vector_search(query, 10, ("canonical",)))
    assert reader.vector_index_info()["full_loads"] == 0

    register(writer, 900, np.stack([query, query]))  # two chunks equal to the query
    set_status(writer, f"s{(before[2] - 1) // PER_SKILL}", "archived")
    after = reader.vector_search(query, 10, ("canonical",))
    assert {pk for pk, _ in after[:2]} == set(chunk_pks(writer, "s900"))
    assert after[0][1] == pytest.approx(1.0, abs=1e-3)
    assert before[2] not in pks_of(after)
    assert held(reader) == truth(reader)
    assert same_sets([pks_of(after)], [exact_hits(path, query, 10)])
    assert reader.vector_index_info()["full_loads"] == 0
    reader.close()
    writer.close()


def drafts_of(store: SQLiteStore) -> set[int]:
    return {row[0] for row in store.conn.execute(
        "SELECT c.pk FROM chunks c JOIN skills s ON s.id = c.skill_id WHERE s.status = 'draft'")}


def test_archived_and_draft_chunks_never_come_back(ann, rng, tmp_path):
    path = str(tmp_path / "lib.db")
    store = SQLiteStore(path)
    query = structured(rng, 1)[0]
    near = np.stack([query] * 40) + rng.standard_normal((40, DIM)).astype(np.float32) * 0.01
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    register(store, 0, structured(rng, 200))
    register(store, 100, near[:20], status="draft")
    register(store, 200, near[20:])
    for number in range(200, 205):
        set_status(store, f"s{number}", "archived")  # the chunks nearest the query
    assert store.vector_index_info()["kind"] == "hnsw"
    hidden = set(chunk_pks(store, *[f"s{n}" for n in range(100, 105)], *[f"s{n}" for n in range(200, 205)]))
    hits = store.vector_search(query, 10, ("canonical",))
    assert held(store) == truth(store) and not drafts_of(store) & set().union(*held(store).values())
    assert len(hits) == 10 and not hidden & set(pks_of(hits))  # filtered before top-k: still 10 hits
    assert same_sets([pks_of(hits)], [exact_hits(path, query, 10)])
    drafts = set(chunk_pks(store, *[f"s{n}" for n in range(100, 105)]))
    for statuses in (("canonical", "archived", "rejected"), ("archived",)):
        assert not drafts & set(pks_of(store.vector_search(query, 50, statuses)))
    assert not drafts & set(store.vector_scores(query, sorted(drafts)))
    store.close()


def test_recall_at_10_against_exact_search_on_structured_384d_vectors():
    rng = np.random.default_rng(3)
    vectors = structured(rng, 3000, dim=384)
    pks = np.arange(1, len(vectors) + 1)
    statuses = ["canonical"] * len(vectors)
    exact = VectorMatrix(pks, vectors, status_codes(statuses))
    ann = AnnIndex(384)
    ann.add_many(pks, vectors, statuses)
    queries = vectors[rng.integers(0, len(vectors), 100)] + rng.standard_normal((100, 384)).astype(np.float32) * 0.02
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    recall = np.mean([
        len(set(pks_of(ann.top_k(q, 10, ("canonical",)))) & set(pks_of(exact.top_k(q, 10, ("canonical",))))) / 10
        for q in queries
    ])
    assert recall >= 0.95


def test_memory_and_agent_readers_keep_the_index_in_memory(ann, rng, tmp_path):
    memory = SQLiteStore(":memory:")
    register(memory, 0, structured(rng, 200))
    query = structured(rng, 1)[0]
    assert memory.vector_index_info()["kind"] == "hnsw"
    assert len(memory.vector_search(query, 10, ("canonical",))) == 10
    assert not os.path.exists(index_folder(":memory:"))
    memory.close()

    path = str(tmp_path / "lib.db")
    human = SQLiteStore(path)
    register(human, 0, structured(rng, 200))
    agent = SQLiteStore(path, agent=True)
    agent.vector_search(query, 10, ("canonical",))  # built in memory: an agent writes no file
    assert not os.path.exists(index_folder(path))
    register(human, 500, np.stack([query]))
    hits = agent.vector_search(query, 10, ("canonical",))  # the log replayed by a read-only connection
    assert hits[0][0] in chunk_pks(human, "s500")
    assert agent.vector_index_info()["full_loads"] == 1
    agent.close()
    human.close()


def test_the_log_is_pruned_and_a_reader_behind_it_rebuilds(ann, rng, tmp_path, monkeypatch):
    monkeypatch.setattr(vector_cache, "LOG_KEEP", 20)
    monkeypatch.setattr(vector_cache, "SAVE_AFTER_CHANGES", 30)
    path = str(tmp_path / "lib.db")
    writer = SQLiteStore(path)
    register(writer, 0, structured(rng, 200))
    query = structured(rng, 1)[0]
    reader = SQLiteStore(path)
    reader.vector_search(query, 10, ("canonical",))
    loads = reader.vector_index_info()["full_loads"]
    for batch in range(6):
        register(writer, 1000 + batch * 10, structured(rng, 40))
        writer.vector_search(query, 10, ("canonical",))  # replays, saves every 30 changes, prunes
    horizon = int(writer.get_meta(vector_cache.META_HORIZON) or 0)
    assert horizon > 0
    assert writer.conn.execute("SELECT MIN(seq) FROM vector_log").fetchone()[0] > horizon
    assert same_sets([pks_of(reader.vector_search(query, 10, ("canonical",)))], [exact_hits(path, query, 10)])
    assert held(reader) == truth(reader)
    info = reader.vector_index_info()
    # Behind the pruned log: it reloads the writer's newer saved index (no rebuild).
    assert info["full_loads"] == loads and info["saved_seq"] >= horizon
    reader.close()
    writer.close()


def test_queries_through_the_facade_on_the_hnsw_path(ann, db_path, embed):
    from conftest import make_skill
    from skillvault import SkillManager

    sm = SkillManager(db_path, embed_fn=embed)
    topics = ["rebase a branch onto main", "rotate the database password", "triage a failing deploy",
              "fill in a pdf form", "profile a slow query"]
    for index in range(30):  # 60 chunks: above the lowered threshold
        topic = topics[index % len(topics)]
        sm.register(make_skill(f"skill-{index}", ("How", f"To {topic}, step {index}: check the logs first."),
                               ("Why", f"Notes {index} on why we {topic}.")))
    assert sm.store.vector_index_info()["kind"] == "hnsw"
    assert "\"skill-1\"" in sm.query("how do I rotate the database password", budget=4000)
    for index in range(1, 30, 5):  # every "rotate the database password" skill
        sm.archive(f"skill-{index}")
    answer = sm.query("how do I rotate the database password", budget=4000)
    assert not any(f'"skill-{index}"' in answer for index in range(1, 30, 5))
    slow = sm.query("how do I profile a slow query", budget=4000)
    assert "profile a slow query" in slow
    other = SkillManager(db_path, embed_fn=embed)  # loads the saved index and the log
    assert other.query("how do I rotate the database password", budget=4000) == answer
    assert other.query("how do I profile a slow query", budget=4000) == slow
    assert other.store.vector_index_info()["full_loads"] == 0
    other.close()
    agent = SkillManager(db_path, embed_fn=embed, mode="agent")  # guarded connection, word side on its thread
    assert agent.query("how do I profile a slow query", budget=4000) == slow
    assert agent.store.vector_index_info()["kind"] == "hnsw"
    agent.close()
    sm.close()


def test_only_the_process_holding_the_lock_writes_the_index(ann, rng, tmp_path):
    path = str(tmp_path / "lib.db")
    store = SQLiteStore(path)
    register(store, 0, structured(rng, 200))
    store.vector_search(structured(rng, 1)[0], 10, ("canonical",))  # built and saved
    stamp_path = os.path.join(index_folder(path), vector_cache.STAMP)
    saved = json.load(open(stamp_path))
    register(store, 900, structured(rng, 8))
    store.vector_search(structured(rng, 1)[0], 10, ("canonical",))  # replayed in memory
    with vector_cache._write_lock(index_folder(path)) as owned:  # another writer holds it
        assert owned
        assert store._tracker.cache.save() is False
    assert json.load(open(stamp_path)) == saved
    assert store._tracker.cache.save() is True
    assert json.load(open(stamp_path))["seq"] > saved["seq"]
    store.close()


def test_wide_vectors_switch_to_hnsw_sooner():
    assert not vector_cache.uses_ann(49_999, 384) and vector_cache.uses_ann(50_000, 384)
    assert vector_cache.uses_ann(12_500, 1536) and not vector_cache.uses_ann(12_499, 1536)


def test_the_word_side_runs_beside_the_hnsw_search_with_the_same_answers(ann, rng, tmp_path, monkeypatch):
    store = SQLiteStore(str(tmp_path / "lib.db"))
    register(store, 0, structured(rng, 200))
    query, match = structured(rng, 1)[0], '"s7" OR "part"'
    threads, counted = [], []
    searched = SQLiteStore.lexical_search

    def recording(self, *args):
        threads.append(threading.current_thread().name)
        return searched(self, *args)

    def choose(count, total):  # counts words as the retrieval layer does, from the same thread
        counted.append((threading.current_thread().name, count(["part", "s7", "absent"], None), total))
        return match

    monkeypatch.setattr(SQLiteStore, "lexical_search", recording)
    with store.snapshot():
        serial = (store.vector_search(query, 10, ("canonical",)), store.lexical_search(match, 10, ("canonical",)))
        together = store.hybrid_candidates(query, choose, 10, ("canonical",))
    assert together == (match, *serial) and len(serial[1]) == 10
    assert threads[0] == threading.current_thread().name and threads[1].startswith("skillvault-words")
    assert counted == [(threads[1], {"part": 200, "s7": 4}, 200)]
    store.close()
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("skillvault-words")]


def test_an_exact_search_keeps_the_word_side_on_the_calling_thread(rng, tmp_path, monkeypatch):
    store = SQLiteStore(str(tmp_path / "lib.db"))
    register(store, 0, structured(rng, 40))
    threads = []
    searched = SQLiteStore.lexical_search
    monkeypatch.setattr(SQLiteStore, "lexical_search",
                        lambda self, *args: threads.append(threading.current_thread()) or searched(self, *args))
    chosen = []
    match, vector_hits, word_hits = store.hybrid_candidates(
        structured(rng, 1)[0], lambda count, total: chosen.append(threading.current_thread()) or '"part"', 5,
        ("canonical",))
    assert store.vector_index_info()["kind"] == "exact" and len(vector_hits) == len(word_hits) == 5
    assert match == '"part"' and threads == chosen == [threading.current_thread()]
    store.close()


def test_an_error_in_the_side_word_search_reaches_the_caller_and_the_store_goes_on(ann, rng, tmp_path):
    store = SQLiteStore(str(tmp_path / "lib.db"))
    register(store, 0, structured(rng, 200))
    query = structured(rng, 1)[0]
    with store.snapshot():
        with pytest.raises(store._sql.OperationalError, match="fts5: syntax error"):
            store.hybrid_candidates(query, lambda count, total: "AND AND", 10, ("canonical",))
        with pytest.raises(ZeroDivisionError):
            store.hybrid_candidates(query, lambda count, total: str(1 / 0), 10, ("canonical",))
        _match, vector_hits, word_hits = store.hybrid_candidates(query, lambda count, total: '"s3"', 10,
                                                                 ("canonical",))
    assert len(vector_hits) == 10 and set(pks_of(word_hits)) == set(chunk_pks(store, "s3"))
    store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_side_read_started_in_a_forked_child_runs_there():
    side = SideRead("skillvault-test")
    assert side.start(lambda: os.getpid()).result() == os.getpid()  # the parent's worker thread exists now
    child = os.fork()
    if child == 0:  # the child has no worker thread: it must make its own, not wait forever
        code = 1
        try:
            signal.alarm(10)
            code = 0 if side.start(lambda: os.getpid()).result() == os.getpid() else 1
        finally:
            os._exit(code)  # never back into pytest from the child
    _, status = os.waitpid(child, 0)
    side.close()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_vector_scores_on_the_hnsw_path_are_the_cosines_of_the_stored_vectors(ann, rng, tmp_path):
    store = SQLiteStore(str(tmp_path / "lib.db"))
    vectors = structured(rng, 400)
    register(store, 0, vectors[:300])
    register(store, 100, vectors[300:340], status="archived")
    register(store, 200, vectors[340:], status="draft")
    pks = chunk_pks(store, *[f"s{i}" for i in range(0, 75)])
    archived = chunk_pks(store, *[f"s{i}" for i in range(100, 110)])
    drafts = chunk_pks(store, *[f"s{i}" for i in range(200, 215)])
    starts = {0: 0, 100: 300, 200: 340}  # first skill number of each register() -> its first vector

    def vector_of(chunk_id: str) -> np.ndarray:
        skill, part = chunk_id.split("::")
        number = int(skill[1:])
        first = max(start for start in starts if start <= number)
        return vectors[starts[first] + (number - first) * PER_SKILL + int(part)]

    indexed = {pk: vector_of(chunk_id) for pk, chunk_id in store.conn.execute("SELECT pk, id FROM chunks")
               if pk in set(pks + archived)}
    queries = structured(rng, 2)

    def check(query: np.ndarray, asked: list[int]) -> None:
        scores = store.vector_scores(query, asked)
        assert sorted(scores) == sorted(pk for pk in asked if pk in indexed)  # drafts are not indexed
        assert all(abs(scores[pk] - float(indexed[pk] @ query)) < 2e-3 for pk in scores)

    check(queries[0], pks + archived + drafts)
    check(queries[1], pks[:7] + archived[:3] + drafts[:2])
    store.close()


def test_a_query_in_an_atexit_hook_still_answers(tmp_path):
    # At interpreter shutdown no new thread may start: the word side then runs in line.
    script = textwrap.dedent(
        """
        import atexit, sys
        import numpy as np
        sys.path.insert(0, {tests!r})
        from skillvault.store import ann_index, vector_cache
        vector_cache.ANN_MIN_CHUNKS = 50
        from test_ann_index import register, structured
        from skillvault.store.sqlite import SQLiteStore
        store = SQLiteStore({path!r})
        register(store, 0, structured(np.random.default_rng(1), 200))
        query = structured(np.random.default_rng(2), 1)[0]

        def at_exit():
            match, vector_hits, word_hits = store.hybrid_candidates(query, lambda count, total: '"s7"', 5, ("canonical",))
            print("answered", store.vector_index_info()["kind"], len(vector_hits), len(word_hits))

        atexit.register(at_exit)
        """
    ).format(tests=os.path.dirname(__file__), path=str(tmp_path / "lib.db"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "answered hnsw 5 4"
