"""The word counts a store remembers between queries.

Counting how many chunks hold a word costs as much as searching it (FTS5's vocabulary
table and PostgreSQL's GIN index both read the word's whole list of chunks), while the
retrieval layer needs only the rough share of chunks holding it. So counts are kept
while the library's size stays within 10% of what it was when they were counted: with
many writers, counting again after every write made each query count every word.
"""

from __future__ import annotations

#: Most words whose counts a store remembers.
MAX_REMEMBERED = 100_000
#: How far the library's size may move before the counts are taken again.
SIZE_TOLERANCE = 0.1


def remembered_counts(store: object, size: int) -> dict:
    """Return ``store``'s remembered word counts for a library of ``size`` searchable chunks.

    They are emptied first when the size moved more than :data:`SIZE_TOLERANCE` since they
    were counted, or they hold more than :data:`MAX_REMEMBERED` words. The caller fills
    the dict it gets (what a value holds is the caller's).
    """
    memo = getattr(store, "_remembered_word_counts", None)
    if memo is None or abs(size - memo[0]) > SIZE_TOLERANCE * max(memo[0], 1) or len(memo[1]) > MAX_REMEMBERED:
        memo = (size, {})
        store._remembered_word_counts = memo  # type: ignore[attr-defined]
    return memo[1]
