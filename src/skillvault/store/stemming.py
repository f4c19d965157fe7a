"""Porter stems exactly as the FTS5 index makes them.

The FTS5 tables use ``tokenize = 'porter unicode61 remove_diacritics 2'``, so the index
holds stems ("guidance" -> "guidanc"). Anything that looks words up in it (document
counts through ``fts5vocab``) must stem them the same way first. Rather than a second
stemmer that could disagree on some words, the words go through FTS5 itself, in a
private in-memory table of the same tokenizer (the agent's guarded connection may not
write even to its temp schema).
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Optional

TOKENIZER = "porter unicode61 remove_diacritics 2"
#: Stems remembered per process (queries repeat their words); the memo is cleared when full.
MAX_MEMO = 50_000


class PorterStems:
    """Maps words to the single FTS5 token each one indexes as.

    Args:
        module: the sqlite3-compatible module of the store (its FTS5 does the stemming).
    """

    def __init__(self, module: ModuleType):
        self._conn = module.connect(":memory:", check_same_thread=False)
        self._conn.execute(f"CREATE VIRTUAL TABLE words USING fts5(word, tokenize = '{TOKENIZER}')")
        self._conn.execute("CREATE VIRTUAL TABLE tokens USING fts5vocab(words, 'instance')")
        self._memo: dict[str, Optional[str]] = {}
        self._lock = threading.Lock()

    def stems(self, words: list[str]) -> dict[str, Optional[str]]:
        """Return each word's stem, or None for a word FTS5 splits into several tokens
        (or none): it has no single document count."""
        with self._lock:
            missing = [word for word in dict.fromkeys(words) if word not in self._memo]
            if missing:
                if len(self._memo) + len(missing) > MAX_MEMO:
                    self._memo.clear()
                self._conn.executemany("INSERT INTO words(rowid, word) VALUES (?, ?)", list(enumerate(missing)))
                tokens: dict[int, list[str]] = {}
                for term, row in self._conn.execute("SELECT term, doc FROM tokens"):
                    tokens.setdefault(row, []).append(term)
                self._conn.execute("DELETE FROM words")
                for row, word in enumerate(missing):
                    found = tokens.get(row, [])
                    self._memo[word] = found[0] if len(found) == 1 else None
            return {word: self._memo[word] for word in words}

    def close(self) -> None:
        """Close the private connection."""
        self._conn.close()


_shared: dict[str, PorterStems] = {}
_shared_lock = threading.Lock()


def porter_stems(module: ModuleType) -> PorterStems:
    """The process's :class:`PorterStems` for ``module`` (one private connection, shared)."""
    with _shared_lock:
        if module.__name__ not in _shared:
            _shared[module.__name__] = PorterStems(module)
        return _shared[module.__name__]
