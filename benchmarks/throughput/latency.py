"""Query latency of the embedded store at several sizes: p50 and p95 of the search `ingest query`
makes in each mode (dense, sparse, hybrid, and hybrid searching every term of the question), on seeded
random vectors with payloads and texts shaped like the pipeline's."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.throughput.settings import LATENCY_MIN_QUERIES, LATENCY_SECONDS_PER_SIZE, LATENCY_TOP_K, STORE_NOTE
from benchmarks.throughput.synthetic_corpus import _Prose

EVERY_TERM = "hybrid_every_term"  # hybrid without leaving the question's common terms out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile with linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _latency_figures(seconds: Sequence[float], cpu_seconds: Sequence[float] | None = None) -> dict:
    figures = {"queries": len(seconds), "p50_ms": round(percentile(seconds, 50) * 1000, 2),
               "p95_ms": round(percentile(seconds, 95) * 1000, 2),
               "mean_ms": round(sum(seconds) / len(seconds) * 1000, 2)}
    if cpu_seconds:  # the process's CPU time: the work a query does, which other jobs' load does not stretch
        figures["cpu_p95_ms"] = round(percentile(cpu_seconds, 95) * 1000, 2)
    return figures


def measure_query_latency(sizes: Sequence[int], *, store: Path, seed: int, queries: int,
                          dimension: int = 384, model_name: str = "all-MiniLM-L6-v2",
                          embed: Callable[[str], Sequence[float]] | None = None,
                          seconds_per_size: float = LATENCY_SECONDS_PER_SIZE,
                          log: Callable[[str], None] = lambda message: None) -> dict:
    """p50/p95 of the search call of `ingest query` (TenantIndex.search on the embedded store) at each size:
    dense at the top level, `sparse`, `hybrid` and `hybrid_every_term` (with their ratios to dense) beside it.

    One collection grows through the sizes in order; points are seeded random unit vectors with
    payloads shaped like the pipeline's. At each size the store is closed and opened again, as
    each `ingest query` opens it (the time to open it and answer a first count is reported too),
    then up to `queries` questions are asked in every mode, the modes taking turns, each mode with
    questions of its own, stopping early (after at least LATENCY_MIN_QUERIES) once `seconds_per_size` is spent. With
    `embed`, the smallest size is also measured with the query's embedding included, as `ingest query`
    does.
    """
    import warnings

    import numpy as np

    from ingest.core.ids import point_id
    from ingest.embedding.embed import embedding_model_key
    from ingest.index.qdrant import PAYLOAD_COLUMNS, IndexPoint, QdrantSettings, TenantIndex, open_qdrant
    from ingest.index.retrieval import MODES, RetrievalSettings

    tenant = "bench-latency"
    settings = QdrantSettings(path=store)
    rng = np.random.default_rng(seed)
    prose = _Prose(random.Random(f"{seed}/latency"))
    texts = [prose.paragraph() for _ in range(500)]  # payload texts, reused round-robin
    # Each mode asks questions of its own, all drawn alike: a question just asked in another mode finds its
    # vectors and posting lists in the caches, which made whichever mode came later look cheaper.
    mode_count = len(MODES) + 1  # and hybrid with every term
    query_texts = [prose.paragraph(max_sentences=1) for _ in range(queries * mode_count)]

    def unit(rows: int) -> np.ndarray:
        vectors = rng.standard_normal((rows, dimension)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def points(first: int, last: int) -> list[IndexPoint]:
        made = []
        for number, vector in zip(range(first, last), unit(last - first), strict=True):
            text = texts[number % len(texts)]
            doc_id = f"doc-{number // 8:06d}"
            chunk = number % 8
            sha = hashlib.sha256(f"{number}/{text}".encode()).hexdigest()
            payload = {name: None for name in PAYLOAD_COLUMNS}
            payload.update({
                "tenant": tenant, "doc_id": doc_id, "source": f"reports/{doc_id}.pdf", "source_sha256": sha,
                "chunk_index": chunk, "text": text, "text_sha256": sha, "start": chunk * 900,
                "end": chunk * 900 + len(text), "token_count": len(text) // 5, "pages": [chunk // 3 + 1],
                "page": chunk // 3 + 1, "section_path": ["Findings"], "section": "Findings",
                "title": "Quality review", "element_types": ["NarrativeText"], "file_type": "pdf",
                "language": "en", "source_modified_at": "2026-01-01T00:00:00+00:00", "parser": "pypdf+pdfminer",
                "strategy": "text-layer", "ocr": False, "ocr_confidence": None, "doc_version": 1,
                "doc_fingerprint": sha[:32], "redaction_entities": {"PERSON": 1},
                "parser_version": "bench", "redaction_policy": "bench", "chunker_version": "bench",
                "embedding_model": model_name, "run_id": "bench", "ingested_at": "2026-01-01T00:00:00+00:00",
            })
            made.append(IndexPoint(point_id(tenant, doc_id, chunk, sha), vector.tolist(), payload))
        return made

    def timed_searches(search: Callable[[int], object], limit: int) -> list[float]:
        timings: list[float] = []
        began = time.perf_counter()
        for number in range(limit):
            started = time.perf_counter()
            search(number)
            timings.append(time.perf_counter() - started)
            if len(timings) >= LATENCY_MIN_QUERIES and time.perf_counter() - began > seconds_per_size:
                break
        return timings

    query_vectors = unit(queries * mode_count)
    result: dict = {"top_k": LATENCY_TOP_K, "dimension": dimension, "seconds_per_size": seconds_per_size,
                    "sizes": {}, "warnings": [], "note": STORE_NOTE}
    inserted = 0
    collection = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for size in sorted(sizes):
            log(f"  latency: inserting points {inserted:,} to {size:,}")
            with open_qdrant(settings, tenant) as client:
                index = TenantIndex(client, tenant)
                if collection is None:
                    collection = index.prepare_staging(embedding_model_key(model_name), dimension)
                    index.publish(collection)  # queries read the alias, as `ingest query` does
                started = time.perf_counter()
                index.upsert(points(inserted, size), collection)
                index.finish_writes(collection)  # as a run does: the graph and the int8 vectors
                insert_seconds = time.perf_counter() - started
            inserted = size
            started = time.perf_counter()
            with open_qdrant(settings, tenant) as client:
                index = TenantIndex(client, tenant)
                count = index.count()  # the shard loads on first use
                open_seconds = time.perf_counter() - started
                # The modes take turns, one question each, so that load from other processes falls on all alike;
                # hybrid also with every term of the question searched (the tenant setting sparse_budget = 0).
                settings_by_mode = {mode: RetrievalSettings(mode=mode) for mode in MODES}
                settings_by_mode[EVERY_TERM] = RetrievalSettings(sparse_budget=0)
                timings_by_mode: dict[str, list[float]] = {mode: [] for mode in settings_by_mode}
                cpu_by_mode: dict[str, list[float]] = {mode: [] for mode in settings_by_mode}

                def each_mode(n: int) -> None:
                    for k, (mode, mode_settings) in enumerate(settings_by_mode.items()):
                        question = n * mode_count + k
                        started, cpu_started = time.perf_counter(), time.process_time()
                        index.search(query_vectors[question], LATENCY_TOP_K, text=query_texts[question],
                                     settings=mode_settings)
                        timings_by_mode[mode].append(time.perf_counter() - started)
                        cpu_by_mode[mode].append(time.process_time() - cpu_started)

                timed_searches(each_mode, queries)
                by_mode = {mode: _latency_figures(timings, cpu_by_mode[mode])
                           for mode, timings in timings_by_mode.items()}
                figures = {**by_mode["dense"], "points": count, "open_seconds": round(open_seconds, 3),
                           "insert_seconds": round(insert_seconds, 3), "sparse": by_mode["sparse"],
                           "hybrid": by_mode["hybrid"], EVERY_TERM: by_mode[EVERY_TERM],
                           "hybrid_over_dense_p95": round(by_mode["hybrid"]["p95_ms"] / by_mode["dense"]["p95_ms"], 2),
                           "every_term_over_dense_p95": round(
                               by_mode[EVERY_TERM]["p95_ms"] / by_mode["dense"]["p95_ms"], 2),
                           "hybrid_over_dense_cpu_p95": round(
                               by_mode["hybrid"]["cpu_p95_ms"] / by_mode["dense"]["cpu_p95_ms"], 2)}
                result["sizes"][str(size)] = figures
                log(f"  latency at {size:,} points: dense p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms; "
                    f"hybrid p95 {by_mode['hybrid']['p95_ms']} ms ({figures['hybrid_over_dense_p95']}x, CPU "
                    f"{figures['hybrid_over_dense_cpu_p95']}x; every term {figures['every_term_over_dense_p95']}x); "
                    "sparse p95 "
                    f"{by_mode['sparse']['p95_ms']} ms ({figures['queries']} queries; opened in {open_seconds:.2f} s)")
                if embed is not None and "with_embedding" not in result:
                    hybrid = RetrievalSettings()
                    timings = timed_searches(lambda n: index.search(embed(query_texts[n]), LATENCY_TOP_K,
                                                                    text=query_texts[n], settings=hybrid), queries)
                    result["with_embedding"] = {"points": size, "mode": "hybrid", **_latency_figures(timings)}
        result["warnings"] = sorted({str(warning.message)[:200] for warning in caught})
    return result
