"""The retrieval evaluation's scoring, fusion, BM25 and set loading, on tiny cases worked out by hand.

No model is loaded here: the dense half is the same cosine ranking the fusion tests feed by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.ir_eval import Bm25, cached_document_vectors, evaluate, load_set, ndcg_at_k, recall_at_k, rrf, tokenize


def test_ndcg_is_one_when_the_relevant_documents_lead() -> None:
    assert ndcg_at_k(["a", "b", "x", "y"], {"a", "b"}) == pytest.approx(1.0)


def test_ndcg_of_one_relevant_document_at_rank_three() -> None:
    # DCG = 1/log2(3 + 1) = 0.5; the ideal puts it first: 1/log2(2) = 1.
    assert ndcg_at_k(["x", "y", "a"], {"a"}) == pytest.approx(0.5)


def test_ndcg_of_two_relevant_documents_at_ranks_two_and_four() -> None:
    # DCG = 1/log2(3) + 1/log2(5); ideal = 1/log2(2) + 1/log2(3).
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["x", "a", "y", "b"], {"a", "b"}) == pytest.approx(expected)
    assert expected == pytest.approx(1.0616 / 1.6309, abs=1e-4)  # 0.6509


def test_ndcg_counts_only_the_top_ten_and_caps_the_ideal_at_ten() -> None:
    ranked = [f"x{i}" for i in range(10)] + ["a"]
    assert ndcg_at_k(ranked, {"a"}) == 0.0
    relevant = {f"r{i}" for i in range(12)}
    assert ndcg_at_k(sorted(relevant), relevant) == pytest.approx(1.0)


def test_recall_is_the_share_of_relevant_documents_in_the_top_ten() -> None:
    ranked = ["a", "x", "b"] + [f"y{i}" for i in range(7)] + ["c"]
    assert recall_at_k(ranked, {"a", "b", "c", "d"}) == pytest.approx(0.5)
    assert recall_at_k(ranked, set()) == 0.0


def test_evaluate_averages_over_queries() -> None:
    runs = {"q1": ["a", "b"], "q2": ["x", "y", "c"]}
    qrels = {"q1": {"a"}, "q2": {"c"}}
    assert evaluate(runs, qrels) == {"ndcg@10": 0.75, "recall@10": 1.0, "queries": 2}


def test_rrf_adds_reciprocal_ranks() -> None:
    # k = 60: "b" gets 1/62 + 1/61, "a" 1/61 + 1/63, "c" 1/63, "d" 1/62.
    fused = rrf([["a", "b", "c"], ["b", "d", "a"]], k=60)
    assert fused == ["b", "a", "d", "c"]


def test_rrf_fuses_only_the_top_of_each_ranking() -> None:
    assert rrf([["a", "b"], ["c", "b"]], k=60, depth=1) == ["a", "c"]


def test_tokenize_lowercases_and_drops_stop_words_without_stemming() -> None:
    tokens = tokenize("The Cells, and T-cells in 2020", frozenset({"the", "and", "in"}))
    assert tokens == ["cells", "t", "cells", "2020"]


def test_bm25_scores_by_hand() -> None:
    # Two documents: ["cat", "cat", "dog"] and ["dog"]; average length 2.
    bm25 = Bm25([["cat", "cat", "dog"], ["dog"]], k1=1.2, b=0.75)
    idf_cat = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))  # = log 2
    idf_dog = math.log(1 + (2 - 2 + 0.5) / (2 + 0.5))  # = log 1.2
    norm_first = 1.2 * (1 - 0.75 + 0.75 * 3 / 2)
    norm_second = 1.2 * (1 - 0.75 + 0.75 * 1 / 2)
    scores = bm25.scores(["cat", "dog"])
    assert scores[0] == pytest.approx(idf_cat * 2 * 2.2 / (2 + norm_first) + idf_dog * 2.2 / (1 + norm_first))
    assert scores[1] == pytest.approx(idf_dog * 2.2 / (1 + norm_second))
    assert list(bm25.scores(["absent"])) == [0.0, 0.0]


def _write_set(folder: Path) -> Path:
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "11.txt").write_text("Title one\n\nAbstract one.", encoding="utf-8")
    (folder / "docs" / "22.txt").write_text("Title two\n\nAbstract two.", encoding="utf-8")
    (folder / "queries.jsonl").write_text('{"id": "1", "query": "one"}\n{"id": 2, "query": "unjudged"}\n',
                                          encoding="utf-8")
    (folder / "qrels.json").write_text(json.dumps({"1": ["11"]}), encoding="utf-8")
    return folder


def test_the_set_loads_documents_and_only_judged_queries(tmp_path: Path) -> None:
    ir = load_set(_write_set(tmp_path / "set"))
    assert ir.doc_ids == ["11", "22"]
    assert ir.texts[0] == "Title one\n\nAbstract one."
    assert ir.queries == {"1": "one"}
    assert ir.qrels == {"1": {"11"}}


def test_cached_vectors_are_reused_and_keyed_by_the_corpus(tmp_path: Path, monkeypatch) -> None:
    ir = load_set(_write_set(tmp_path / "set"))
    calls = []

    def fake_embed(texts, model_name):  # stands in for the model: counts the embedding runs
        calls.append(len(texts))
        return np.ones((len(texts), 3), dtype=np.float32)

    monkeypatch.setattr("benchmarks.ir_eval.embed", fake_embed)
    first = cached_document_vectors(ir, "m", print, cache_dir=tmp_path / "cache")
    again = cached_document_vectors(ir, "m", print, cache_dir=tmp_path / "cache")
    assert calls == [2] and np.array_equal(first, again)
    cached_document_vectors(ir, "other-model", print, cache_dir=tmp_path / "cache")
    assert calls == [2, 2]

