"""The PostgreSQL store's one-statement queries: search candidates (HNSW + tsvector) and
dependency expansion (recursive CTE)."""

from __future__ import annotations

import pytest

from pg_rows import add_skill, axis, open_library
from skillvault.store.postgres.search import candidates, dependency_closure
from skillvault.store.postgres.searching import tsquery_text
from skillvault.store.postgres.vectors import vector_layout


@pytest.fixture
def conn(pg_url):
    connection = open_library(pg_url)
    yield connection
    connection.close()


def _search(conn, vector, text, k=10):
    """``(vector pks, word pks)``, best first, for a query's words as the retrieval layer ORs them."""
    words = tsquery_text(" OR ".join(f'"{word}"' for word in text.split()))
    vector_hits, word_hits = candidates(conn, vector_layout(conn), vector, words, k)
    return [pk for pk, _ in vector_hits], [pk for pk, _ in word_hits]


def test_one_statement_gives_both_candidate_lists_best_first(conn):
    words_only, vector_only, both = add_skill(conn, "s", chunks=[
        ("Hooks", "release hooks release hooks", axis(5)),   # best words, far vector
        ("Other", "unrelated prose", axis(0)),               # nearest vector, no words
        ("Mixed", "a release note", axis(0, tilt=1)),        # second in both lists
    ])
    by_vector, by_words = _search(conn, axis(0), "release hooks")
    assert by_vector[:2] == [vector_only, both] and by_words == [words_only, both]
    assert _search(conn, axis(0), "release hooks", k=1) == ([vector_only], [words_only])


def test_only_canonical_chunks_are_ranked_before_the_top_k(conn):
    served = add_skill(conn, "served", chunks=[("Body", "deploy notes", axis(1))])[0]
    for skill_id, status in (("draft::d", "draft"), ("old", "archived"), ("draft::r", "rejected")):
        add_skill(conn, skill_id, status, chunks=[("Deploy", "deploy deploy deploy", axis(0))])
    # Closer in vector and in words than the served chunk, yet never returned, even at k=1.
    assert _search(conn, axis(0), "deploy", k=1) == ([served], [served])
    assert _search(conn, axis(0), "deploy") == ([served], [served])


def test_words_are_stemmed_and_any_word_may_match(conn):
    hook, queue = add_skill(conn, "s", chunks=[("A", "install the hook", axis(1)), ("B", "drain the queue", axis(2))])
    assert set(_search(conn, axis(7), "hooks queues zanzibar")[1]) == {hook, queue}


def test_the_skill_name_weighs_more_than_the_body(conn):
    in_name = add_skill(conn, "a", name="Kubernetes upgrade", chunks=[("Steps", "do the steps", axis(1))])[0]
    in_body = add_skill(conn, "b", name="Other", chunks=[("Steps", "kubernetes is mentioned here", axis(2))])[0]
    assert _search(conn, axis(7), "kubernetes")[1] == [in_name, in_body]


def test_stopword_only_text_falls_back_to_vectors(conn):
    near, far = add_skill(conn, "s", chunks=[("A", "alpha", axis(3)), ("B", "beta", axis(4))])
    assert _search(conn, axis(3), "the of and") == ([near, far], [])


def _pk(conn, chunk_id: str) -> int:
    return conn.execute("SELECT pk FROM chunks WHERE id = %s", (chunk_id,)).fetchone()[0]


def test_dependencies_expand_transitively_and_cycles_end(conn):
    add_skill(conn, "a", chunks=[("A", "root", axis(0), ["b::0"])])
    add_skill(conn, "b", chunks=[("B", "middle", axis(1), ["c"])])                 # a skill id: all its chunks
    add_skill(conn, "c", chunks=[("C0", "leaf", axis(2), ["a::0"]),               # back to the root: a cycle
                                 ("C1", "leaf two", axis(3), ["b::0"])])
    root = _pk(conn, "a::0")
    assert dependency_closure(conn, [root]) == {root: [_pk(conn, "b::0"), _pk(conn, "c::0"), _pk(conn, "c::1")]}
    # From the middle, the cycle brings the root in once and stops.
    middle = _pk(conn, "b::0")
    assert dependency_closure(conn, [middle]) == {middle: [_pk(conn, "c::0"), _pk(conn, "c::1"), root]}


def test_expansion_is_bounded_by_depth_and_status_and_lists_each_chunk_once(conn):
    add_skill(conn, "d3", chunks=[("D", "deepest", axis(0))])
    add_skill(conn, "d2", chunks=[("D", "deeper", axis(0), ["d3"])])
    add_skill(conn, "d1", chunks=[("D", "deep", axis(0), ["d2", "d3"])])     # d3 at depth 2 and via d2 at 3
    add_skill(conn, "gone", "archived", chunks=[("G", "archived", axis(0), ["d1"])])
    add_skill(conn, "draft::x", "draft", chunks=[("X", "draft", axis(0))])
    add_skill(conn, "top", chunks=[("T", "top", axis(0), ["d1", "gone", "draft::x", "missing"])])
    top, d1, d2, d3 = (_pk(conn, f"{s}::0") for s in ("top", "d1", "d2", "d3"))
    assert dependency_closure(conn, [top]) == {top: [d1, d2, d3]}
    assert dependency_closure(conn, [top], max_depth=1) == {top: [d1]}
    assert dependency_closure(conn, [top, d3]) == {top: [d1, d2, d3], d3: []}
    # Another status can be followed on purpose (e.g. a reviewer's preview).
    assert dependency_closure(conn, [top], statuses=["draft"]) == {top: [_pk(conn, "draft::x::0")]}
