"""The in-memory vector matrix: exact search, in-place changes."""

from __future__ import annotations

import numpy as np
import pytest

from skillvault.store.vector_index import VectorMatrix, status_codes

DIM = 96


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    vectors = unit(rng.standard_normal((3000, DIM)) + 0.3)  # a shared direction, like real embeddings
    statuses = ["canonical"] * 2700 + ["archived"] * 300
    return rng, vectors, statuses


def matrix_of(vectors, statuses, first_pk=1):
    return VectorMatrix(np.arange(first_pk, first_pk + len(vectors)), vectors, status_codes(statuses))


def test_exact_search_matches_brute_force(data):
    _rng, vectors, statuses = data
    matrix = matrix_of(vectors, statuses)
    query = vectors[7]
    hits = matrix.top_k(query, 20, ("canonical",))
    sims = vectors[:2700] @ query
    expected = np.argsort(-sims)[:20] + 1
    assert [pk for pk, _ in hits] == list(expected)
    assert hits[0] == (8, pytest.approx(1.0, abs=1e-5))
    assert all(pk <= 2700 for pk, _ in matrix.top_k(query, 3000, ("canonical",)))


def test_in_place_changes_equal_a_fresh_build(data):
    rng, vectors, statuses = data
    matrix = matrix_of(vectors[:100], statuses[:100])
    live = {pk: (vectors[pk - 1], "canonical") for pk in range(1, 101)}
    for step in range(400):  # grows past its capacity and compacts on the way
        pk = int(rng.integers(1, 600))
        if rng.random() < 0.6:
            vector = unit(rng.standard_normal((1, DIM)))[0]
            status = rng.choice(["canonical", "archived"])
            matrix.add(pk, vector, status)
            live[pk] = (vector, status)
        elif pk in live:
            matrix.remove([pk])
            del live[pk]
    pks = sorted(live)
    fresh = VectorMatrix(np.array(pks), np.stack([live[p][0] for p in pks]), status_codes([live[p][1] for p in pks]))
    query = unit(rng.standard_normal((1, DIM)))[0]
    for statuses_wanted in (("canonical",), ("archived",)):
        assert matrix.top_k(query, 30, statuses_wanted) == fresh.top_k(query, 30, statuses_wanted)
    assert len(matrix) == len(live)
