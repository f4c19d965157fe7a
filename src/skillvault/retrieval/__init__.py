"""Retrieval: hybrid search, relevance floor, dependency expansion, packing, rendering."""

from .engine import Retriever
from .pack import Decision, Packing
from .search import Hit

__all__ = ["Decision", "Hit", "Packing", "Retriever"]
