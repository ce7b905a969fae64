"""Embedded vector index engines side by side: qdrant-client's local mode and Qdrant Edge.

`python -m benchmarks index-engines` builds one tenant's store per engine and configuration from seeded
random unit vectors (384 dimensions, float32) with payloads shaped like the pipeline's, then measures:
upsert throughput in the pipeline's batches, the seconds an engine spends indexing after the writes,
opening the store in a fresh process with its files evicted from the page cache, query latency
(p50/p95 over the first queries after opening and over as many again once warm), top-10 recall against
exact brute force, the peak resident memory of the process that opens and queries, and the size on disk.

Each build and each open-and-query runs in a process of its own (this module, `worker ...`), so one
store's memory never counts against another's and the opening is cold. Vectors are generated in chunks
from per-chunk seeds, so any process can regenerate any part of the data without holding it all.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

DIMENSION = 384
BATCH = 256  # the pipeline's upsert batch (ingest.index.qdrant.UPSERT_BATCH)
CHUNK = 10_000  # points generated from one seed: the unit of regeneration
TENANT = "bench"
ID_NAMESPACE = uuid.UUID("2c0f4c53-6a54-4c39-9a4c-0b8f4bd1d0f1")
LOCAL_MODE_LIMIT = 50_000  # local mode scans every point in Python: larger sizes only on request
LOCAL_COLLECTION = "bench"
TARGETS = {"p95_ms_at_1m": 50.0, "p95_ms_at_50k": 10.0, "open_s": 3.0, "peak_rss_gb": 2.5, "upsert_pps": 2000.0}
_VOCABULARY_SIZE = 20_000
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "ve", "dor", "an", "el", "is", "um", "tri", "qua",
              "sen", "bel", "cor", "fa", "gu", "hy", "jo", "xe")


@dataclass(frozen=True)
class EngineConfig:
    """One way to store the tenant's points: the engine and its storage settings (fixed at build time)."""

    name: str
    engine: str  # "local" (qdrant-client local mode, the embedded index before Edge) or "edge"
    hnsw_m: int = 16
    ef_construct: int = 100
    vectors_memory: str = "Cached"  # Edge: Cold (read from disk), Cached (mmap, page cache) or Pinned
    int8: bool = False  # Edge: int8 scalar quantization of the dense vectors
    int8_memory: str = "Pinned"  # Edge: where the quantized vectors live
    sparse: bool = False  # Edge: a BM25 sparse vector with the IDF modifier beside the dense one
    sparse_memory: str = "Pinned"  # Edge: where the sparse index lives (Pinned is Edge's default: in RAM)
    search_ef: tuple[int, ...] = (64,)  # Edge: hnsw_ef values measured on the same store; 0 = exact search
    oversampling: float = 2.0  # Edge with int8: candidates re-scored with the original vectors
    # Edge: before loading, read the files every query walks (quantized vectors, HNSW links, sparse index) in
    # large sequential reads, so that neither the load nor the first queries fetch them a 4 KiB page at a time.
    prefetch: bool = False
    # Edge: placement of the doc_id and tenant keyword indexes; None is Edge's default (built in RAM at load:
    # two thirds of what loading a Cold 1M shard costs).
    keyword_memory: str | None = None
    # Edge hybrid: "rrf" (k 60) or "dbsf" (the pipeline's), and whether the dense prefetch re-scores its int8
    # candidates with the original vectors (the pipeline's does not: ingest/index/edge_store.py says why).
    fusion: str = "rrf"
    hybrid_rescore: bool = True


PRESETS: dict[str, EngineConfig] = {config.name: config for config in (
    EngineConfig("local", "local"),
    EngineConfig("edge-m16", "edge", search_ef=(32, 64, 128)),
    EngineConfig("edge-m16-int8", "edge", int8=True, search_ef=(32, 64, 128)),
    EngineConfig("edge-m16-int8-cold", "edge", int8=True, vectors_memory="Cold", search_ef=(64, 128)),
    EngineConfig("edge-m32-int8", "edge", hnsw_m=32, ef_construct=200, int8=True, search_ef=(64, 128)),
    EngineConfig("edge-m16-int8-sparse", "edge", int8=True, sparse=True, search_ef=(64,)),
    # The first recommendation: only the quantized vectors (Cached: slow to load, see Opening time) resident.
    EngineConfig("edge-m16-int8-sparse-cold", "edge", int8=True, int8_memory="Cached", vectors_memory="Cold",
                 sparse=True, sparse_memory="Cold", search_ef=(128, 256)),
    # Nothing read at load: Edge loads Cached quantized vectors page by page (MADV_RANDOM, then
    # MADV_POPULATE_READ: 2 s per 100 MB from disk) and Pinned ones by copying them out of a mapping (CPU,
    # 0.85 s per 100 MB even from the page cache).
    EngineConfig("edge-m16-int8-sparse-allcold", "edge", int8=True, int8_memory="Cold", vectors_memory="Cold",
                 sparse=True, sparse_memory="Cold", search_ef=(128, 256)),
    # The same store, its hot files read sequentially before loading: opens a 1M shard in 1.5-3 s and
    # answers the first queries without page-by-page faults (docs/INDEX_ENGINES.md, opening time).
    EngineConfig("edge-m16-int8-sparse-prefetch", "edge", int8=True, int8_memory="Cold", vectors_memory="Cold",
                 sparse=True, sparse_memory="Cold", prefetch=True, search_ef=(128, 256)),
    # And keyword indexes read through the page cache, not rebuilt in RAM at every load: 0.75-1.5 s at 1M.
    EngineConfig("edge-m16-int8-sparse-fastopen", "edge", int8=True, int8_memory="Cold", vectors_memory="Cold",
                 sparse=True, sparse_memory="Cold", prefetch=True, keyword_memory="Cold", search_ef=(128, 256)),
    # The same store queried as the pipeline queries it: hybrid fused by DBSF, its dense prefetch ranked by the
    # int8 vectors alone (re-scoring 100 candidates from disk cost more than the sparse search; hybrid latency).
    EngineConfig("edge-m16-int8-sparse-fastopen-dbsf", "edge", int8=True, int8_memory="Cold", vectors_memory="Cold",
                 sparse=True, sparse_memory="Cold", prefetch=True, keyword_memory="Cold", search_ef=(128, 256),
                 fusion="dbsf", hybrid_rescore=False),
)}
DEFAULT_CONFIGS = ("local", "edge-m16", "edge-m16-int8", "edge-m16-int8-sparse")


# ---------------------------------------------------------------- data: vectors, text, payloads, queries

DATA_KINDS = ("latent", "uniform")
LATENT_DIMENSION = 32  # assumed intrinsic dimension of sentence embeddings (they are far from uniform)
LATENT_NOISE = 0.3  # isotropic noise beside the latent part, relative to its length


def _directions(seed: int, count: int, stream: Sequence[int], data: str) -> np.ndarray:
    """Unit vectors: uniform on the sphere (the worst case for a graph index: no structure to follow), or
    `latent`: a seeded random map of 32-dimensional Gaussians plus noise, closer to real embeddings."""
    rng = np.random.default_rng([seed, *stream])
    if data == "uniform":
        block = rng.standard_normal((count, DIMENSION), dtype=np.float32)
    elif data == "latent":
        mixing = np.random.default_rng([seed, 5]).standard_normal((LATENT_DIMENSION, DIMENSION), dtype=np.float32)
        mixing /= np.sqrt(LATENT_DIMENSION)
        latent = rng.standard_normal((count, LATENT_DIMENSION), dtype=np.float32) @ mixing
        noise = rng.standard_normal((count, DIMENSION), dtype=np.float32) / np.sqrt(DIMENSION)
        block = latent + LATENT_NOISE * noise
    else:
        raise ValueError(f"unknown data kind {data!r}: use one of {', '.join(DATA_KINDS)}")
    return block / np.linalg.norm(block, axis=1, keepdims=True)


def vectors_chunk(seed: int, chunk: int, count: int = CHUNK, data: str = "latent") -> np.ndarray:
    """Unit vectors of chunk `chunk`: the same from any process, whatever else was generated before."""
    return _directions(seed, count, (chunk,), data)


def iter_vectors(seed: int, points: int, data: str = "latent") -> Iterator[tuple[int, np.ndarray]]:
    """(first point number, vectors) for all points, one chunk at a time."""
    for chunk, first in enumerate(range(0, points, CHUNK)):
        yield first, vectors_chunk(seed, chunk, min(CHUNK, points - first), data)


def query_vectors(seed: int, count: int, data: str = "latent") -> np.ndarray:
    return _directions(seed, count, (10**9,), data)  # a stream no data chunk uses


def vocabulary(seed: int) -> list[str]:
    """Made-up words; drawn with Zipf-like frequencies below, so keyword weights (IDF) matter."""
    rng = np.random.default_rng([seed, 7])
    words: set[str] = set()
    while len(words) < _VOCABULARY_SIZE:
        parts = rng.integers(0, len(_SYLLABLES), size=int(rng.integers(2, 5)))
        words.add("".join(_SYLLABLES[p] for p in parts))
    return sorted(words)


def _word_weights() -> np.ndarray:
    weights = 1.0 / np.arange(1, _VOCABULARY_SIZE + 1)
    return weights / weights.sum()


def texts_chunk(seed: int, chunk: int, count: int, words: Sequence[str]) -> list[str]:
    """About 500 characters of text per point (the pipeline's chunks are a few hundred tokens)."""
    rng = np.random.default_rng([seed, chunk, 1])
    drawn = rng.choice(len(words), size=(count, 70), p=_word_weights())
    return [" ".join(words[w] for w in row)[:500] for row in drawn]


def point_id(number: int) -> str:
    """UUIDs like the pipeline's deterministic ids (ingest.core.ids.point_id), from the point's number."""
    return str(uuid.uuid5(ID_NAMESPACE, str(number)))


def payload(number: int, text: str) -> dict:
    """The fields the pipeline writes (ingest.index.qdrant.PAYLOAD_COLUMNS plus run fields), sized alike."""
    doc = number // 20
    digest = hashlib.sha256(text.encode()).hexdigest()
    return {
        "tenant": TENANT, "doc_id": f"doc-{doc:08d}", "source": f"reports/{doc % 97:02d}/report-{doc}.pdf",
        "source_sha256": hashlib.sha256(str(doc).encode()).hexdigest(), "chunk_index": number % 20,
        "text": text, "text_sha256": digest, "start": (number % 20) * 500, "end": (number % 20) * 500 + len(text),
        "token_count": 120, "pages": [1 + (number % 20) // 3], "page": 1 + (number % 20) // 3,
        "section_path": ["Report", f"Section {number % 7}"], "section": f"Section {number % 7}",
        "title": f"Report {doc}", "element_types": ["NarrativeText"], "file_type": "pdf", "language": "en",
        "source_modified_at": "2024-05-01T12:00:00+00:00", "parser": "pdf", "strategy": "fast", "ocr": False,
        "ocr_confidence": None, "doc_version": 1, "doc_fingerprint": digest[:16],
        "embedding_model": "all-MiniLM-L6-v2", "run_id": "3f1d2c4b-bench", "ingested_at": "2024-05-02T08:00:00Z",
        "seq": number,
    }


def query_texts(seed: int, count: int, words: Sequence[str], length: int = 4) -> list[str]:
    """Keyword queries of four words (`length`), mostly from the middle of the frequency range."""
    rng = np.random.default_rng([seed, 10**9, 1])
    return [" ".join(words[w] for w in rng.integers(50, 5000, size=length)) for _ in range(count)]


def exact_top10(seed: int, points: int, queries: np.ndarray, data: str = "latent") -> list[list[int]]:
    """Brute-force cosine top-10 (point numbers) per query, a chunk at a time to keep memory low."""
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    for first, block in iter_vectors(seed, points, data):
        scores = queries @ block.T
        ids = np.broadcast_to(np.arange(first, first + len(block)), scores.shape)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_ids = np.concatenate([best_ids, ids], axis=1)
        top = np.argpartition(-merged_scores, 10, axis=1)[:, :10]
        best_scores = np.take_along_axis(merged_scores, top, axis=1)
        best_ids = np.take_along_axis(merged_ids, top, axis=1)
    return [list(map(int, row)) for row in best_ids]


def recall_at_10(found: Sequence[Sequence[str]], exact: Sequence[Sequence[int]]) -> float:
    """Mean share of the exact top-10 found among the returned ids."""
    shares = [len({point_id(n) for n in truth} & set(hits)) / 10 for hits, truth in zip(found, exact, strict=True)]
    return sum(shares) / len(shares)


# ---------------------------------------------------------------- engines

def _edge_config(config: EngineConfig):
    import qdrant_edge as qe

    quantization = qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99,
                                               memory=getattr(qe.Memory, config.int8_memory)) if config.int8 else None
    dense = qe.EdgeVectorParams(
        size=DIMENSION, distance=qe.Distance.Cosine, memory=getattr(qe.Memory, config.vectors_memory),
        quantization_config=quantization,
        hnsw_config=qe.HnswIndexConfig(m=config.hnsw_m, ef_construct=config.ef_construct,
                                       full_scan_threshold=10_000))
    sparse = {"bm25": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf,
                                                memory=getattr(qe.Memory, config.sparse_memory))} if config.sparse else None
    # No write-ahead log: the pipeline makes each batch durable with flush(), and a log keeps deleted
    # points' bytes after the segments have been vacuumed (see docs/INDEX_ENGINES.md, erasure).
    return qe.EdgeConfig(vectors={"dense": dense}, sparse_vectors=sparse, wal_enabled=False)


def _prefetch(path: Path) -> float:
    """The pipeline's read-ahead of a shard's hot files (ingest/index/edge_store.py); the seconds it took."""
    from ingest.index.edge_store import read_ahead

    clock = time.perf_counter()
    read_ahead(path)
    return time.perf_counter() - clock


class _EdgeStore:
    def __init__(self, path: Path, config: EngineConfig, *, create: bool) -> None:
        import qdrant_edge as qe

        self.qe = qe
        self.config = config
        if create:
            self.shard = qe.EdgeShard.create(str(path), _edge_config(config))
            schema = qe.KeywordIndexParams(memory=getattr(qe.Memory, config.keyword_memory)) \
                if config.keyword_memory else qe.PayloadSchemaType.Keyword
            for name in ("doc_id", "tenant"):
                self.shard.update(qe.UpdateOperation.create_field_index(name, schema))
        else:
            self.prefetch_seconds = _prefetch(path) if config.prefetch else 0.0
            self.shard = qe.EdgeShard.load(str(path))
        self.bm25 = qe.Bm25() if config.sparse else None

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str], payloads: Sequence[dict]) -> None:
        qe = self.qe
        points = []
        for pid, vector, text, body in zip(ids, vectors.tolist(), texts, payloads, strict=True):
            named = {"dense": vector}
            if self.bm25 is not None:
                named["bm25"] = self.bm25.embed_document(text)
            points.append(qe.Point(pid, named, body))
        self.shard.update(qe.UpdateOperation.upsert_points(points))

    def finish(self) -> None:
        self.shard.flush()
        self.shard.optimize()  # builds the HNSW graph and the quantized vectors of the full segments
        self.shard.flush()

    def _params(self, ef: int, rescore: bool = True):
        qe = self.qe
        rescoring = qe.QuantizationSearchParams(rescore=rescore, oversampling=self.config.oversampling
                                                if rescore else None) if self.config.int8 else None
        return qe.SearchParams(hnsw_ef=ef or None, exact=ef == 0, quantization=rescoring)

    def dense(self, vector: Sequence[float], ef: int) -> list[str]:
        qe = self.qe
        hits = self.shard.query(qe.QueryRequest(limit=10, query=qe.Query.Nearest(list(vector), using="dense"),
                                                params=self._params(ef), with_payload=True))
        return [str(hit.id) for hit in hits]

    def sparse_query(self, text: str) -> list[str]:
        qe = self.qe
        hits = self.shard.query(qe.QueryRequest(limit=10, with_payload=True, query=qe.Query.Nearest(
            self.bm25.embed_query(text), using="bm25")))
        return [str(hit.id) for hit in hits]

    def hybrid(self, vector: Sequence[float], text: str, ef: int) -> list[str]:
        """Dense and sparse candidates fused in the engine (reciprocal rank, or DBSF as `ingest query` does)."""
        qe = self.qe
        prefetches = [qe.Prefetch(limit=50, query=qe.Query.Nearest(list(vector), using="dense"),
                                  params=self._params(ef, self.config.hybrid_rescore)),
                      qe.Prefetch(limit=50, query=qe.Query.Nearest(self.bm25.embed_query(text), using="bm25"))]
        fusion = qe.Fusion.Dbsf() if self.config.fusion == "dbsf" else qe.Fusion.Rrf(k=60)
        hits = self.shard.query(qe.QueryRequest(limit=10, prefetches=prefetches, query=fusion, with_payload=True))
        return [str(hit.id) for hit in hits]

    def count(self) -> int:
        return self.shard.count(self.qe.CountRequest(exact=True))

    def close(self) -> None:
        self.shard.close()


class _LocalStore:
    """qdrant-client's local mode (the embedded index before Qdrant Edge), through the server store's code,
    with the SQLite settings the pipeline then used: write-ahead log, one sync per batch."""

    def __init__(self, path: Path, config: EngineConfig, *, create: bool) -> None:
        from qdrant_client import QdrantClient

        from ingest.index.server_store import ServerStore

        path.mkdir(parents=True, exist_ok=True)
        self.store = ServerStore(QdrantClient(path=str(path)))
        if create:
            self.store.create(LOCAL_COLLECTION, DIMENSION)
        for connection in self._connections():
            connection.execute("PRAGMA journal_mode=WAL")  # otherwise each point's commit waits for the disk
            connection.execute("PRAGMA synchronous=NORMAL")

    def _connections(self) -> list:
        """The SQLite connections inside local mode, which offers no setting for this."""
        import sqlite3

        collections = getattr(getattr(self.store.client, "_client", None), "collections", None) or {}
        found = [getattr(getattr(c, "storage", None), "storage", None) for c in collections.values()]
        return [connection for connection in found if isinstance(connection, sqlite3.Connection)]

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str], payloads: Sequence[dict]) -> None:
        from ingest.index.store import IndexPoint

        self.store.upsert(LOCAL_COLLECTION, [IndexPoint(pid, vector, body) for pid, vector, body in
                                             zip(ids, vectors.tolist(), payloads, strict=True)])
        for connection in self._connections():
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def finish(self) -> None:
        """Local mode indexes nothing: every query scans every point."""

    def dense(self, vector: Sequence[float], ef: int) -> list[str]:
        from ingest.index.retrieval import RetrievalSettings
        from ingest.index.store import QuerySpec

        spec = QuerySpec(RetrievalSettings(mode="dense"), 10, {}, dense=list(vector))
        return [hit.point_id for hit in self.store.query(LOCAL_COLLECTION, spec)]

    def count(self) -> int:
        return self.store.count(LOCAL_COLLECTION)

    def close(self) -> None:
        self.store.close()


def _open_store(path: Path, config: EngineConfig, *, create: bool) -> _EdgeStore | _LocalStore:
    return (_EdgeStore if config.engine == "edge" else _LocalStore)(path, config, create=create)


# ---------------------------------------------------------------- the workers (one process each)

def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


class _MemorySampler:
    """Peaks of the process's anonymous and file-backed resident memory, sampled every 50 ms.

    The peak RSS counts pages of memory-mapped store files too; the kernel can drop those under
    pressure (they are page cache), while anonymous memory (heaps, in-RAM indexes) it cannot.
    """

    def __init__(self) -> None:
        import threading

        self.peaks = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        try:
            lines = Path("/proc/self/status").read_text().splitlines()
        except OSError:  # not Linux: the peak RSS alone is reported
            return
        for line in lines:
            name, _, value = line.partition(":")
            if name in self.peaks:
                self.peaks[name] = max(self.peaks[name], int(value.split()[0]) * 1024)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def result(self) -> dict:
        self._stop.set()
        self._thread.join()
        self._sample()
        return {"peak_rss_bytes": _peak_rss_bytes(), "peak_anon_bytes": self.peaks["RssAnon"],
                "peak_file_bytes": self.peaks["RssFile"]}


def _evict_page_cache(path: Path) -> None:
    """Drop the store's pages from the page cache (no root needed), so that opening reads from disk."""
    for file in path.rglob("*"):
        if file.is_file():
            try:
                descriptor = os.open(file, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(descriptor)  # dirty pages cannot be dropped
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(descriptor)


def _percentiles(seconds: Sequence[float]) -> dict:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(p95 * 1000, 2)}


def build_worker(path: Path, config: EngineConfig, points: int, seed: int, data: str) -> dict:
    """Write `points` points in the pipeline's batches; seconds in the engine's calls only."""
    sampler = _MemorySampler()
    words = vocabulary(seed)
    store = _open_store(path, config, create=True)
    upsert_seconds = 0.0
    started = time.perf_counter()
    for first, block in iter_vectors(seed, points, data):
        texts = texts_chunk(seed, first // CHUNK, len(block), words)
        bodies = [payload(first + i, text) for i, text in enumerate(texts)]
        ids = [point_id(first + i) for i in range(len(block))]
        for start in range(0, len(block), BATCH):
            stop = start + BATCH
            clock = time.perf_counter()
            store.upsert(ids[start:stop], block[start:stop], texts[start:stop], bodies[start:stop])
            upsert_seconds += time.perf_counter() - clock
    clock = time.perf_counter()
    store.finish()
    finish_seconds = time.perf_counter() - clock
    count = store.count()
    store.close()
    return {"points_written": count, "upsert_s": round(upsert_seconds, 2), "index_s": round(finish_seconds, 2),
            "wall_s": round(time.perf_counter() - started, 2),
            **{f"build_{name}": value for name, value in sampler.result().items()}}


def query_worker(path: Path, config: EngineConfig, seed: int, data: str, queries: int,
                 recall_queries: int, query_words: int = 4) -> dict:
    """Open the store cold, then time queries: the first `queries` after opening and as many again warm;
    last, close it and open it again with the page cache as the queries left it (a warm reopen)."""
    words = vocabulary(seed)
    vectors = query_vectors(seed, 2 * queries, data)
    texts = query_texts(seed, 2 * queries, words, query_words)
    _evict_page_cache(path)
    sampler = _MemorySampler()
    clock = time.perf_counter()
    store = _open_store(path, config, create=False)
    open_seconds = time.perf_counter() - clock
    first_ef = config.search_ef[0] if config.search_ef else 0
    clock = time.perf_counter()
    store.dense(vectors[-1], first_ef)  # opening counts until a query is answered
    result: dict = {"open_s": round(open_seconds, 3), "first_query_s": round(time.perf_counter() - clock, 3),
                    "prefetch_s": round(getattr(store, "prefetch_seconds", 0.0), 3), "count": store.count(),
                    "modes": {}}
    for ef in config.search_ef:
        modes = {"dense": lambda i, ef=ef: store.dense(vectors[i], ef)}
        if config.sparse:
            modes["sparse"] = lambda i: store.sparse_query(texts[i])
            modes["hybrid"] = lambda i, ef=ef: store.hybrid(vectors[i], texts[i], ef)
        for mode, run in modes.items():
            timings = []
            found = []
            for i in range(2 * queries):
                clock = time.perf_counter()
                hits = run(i)
                timings.append(time.perf_counter() - clock)
                if i < recall_queries:
                    found.append(hits)
            key = mode if config.engine == "local" or mode == "sparse" else f"{mode}@{f'ef{ef}' if ef else 'exact'}"
            result["modes"][key] = {"after_open": _percentiles(timings[:queries]),
                                    "warm": _percentiles(timings[queries:]),
                                    "hits": found if mode == "dense" else None}
    store.close()
    result.update(sampler.result())
    clock = time.perf_counter()
    store = _open_store(path, config, create=False)
    store.dense(vectors[-1], first_ef)
    result["reopen_warm_s"] = round(time.perf_counter() - clock, 3)
    store.close()
    return result


def _disk_bytes(path: Path) -> int:
    """Blocks in use (sparse and preallocated files count as the disk holds them)."""
    return sum(file.stat().st_blocks * 512 for file in path.rglob("*") if file.is_file())


# ---------------------------------------------------------------- the driver

@dataclass
class Options:
    sizes: tuple[int, ...] = (50_000, 1_000_000)
    configs: tuple[str, ...] = DEFAULT_CONFIGS
    seed: int = 1234
    data: str = "latent"
    queries: int = 200
    recall_queries: int = 50
    every_size: bool = False  # local mode above LOCAL_MODE_LIMIT too
    workdir: Path | None = None
    keep: bool = False
    search_ef: tuple[int, ...] | None = None  # overrides the presets' hnsw_ef values
    query_words: int = 4  # keywords per synthetic question (SciFact's claims carry 9 BM25 terms on average)
    results: list[dict] = field(default_factory=list)


def _run_worker(kind: str, job: dict, log: Callable[[str], None]) -> dict:
    """Run a worker in a fresh interpreter; its result is the last line of its standard output."""
    command = [sys.executable, "-m", "benchmarks.index_engines", kind, json.dumps(job)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    for line in done.stderr.splitlines():
        if line.strip() and "warn" in line.lower():
            log(f"  {kind}: {line.strip()[:300]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_one(config: EngineConfig, points: int, options: Options, root: Path,
                log: Callable[[str], None]) -> dict:
    path = root / f"{config.name}-{points}"
    shutil.rmtree(path, ignore_errors=True)
    job = {"path": str(path), "config": asdict(config), "points": points, "seed": options.seed,
           "data": options.data}
    log(f"index-engines: {config.name} at {points:,} points: building")
    built = _run_worker("build", job, log)
    log(f"  written in {built['upsert_s']} s, indexed in {built['index_s']} s; opening cold and querying")
    queried = _run_worker("query", {**job, "queries": options.queries, "recall_queries": options.recall_queries,
                                    "query_words": options.query_words}, log)
    exact = exact_top10(options.seed, points, query_vectors(options.seed, options.recall_queries, options.data),
                        options.data)
    modes = {}
    for key, figures in queried["modes"].items():
        hits = figures.pop("hits")
        modes[key] = {**figures, **({"recall_at_10": round(recall_at_10(hits, exact), 4)} if hits else {})}
    disk = _disk_bytes(path)
    if not options.keep:
        shutil.rmtree(path, ignore_errors=True)
    return {"config": asdict(config), "points": points, "count": queried["count"], **built,
            "upsert_pps": round(points / built["upsert_s"]) if built["upsert_s"] else None,
            "build_pps": round(points / (built["upsert_s"] + built["index_s"])),
            "open_s": queried["open_s"], "first_query_s": queried.get("first_query_s"),
            "prefetch_s": queried.get("prefetch_s"), "reopen_warm_s": queried.get("reopen_warm_s"),
            "peak_rss_bytes": queried["peak_rss_bytes"],
            "peak_anon_bytes": queried.get("peak_anon_bytes"), "peak_file_bytes": queried.get("peak_file_bytes"),
            "disk_bytes": disk,
            "modes": modes}


def run(options: Options, log: Callable[[str], None]) -> dict:
    root = options.workdir or Path(tempfile.mkdtemp(prefix="index-engines-"))
    root.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for points in options.sizes:
            for name in options.configs:
                config = PRESETS[name]
                if options.search_ef:
                    config = replace(config, search_ef=options.search_ef)
                if config.engine == "local" and points > LOCAL_MODE_LIMIT and not options.every_size:
                    log(f"index-engines: {name} skipped at {points:,} points (local mode only up to "
                        f"{LOCAL_MODE_LIMIT:,} without --all-engines-at-every-size)")
                    continue
                results.append(measure_one(config, points, options, root, log))
    finally:
        if options.workdir is None and not options.keep:
            shutil.rmtree(root, ignore_errors=True)
    return {"dimension": DIMENSION, "batch": BATCH, "seed": options.seed, "data": options.data,
            "latent": {"dimension": LATENT_DIMENSION, "noise": LATENT_NOISE}, "queries": options.queries,
            "recall_queries": options.recall_queries, "query_words": options.query_words, "targets": TARGETS,
            "cpus": os.cpu_count(),
            "results": results}


def _open_until_answer(result: dict) -> float:
    """Opening as the target counts it: loading (and any prefetch) until the first query is answered."""
    return result["open_s"] + (result.get("first_query_s") or 0.0)


def _verdicts(result: dict, mode: dict) -> list[str]:
    """The targets one configuration misses (query p95 judged warm)."""
    missed = []
    limit = TARGETS["p95_ms_at_1m"] if result["points"] >= 1_000_000 else TARGETS["p95_ms_at_50k"] \
        if result["points"] <= 50_000 else None
    if limit is not None and mode["warm"]["p95_ms"] > limit:
        missed.append("p95")
    if _open_until_answer(result) > TARGETS["open_s"]:
        missed.append("open")
    if result["peak_rss_bytes"] > TARGETS["peak_rss_gb"] * 1e9:
        missed.append("rss")
    if result["upsert_pps"] is not None and result["upsert_pps"] < TARGETS["upsert_pps"]:
        missed.append("upserts")
    return missed


def format_table(report: dict) -> str:
    header = ("| configuration | points | mode | p50 ms | p95 ms | p95 after open | recall@10 | open s (warm) | "
              "peak RSS GB (anon) | upserts/s | index s | disk GB | misses |")
    lines = [header, "|" + " --- |" * 13]
    for result in report["results"]:
        for key, mode in result["modes"].items():
            misses = ",".join(_verdicts(result, mode)) if key.startswith("dense") else ""
            lines.append(
                f"| {result['config']['name']} | {result['points']:,} | {key} | {mode['warm']['p50_ms']} | "
                f"{mode['warm']['p95_ms']} | {mode['after_open']['p95_ms']} | {mode.get('recall_at_10', '')} | "
                f"{_open_until_answer(result):.2f} ({result.get('reopen_warm_s') or '-'}) | "
                f"{result['peak_rss_bytes'] / 1e9:.2f} "
                f"({(result.get('peak_anon_bytes') or 0) / 1e9:.2f}) | "
                f"{result['upsert_pps']:,} | "
                f"{result['index_s']} | {result['disk_bytes'] / 1e9:.2f} | {misses or '-'} |")
    return "\n".join(lines)


def _worker_main(argv: Sequence[str]) -> int:
    kind, job = argv[0], json.loads(argv[1])
    config = EngineConfig(**{**job["config"], "search_ef": tuple(job["config"]["search_ef"])})
    path = Path(job["path"])
    if kind == "build":
        result = build_worker(path, config, job["points"], job["seed"], job["data"])
    elif kind == "query":
        result = query_worker(path, config, job["seed"], job["data"], job["queries"], job["recall_queries"],
                              job.get("query_words", 4))
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
