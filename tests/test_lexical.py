"""Words common to most of a library are dropped from the FTS5 query, found by their stem
as the index holds them (a word whose stem differs was never pruned: "guidance" ->
"guidanc" made a query 20x slower on real text)."""

from __future__ import annotations

import sqlite3

import pytest

from skillvault.retrieval.lexical import COMMON_MIN_DOCS, informative_terms, match_expression, query_terms
from skillvault.store.stemming import porter_stems

from conftest import make_skill

TOPICS = ["kubernetes pods", "postgres vacuum", "react hooks", "git rebase", "terraform plans", "kafka consumers"]


@pytest.fixture
def common_word_library(sm):
    """More than COMMON_MIN_DOCS chunks, every one offering 'guidance' (stem 'guidanc')."""
    skills = []
    for n in range(COMMON_MIN_DOCS // 4 + 10):
        topic = TOPICS[n % len(TOPICS)]
        skills.append(make_skill(
            f"skill-{n}",
            *[(f"Part {p}", f"Guidance on {topic}, note {n}.{p}: running checks before changes keeps outages away.")
              for p in range(4)],
        ))
    for skill in skills:
        sm.register(skill)
    return sm


def test_common_words_are_counted_by_their_stem_and_dropped(common_word_library):
    store = common_word_library.store
    terms = query_terms("guidance for running kafka consumers")
    counts = store.term_document_counts(terms)
    total = store.indexed_chunk_count()
    assert counts["guidance"] == total and counts["running"] == total  # stems 'guidanc', 'run'
    assert 0 < counts["kafka"] < total
    kept = informative_terms(terms, counts, total, store.word_postings_budget)
    assert kept == ["kafka", "consumers"]
    assert "guidance" not in match_expression(kept)
    hits = common_word_library.search("guidance for running kafka consumers", k=3)
    assert hits and all("kafka" in hit.chunk.content for hit in hits)


@pytest.mark.sqlite_only("reads FTS5's vocabulary table; PostgreSQL stems inside to_tsquery")
def test_stems_match_the_index_exactly(sm):
    words = ["guidance", "hooks", "running", "generalization", "café", "databases"]
    sm.register(make_skill("words", ("All", " ".join(words))))
    indexed = {row[0] for row in sm.store.conn.execute("SELECT term FROM temp.chunk_terms")}
    stems = porter_stems(sm.store._sql).stems(words)
    assert set(stems.values()) <= indexed
    assert stems["guidance"] == "guidanc" and stems["café"] == "cafe"
    assert porter_stems(sqlite3).stems(["foo_bar"]) == {"foo_bar": None}  # two tokens: no single count


def test_a_query_searches_its_rarest_words_within_a_posting_budget():
    counts = {"checkbox": 40, "field": 600, "default": 500, "type": 900}
    terms = ["field", "type", "checkbox", "default", "unindexed"]
    # total 100k chunks: none is common (5% = 5,000); the rarest fill the budget of 1,000.
    assert informative_terms(terms, counts, 100_000, 1_000) == ["checkbox", "default", "unindexed"]
    assert informative_terms(["type", "field"], counts, 100_000, 1_000) == ["field"]  # one term always stays
    assert informative_terms(terms, counts, 100_000, 10_000) == terms  # a small library keeps every word


def test_the_word_search_keeps_to_its_stores_posting_budget(common_word_library):
    """Each backend sets how many postings one word search may score (PostgreSQL's ts_rank_cd
    costs more per chunk than FTS5's bm25); the query's rarest word always stays."""
    from skillvault.retrieval.search import chunk_candidates

    store = common_word_library.store
    vector = common_word_library.embeddings.embed_query("kafka consumers rebase")
    wide = chunk_candidates(store, vector, "kafka consumers rebase", 10, ("canonical",))
    assert wide.match == '"kafka" OR "consumers" OR "rebase"'
    store.word_postings_budget = 1  # an instance's budget: only the rarest word fits
    narrow = chunk_candidates(store, vector, "kafka consumers rebase", 10, ("canonical",))
    counts = store.term_document_counts(["kafka", "consumers", "rebase"])
    rarest = min(counts, key=counts.get)
    assert narrow.match == f'"{rarest}"' and narrow.match != wide.match


def test_when_every_word_is_common_the_rarest_is_chosen_by_exact_counts(sm):
    """Counting a common word may stop early (past the common limit; PostgreSQL does); when
    every word of a query is common, the rarest must still be told apart."""
    from skillvault.retrieval.search import chunk_candidates

    chunks = COMMON_MIN_DOCS + 60  # "alpha" in every chunk, "beta" in all but 30: both common
    texts = [f"alpha {'beta ' if n >= 30 else ''}filler number {n}" for n in range(chunks)]
    sm.register_many([make_skill(f"s{i}", *[(f"P{j}", texts[i * 5 + j]) for j in range(5)])
                      for i in range(chunks // 5)])
    store = sm.store
    store.word_postings_budget = chunks - 20  # room for the rarer word only
    vector = sm.embeddings.embed_query("alpha beta")
    assert chunk_candidates(store, vector, "alpha beta", 10, ("canonical",)).match == '"beta"'
    capped = store.term_document_counts(["alpha", "beta", "filler"], at_most=COMMON_MIN_DOCS)
    assert all(capped[word] > COMMON_MIN_DOCS for word in ("alpha", "beta", "filler"))
    assert store.term_document_counts(["alpha", "beta"]) == {"alpha": chunks, "beta": chunks - 30}
    assert store.term_document_counts(["filler"]) == {"filler": chunks}  # past its cap once: counted again
    assert store.term_document_counts(["number"], at_most=10 * chunks) == {"number": chunks}
