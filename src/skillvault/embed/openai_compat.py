"""Embedder for the OpenAI embeddings API and any server that speaks it (via ``base_url``).

Uses the official ``openai`` SDK, an optional dependency: ``pip install "skillvault[openai]"``.
"""

from __future__ import annotations

from ..clients import api_key_or_env, check_client_args, check_int, import_sdk
from ..errors import EmbeddingError


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
        check_client_args(model, base_url, api_key, timeout, max_retries)
        check_int("dimensions", dimensions, minimum=1, optional=True)
        check_int("batch_size", batch_size, minimum=1)
        openai = import_sdk("openai", "openai", "the OpenAI embedder", EmbeddingError)
        key = api_key_or_env(api_key, "OPENAI_API_KEY", "embed_config", placeholder_hint=True)
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
