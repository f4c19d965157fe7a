"""Search over the SQLite store: the vector index cache, FTS5, skill vectors.

A mixin of :class:`~skillvault.store.sqlite.SQLiteStore`: it reads through the store's
``conn`` and asks the store's :class:`~.index_tracker.IndexTracker` (``_tracker``) for
the vector index and for values cached until the next write.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .base import WordChooser
from .cards import CardFields
from .index_tracker import IndexTracker
from .side_read import SideRead
from .stemming import porter_stems
from .word_counts import remembered_counts

#: FTS5 ranks this many times ``k`` rows before statuses are filtered (archived chunks
#: keep their FTS rows).
LEXICAL_OVERFETCH = 4


class SearchIndex:
    """Vector and word search over the chunks of non-draft skills.

    Uses of the store: ``conn``, ``_sql`` (its driver module), ``_tracker``,
    ``_side_read`` (a :class:`~.side_read.SideRead`) and :meth:`~.base.Store.embedder_record`.
    """

    conn: Any
    _sql: Any
    _tracker: IndexTracker
    _side_read: SideRead

    def vector_search(self, query: np.ndarray, k: int, statuses: tuple[str, ...]) -> list[tuple[int, float]]:
        """Cosine KNN over chunks of skills in ``statuses``: up to ``k`` ``(chunk pk, similarity)``
        pairs, best first (exact for small libraries, HNSW above ``vector_cache.uses_ann``)."""
        return self._tracker.before_search().top_k(query, k, statuses)

    def hybrid_candidates(
        self, query: np.ndarray, choose_words: WordChooser, k: int, statuses: tuple[str, ...]
    ) -> tuple[str, list[tuple[int, float]], list[tuple[int, float]]]:
        """Return ``(match, vector_hits, lexical_hits)``: the words ``choose_words`` picks
        and the hits of :meth:`lexical_search` for them, with those of :meth:`vector_search`.

        Over an HNSW index the word side (counting the query's words, choosing them,
        FTS5) runs on a second thread during the vector search (see :mod:`.side_read`),
        in the same read transaction: the vector index is brought up to date first, so
        that nothing else uses the connection meanwhile. The word side must not take the
        store's lock, which the caller holds while it waits. An exact search of a small
        library is too short to gain from it (measured on 884 real chunks: p50 +0.4-0.8
        ms with the thread), so there the word side runs first, on this thread.
        """
        index = self._tracker.before_search()
        total = len(index)

        def words() -> tuple[str, list[tuple[int, float]]]:
            match = choose_words(lambda terms, _at_most: self._term_counts(terms, total), total)
            return match, self.lexical_search(match, k, statuses)

        if not index.approximate:
            match, lexical_hits = words()
            return match, index.top_k(query, k, statuses), lexical_hits
        side = self._side_read.start(words)
        try:
            vector_hits = index.top_k(query, k, statuses)
        finally:
            match, lexical_hits = side.result()
        return match, vector_hits, lexical_hits

    def vector_scores(self, query: np.ndarray, pks: list[int]) -> dict[int, float]:
        """Return the cosine similarity of ``query`` to each given chunk."""
        return self._tracker.before_search().scores_for(query, pks)

    def lexical_search(self, match: str, k: int, statuses: tuple[str, ...]) -> list[tuple[int, float]]:
        """FTS5 BM25 search: up to ``k`` ``(chunk pk, score)`` pairs, best first.

        Args:
            match: an FTS5 MATCH expression (build it with
                :func:`skillvault.retrieval.lexical.match_expression`).
            k: how many hits at most.
            statuses: only chunks of skills in these statuses.

        Returns:
            Pairs whose score is ``-bm25`` (higher is better). Skill name and section
            weigh more than body text.
        """
        if not match:
            return []
        status_marks = ",".join("?" * len(statuses))
        # Rank inside FTS5 first (no join per match), then keep the wanted statuses.
        # Only non-draft chunks have FTS rows; over-fetching covers archived ones.
        rows = self.conn.execute(
            f"""SELECT f.pk, f.score FROM (
                    SELECT rowid AS pk, -bm25(chunk_fts, 3.0, 2.0, 1.0) AS score FROM chunk_fts
                    WHERE chunk_fts MATCH ? ORDER BY score DESC LIMIT ?) f
                JOIN chunks c ON c.pk = f.pk JOIN skills s ON s.id = c.skill_id
                WHERE s.status IN ({status_marks}) ORDER BY f.score DESC LIMIT ?""",
            (match, k * LEXICAL_OVERFETCH, *statuses, k),
        ).fetchall()
        return [(int(pk), float(score)) for pk, score in rows]

    def term_document_counts(self, terms: list[str], at_most: Optional[int] = None) -> dict[str, int]:
        """Return how many indexed chunks contain each term (terms not indexed are left out).

        Terms are stemmed as the index stems them first ("guidance" is counted as
        "guidanc"); a word FTS5 splits into several tokens has no count. Counts are
        exact whatever ``at_most`` says: FTS5's vocabulary table holds them.
        """
        return self._term_counts(terms, self.indexed_chunk_count())

    def _term_counts(self, terms: list[str], size: int) -> dict[str, int]:
        """:meth:`term_document_counts` in a library of ``size`` searchable chunks (takes
        no lock: it runs on the word-search thread too)."""
        if not terms:
            return {}
        stems = porter_stems(self._sql).stems(terms)
        counts = self._stem_counts({stem for stem in stems.values() if stem is not None}, size)
        return {term: counts[stem] for term, stem in stems.items() if counts.get(stem)}

    def _stem_counts(self, stems: set[str], size: int) -> dict[str, int]:
        """Document counts of indexed stems, read from fts5vocab and remembered (see
        :mod:`.word_counts`)."""
        known = remembered_counts(self, size)
        missing = sorted(stems - known.keys())
        if missing:
            marks = ",".join("?" * len(missing))
            found = dict(self.conn.execute(f"SELECT term, doc FROM temp.chunk_terms WHERE term IN ({marks})", missing))
            known.update({stem: found.get(stem, 0) for stem in missing})
        return {stem: known[stem] for stem in stems}

    def indexed_chunk_count(self) -> int:
        """Return the number of chunks in the search indexes (non-draft chunks)."""
        return len(self._tracker.before_search())

    def rebuild_vector_index(self, progress: Optional[Callable[[int, int], None]] = None) -> None:
        """Read every chunk vector from SQLite into a new index (saved beside the database
        when it is large enough for the HNSW index and this process may write there).

        Args:
            progress: called as ``progress(done, total)`` while an HNSW index is built.
        """
        self._tracker.rebuild(progress)

    def vector_index_summary(self) -> str:
        """Return one line on the vector index (kind, size, saved copy) without building it."""
        return self._tracker.describe()

    def vector_index_info(self) -> dict:
        """Return what serves vector search: ``kind`` ("exact" or "hnsw"), ``chunks``,
        ``seq`` (last change applied), ``saved_seq`` and ``full_loads`` of this connection."""
        return self._tracker.info()

    def skill_vectors(self, statuses: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
        """Return skill ids and one unit vector per skill (the mean of its chunk vectors).

        Drafts' vectors come from ``draft_vectors``, other skills' from ``chunk_vec``.
        """
        dim = self.embedder_record()[1]
        if dim is None:
            return [], np.zeros((0, 0), dtype=np.float32)
        marks = ",".join("?" * len(statuses))
        rows = self.conn.execute(
            f"""SELECT c.skill_id, v.embedding FROM chunks c JOIN skills s ON s.id = c.skill_id
                JOIN chunk_vec v ON v.rowid = c.pk WHERE s.status IN ({marks})
                UNION ALL
                SELECT c.skill_id, d.embedding FROM chunks c JOIN skills s ON s.id = c.skill_id
                JOIN draft_vectors d ON d.chunk_pk = c.pk WHERE s.status IN ({marks})""",
            (*statuses, *statuses),
        ).fetchall()
        sums: dict[str, np.ndarray] = {}
        for skill_id, blob in rows:
            vector = np.frombuffer(blob, dtype=np.float32)
            sums[skill_id] = sums[skill_id] + vector if skill_id in sums else vector.copy()
        ids = sorted(sums)
        if not ids:
            return [], np.zeros((0, dim), dtype=np.float32)
        matrix = np.stack([sums[i] for i in ids])
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        return ids, matrix.astype(np.float32)

    # ------------------------------------------------------------------ skill cards
    def card_vectors(
        self, statuses: tuple[str, ...], skill_ids: Optional[set[str]] = None
    ) -> tuple[list[str], np.ndarray, list[tuple[int, str]]]:
        """Return the card vectors of skills in ``statuses`` (only ``skill_ids``' if given).

        Every card is read once and kept until the next write; a few named cards are
        read on each call (a query's focus needs a handful, not a large library's all).

        Returns:
            ``(skill ids, matrix, missing)``: one unit row per skill id whose card has a
            vector, and ``(row index, card text)`` for cards stored without one (their
            rows are zero; the caller embeds them).
        """
        if skill_ids is not None:
            return self._read_card_vectors(statuses, sorted(skill_ids))
        return self._tracker.per_generation(("cards", tuple(statuses)), lambda: self._read_card_vectors(statuses, None))

    def _read_card_vectors(
        self, statuses: tuple[str, ...], skill_ids: Optional[list[str]]
    ) -> tuple[list[str], np.ndarray, list[tuple[int, str]]]:
        dim = self.embedder_record()[1] or 0
        marks = ",".join("?" * len(statuses))
        only = f" AND k.skill_id IN ({','.join('?' * len(skill_ids))})" if skill_ids is not None else ""
        rows = self.conn.execute(
            # CROSS JOIN keeps the named cards the outer loop: joined the other way, SQLite
            # walks every skill of the status first (4k rows at 20k chunks, 3 ms a query).
            f"""SELECT k.skill_id, k.embedding, k.pk FROM skill_cards k {"CROSS JOIN" if skill_ids is not None else "JOIN"}
                skills s ON s.id = k.skill_id WHERE s.status IN ({marks}){only} ORDER BY k.skill_id""",
            (*statuses, *(skill_ids or ())),
        ).fetchall()
        ids = [row[0] for row in rows]
        matrix = np.zeros((len(rows), dim), dtype=np.float32)
        without: list[tuple[int, int]] = []  # (row, card pk): text read only for these
        for index, (_id, blob, card_pk) in enumerate(rows):
            vector = None if blob is None else np.frombuffer(blob, dtype=np.float32)
            if vector is not None and vector.shape[0] == dim:
                matrix[index] = vector
            else:
                without.append((index, card_pk))
        missing: list[tuple[int, str]] = []
        for index, card_pk in without:
            name, description, when = self.conn.execute(
                "SELECT name, description, when_to_use FROM card_fts WHERE rowid = ?", (card_pk,)).fetchone()
            missing.append((index, CardFields(name, description, when, "").embedding_text()))
        return ids, matrix, missing

    def card_lexical_search(
        self, match: str, k: int, statuses: tuple[str, ...], weights: tuple[float, float, float, float, float]
    ) -> list[tuple[str, float]]:
        """FTS5 BM25 over skill cards: up to ``k`` ``(skill id, score)`` pairs, best first.

        Args:
            match: an FTS5 MATCH expression.
            weights: BM25 weights of the name, description, when-to-use, section titles and body.
        """
        if not match:
            return []
        marks = ",".join("?" * len(statuses))
        rows = self.conn.execute(
            f"""SELECT k.skill_id, f.score FROM (
                    SELECT rowid AS pk, -bm25(card_fts, ?, ?, ?, ?, ?) AS score FROM card_fts
                    WHERE card_fts MATCH ? ORDER BY score DESC LIMIT ?) f
                JOIN skill_cards k ON k.pk = f.pk JOIN skills s ON s.id = k.skill_id
                WHERE s.status IN ({marks}) ORDER BY f.score DESC LIMIT ?""",
            (*weights, match, k * LEXICAL_OVERFETCH, *statuses, k),
        ).fetchall()
        return [(str(skill_id), float(score)) for skill_id, score in rows]

    def file_lexical_search(self, match: str, k: int, statuses: tuple[str, ...]) -> list[tuple[str, str, float]]:
        """FTS5 BM25 over bundled text files: up to ``k`` ``(skill id, path, score)``, best first."""
        if not match:
            return []
        marks = ",".join("?" * len(statuses))
        rows = self.conn.execute(
            f"""SELECT f.skill_id, f.path, f.score FROM (
                    SELECT skill_id, path, -bm25(file_fts) AS score FROM file_fts
                    WHERE file_fts MATCH ? ORDER BY score DESC LIMIT ?) f
                JOIN skills s ON s.id = f.skill_id
                WHERE s.status IN ({marks}) ORDER BY f.score DESC LIMIT ?""",
            (match, k * LEXICAL_OVERFETCH, *statuses, k),
        ).fetchall()
        return [(str(skill_id), str(path), float(score)) for skill_id, path, score in rows]

    def chunk_skills(self, pks: list[int]) -> dict[int, str]:
        """Return the skill id of each given chunk pk."""
        found: dict[int, str] = {}
        for start in range(0, len(pks), 500):
            batch = pks[start : start + 500]
            marks = ",".join("?" * len(batch))
            found.update(self.conn.execute(f"SELECT pk, skill_id FROM chunks WHERE pk IN ({marks})", batch).fetchall())
        return found

    def skill_cards_of(self, skill_ids: list[str]) -> dict[str, tuple[str, str]]:
        """Return ``{skill id: (name, description)}`` for these skills."""
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(skill_ids), 500):
            batch = skill_ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            for skill_id, name, description in self.conn.execute(
                f"SELECT id, name, description FROM skills WHERE id IN ({marks})", batch
            ):
                found[skill_id] = (name, description)
        return found
