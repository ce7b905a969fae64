"""The engine benchmark's data: regenerated vectors, the brute-force top 10 across chunks, recall."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.index_engines import exact_top10, point_id, recall_at_10, vectors_chunk


def test_the_engine_benchmark_regenerates_the_same_unit_vectors() -> None:
    block = vectors_chunk(1, 3, 100)
    assert np.array_equal(block, vectors_chunk(1, 3, 100))
    assert np.allclose(np.linalg.norm(block, axis=1), 1.0, atol=1e-5)


def test_the_engine_benchmark_brute_force_and_recall(monkeypatch) -> None:
    monkeypatch.setattr("benchmarks.index_engines.CHUNK", 7)  # several chunks, merged across chunk borders
    queries = vectors_chunk(5, 99, 3)
    exact = exact_top10(5, 30, queries)
    every = np.concatenate([vectors_chunk(5, c, min(7, 30 - 7 * c)) for c in range(5)])
    for row, query in zip(exact, queries, strict=True):
        assert sorted(row) == sorted(np.argsort(-(every @ query))[:10].tolist())
    found = [[point_id(n) for n in row[:5]] + ["other"] * 5 for row in exact]
    assert recall_at_10(found, exact) == pytest.approx(0.5)
