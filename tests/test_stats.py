"""stats(): counts by status, chunks, tokens, size, embedder, extension versions."""

from __future__ import annotations

from skillvault import SkillManager
from skillvault.tokens import count_tokens

from conftest import WORD_DIM, make_skill


def test_stats_counts_and_environment(sm, backend):
    empty = sm.stats()
    assert empty["skills"] == 0 and empty["chunks"] == 0 and empty["embedder"]["dim"] is None
    sm.register(make_skill("a", ("x", "alpha beta gamma"), ("y", "delta")))
    sm.register(make_skill("b", ("x", "epsilon")))
    draft = make_skill("c", ("x", "zeta eta"))
    draft.status = "draft"
    sm.register(draft)
    sm.archive("b")
    stats = sm.stats()
    assert (stats["canonical"], stats["draft"], stats["archived"], stats["rejected"]) == (1, 1, 1, 0)
    assert stats["pending_review"] == 1 and stats["skills"] == 3
    assert stats["chunks"] == 4
    assert stats["tokens"] == sum(count_tokens(t) for t in ["alpha beta gamma", "delta", "epsilon", "zeta eta"])
    assert stats["db_bytes"] > empty["db_bytes"] > 0
    assert stats["embedder"] == {"name": sm.embeddings.name, "dim": WORD_DIM}
    assert stats["schema_version"] >= 1
    if backend == "postgres":
        assert stats["backend"] == "postgresql" and stats["sqlite_vec"].startswith("pgvector ")
        assert stats["sqlite"]["version"].startswith("PostgreSQL ") and stats["fts5"] is False
        return
    assert stats["backend"] == "sqlite"
    assert stats["sqlite_vec"].startswith("v") and stats["fts5"] is True
    assert stats["sqlite"]["module"] in ("sqlite3", "sqlean")


def test_embed_config_uses_an_openai_compatible_endpoint(openai_standin, db_path):
    config = {"provider": "openai", "model": "text-embedding-3-small", "base_url": openai_standin.base_url, "api_key": "sk-x"}
    with SkillManager(db_path, embed_config=config) as sm:
        sm.register(make_skill("git", *[(f"s{i}", f"git rebase step {i}") for i in range(5)]))
        assert "git rebase step 3" in sm.query("git rebase step 3", budget=300)
        assert sm.stats()["embedder"] == {"name": "openai:text-embedding-3-small", "dim": 1536}
    requests = openai_standin.embedding_requests()
    # the null texts once (recorded with the first write), the 5 chunks and the card in one batch, then the query
    assert [len(r["body"]["input"]) for r in requests] == [24, 6, 1]
    assert all(r["headers"]["authorization"] == "Bearer sk-x" for r in requests)
