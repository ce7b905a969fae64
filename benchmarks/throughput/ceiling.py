"""The ceiling: plain sentence-transformers encoding of exactly the chunk texts a run embedded, with the
same model, batch size and machine."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.throughput.figures import _rate


def chunk_texts(home: Path, tenant: str) -> list[str]:
    """The distinct chunk texts of the tenant's last run, in the order the embedding stage encodes them."""
    import polars as pl

    from ingest.core.storage import TenantPaths

    enriched = pl.read_parquet(TenantPaths.for_tenant(home, tenant).enriched_chunks)
    wanted = enriched.select("text_sha256", "text").unique("text_sha256", keep="first").sort("text_sha256")
    return wanted["text"].to_list()


class CeilingModel:
    """The embedding model loaded with plain sentence-transformers, nothing of the pipeline around it."""

    def __init__(self, model_name: str) -> None:
        from sentence_transformers import SentenceTransformer

        from ingest.embedding.embed import resolve_model_path

        started = time.perf_counter()
        self.model = SentenceTransformer(resolve_model_path(model_name), device="cpu", local_files_only=True)
        self.load_seconds = round(time.perf_counter() - started, 3)
        # One small batch first, so every measured encode finds the model equally warm.
        self.model.encode(["warm-up"] * 4, show_progress_bar=False)

    def measure(self, texts: Sequence[str], batch_size: int) -> dict:
        started = time.perf_counter()
        self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                          convert_to_numpy=True, show_progress_bar=False)
        seconds = time.perf_counter() - started
        return {"texts": len(texts), "batch_size": batch_size, "seconds": round(seconds, 3),
                "model_load_seconds": self.load_seconds, "chunks_per_second": _rate(len(texts), seconds)}


def _measure_here(model_name: str, texts: Sequence[str], batch_size: int) -> dict:
    return CeilingModel(model_name).measure(texts, batch_size)


def measure_ceiling(model_name: str, texts: Sequence[str], batch_size: int) -> dict:
    """The ceiling measured in a fresh interpreter: in the benchmark's own process, OpenVINO's threads (the
    pipeline's embedder, once used) keep the cores busy and slowed PyTorch about threefold."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_measure_here, (model_name, list(texts), batch_size))
