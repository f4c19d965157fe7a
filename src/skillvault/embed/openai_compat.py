"""Embedder for the OpenAI embeddings API and any server that speaks it (via ``base_url``).

Uses the official ``openai`` SDK, an optional dependency: ``pip install "skillvault[openai]"``.
"""

from __future__ import annotations

import os

from ..errors import EmbeddingError, ValidationError


class OpenAIEmbedder:
    """Embeds texts with ``client.embeddings.create`` in batches.

    Args:
        model: embedding model name, e.g. ``"text-embedding-3-small"``.
        base_url: an OpenAI-compatible endpoint (``"http://localhost:11434/v1"``);
            ``None`` means the SDK default (``OPENAI_BASE_URL`` or api.openai.com).
        api_key: the key; ``None`` falls back to the ``OPENAI_API_KEY`` environment variable.
        dimensions: ask the model for shorter vectors (text-embedding-3 models); part of
            :attr:`name`, since vectors of different widths cannot be mixed.
        batch_size: most texts per request.
        timeout: seconds per request.
        max_retries: retries the SDK makes on connection errors, 408/409/429 and 5xx.

    Raises:
        EmbeddingError: if the ``openai`` package is not installed.
        ValidationError: if an argument has a wrong type or value, or no API key is found.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 256,
        timeout: float = 30.0,
        max_retries: int = 2,
    ):
        if not isinstance(model, str) or not model.strip():
            raise ValidationError("model", f"must be a non-empty embedding model name, got {model!r}")
        for field, value in (("base_url", base_url), ("api_key", api_key)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValidationError(field, f"must be a non-empty string or None, got {value!r}")
        _check_int("dimensions", dimensions, minimum=1, optional=True)
        _check_int("batch_size", batch_size, minimum=1)
        _check_int("max_retries", max_retries, minimum=0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValidationError("timeout", f"must be a positive number of seconds, got {timeout!r}")
        try:
            import openai
        except ImportError as exc:
            raise EmbeddingError(
                'the OpenAI embedder needs the openai package: pip install "skillvault[openai]"'
            ) from exc
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            raise ValidationError(
                "api_key",
                'no API key: set embed_config["api_key"] or the OPENAI_API_KEY environment variable '
                "(a local OpenAI-compatible server accepts any placeholder, e.g. \"none\")",
            )
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.name = f"openai:{model}" + (f"@{dimensions}" if dimensions is not None else "")
        self.client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embed texts, ``batch_size`` per request, and return vectors in the caller's order.

        Args:
            texts: strings to embed.

        Returns:
            One list of floats per text (as the API returns them; not re-normalised here).

        Raises:
            EmbeddingError: if a text is not a string or the response does not hold exactly
                one embedding per input.
            openai.OpenAIError: API failures (auth, rate limit, server error) propagate
                unchanged; :func:`~skillvault.embed.base.embed_checked` wraps them.
        """
        texts = list(texts)
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise EmbeddingError(f"texts[{index}] must be a str, got {type(text).__name__}")
        extra = {"dimensions": self.dimensions} if self.dimensions is not None else {}
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            response = self.client.embeddings.create(model=self.model, input=batch, **extra)
            data = sorted(response.data, key=lambda item: item.index)
            if [item.index for item in data] != list(range(len(batch))):
                raise EmbeddingError(
                    f"embedder {self.name!r}: the server answered {len(data)} embeddings with indexes "
                    f"{[item.index for item in data][:10]} for {len(batch)} inputs"
                )
            vectors.extend(list(item.embedding) for item in data)
        return vectors


def _check_int(field: str, value: object, minimum: int, optional: bool = False) -> None:
    """Raise ValidationError unless ``value`` is an int >= ``minimum`` (or None if optional)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        allowed = f"an integer >= {minimum}" + (" or None" if optional else "")
        raise ValidationError(field, f"must be {allowed}, got {value!r}")
