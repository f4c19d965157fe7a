"""Search over the PostgreSQL store: pgvector HNSW, ``tsvector`` word search, skill vectors, cards.

A mixin of :class:`~.store.PostgresStore`. Vector search filters statuses before the top
``k`` are taken (pgvector's iterative scan keeps walking the graph until it has ``k``
rows, see :mod:`.connection`). Word search receives the FTS5 expression the retrieval
layer builds (``"word" OR "word"``) and ORs the same words as a ``tsquery``.
"""

from __future__ import annotations

import re
from typing import Optional

import numpy as np

from ..base import WordChooser
from ..cards import CardFields
from ..word_counts import remembered_counts
from .migrations import META_SEARCHABLE_CHUNKS
from .search import candidates
from .vectors import to_array, vector_layout

META_INDEX_GENERATION = "index_generation"
_QUOTED = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"\w+", re.UNICODE)


def tsquery_text(match: str) -> str:
    """Turn the retrieval layer's FTS5 expression (``"a" OR "b c"``) into ``to_tsquery`` text
    that matches any of its terms (a quoted phrase becomes ``b <-> c``); "" if none."""
    terms = []
    for quoted in _QUOTED.findall(match):
        words = _WORD.findall(quoted)
        if words:
            terms.append("(" + " <-> ".join(words) + ")")
    return " | ".join(terms)


def _answers(entry: Optional[tuple[int, Optional[int]]], at_most: Optional[int]) -> bool:
    """Whether a remembered ``(count, cap)`` answers a question asked with ``at_most``: an
    exact count always does; one that went past a cap does if no more is asked now."""
    if entry is None:
        return False
    _count, cap = entry
    return cap is None or (at_most is not None and at_most <= cap)


class PgSearch:
    """Vector and word search over the chunks of non-draft skills, skill vectors and cards."""

    def _layout(self):
        """The library's :class:`~.vectors.VectorLayout` (None before any vector), read once:
        only a reindex changes it, and :meth:`forget_layout` is called then."""
        if getattr(self, "_known_layout", None) is None:
            self._known_layout = vector_layout(self.conn)
        return self._known_layout

    def forget_layout(self) -> None:
        """Read the vector layout again on the next search (the width was just set or changed)."""
        self._known_layout = None

    def _distance(self, column: str) -> str:
        layout = self._layout()
        return layout.distance(column, "%(q)s") if layout else f"({column} <=> %(q)s::vector)"

    def vector_search(self, query: np.ndarray, k: int, statuses: tuple[str, ...]) -> list[tuple[int, float]]:
        """Cosine nearest neighbours among chunks of skills in ``statuses``: up to ``k``
        ``(chunk pk, similarity)`` pairs, best first (HNSW, exact above 4,000 dimensions)."""
        if self.embedder_record()[1] is None:
            return []
        distance = self._distance("v.embedding")
        rows = self.conn.execute(
            f"""SELECT c.pk, 1 - {distance} AS similarity FROM chunk_vectors v JOIN chunks c ON c.pk = v.chunk_pk
                JOIN skills s ON s.id = c.skill_id WHERE s.status = ANY(%(statuses)s)
                ORDER BY {distance}, c.pk LIMIT %(k)s""",
            {"q": np.asarray(query, dtype=np.float32), "statuses": list(statuses), "k": k}).fetchall()
        return [(int(pk), float(score)) for pk, score in rows]

    def vector_scores(self, query: np.ndarray, pks: list[int]) -> dict[int, float]:
        """Return the cosine similarity of ``query`` to each given (non-draft) chunk."""
        if not pks:
            return {}
        rows = self.conn.execute(
            "SELECT chunk_pk, 1 - (embedding <=> %(q)s::vector) FROM chunk_vectors WHERE chunk_pk = ANY(%(pks)s)",
            {"q": np.asarray(query, dtype=np.float32), "pks": list(pks)}).fetchall()
        return {int(pk): float(score) for pk, score in rows}

    def hybrid_candidates(self, query: np.ndarray, choose_words: WordChooser, k: int, statuses: tuple[str, ...]):
        """Return ``(match, vector_hits, lexical_hits)``: the words ``choose_words`` picks, then
        the hits :meth:`vector_search` and :meth:`lexical_search` would return, in one
        statement (:func:`.search.candidates`)."""
        match = choose_words(self.term_document_counts, self.indexed_chunk_count())
        layout = self._layout()
        if layout is None:
            return match, [], self.lexical_search(match, k, statuses)
        return (match, *candidates(self.conn, layout, query, tsquery_text(match), k, statuses))

    def lexical_search(self, match: str, k: int, statuses: tuple[str, ...]) -> list[tuple[int, float]]:
        """Word search (``ts_rank_cd``; skill name weighs most, then section, then text): up to
        ``k`` ``(chunk pk, score)`` pairs of non-draft chunks of skills in ``statuses``, best first.

        Args:
            match: an FTS5 expression of quoted terms (see :func:`tsquery_text`).
        """
        text = tsquery_text(match)
        if not text:
            return []
        rows = self.conn.execute(
            """SELECT c.pk, ts_rank_cd(c.words, q) AS score FROM chunks c JOIN skills s ON s.id = c.skill_id,
                   to_tsquery('english', %(text)s) q
               WHERE c.words @@ q AND s.status = ANY(%(statuses)s) AND s.status <> 'draft'
               ORDER BY score DESC, c.pk LIMIT %(k)s""",
            {"text": text, "statuses": list(statuses), "k": k}).fetchall()
        return [(int(pk), float(score)) for pk, score in rows]

    def card_lexical_search(self, match: str, k: int, statuses: tuple[str, ...],
                            weights: tuple[float, float, float, float, float]) -> list[tuple[str, float]]:
        """Word search over skill cards: up to ``k`` ``(skill id, score)`` pairs, best first.

        Args:
            weights: of the name, description, when-to-use, section titles and body; the
                card's ``tsvector`` holds description and when-to-use in one weight class,
                which gets their mean.
        """
        text = tsquery_text(match)
        if not text:
            return []
        name, description, when, sections, body = weights
        classes = [body, sections, (description + when) / 2, name]  # ts_rank_cd order: D, C, B, A
        top = max(classes) or 1.0
        rows = self.conn.execute(
            """SELECT k.skill_id, ts_rank_cd(%(weights)s::float4[], k.words, q) AS score
               FROM skill_cards k JOIN skills s ON s.id = k.skill_id, to_tsquery('english', %(text)s) q
               WHERE k.words @@ q AND s.status = ANY(%(statuses)s) ORDER BY score DESC, k.skill_id LIMIT %(k)s""",
            {"weights": [w / top for w in classes], "text": text, "statuses": list(statuses), "k": k}).fetchall()
        return [(str(skill_id), float(score)) for skill_id, score in rows]

    def file_lexical_search(self, match: str, k: int, statuses: tuple[str, ...]) -> list[tuple[str, str, float]]:
        """Word search over bundled text files: up to ``k`` ``(skill id, path, score)``, best first."""
        text = tsquery_text(match)
        if not text:
            return []
        rows = self.conn.execute(
            """SELECT f.skill_id, f.path, ts_rank_cd(f.words, q) AS score
               FROM skill_files f JOIN skills s ON s.id = f.skill_id, to_tsquery('english', %(text)s) q
               WHERE f.words @@ q AND s.status = ANY(%(statuses)s)
               ORDER BY score DESC, f.skill_id, f.path LIMIT %(k)s""",
            {"text": text, "statuses": list(statuses), "k": k}).fetchall()
        return [(str(skill_id), str(path), float(score)) for skill_id, path, score in rows]

    def _generation(self) -> Optional[str]:
        return self.get_meta(META_INDEX_GENERATION)

    def term_document_counts(self, terms: list[str], at_most: Optional[int] = None) -> dict[str, int]:
        """Return how many chunks contain each term (terms in none are left out).

        Counted through the GIN index (a draft's chunks count too: the retrieval layer
        needs the rough share of chunks holding a word) and remembered as on SQLite (see
        :mod:`..word_counts`).

        Args:
            at_most: counting a word stops past it (the word is then given as
                ``at_most + 1``): a word in 98k of 100k chunks took ~100 ms to count,
                7 ms to find in more than 5,000 (one in 19k: 80 ms against 24 ms).
        """
        if not terms:
            return {}
        known = remembered_counts(self, self.indexed_chunk_count())  # term -> (count, cap it went past or None)
        missing = [term for term in dict.fromkeys(terms) if not _answers(known.get(term), at_most)]
        queries = [tsquery_text(f'"{term}"') for term in missing]
        counted = dict(self.conn.execute(
            """SELECT q, (SELECT count(*) FROM (SELECT 1 FROM chunks WHERE words @@ to_tsquery('english', q)
                                                LIMIT %s) hit)
               FROM unnest(%s::text[]) AS q WHERE q <> ''""",
            (None if at_most is None else at_most + 1, queries)).fetchall()) if missing else {}
        for term, query in zip(missing, queries):
            count = counted.get(query, 0)
            known[term] = (count, at_most if at_most is not None and count > at_most else None)
        return {term: known[term][0] for term in terms if known[term][0]}

    def indexed_chunk_count(self) -> int:
        """Return the number of searchable (non-draft) chunks (kept in ``meta`` by triggers)."""
        return int(self.get_meta(META_SEARCHABLE_CHUNKS) or 0)

    def rebuild_vector_index(self, progress=None) -> None:
        """Rebuild the server's HNSW index of chunk vectors (``REINDEX``); no-op without one."""
        if self.conn.execute("SELECT to_regclass('chunk_vectors_hnsw')").fetchone()[0] is not None:
            self.conn.execute("REINDEX INDEX chunk_vectors_hnsw")

    def vector_index_summary(self) -> str:
        """Return one line on the vector index (kind and size)."""
        info = self.vector_index_info()
        kind = "pgvector HNSW (cosine)" if info["kind"] == "hnsw" else "exact scan (too wide for pgvector HNSW)"
        return f"{kind} on the server, {info['chunks']} searchable chunks"

    def vector_index_info(self) -> dict:
        """Return ``kind`` ("hnsw" or "exact") and ``chunks`` (searchable chunk vectors)."""
        layout = vector_layout(self.conn)
        return {"kind": "exact" if layout is None or layout.index == "exact" else "hnsw",
                "chunks": self.indexed_chunk_count()}

    def skill_vectors(self, statuses: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
        """Return skill ids and one unit vector per skill (the mean of its chunk vectors),
        drafts' from ``draft_vectors``, other skills' from ``chunk_vectors``."""
        dim = self.embedder_record()[1]
        if dim is None:
            return [], np.zeros((0, 0), dtype=np.float32)
        rows = self.conn.execute(
            """SELECT skill_id, avg(embedding) FROM (
                   SELECT c.skill_id, v.embedding FROM chunks c JOIN skills s ON s.id = c.skill_id
                   JOIN chunk_vectors v ON v.chunk_pk = c.pk WHERE s.status = ANY(%(s)s)
                   UNION ALL
                   SELECT c.skill_id, d.embedding FROM chunks c JOIN skills s ON s.id = c.skill_id
                   JOIN draft_vectors d ON d.chunk_pk = c.pk WHERE s.status = ANY(%(s)s)) both_kinds
               GROUP BY skill_id ORDER BY skill_id""", {"s": list(statuses)}, binary=True).fetchall()
        if not rows:
            return [], np.zeros((0, dim), dtype=np.float32)
        matrix = np.stack([to_array(vector) for _id, vector in rows])
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        return [row[0] for row in rows], matrix.astype(np.float32)

    def card_vectors(self, statuses: tuple[str, ...], skill_ids: Optional[set[str]] = None):
        """Return ``(skill ids, matrix, missing)``: the card vectors of skills in ``statuses``
        (only ``skill_ids``' if given), and ``(row, card text)`` for cards without one.
        All cards are read once and kept until the library next changes."""
        if skill_ids is not None:
            return self._read_card_vectors(statuses, sorted(skill_ids))
        key = (self._generation(), tuple(statuses))
        cached = getattr(self, "_card_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        result = self._read_card_vectors(statuses, None)
        self._card_cache = (key, result)
        return result

    def _read_card_vectors(self, statuses: tuple[str, ...], skill_ids: Optional[list[str]]):
        dim = self.embedder_record()[1] or 0
        rows = self.conn.execute(
            """SELECT k.skill_id, k.embedding, k.name, k.description, k.when_to_use FROM skill_cards k
               JOIN skills s ON s.id = k.skill_id WHERE s.status = ANY(%(s)s)
               AND (%(ids)s::text[] IS NULL OR k.skill_id = ANY(%(ids)s)) ORDER BY k.skill_id""",
            {"s": list(statuses), "ids": skill_ids}, binary=True).fetchall()
        matrix = np.zeros((len(rows), dim), dtype=np.float32)
        missing: list[tuple[int, str]] = []
        for index, (_id, vector, name, description, when) in enumerate(rows):
            if vector is not None and to_array(vector).shape[0] == dim:
                matrix[index] = to_array(vector)
            else:
                missing.append((index, CardFields(name, description, when, "").embedding_text()))
        return [row[0] for row in rows], matrix, missing
