import json
import math

import pytest

from ingest.core.errors import ConfigError
from ingest.quality.golden import (
    Evaluation,
    GoldenQuery,
    QueryResult,
    Thresholds,
    evaluate,
    failures,
    load_evaluation,
    load_golden_set,
    regressions,
    save_evaluation,
    worst_queries,
)


def fixed(*rankings):
    """A search that returns the given rankings, and checks it got every query at once."""

    def search(queries):
        assert len(queries) == len(rankings)
        return [list(r) for r in rankings]

    return search


def one(expected, ranking, k=5):
    golden = [GoldenQuery("q1", "where is it?", tuple(expected))]
    return evaluate(golden, fixed(ranking), k=k).results[0]


def evaluation(recall, mrr, ndcg, k=5):
    return Evaluation(k=k, results=(), recall_at_k=recall, mrr=mrr, ndcg_at_10=ndcg)


# --- metrics ---------------------------------------------------------------------------


def test_perfect_ranking_scores_one_everywhere():
    result = one(["a.md", "b.md"], ["a.md", "b.md", "c.md"])
    assert (result.recall_at_k, result.reciprocal_rank, result.ndcg_at_10) == (1.0, 1.0, 1.0)


def test_expected_at_rank_two():
    result = one(["b.md"], ["a.md", "b.md", "c.md"])
    assert result.recall_at_k == 1.0
    assert result.reciprocal_rank == 0.5
    assert result.ndcg_at_10 == pytest.approx(1 / math.log2(3))


def test_one_of_two_expected_found_at_rank_one():
    result = one(["a.md", "z.md"], ["a.md", "b.md"])
    assert result.recall_at_k == 0.5
    assert result.reciprocal_rank == 1.0
    assert result.ndcg_at_10 == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_nothing_found_scores_zero():
    result = one(["z.md"], ["a.md", "b.md"])
    assert (result.recall_at_k, result.reciprocal_rank, result.ndcg_at_10) == (0.0, 0.0, 0.0)
    assert one(["z.md"], []).ndcg_at_10 == 0.0


def test_chunks_of_one_document_count_once_before_ranking():
    # Raw rank of b.md is 4, but after collapsing a.md's chunks it is 2.
    result = one(["b.md"], ["a.md", "a.md", "a.md", "b.md", "b.md"], k=2)
    assert result.retrieved == ("a.md", "b.md")
    assert result.recall_at_k == 1.0
    assert result.reciprocal_rank == 0.5
    assert result.ndcg_at_10 == pytest.approx(1 / math.log2(3))


def test_recall_only_looks_at_the_top_k_unique_sources():
    ranking = ["a.md", "b.md", "c.md", "d.md"]
    assert one(["d.md"], ranking, k=3).recall_at_k == 0.0
    assert one(["d.md"], ranking, k=4).recall_at_k == 1.0
    # The rank-based metrics do not depend on k.
    assert one(["d.md"], ranking, k=3).reciprocal_rank == 0.25


def test_reciprocal_rank_and_ndcg_stop_at_ten_unique_sources():
    ranking = [f"doc{i}.md" for i in range(1, 12)]  # expected one is 11th
    result = one(["doc11.md"], ranking)
    assert (result.reciprocal_rank, result.ndcg_at_10) == (0.0, 0.0)
    assert one(["doc10.md"], ranking).reciprocal_rank == 0.1


def test_ideal_dcg_is_capped_at_ten_expected_sources():
    expected = [f"doc{i}.md" for i in range(1, 13)]
    assert one(expected, expected).ndcg_at_10 == pytest.approx(1.0)


def test_means_over_queries():
    golden = [
        GoldenQuery("q1", "one", ("a.md",)),
        GoldenQuery("q2", "two", ("b.md",)),
        GoldenQuery("q3", "three", ("c.md",)),
    ]
    result = evaluate(golden, fixed(["a.md"], ["x.md", "b.md"], ["x.md"]), k=5)
    assert result.recall_at_k == pytest.approx(2 / 3)
    assert result.mrr == pytest.approx((1 + 0.5 + 0) / 3)
    assert result.ndcg_at_10 == pytest.approx((1 + 1 / math.log2(3) + 0) / 3)
    assert [r.id for r in result.results] == ["q1", "q2", "q3"]
    assert result.metrics() == pytest.approx({"recall_at_k": 2 / 3, "mrr": (1 + 0.5 + 0) / 3,
                                              "ndcg_at_10": (1 + 1 / math.log2(3) + 0) / 3})


def test_search_receives_every_query_text_in_one_call():
    calls = []

    def search(queries):
        calls.append(list(queries))
        return [["a.md"] for _ in queries]

    golden = [GoldenQuery("q1", "first", ("a.md",)), GoldenQuery("q2", "second", ("a.md",))]
    evaluate(golden, search)
    assert calls == [["first", "second"]]


def test_empty_golden_set_is_refused():
    with pytest.raises(ValueError, match="empty"):
        evaluate([], fixed())


def test_search_returning_the_wrong_number_of_lists_is_refused():
    golden = [GoldenQuery("q1", "one", ("a.md",)), GoldenQuery("q2", "two", ("a.md",))]
    with pytest.raises(ValueError, match="1 result lists for 2 queries"):
        evaluate(golden, lambda queries: [["a.md"]])


# --- regressions and thresholds --------------------------------------------------------


def test_no_regressions_without_a_previous_evaluation():
    assert regressions(evaluation(0.1, 0.1, 0.1), None, 0.05) == {}


def test_regressions_report_metrics_that_dropped_more_than_tolerated():
    previous = evaluation(0.9, 0.8, 0.7)
    current = evaluation(0.8, 0.79, 0.9)
    assert regressions(current, previous, 0.05) == {"recall_at_k": (0.9, 0.8)}


def test_a_drop_of_exactly_the_tolerance_is_not_a_regression():
    previous = evaluation(0.85, 0.55, 0.65)
    current = evaluation(0.80, 0.50, 0.60)
    assert regressions(current, previous, 0.05) == {}
    assert set(regressions(current, previous, 0.04)) == {"recall_at_k", "mrr", "ndcg_at_10"}


def test_failures_name_each_metric_below_its_threshold():
    lines = failures(evaluation(0.5, 0.4, 0.7), Thresholds())
    assert lines == ["recall@5 0.50 < 0.80", "MRR 0.40 < 0.50"]
    assert failures(evaluation(0.8, 0.5, 0.6), Thresholds()) == []


def test_failures_show_more_digits_when_two_would_hide_the_gap():
    assert failures(evaluation(0.799, 1.0, 1.0), Thresholds()) == ["recall@5 0.7990 < 0.8000"]


def test_failures_refuse_thresholds_for_another_k():
    with pytest.raises(ValueError, match="k=10"):
        failures(evaluation(1.0, 1.0, 1.0, k=5), Thresholds(k=10))


def test_thresholds_reject_nonsense():
    with pytest.raises(ValueError):
        Thresholds(k=0)
    with pytest.raises(ValueError):
        Thresholds(min_mrr=1.5)


def test_worst_queries_lowest_ndcg_first_then_recall():
    def result(id, ndcg, recall):
        return QueryResult(id, id, ("a.md",), ("x.md",), recall, 0.0, ndcg)

    results = (result("good", 0.9, 1.0), result("tie-high", 0.3, 0.8), result("worst", 0.1, 1.0),
               result("tie-low", 0.3, 0.2), result("fine", 0.7, 1.0))
    ranked = Evaluation(k=5, results=results, recall_at_k=0.0, mrr=0.0, ndcg_at_10=0.0)
    assert [w["id"] for w in worst_queries(ranked, n=4)] == ["worst", "tie-low", "tie-high", "fine"]
    assert len(worst_queries(ranked)) == 5
    assert worst_queries(ranked, n=0) == []


def test_worst_queries_say_what_came_back_in_the_top_k():
    golden = [GoldenQuery("hit", "h", ("a.md",)), GoldenQuery("late", "where?", ("b.md",))]
    result = evaluate(golden, fixed(["a.md"], ["x.md", "x.md", "a.md", "b.md"]), k=2)
    assert worst_queries(result, n=1) == [{
        "id": "late", "query": "where?", "expected": ["b.md"], "retrieved": ["x.md", "a.md"],
        "recall_at_k": 0.0, "reciprocal_rank": pytest.approx(1 / 3), "ndcg_at_10": pytest.approx(0.5),
    }]
    assert json.dumps(worst_queries(result))  # ready to print or post as is


# --- persistence -----------------------------------------------------------------------


def test_evaluation_round_trips_through_a_file(tmp_path):
    golden = [GoldenQuery("q1", "one", ("a.md", "b.md")), GoldenQuery("q2", "two", ("c.md",))]
    original = evaluate(golden, fixed(["b.md", "b.md", "x.md"], ["c.md"]), k=3)
    target = tmp_path / "eval" / "latest.json"
    save_evaluation(target, original)
    assert load_evaluation(target) == original
    assert isinstance(load_evaluation(target).results[0], QueryResult)
    assert json.loads(target.read_text(encoding="utf-8"))["results"][0]["retrieved"] == ["b.md", "x.md"]
    assert [p.name for p in target.parent.iterdir()] == ["latest.json"]


def test_load_evaluation_of_a_missing_file_is_none(tmp_path):
    assert load_evaluation(tmp_path / "never-written.json") is None


def test_load_evaluation_of_a_broken_file_says_which(tmp_path):
    target = tmp_path / "latest.json"
    target.write_text('{"k": 5}', encoding="utf-8")
    with pytest.raises(ConfigError, match="latest.json"):
        load_evaluation(target)


# --- golden set ------------------------------------------------------------------------


def write_lines(tmp_path, *lines):
    path = tmp_path / "golden.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_golden_set(tmp_path):
    path = write_lines(
        tmp_path,
        json.dumps({"query": "How long do returns take?", "expected": ["policy.md"]}),
        "",
        "   ",
        json.dumps({"id": "ship", "query": "Where do you ship?", "expected": ["./docs/shipping.txt", "hours.html"]}),
    )
    assert load_golden_set(path) == [
        GoldenQuery("q1", "How long do returns take?", ("policy.md",)),
        GoldenQuery("ship", "Where do you ship?", ("docs/shipping.txt", "hours.html")),
    ]


@pytest.mark.parametrize(("line", "problem"), [
    ('{"query": "x", "expected": ["a.md"]', "invalid JSON"),
    ('["a.md"]', "JSON object"),
    ('{"expected": ["a.md"]}', "'query' is missing or empty"),
    ('{"query": "  ", "expected": ["a.md"]}', "'query' is missing or empty"),
    ('{"query": "x"}', "'expected' is missing"),
    ('{"query": "x", "expected": "a.md"}', "list of non-empty source path strings"),
    ('{"query": "x", "expected": ["a.md", 3]}', "list of non-empty source path strings"),
    ('{"query": "x", "expected": []}', "'expected' is empty"),
    ('{"query": "x", "expected": ["/etc/passwd"]}', "relative to the tenant's source folder"),
    ('{"id": 7, "query": "x", "expected": ["a.md"]}', "'id' must be a non-empty string"),
])
def test_golden_set_errors_name_file_line_and_problem(tmp_path, line, problem):
    path = write_lines(tmp_path, '{"query": "fine", "expected": ["a.md"]}', "", line)
    with pytest.raises(ConfigError) as raised:
        load_golden_set(path)
    assert f"{path}:3:" in str(raised.value)
    assert problem in str(raised.value)


def test_golden_set_duplicate_ids_name_both_lines(tmp_path):
    path = write_lines(
        tmp_path,
        '{"query": "one", "expected": ["a.md"]}',
        '{"id": "q1", "query": "two", "expected": ["b.md"]}',
    )
    with pytest.raises(ConfigError) as raised:
        load_golden_set(path)
    assert f"{path}:2:" in str(raised.value)
    assert "duplicate id 'q1'" in str(raised.value) and "line 1" in str(raised.value)


def test_golden_set_without_queries_is_refused(tmp_path):
    path = write_lines(tmp_path, "", "  ")
    with pytest.raises(ConfigError, match="no queries"):
        load_golden_set(path)


def test_missing_golden_set_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_golden_set(tmp_path / "absent.jsonl")
