"""Offline retrieval evaluation on the public set in /work/shared/ir/ (SciFact claims over 2,000 abstracts).

`python -m benchmarks eval-ir` scores, over whole abstracts with exact search: the bare model (dense
cosine with all-MiniLM-L6-v2 as sentence-transformers loads it), a BM25 baseline (k1 1.2, b 0.75, a
simple tokenizer and English stop words) and reciprocal-rank fusion of the two (k 60, top 100 of each),
by nDCG@10 (binary relevance) and recall@10. These are the baselines the pipeline's hybrid retrieval is
measured against; the pipeline itself is not involved here.

Embedding the abstracts takes minutes on two cores: the vectors are cached under the system temporary
folder, keyed by the model and a hash of the corpus.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_SET = Path("/work/shared/ir/scifact-train")
DEFAULT_MODEL = "all-MiniLM-L6-v2"
CUTOFF = 10
BM25_K1 = 1.2
BM25_B = 0.75
RRF_K = 60
RRF_DEPTH = 100  # candidates fused from each ranking
EMBED_BATCH = 16
REFERENCE = {"dense": 0.742, "bm25": 0.742, "rrf": 0.774}  # nDCG@10 from the set's README
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class IrSet:
    doc_ids: list[str]
    texts: list[str]
    queries: dict[str, str]  # query id -> text, only queries with judged documents
    qrels: dict[str, set[str]]  # query id -> relevant doc ids

    def digest(self) -> str:
        """Changes when any document's id or text does: the embedding cache's key."""
        hashed = hashlib.sha256()
        for doc_id, text in zip(self.doc_ids, self.texts, strict=True):
            hashed.update(f"{doc_id}\0{text}\0".encode())
        return hashed.hexdigest()[:16]


def load_set(folder: Path) -> IrSet:
    """Documents (docs/<id>.txt: title, blank line, abstract), queries.jsonl and qrels.json."""
    paths = sorted((folder / "docs").glob("*.txt"))
    if not paths:
        raise FileNotFoundError(f"no documents under {folder / 'docs'}")
    qrels = {qid: set(ids) for qid, ids in json.loads((folder / "qrels.json").read_text(encoding="utf-8")).items()}
    queries = {}
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if qrels.get(str(row["id"])):
                queries[str(row["id"])] = row["query"]
    return IrSet([p.stem for p in paths], [p.read_text(encoding="utf-8") for p in paths], queries, qrels)


# ---------------------------------------------------------------- scoring

def ndcg_at_k(ranked: Sequence[str], relevant: set[str], k: int = CUTOFF) -> float:
    """Binary-relevance nDCG: gain 1/log2(rank+1) per relevant hit in the top k, over the best possible."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / ideal


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int = CUTOFF) -> float:
    """Share of the relevant documents found in the top k."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / len(relevant)


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K, depth: int = RRF_DEPTH) -> list[str]:
    """Reciprocal-rank fusion: each ranking adds 1/(k + rank) (rank from 1) for its top `depth` documents;
    ties keep the order of first appearance, so the result is deterministic."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking[:depth], start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda doc: -scores[doc])


def evaluate(runs: Mapping[str, Sequence[str]], qrels: Mapping[str, set[str]]) -> dict:
    """Mean nDCG@10 and recall@10 over the queries of `runs` (query id -> ranked doc ids)."""
    ndcg = [ndcg_at_k(runs[q], qrels[q]) for q in runs]
    recall = [recall_at_k(runs[q], qrels[q]) for q in runs]
    return {"ndcg@10": round(sum(ndcg) / len(ndcg), 4), "recall@10": round(sum(recall) / len(recall), 4),
            "queries": len(ndcg)}


# ---------------------------------------------------------------- BM25

def english_stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def tokenize(text: str, stop_words: frozenset[str]) -> list[str]:
    """Lower-cased runs of letters and digits, stop words dropped: no stemming."""
    return [token for token in _TOKEN.findall(text.lower()) if token not in stop_words]


class Bm25:
    """Okapi BM25 with Lucene's IDF, log(1 + (N - df + 0.5) / (df + 0.5)), which is never negative."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = BM25_K1, b: float = BM25_B) -> None:
        self.k1, self.b = k1, b
        self.lengths = np.array([len(doc) for doc in documents], dtype=np.float64)
        self.average = float(self.lengths.mean()) if len(documents) else 0.0
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for number, doc in enumerate(documents):
            for term, count in Counter(doc).items():
                self.postings.setdefault(term, []).append((number, count))
        total = len(documents)
        self.idf = {term: math.log(1 + (total - len(rows) + 0.5) / (len(rows) + 0.5))
                    for term, rows in self.postings.items()}

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """One score per document; a term repeated in the query counts once per occurrence."""
        result = np.zeros(len(self.lengths))
        norm = self.k1 * (1 - self.b + self.b * self.lengths / self.average) if self.average else None
        for term in query:
            for number, count in self.postings.get(term, ()):
                result[number] += self.idf[term] * count * (self.k1 + 1) / (count + norm[number])
        return result


def _ranked(scores: np.ndarray, doc_ids: Sequence[str], depth: int) -> list[str]:
    """Top `depth` documents by score, ties by document order (stable)."""
    order = np.argsort(-scores, kind="stable")[:depth]
    return [doc_ids[i] for i in order]


# ---------------------------------------------------------------- dense

def embed(texts: Sequence[str], model_name: str) -> np.ndarray:
    """Unit vectors from the bare sentence-transformers model, found as the pipeline finds it."""
    from sentence_transformers import SentenceTransformer

    from ingest.embedding.embed import resolve_model_path

    model = SentenceTransformer(resolve_model_path(model_name), device="cpu", local_files_only=True)
    vectors = model.encode(list(texts), batch_size=EMBED_BATCH, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
    return vectors.astype(np.float32, copy=False)


def cached_document_vectors(ir: IrSet, model_name: str, log: Callable[[str], None],
                            cache_dir: Path | None = None) -> np.ndarray:
    """The documents' vectors, from the cache when the model and the corpus are the same."""
    key = hashlib.sha256(f"{model_name}\0{ir.digest()}".encode()).hexdigest()[:16]
    path = (cache_dir or Path(tempfile.gettempdir())) / "ingest-ir-eval" / f"docs-{key}.npy"
    if path.is_file():
        return np.load(path)
    log(f"eval-ir: embedding {len(ir.texts):,} documents with {model_name} (cached in {path})")
    started = time.perf_counter()
    vectors = embed(ir.texts, model_name)
    log(f"eval-ir: embedded in {time.perf_counter() - started:.0f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, vectors)
    partial.replace(path)  # a run stopped mid-write never leaves a truncated cache behind
    return vectors


# ---------------------------------------------------------------- the evaluation

def run_eval(folder: Path = DEFAULT_SET, model_name: str = DEFAULT_MODEL,
             log: Callable[[str], None] = lambda message: None) -> dict:
    ir = load_set(folder)
    query_ids = list(ir.queries)
    stop_words = english_stop_words()
    bm25 = Bm25([tokenize(text, stop_words) for text in ir.texts])
    sparse = {q: _ranked(bm25.scores(tokenize(ir.queries[q], stop_words)), ir.doc_ids, RRF_DEPTH)
              for q in query_ids}
    documents = cached_document_vectors(ir, model_name, log)
    queries = embed([ir.queries[q] for q in query_ids], model_name)
    similarities = queries @ documents.T  # exact search: every document scored
    dense = {q: _ranked(similarities[i], ir.doc_ids, RRF_DEPTH) for i, q in enumerate(query_ids)}
    fused = {q: rrf([dense[q], sparse[q]]) for q in query_ids}
    modes = {"dense": evaluate(dense, ir.qrels), "bm25": evaluate(sparse, ir.qrels),
             "rrf": evaluate(fused, ir.qrels)}
    baseline = modes["dense"]["ndcg@10"]
    for name, scores in modes.items():
        scores["vs_dense"] = round(scores["ndcg@10"] / baseline, 4) if baseline else None
        scores["reference_ndcg@10"] = REFERENCE[name]
        scores["within_0.01"] = abs(scores["ndcg@10"] - REFERENCE[name]) <= 0.01
    return {"set": str(folder), "documents": len(ir.doc_ids), "queries": len(query_ids), "model": model_name,
            "bm25": {"k1": BM25_K1, "b": BM25_B, "stop_words": "scikit-learn English", "stemming": False},
            "rrf": {"k": RRF_K, "depth": RRF_DEPTH}, "modes": modes}


def format_report(report: dict) -> str:
    lines = [f"{report['set']}: {report['queries']} queries over {report['documents']:,} documents, "
             f"model {report['model']}, exact search over whole documents", "",
             "| mode | nDCG@10 | recall@10 | x dense | reference nDCG@10 |", "| --- | --- | --- | --- | --- |"]
    for name, scores in report["modes"].items():
        lines.append(f"| {name} | {scores['ndcg@10']:.4f} | {scores['recall@10']:.4f} | {scores['vs_dense']:.3f} | "
                     f"{scores['reference_ndcg@10']} |")
    return "\n".join(lines)
