"""Retrieval quality of a tenant's index, measured against a golden set of queries.

A golden set is a JSON-lines file of queries with the source files that should
come back for them. The search itself is injected as a plain callable, so this
module needs neither Qdrant nor an embedding model and the metrics can be
checked by hand. Relevance is binary and judged per source file, not per chunk:
several chunks of one document ranking high count as that document once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ingest.core.errors import ConfigError
from ingest.core.files import atomic_write_text

NDCG_DEPTH = 10  # nDCG@10, and the depth at which the reciprocal rank stops looking
METRICS = ("recall_at_k", "mrr", "ndcg_at_10")
_TOLERANCE = 1e-9  # so a drop of exactly max_drop is not flagged because of float rounding


@dataclass(frozen=True, slots=True)
class GoldenQuery:
    """One query and the source paths (relative to the tenant's source folder) it should find."""

    id: str
    query: str
    expected: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What an evaluation must reach; max_drop is the tolerated fall of any metric since the last one."""

    k: int = 5
    min_recall_at_k: float = 0.8
    min_mrr: float = 0.5
    min_ndcg_at_10: float = 0.6
    max_drop: float = 0.05

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be at least 1, not {self.k}")
        for name in ("min_recall_at_k", "min_mrr", "min_ndcg_at_10", "max_drop"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The metrics of one query; retrieved holds unique sources in rank order."""

    id: str
    query: str
    expected: tuple[str, ...]
    retrieved: tuple[str, ...]
    recall_at_k: float
    reciprocal_rank: float
    ndcg_at_10: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Per-query results and their means, as saved between runs to spot regressions."""

    k: int
    results: tuple[QueryResult, ...]
    recall_at_k: float
    mrr: float
    ndcg_at_10: float
    mode: str = "dense"  # the retrieval mode that answered (files from before hybrid search say nothing)
    other_modes: dict = field(default_factory=dict)  # mode -> metrics of the other modes, for comparison

    def metrics(self) -> dict[str, float]:
        return {"recall_at_k": self.recall_at_k, "mrr": self.mrr, "ndcg_at_10": self.ndcg_at_10}

    def to_dict(self) -> dict:
        return {
            "k": self.k,
            "mode": self.mode,
            "other_modes": self.other_modes,
            **self.metrics(),
            "results": [
                {
                    "id": r.id,
                    "query": r.query,
                    "expected": list(r.expected),
                    "retrieved": list(r.retrieved),
                    "recall_at_k": r.recall_at_k,
                    "reciprocal_rank": r.reciprocal_rank,
                    "ndcg_at_10": r.ndcg_at_10,
                }
                for r in self.results
            ],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Evaluation:
        results = tuple(
            QueryResult(
                id=r["id"],
                query=r["query"],
                expected=tuple(r["expected"]),
                retrieved=tuple(r["retrieved"]),
                recall_at_k=float(r["recall_at_k"]),
                reciprocal_rank=float(r["reciprocal_rank"]),
                ndcg_at_10=float(r["ndcg_at_10"]),
            )
            for r in d["results"]
        )
        return cls(k=int(d["k"]), results=results, recall_at_k=float(d["recall_at_k"]),
                   mrr=float(d["mrr"]), ndcg_at_10=float(d["ndcg_at_10"]), mode=str(d.get("mode", "dense")),
                   other_modes=dict(d.get("other_modes") or {}))


# --- golden set ------------------------------------------------------------------------


def _expected_sources(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        raise ConfigError(f"{where}: 'expected' is missing: give the list of source paths the query should find")
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ConfigError(f"{where}: 'expected' must be a list of non-empty source path strings, not {value!r}")
    if not value:
        raise ConfigError(f"{where}: 'expected' is empty: a query needs at least one source it should find")
    sources: dict[str, None] = {}
    for item in value:
        path = PurePosixPath(item.strip())
        if path.is_absolute() or ".." in path.parts:
            raise ConfigError(f"{where}: expected source {item!r} must be relative to the tenant's source folder")
        sources[path.as_posix()] = None  # "./a.md" and "a.md" are one source, as the index stores it
    return tuple(sources)


def load_golden_set(path: Path) -> list[GoldenQuery]:
    """Read a JSON-lines golden set; every mistake is reported with its file and line."""
    if not path.is_file():
        raise ConfigError(f"golden set {path} does not exist or is not a file")
    queries: list[GoldenQuery] = []
    first_seen: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{where}: invalid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise ConfigError(f"{where}: each line must be a JSON object with 'query' and 'expected'")
        query = record.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ConfigError(f"{where}: 'query' is missing or empty: give the question text")
        expected = _expected_sources(record.get("expected"), where)
        query_id = record.get("id", f"q{number}")
        if not isinstance(query_id, str) or not query_id.strip():
            raise ConfigError(f"{where}: 'id' must be a non-empty string, not {query_id!r}")
        if query_id in first_seen:
            raise ConfigError(f"{where}: duplicate id {query_id!r} (first used on line {first_seen[query_id]})")
        first_seen[query_id] = number
        queries.append(GoldenQuery(id=query_id, query=query, expected=expected))
    if not queries:
        raise ConfigError(f"{path}: the golden set has no queries: add one JSON object per line")
    return queries


# --- metrics ---------------------------------------------------------------------------


def _unique(sources: Sequence[str]) -> list[str]:
    """Sources in the rank of their best chunk: later chunks of the same document add nothing."""
    return list(dict.fromkeys(sources))


def _score(golden: GoldenQuery, ranked: Sequence[str], k: int) -> QueryResult:
    unique = _unique(ranked)
    relevant = set(golden.expected)
    recall = len(relevant.intersection(unique[:k])) / len(relevant)
    reciprocal_rank = next((1.0 / rank for rank, source in enumerate(unique[:NDCG_DEPTH], start=1)
                            if source in relevant), 0.0)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, source in enumerate(unique[:NDCG_DEPTH], start=1)
              if source in relevant)
    idcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), NDCG_DEPTH) + 1))
    return QueryResult(
        id=golden.id,
        query=golden.query,
        expected=golden.expected,
        retrieved=tuple(unique[:max(k, NDCG_DEPTH)]),
        recall_at_k=recall,
        reciprocal_rank=reciprocal_rank,
        ndcg_at_10=dcg / idcg,
    )


def evaluate(golden: Sequence[GoldenQuery], search: Callable[[list[str]], list[list[str]]],
             k: int = 5, mode: str = "dense") -> Evaluation:
    """Run every golden query through `search` at once and score the ranked sources it returns."""
    if not golden:
        raise ValueError("the golden set is empty: nothing to evaluate")
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    rankings = search([g.query for g in golden])
    if len(rankings) != len(golden):
        raise ValueError(f"search returned {len(rankings)} result lists for {len(golden)} queries")
    results = tuple(_score(g, ranked, k) for g, ranked in zip(golden, rankings))
    count = len(results)
    return Evaluation(
        k=k,
        results=results,
        recall_at_k=sum(r.recall_at_k for r in results) / count,
        mrr=sum(r.reciprocal_rank for r in results) / count,
        ndcg_at_10=sum(r.ndcg_at_10 for r in results) / count,
        mode=mode,
    )


# --- judging ---------------------------------------------------------------------------


def regressions(current: Evaluation, previous: Evaluation | None,
                max_drop: float) -> dict[str, tuple[float, float]]:
    """Metrics that fell by more than max_drop since the previous evaluation: name -> (previous, current)."""
    if previous is None:
        return {}
    before, now = previous.metrics(), current.metrics()
    return {name: (before[name], now[name]) for name in METRICS
            if before[name] - now[name] > max_drop + _TOLERANCE}


def _label(name: str, k: int) -> str:
    return {"recall_at_k": f"recall@{k}", "mrr": "MRR", "ndcg_at_10": f"nDCG@{NDCG_DEPTH}"}[name]


def _pair(value: float, threshold: float) -> tuple[str, str]:
    """Two decimals, unless that would print a failing value equal to its threshold."""
    shown = f"{value:.2f}", f"{threshold:.2f}"
    return shown if shown[0] != shown[1] else (f"{value:.4f}", f"{threshold:.4f}")


def failures(evaluation: Evaluation, thresholds: Thresholds) -> list[str]:
    """One readable line per metric below its threshold, such as 'recall@5 0.50 < 0.80'."""
    if evaluation.k != thresholds.k:
        raise ValueError(f"the evaluation measured recall@{evaluation.k} but the thresholds are for "
                         f"recall@{thresholds.k}: evaluate with k={thresholds.k}")
    minimums = {"recall_at_k": thresholds.min_recall_at_k, "mrr": thresholds.min_mrr,
                "ndcg_at_10": thresholds.min_ndcg_at_10}
    lines = []
    for name, value in evaluation.metrics().items():
        if value < minimums[name]:
            shown, limit = _pair(value, minimums[name])
            lines.append(f"{_label(name, evaluation.k)} {shown} < {limit}")
    return lines


def worst_queries(evaluation: Evaluation, n: int = 5) -> list[dict]:
    """The n queries with the lowest nDCG (then recall), with what came back, for on-call to act on."""
    ranked = sorted(evaluation.results, key=lambda r: (r.ndcg_at_10, r.recall_at_k))
    return [
        {
            "id": r.id,
            "query": r.query,
            "expected": list(r.expected),
            "retrieved": list(r.retrieved[:evaluation.k]),
            "recall_at_k": r.recall_at_k,
            "reciprocal_rank": r.reciprocal_rank,
            "ndcg_at_10": r.ndcg_at_10,
        }
        for r in ranked[:max(n, 0)]
    ]


# --- persistence -----------------------------------------------------------------------


def save_evaluation(path: Path, evaluation: Evaluation) -> None:
    atomic_write_text(path, json.dumps(evaluation.to_dict(), indent=2, ensure_ascii=False) + "\n")


def load_evaluation(path: Path) -> Evaluation | None:
    """The previous evaluation, or None on the first run."""
    if not path.is_file():
        return None
    try:
        return Evaluation.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"{path} is not a saved evaluation ({error!r}): delete it to start afresh") from None
