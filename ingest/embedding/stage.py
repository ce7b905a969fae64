"""The embedding stage: vectors for new chunk texts, cached by text hash."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import polars as pl

from ingest.core.files import read_parquet, write_parquet
from ingest.core.stage import StageResult, elapsed
from ingest.core.storage import TenantPaths
from ingest.embedding.embed import Embedder, embedding_model_key

# Texts per encoding call: a progress line each, about every 20 s on two cores.
EMBED_PROGRESS_TEXTS = 512


def embed_stage(paths: TenantPaths, model_name: str, embedder: Callable[[], Embedder], *,
                model_key: str | None = None, on_progress: Callable[[int, int], None] | None = None) -> StageResult:
    """Vectors for every chunk text not yet in the tenant's cache for this model.

    The cache is keyed by chunk text hash, so text that did not change is never
    embedded again, whatever happened to its document; entries no live chunk
    uses are dropped. `model_key` names the vectors (model and precision; default the model's at fp32).
    `on_progress(embedded, total)` follows each EMBED_PROGRESS_TEXTS texts.
    """
    started = time.perf_counter()
    enriched = read_parquet(paths.enriched_chunks)
    cache_path = paths.embedding_cache(model_key or embedding_model_key(model_name))
    cache = pl.read_parquet(cache_path) if cache_path.is_file() else None
    wanted = enriched.select("text_sha256", "text").unique("text_sha256", keep="first").sort("text_sha256")
    cached = set(cache["text_sha256"].to_list()) if cache is not None else set()
    missing = wanted.filter(~pl.col("text_sha256").is_in(list(cached)))
    parts = [cache.filter(pl.col("text_sha256").is_in(wanted["text_sha256"].to_list()))] if cache is not None else []
    backend = None  # the model is loaded only when there is something to embed
    if missing.height:
        model = embedder()
        backend = f"{model.backend} {model.precision}"
        texts = missing["text"].to_list()
        pieces = []
        for start in range(0, len(texts), EMBED_PROGRESS_TEXTS):
            pieces.append(model.encode(texts[start:start + EMBED_PROGRESS_TEXTS]))
            if on_progress is not None:
                on_progress(start + len(pieces[-1]), len(texts))
        vectors = np.concatenate(pieces)
        parts.append(pl.DataFrame({
            "text_sha256": missing["text_sha256"],
            "vector": pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, model.dimension)),
        }))
    if parts:
        write_parquet(pl.concat(parts), cache_path)
    seconds = elapsed(started)
    return StageResult(metadata={
        "embedded": missing.height,
        "cached": wanted.height - missing.height,
        "model": model_name,
        "backend": backend,
        "chunks_per_second": round(missing.height / seconds, 1) if missing.height and seconds else 0.0,
        "seconds": seconds,
    }, log=[f"embedded {missing.height} new chunk texts with {model_name}; "
            f"{wanted.height - missing.height} came from the cache"])
