"""Build an embedder from the ``embed_config`` dict given to ``SkillManager``."""

from __future__ import annotations

from typing import Any

from ..clients import check_config
from ..errors import ValidationError

PROVIDERS = ("openai", "local")

# key -> (accepted types, description for error messages); bool is rejected separately.
_OPENAI_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "provider": ((str,), '"openai" or "local"'),
    "model": ((str,), 'an embedding model name such as "text-embedding-3-small"'),
    "base_url": ((str, type(None)), 'an endpoint URL such as "http://localhost:11434/v1", or None'),
    "api_key": ((str, type(None)), "a string, or None to use the OPENAI_API_KEY environment variable"),
    "dimensions": ((int, type(None)), "a positive integer, or None for the model's full width"),
    "batch_size": ((int, type(None)), "a positive integer (texts per request), or None for 256"),
    "timeout": ((int, float, type(None)), "a positive number of seconds, or None for 30"),
    "max_retries": ((int, type(None)), "an integer >= 0, or None for 2"),
}


def embedder_from_config(config: dict[str, Any]) -> Any:
    """Validate an ``embed_config`` dict and return the embedder it describes.

    Accepted keys: ``provider`` (``"openai"``, the default, or ``"local"``), ``model``
    (required for openai), ``base_url``, ``api_key``, ``dimensions``, ``batch_size``,
    ``timeout``, ``max_retries``. The 0.1.x form ``{"base_url", "api_key", "model"}`` is a
    valid openai config. ``{"provider": "local"}`` takes no other keys.

    Args:
        config: the dict.

    Returns:
        An :class:`~skillvault.embed.openai_compat.OpenAIEmbedder` or a
        :class:`~skillvault.embed.local.LocalEmbedder`.

    Raises:
        ValidationError: naming ``embed_config.<key>`` for an unknown key, a wrong type or
            value, or a missing ``model``; ``embed_config`` itself if it is not a dict.
        EmbeddingError: if the openai provider is chosen but the ``openai`` package is missing.
    """
    check_config(config, "embed_config", _OPENAI_KEYS, '{"model": "text-embedding-3-small"}')
    provider = config.get("provider", "openai")
    if provider not in PROVIDERS:
        raise ValidationError("embed_config.provider", f'must be "openai" or "local", got {provider!r}')
    if provider == "local":
        extra = [key for key in config if key != "provider"]
        if extra:
            raise ValidationError(
                f"embed_config.{extra[0]}",
                "the local embedder (all-MiniLM-L6-v2) takes no options; "
                'remove this key or use provider "openai"',
            )
        from .local import LocalEmbedder

        return LocalEmbedder()

    if "model" not in config:
        raise ValidationError(
            "embed_config.model", 'is required, e.g. {"model": "text-embedding-3-small"}'
        )
    _check_value(config, "model", lambda v: bool(v.strip()), "must be a non-empty model name")
    _check_value(config, "base_url", lambda v: v.startswith(("http://", "https://")),
                 'must start with http:// or https://, e.g. "http://localhost:11434/v1"')
    _check_value(config, "api_key", lambda v: bool(v.strip()),
                 "must not be empty; omit it to use OPENAI_API_KEY")
    _check_value(config, "dimensions", lambda v: v >= 1, "must be a positive integer")
    _check_value(config, "batch_size", lambda v: 1 <= v <= 2048,
                 "must be between 1 and 2048 (the API's limit)")
    _check_value(config, "timeout", lambda v: v > 0, "must be a positive number of seconds")
    _check_value(config, "max_retries", lambda v: v >= 0, "must be an integer >= 0")

    from .openai_compat import OpenAIEmbedder

    options = {
        key: value for key, value in config.items() if key not in ("provider", "model") and value is not None
    }
    try:
        return OpenAIEmbedder(config["model"], **options)
    except ValidationError as exc:  # e.g. no API key anywhere: name the config key
        raise exc.within("embed_config") from exc


def _check_value(config: dict[str, Any], key: str, ok: Any, message: str) -> None:
    """Raise ValidationError for ``embed_config.<key>`` if present, not None and not ``ok``."""
    value = config.get(key)
    if value is not None and not ok(value):
        raise ValidationError(f"embed_config.{key}", f"{message}, got {value!r}")
