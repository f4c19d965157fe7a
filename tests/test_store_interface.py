"""The store interface: nested transactions, writers that need one, status transitions."""

from __future__ import annotations

import inspect

import pytest

from skillvault.errors import BackendNotAvailableError, ValidationError
from skillvault.library import prepare
from skillvault.models import STATUSES, TRANSITIONS, Status, check_transition
from skillvault.store import SQLiteStore, Store, open_store

from conftest import make_skill


def skill_ids(sm) -> list[str]:
    return sorted(row[0] for row in sm.store.conn.execute("SELECT id FROM skills"))


def write(sm, skill_id: str, text: str = "alpha beta") -> None:
    ready = make_skill(skill_id, ("Steps", text)).validate()
    sm.store.write_skill(*prepare(ready, sm.embeddings), sm.embeddings.name)


def test_sqlite_store_implements_every_method_of_the_interface():
    abstract = {name for name, member in vars(Store).items() if getattr(member, "__isabstractmethod__", False)}
    assert {"transaction", "write_skill", "change_status", "hybrid_candidates", "card_vectors"} <= abstract
    assert not SQLiteStore.__abstractmethods__
    for name in abstract:  # same parameters as the interface says
        assert list(inspect.signature(getattr(Store, name)).parameters) == list(
            inspect.signature(getattr(SQLiteStore, name)).parameters), name


def test_open_store_opens_sqlite_and_names_the_missing_postgres_backend(tmp_path):
    store = open_store(str(tmp_path / "lib.db"))
    assert isinstance(store, SQLiteStore) and isinstance(store, Store)
    store.close()
    with pytest.raises(BackendNotAvailableError, match="PostgreSQL backend is not wired"):
        open_store("postgresql://someone@localhost/skills")


def test_an_inner_failure_undoes_only_the_inner_writes(sm):
    query = sm.embeddings.embed_query("alpha beta")
    with sm.store.transaction():
        write(sm, "outer")
        with pytest.raises(ValueError, match="inner"):
            with sm.store.transaction():
                write(sm, "inner")
                assert sm.store.in_transaction()
                raise ValueError("inner fails")
        assert sm.store.in_transaction()
        write(sm, "after")
    assert not sm.store.in_transaction()
    assert skill_ids(sm) == ["after", "outer"]
    found = {sm.store.chunks_by_pk([pk])[pk].chunk.skill_id for pk, _ in sm.store.vector_search(query, 10, ("canonical",))}
    assert found == {"after", "outer"}  # the vector index did not keep the undone skill either
    assert sm.search("alpha beta")


def test_an_outer_failure_undoes_the_committed_inner_blocks_too(sm):
    with pytest.raises(RuntimeError, match="outer"):
        with sm.store.transaction():
            with sm.store.transaction():
                write(sm, "inner")
            raise RuntimeError("outer fails")
    assert skill_ids(sm) == []
    assert sm.store._tracker.pending() == []
    with sm.store.transaction():  # and the store is usable again
        with sm.store.transaction():
            write(sm, "inner")
    assert skill_ids(sm) == ["inner"]


def test_writers_refuse_to_run_outside_a_transaction(sm):
    sm.register(make_skill("git", ("Rebase", "git rebase main")))
    ready = make_skill("new", ("Steps", "x")).validate()
    with pytest.raises(RuntimeError, match=r"write_skill must run inside store\.transaction\(\)"):
        sm.store.write_skill(*prepare(ready, sm.embeddings), sm.embeddings.name)
    with pytest.raises(RuntimeError, match="change_status must run inside"):
        sm.store.change_status("git", "archived")
    with pytest.raises(RuntimeError, match="add_audit must run inside"):
        sm.store.add_audit("human", "note", "git")
    with pytest.raises(RuntimeError, match="delete_skill must run inside"):
        sm.store.delete_skill("git")
    with sm.store.snapshot():  # a read snapshot is not a write transaction
        with pytest.raises(RuntimeError, match="write_skill must run inside"):
            sm.store.write_skill(*prepare(ready, sm.embeddings), sm.embeddings.name)
    assert skill_ids(sm) == ["git"] and sm.get("git").status == "canonical"
    assert [entry["action"] for entry in sm.history("git")] == ["register"]


def test_statuses_are_strings_and_every_status_has_its_transitions():
    assert STATUSES == ("canonical", "draft", "archived", "rejected")
    assert Status.DRAFT == "draft" and f"{Status.DRAFT}" == "draft" and Status("archived") is Status.ARCHIVED
    assert set(TRANSITIONS) == set(Status)
    check_transition("draft", "canonical")
    check_transition("archived", "draft")
    with pytest.raises(ValidationError, match="a canonical skill cannot become draft; it can become: archived"):
        check_transition("canonical", "draft")
    with pytest.raises(ValidationError, match="must be one of"):
        check_transition("draft", "published")


def test_an_illegal_transition_raises_and_changes_nothing(sm):
    sm.register(make_skill("git", ("Rebase", "git rebase main")))
    before = sm.get("git")
    with pytest.raises(ValidationError, match="a canonical skill cannot become rejected"):
        with sm.store.transaction():
            sm.store.change_status("git", "rejected", flags=["nope"])
    after = sm.get("git")
    assert (after.status, after.flags, after.version) == (before.status, before.flags, before.version)
    assert [hit.skill_id for hit in sm.search("git rebase")] == ["git"]
    assert [entry["action"] for entry in sm.history("git")] == ["register"]
