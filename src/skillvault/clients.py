"""Plumbing shared by the adapters over provider SDKs (OpenAI embeddings, OpenAI and
Anthropic chat): argument checks, config-dict checks, optional imports, API keys."""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from . import validation
from .errors import SkillVaultError, ValidationError

#: ``{key: (accepted types, what is wanted, for the error message)}``; bools never pass.
ConfigTable = dict[str, tuple[tuple[type, ...], str]]


def check_int(field: str, value: object, minimum: int, optional: bool = False) -> None:
    """Raise ValidationError unless ``value`` is an int >= ``minimum`` (or None if optional)."""
    validation.check_int(value, field, minimum, optional=optional)


def check_client_args(model: Any, base_url: Any, api_key: Any, timeout: Any, max_retries: Any) -> None:
    """Check the arguments every SDK adapter takes.

    Raises:
        ValidationError: naming the argument: an empty model, a non-string or empty
            base_url / api_key, a base_url that is not http(s), a non-positive timeout, or
            max_retries that is not an integer >= 0.
    """
    if not isinstance(model, str) or not model.strip():
        raise ValidationError("model", f"must be a non-empty model name, got {model!r}")
    for field, value in (("base_url", base_url), ("api_key", api_key)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValidationError(field, f"must be a non-empty string or None, got {value!r}")
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise ValidationError("base_url", f'must start with http:// or https://, e.g. "http://localhost:11434/v1", got {base_url!r}')
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValidationError("timeout", f"must be a positive number of seconds, got {timeout!r}")
    check_int("max_retries", max_retries, minimum=0)


def import_sdk(module: str, extra: str, purpose: str, error: type[SkillVaultError]) -> ModuleType:
    """Import an optional SDK, or raise ``error`` saying which extra installs it."""
    try:
        return __import__(module)
    except ImportError as exc:
        raise error(f'{purpose} needs the {module} package: pip install "skillvault[{extra}]"') from exc


def api_key_or_env(api_key: str | None, env_var: str, config_name: str, placeholder_hint: bool = False) -> str:
    """Return ``api_key``, else the environment variable, else raise naming both.

    Raises:
        ValidationError: on field ``api_key`` when neither is set.
    """
    key = api_key or os.environ.get(env_var)
    if not key:
        hint = ' (a local OpenAI-compatible server accepts any placeholder, e.g. "none")' if placeholder_hint else ""
        raise ValidationError("api_key", f'no API key: set {config_name}["api_key"] or the {env_var} environment variable{hint}')
    return key


def check_config(config: Any, config_name: str, table: ConfigTable, example: str) -> None:
    """Check an ``*_config`` dict's shape: a dict, known keys, right types.

    Args:
        config: the dict given by the user.
        config_name: its argument name, e.g. ``"llm_config"`` (errors name ``<config_name>.<key>``).
        table: accepted keys with their types and a description.
        example: an example dict shown when ``config`` is not a dict.

    Raises:
        ValidationError: naming the key (or the config) at fault.
    """
    if not isinstance(config, dict):
        raise ValidationError(config_name, f"must be a dict such as {example}, got {type(config).__name__}")
    for key, value in config.items():
        if key not in table:
            raise ValidationError(f"{config_name}.{key}", f"unknown key; allowed keys are {', '.join(table)}")
        types, wanted = table[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ValidationError(f"{config_name}.{key}", f"must be {wanted}, got {value!r}")
