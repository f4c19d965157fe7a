"""Pytest fixtures for the stand-ins; import them into ``tests/conftest.py``:

    from standins.fixtures import openai_standin  # noqa: F401
"""

from __future__ import annotations

from typing import Iterator

import pytest

from .anthropic_server import AnthropicStandIn
from .openai_server import OpenAIStandIn


@pytest.fixture
def openai_standin() -> Iterator[OpenAIStandIn]:
    """A running :class:`OpenAIStandIn` (any bearer token accepted), stopped after the test."""
    with OpenAIStandIn() as server:
        yield server


@pytest.fixture
def anthropic_standin() -> Iterator[AnthropicStandIn]:
    """A running :class:`AnthropicStandIn` (any key accepted), stopped after the test."""
    with AnthropicStandIn() as server:
        yield server
