"""Skill cards (issue 11 items 5, 6): indexed descriptions, search_skills, read_file."""

from __future__ import annotations

import pytest

from skillvault import SkillManager
from skillvault.errors import NotFoundError, SkillVaultError, ValidationError
from skillvault.models import Chunk, Skill

from conftest import make_skill


def described(skill_id: str, description: str, *sections, files=None) -> Skill:
    skill = make_skill(skill_id, *sections)
    skill.description = description
    if files is not None:
        skill.metadata = {"agent_skill": {"files": files}}
    return skill


K8S = described(
    "k8s-debug", "Diagnose pods stuck in CrashLoopBackOff or ImagePullBackOff on Kubernetes clusters",
    ("Logs", "Read the previous container's logs with kubectl logs --previous."),
    files={"references/probes.md": "Liveness probes that fail restart the container.", "scripts/x.bin": {"base64": "AAE="}},
)
BREAD = described("sourdough", "Bake bread with a wild yeast starter", ("Starter", "Feed the starter flour and water daily."))


def card_rows(sm):
    return sorted(sm.store.conn.execute(
        "SELECT k.skill_id, f.description FROM skill_cards k JOIN card_fts f ON f.rowid = k.pk").fetchall())


def test_description_alone_finds_the_skill(sm):
    for skill in (K8S, BREAD):
        sm.register(skill)
    # "CrashLoopBackOff" is only in the description, in no chunk.
    hits = sm.search_skills("CrashLoopBackOff", k=3)
    assert hits[0].id == "k8s-debug" and hits[0].name == K8S.name
    assert "CrashLoopBackOff" in hits[0].description
    assert "card words BM25" in hits[0].why and "card cosine" in hits[0].why
    assert all(hit.id != "sourdough" for hit in hits)


def test_cards_follow_register_archive_restore_and_drafts_stay_out(sm):
    sm.register(K8S)
    sm.register(BREAD)
    assert [row[0] for row in card_rows(sm)] == ["k8s-debug", "sourdough"]
    changed = described("sourdough", "Rye loaves", ("Starter", "Feed it."))
    sm.register(changed)
    assert dict(card_rows(sm))["sourdough"] == "Rye loaves"
    sm.archive("sourdough")
    assert sm.search_skills("Rye loaves") == [] or sm.search_skills("Rye loaves")[0].id != "sourdough"
    assert "sourdough" in dict(card_rows(sm))  # archived cards stay, filtered by status
    sm.restore("sourdough")
    assert sm.search_skills("Rye loaves")[0].id == "sourdough"
    draft = described("draft::secret", "Kubernetes CrashLoopBackOff secret draft", ("x", "y"))
    draft.status, draft.source = "draft", "extracted"
    sm.register(draft)
    assert "draft::secret" not in dict(card_rows(sm))
    assert all(hit.id != "draft::secret" for hit in sm.search_skills("CrashLoopBackOff secret draft"))


def test_cards_have_vectors_and_reindex_keeps_them(sm):
    sm.register(K8S)
    assert sm.store.conn.execute("SELECT COUNT(*) FROM skill_cards WHERE embedding IS NOT NULL").fetchone()[0] == 1
    sm.reindex()
    assert sm.store.conn.execute("SELECT COUNT(*) FROM skill_cards WHERE embedding IS NOT NULL").fetchone()[0] == 1
    assert sm.search_skills("CrashLoopBackOff")[0].id == "k8s-debug"


def test_card_without_vector_is_embedded_in_memory(sm):
    sm.register(K8S)
    with sm.store.transaction():
        sm.store.conn.execute("UPDATE skill_cards SET embedding = NULL, embed_hash = NULL")
        sm.store._tracker.touched()
    hit = sm.search_skills("Diagnose pods Kubernetes")[0]
    assert hit.id == "k8s-debug" and hit.signals["card"][0] > 0.3


def test_read_file_serves_only_the_skills_own_text_files(sm):
    sm.register(K8S)
    assert sm.read_file("k8s-debug", "references/probes.md").startswith("Liveness")
    assert sm.read_file("k8s-debug", "./references/probes.md").startswith("Liveness")
    with pytest.raises(NotFoundError, match="references/probes.md"):
        sm.read_file("k8s-debug", "references/missing.md")
    with pytest.raises(ValidationError):
        sm.read_file("k8s-debug", "../sourdough/SKILL.md")
    with pytest.raises(ValidationError):
        sm.read_file("k8s-debug", "/etc/passwd")
    with pytest.raises(SkillVaultError, match="binary"):
        sm.read_file("k8s-debug", "scripts/x.bin")
    with pytest.raises(NotFoundError):
        sm.read_file("nope", "references/probes.md")


def test_agent_may_search_skills_and_read_files_of_canonical_skills(db_path, embed):
    human = SkillManager(db_path, embed_fn=embed)
    human.register(K8S)
    draft = described("draft::d", "draft", ("x", "y"), files={"a.md": "hidden"})
    draft.status, draft.source = "draft", "extracted"
    human.register(draft)
    agent = SkillManager(db_path, embed_fn=embed, mode="agent")
    try:
        assert agent.search_skills("CrashLoopBackOff")[0].id == "k8s-debug"
        assert agent.read_file("k8s-debug", "references/probes.md")
        with pytest.raises(NotFoundError):
            agent.read_file("draft::d", "a.md")
    finally:
        agent.close()
        human.close()


def test_search_skills_validates(sm):
    with pytest.raises(ValidationError):
        sm.search_skills("")
    with pytest.raises(ValidationError):
        sm.search_skills("x", k=0)
    assert sm.search_skills("anything") == []


def test_evaluate_reports_recall_misses_and_untriggered_skills(sm, tmp_path):
    for skill in (K8S, BREAD):
        sm.register(skill)
    cases = tmp_path / "cases.yaml"
    cases.write_text('- {task: "pods in CrashLoopBackOff", expected: k8s-debug}\n'
                     '- {task: "Kubernetes pods restart", expected: Sourdough}\n', encoding="utf-8")
    report = sm.evaluate(cases)
    assert report.cases == 2 and report.r_at_1 == 0.5
    assert report.misses[0]["expected"] == "sourdough" and report.misses[0]["returned"][0] == "k8s-debug"
    assert report.untriggered == ["sourdough"]
    with pytest.raises(ValidationError, match="no served skill"):
        sm.evaluate([{"task": "x", "expected": "nope"}])
    with pytest.raises(ValidationError):
        sm.evaluate([{"task": "x"}])


def test_query_packs_the_skills_in_focus_and_says_why_others_were_dropped(sm):
    sm.register(make_skill("git-rebase", ("Squash", "squash commits with git rebase interactive before merging")))
    sm.register(make_skill("git-config", ("Aliases", "git config aliases save typing; set user name and email")))
    packing = sm.query("squash commits with git rebase", budget=2000, explain=True)
    taken = {d.chunk_id for d in packing.decisions if d.taken}
    assert taken == {"git-rebase::0"}
    dropped = {d.chunk_id: d.reason for d in packing.decisions if not d.taken}
    assert "off focus" in dropped["git-config::0"] and "70%" in dropped["git-config::0"]


def test_words_inside_a_bundled_reference_surface_the_skill_and_name_the_file(sm):
    sm.register(K8S)
    sm.register(BREAD)
    # "liveness" appears only in references/probes.md.
    hit = next(h for h in sm.search_skills("liveness probes restart containers", k=5) if h.id == "k8s-debug")
    assert hit.files == ["references/probes.md"]
    assert "bundled file words BM25" in hit.why and "references/probes.md" in hit.why
    sm.archive("k8s-debug")
    assert sm.store.conn.execute("SELECT COUNT(*) FROM file_fts").fetchone()[0] == 1  # filtered by status
    sm.register(described("k8s-debug", "Diagnose pods", ("Logs", "kubectl logs")))
    assert sm.store.conn.execute("SELECT COUNT(*) FROM file_fts").fetchone()[0] == 0


def test_focus_ranks_only_the_skills_with_hits_and_says_what_it_did_not_search(sm):
    from skillvault.retrieval.relevance import RelevanceFloor
    from skillvault.retrieval.skills import rank_skills

    sm.register(K8S)
    sm.register(BREAD)
    text = "liveness probes restart containers"
    vector = sm.embeddings.embed_query(text)
    floor = RelevanceFloor.calibrate(vector, sm.embeddings.null_vectors())
    everything = rank_skills(sm.store, vector, text, floor, ("canonical",))
    assert {h.id for h in everything} >= {"k8s-debug"}
    [focused] = rank_skills(sm.store, vector, text, floor, ("canonical",), among={"k8s-debug"})
    assert focused.id == "k8s-debug" and focused.files == []
    assert "bundled file words BM25: not searched" in focused.why
    assert "bundled file words BM25: not searched" not in everything[0].why
