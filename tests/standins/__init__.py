"""Local stand-ins for external services (HTTP APIs) used by the tests; no network needed."""

from .openai_server import OpenAIStandIn, embed_text

__all__ = ["OpenAIStandIn", "embed_text"]
