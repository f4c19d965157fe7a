"""Near-duplicate chunks: the same text published in several skills.

Public collections repeat boilerplate across skills (K-Dense-AI's skills share whole
sections word for word, or with the skill's name swapped in). Packing two copies
spends the budget twice on one piece of information, so :func:`pack` keeps the
better-ranked copy. Resemblance is measured on the words, not the vectors: two install
sections ("pip install rdkit" / "pip install pandas") embed almost alike yet say
different things, while a copy with one name changed shares nearly all its word
sequences.
"""

from __future__ import annotations

import re

#: Share of word 3-grams two chunks must have in common to count as copies.
NEAR_DUPLICATE = 0.8
_WORD = re.compile(r"\w+")


def shingles(text: str) -> frozenset[tuple[str, ...]]:
    """The word 3-grams of ``text`` (lower case); short texts give their single n-gram."""
    words = _WORD.findall(text.lower())
    if len(words) < 3:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(zip(words, words[1:], words[2:]))


def resemblance(a: frozenset, b: frozenset) -> float:
    """Jaccard similarity of two shingle sets (0..1; 0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def copies(a: frozenset, b: frozenset) -> float:
    """:func:`resemblance` when it can reach :data:`NEAR_DUPLICATE`, else 0 (sets whose
    sizes differ more than that are not intersected: Jaccard <= smaller / larger)."""
    small, large = sorted((len(a), len(b)))
    if not small or small < NEAR_DUPLICATE * large:
        return 0.0
    return resemblance(a, b)
