"""Turn free text into a safe FTS5 MATCH expression."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 32
COMMON_SHARE = 0.05
COMMON_MIN_DOCS = 200

# Words too common to say anything about relevance (English; queries in other
# languages just keep all their words).
STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    best between both but by can could did do does doing done down during each few for from get
    got had has have having how i if in into is it its just like make me more most my no not now
    of off on once only or other our out over own same should so some such than that the their
    them then there these they this those through to too under until up use used using very want
    was way we well were what when where which while who why will with would you your""".split()
)


def query_terms(text: str) -> list[str]:
    """Return the distinct lower-cased non-stopword words of ``text``, in order."""
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word not in STOPWORDS and word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def common_limit(total: int) -> int:
    """Chunks a word may appear in before it counts as common in a library of ``total``
    searchable chunks (:data:`COMMON_SHARE` of them, at least :data:`COMMON_MIN_DOCS`)."""
    return int(max(COMMON_SHARE * total, COMMON_MIN_DOCS))


def informative_terms(terms: list[str], document_counts: dict[str, int], total: int, max_postings: int) -> list[str]:
    """Keep the terms worth searching for, in their order.

    A word in more than :data:`COMMON_SHARE` of the chunks (and more than
    :data:`COMMON_MIN_DOCS`) adds almost nothing to BM25 but makes FTS5 score every
    chunk holding it; it is treated like a stop word for this library (if no term is
    left, all are kept). Then the rarest terms are kept while the chunks they match add
    up to at most ``max_postings`` (the store's budget): FTS5 scores every chunk that matches any term,
    so in a large library a query's cost would otherwise grow with the library, while
    BM25 is decided by the rare words anyway (the rarest term is always kept).
    """
    limit = common_limit(total)
    kept = [term for term in terms if document_counts.get(term, 0) <= limit] or terms
    budget, chosen = max_postings, set()
    for term in sorted(kept, key=lambda t: document_counts.get(t, 0)):
        cost = document_counts.get(term, 0)
        if chosen and cost > budget:
            break
        chosen.add(term)
        budget -= cost
    return [term for term in kept if term in chosen]


def match_expression(terms: list[str]) -> str:
    """Return an FTS5 expression matching any of ``terms``, or "" if there are none.

    Every term is double-quoted, so FTS5 operators and punctuation in user text
    (``AND``, ``NEAR``, ``*``, ``"``, ``:``) are matched literally, never interpreted.
    """
    return " OR ".join(f'"{term}"' for term in terms)
