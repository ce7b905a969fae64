"""Hybrid (dense + BM25 sparse) fusion settings for Qdrant, swept on the public SciFact set.

`python -m benchmarks.fusion_sweep [--chunks] [--set FOLDER]` reproduces the sweep and the final figures.
Every ranking comes from the engine itself: an Edge shard with a dense vector "dense" (384, cosine,
searched exactly) and a sparse vector "bm25" made by Qdrant's own BM25 embedder and stored with the IDF
modifier, queried with prefetch + fusion as the pipeline will be, so no fusion happens in Python here.
Settings are tuned on one half of the claims and reported on the other (and the other way round), and
the sweeps print whole grids so that the flatness around the choice can be seen, not only its peak.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import qdrant_edge as qe

import ingest  # noqa: F401  (offline environment first)
from benchmarks.ir_eval import DEFAULT_MODEL, DEFAULT_SET, IrSet, cached_document_vectors, evaluate, load_set, ndcg_at_k
from ingest.index.retrieval import SparseVector, prune_query
from ingest.index.terms import count_terms

CHUNK_MAX_TOKENS = 200  # ChunkSettings' defaults
CHUNK_OVERLAP = 32
DENSE, SPARSE = "dense", "bm25"
EXACT = qe.SearchParams(exact=True)
HITS = 10  # documents ranked per query (nDCG@10, recall@10)
CHUNK_HITS = 60  # chunks asked for at chunk level, so that 10 distinct documents remain


# ---------------------------------------------------------------- settings

@dataclass(frozen=True)
class Bm25Setting:
    """Qdrant's Bm25Config: avg_len is counted in tokens left after stop words (the embedder's count)."""
    k: float = 1.2
    b: float = 0.75
    avg_len: float = 256.0
    stem: bool = True  # English Snowball
    stop: bool = True  # English stop words

    def model(self) -> qe.Bm25:
        extra: dict = {}
        if not self.stem:
            extra["stemmer"] = qe.DisabledStemmer()
        if not self.stop:
            extra["stopwords"] = qe.StopwordsSet(languages=set(), custom=set())
        return qe.Bm25(qe.Bm25Config(k=self.k, b=self.b, avg_len=self.avg_len, language="english", **extra))

    def label(self) -> str:
        return (f"k {self.k} b {self.b} avg_len {self.avg_len:g} stem {'on' if self.stem else 'off'} "
                f"stop {'on' if self.stop else 'off'}")


@dataclass(frozen=True)
class FusionSetting:
    """One query shape: "dense" or "sparse" alone, or both prefetched and fused by "rrf", "dbsf" or a
    "formula" (cosine + weight * BM25 score, the missing side counting 0)."""
    kind: str = "rrf"
    k: int = 60  # RRF: Qdrant adds weight / (k + rank), rank from 0
    w_dense: float = 1.0
    w_sparse: float = 1.0  # RRF weight, or the formula's BM25 factor
    depth_dense: int = 100  # prefetch limits
    depth_sparse: int = 100
    sparse_budget: float = 0  # the pipeline's pruning of common query terms (retrieval.prune_query); 0: none

    def label(self) -> str:
        if self.kind in ("dense", "sparse"):
            return self.kind
        weights = f" w {self.w_dense:g}/{self.w_sparse:g}" if self.kind != "dbsf" else ""
        k = f" k {self.k}" if self.kind == "rrf" else ""
        budget = f" sparse budget {self.sparse_budget:g}" if self.sparse_budget else ""
        return f"{self.kind}{k}{weights} depth {self.depth_dense}/{self.depth_sparse}{budget}"

    def request(self, vector: list[float], sparse: qe.SparseVector, limit: int) -> qe.QueryRequest:
        dense_query = qe.Query.Nearest(vector, using=DENSE)
        sparse_query = qe.Query.Nearest(sparse, using=SPARSE)
        if self.kind == "dense":
            return qe.QueryRequest(limit=limit, query=dense_query, params=EXACT)
        if self.kind == "sparse":
            return qe.QueryRequest(limit=limit, query=sparse_query)
        prefetches = [qe.Prefetch(limit=self.depth_dense, query=dense_query, params=EXACT),
                      qe.Prefetch(limit=self.depth_sparse, query=sparse_query)]
        if self.kind == "rrf":
            fusion = qe.Fusion.Rrf(k=self.k, weights=[self.w_dense, self.w_sparse])
        elif self.kind == "dbsf":
            fusion = qe.Fusion.Dbsf()
        else:
            e = qe.Expression
            fusion = qe.Formula(e.Sum([e.Mult([e.Constant(self.w_dense), e.Variable("$score[0]")]),
                                       e.Mult([e.Constant(self.w_sparse), e.Variable("$score[1]")])]),
                                defaults={"$score[0]": 0.0, "$score[1]": 0.0})
        return qe.QueryRequest(limit=limit, prefetches=prefetches, query=fusion)


def _ours(vector: qe.SparseVector) -> SparseVector:
    return SparseVector(tuple(vector.indices), tuple(vector.values))


# ---------------------------------------------------------------- data

def chunk_set(ir: IrSet, max_tokens: int = CHUNK_MAX_TOKENS, overlap: int = CHUNK_OVERLAP,
              model_name: str = DEFAULT_MODEL) -> tuple[list[str], list[str]]:
    """(document id of each chunk, chunk text), cut by the pipeline's Chunker: the title is a Title
    element, the abstract one narrative element, as the text parser makes them."""
    from ingest.chunking.chunk import Chunker, ChunkSettings
    from ingest.core.models import Element
    from ingest.embedding.embed import Embedder

    embedder = Embedder(model_name, backend="torch")
    chunker = Chunker(embedder.token_offsets, ChunkSettings(max_tokens, overlap), embedder.max_tokens)
    owners, texts = [], []
    for doc_id, text in zip(ir.doc_ids, ir.texts, strict=True):
        title, _, abstract = text.partition("\n\n")
        elements = [Element(0, "Title", title.strip())]
        if abstract.strip():
            elements.append(Element(1, "NarrativeText", abstract.strip()))
        for chunk in chunker.chunk(doc_id, elements):
            owners.append(doc_id)
            texts.append(chunk.text)
    return owners, texts


def cached_vectors(ids: Sequence[str], texts: Sequence[str], log: Callable[[str], None]) -> np.ndarray:
    """Vectors of any texts through ir_eval's cache (keyed by every id and text)."""
    return cached_document_vectors(IrSet(list(ids), list(texts), {}, {}), DEFAULT_MODEL, log)


def mean_tokens(texts: Sequence[str]) -> float:
    """Mean document length as the BM25 embedder counts it (English stop words out), read back from
    its weights: with k 1, b 1, avg_len 100, a term seen once weighs 2 / (1 + len / 100)."""
    model = qe.Bm25(qe.Bm25Config(k=1.0, b=1.0, avg_len=100.0, language="english"))
    lengths = [100 * (2 / min(v.values) - 1) for v in map(model.embed_document, texts) if v.values]
    return round(statistics.fmean(lengths))


def halves(query_ids: Sequence[str], seed: int = 0) -> tuple[list[str], list[str]]:
    shuffled = sorted(query_ids)
    random.Random(seed).shuffle(shuffled)
    middle = len(shuffled) // 2
    return sorted(shuffled[:middle]), sorted(shuffled[middle:])


# ---------------------------------------------------------------- the engine

class Index:
    """An Edge shard of one point per text (document or chunk); `owners[i]` is point i's document."""

    def __init__(self, folder: Path, owners: Sequence[str], texts: Sequence[str], vectors: np.ndarray,
                 bm25: Bm25Setting, queries: dict[str, str], query_vectors: np.ndarray) -> None:
        self.owners, self.bm25 = list(owners), bm25
        config = qe.EdgeConfig(vectors={DENSE: qe.EdgeVectorParams(size=vectors.shape[1], distance=qe.Distance.Cosine)},
                               sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
                               wal_enabled=False)
        self.shard = qe.EdgeShard.create(str(folder), config)
        model = bm25.model()
        for start in range(0, len(texts), 1000):
            self.shard.update(qe.UpdateOperation.upsert_points([
                qe.Point(n, {DENSE: vectors[n].tolist(), SPARSE: model.embed_document(texts[n])})
                for n in range(start, min(start + 1000, len(texts)))]))
        self.shard.flush()
        self.query_ids = list(queries)
        self.dense_q = {q: query_vectors[i].tolist() for i, q in enumerate(self.query_ids)}
        self.sparse_q = {q: model.embed_query(queries[q]) for q in self.query_ids}
        self.terms = count_terms(_ours(model.embed_document(text)) for text in texts)  # the index's term table

    def sparse_query(self, query_id: str, budget: float) -> qe.SparseVector:
        """The question's BM25 terms, pruned as the pipeline's hybrid search prunes them on a collection
        large enough for the budget to bind (no floor: at a million chunks 0.05 is 50,000 chunks)."""
        full = self.sparse_q[query_id]
        if not budget:
            return full
        kept = prune_query(_ours(full), self.terms.frequencies(full.indices), self.terms.points, budget, floor=0)
        return qe.SparseVector(list(kept.indices), list(kept.values))

    def run(self, fusion: FusionSetting, query_ids: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Ranked distinct documents per query: a document ranks where its best chunk does, as in the
        pipeline's retrieval evaluation."""
        ids = list(query_ids or self.query_ids)
        limit = HITS if len(self.owners) == len(set(self.owners)) else CHUNK_HITS
        batch = qe.QueryBatchRequest([fusion.request(self.dense_q[q], self.sparse_query(q, fusion.sparse_budget), limit)
                                      for q in ids])
        results = self.shard.query_batch(batch)
        return {q: list(dict.fromkeys(self.owners[int(p.id)] for p in hits))[:HITS] for q, hits in zip(ids, results)}

    def latency_ms(self, fusion: FusionSetting, repeat: int = 2) -> float:
        """Median time of one query on its own (query embedding not included)."""
        times = []
        for _ in range(repeat):
            for q in self.query_ids:
                started = time.perf_counter()
                self.shard.query(fusion.request(self.dense_q[q], self.sparse_q[q], HITS))
                times.append(time.perf_counter() - started)
        return 1000 * statistics.median(times)

    def close(self) -> None:
        self.shard.close()


# ---------------------------------------------------------------- the sweep

RECOMMENDED_BM25 = Bm25Setting()  # Qdrant's defaults: k 1.2, b 0.75, avg_len 256, English stemming and stop words
RECOMMENDED = FusionSetting("dbsf", depth_dense=100, depth_sparse=100)
BASELINES = (FusionSetting("dense"), FusionSetting("sparse"), FusionSetting("rrf"), RECOMMENDED)


class Sweep:
    """Scores settings on the whole set and on two fixed halves of its queries."""

    def __init__(self, ir: IrSet, owners: Sequence[str], texts: Sequence[str], vectors: np.ndarray,
                 query_vectors: np.ndarray, workdir: Path) -> None:
        self.ir, self.owners, self.texts, self.vectors, self.query_vectors = ir, owners, texts, vectors, query_vectors
        self.workdir, self.indexes = workdir, {}
        self.parts = dict(zip(("all", "A", "B"), (list(ir.queries), *halves(list(ir.queries)))))

    def index(self, bm25: Bm25Setting) -> Index:
        if bm25 not in self.indexes:
            for old in self.indexes.values():
                old.close()  # one shard open at a time
            self.indexes = {bm25: Index(Path(tempfile.mkdtemp(dir=self.workdir)), self.owners, self.texts,
                                        self.vectors, bm25, self.ir.queries, self.query_vectors)}
        return self.indexes[bm25]

    def runs(self, fusion: FusionSetting, bm25: Bm25Setting = RECOMMENDED_BM25) -> dict[str, list[str]]:
        return self.index(bm25).run(fusion)

    def scores(self, fusion: FusionSetting, bm25: Bm25Setting = RECOMMENDED_BM25) -> dict[str, dict]:
        runs = self.runs(fusion, bm25)
        return {name: evaluate({q: runs[q] for q in ids}, self.ir.qrels) for name, ids in self.parts.items()}

    def ndcg(self, fusion: FusionSetting, bm25: Bm25Setting = RECOMMENDED_BM25) -> str:
        """nDCG@10 on all / A / B."""
        return " / ".join(f"{s['ndcg@10']:.4f}" for s in self.scores(fusion, bm25).values())


def ratio_interval(ir: IrSet, hybrid: dict[str, list[str]], dense: dict[str, list[str]],
                   draws: int = 2000) -> tuple[float, float]:
    """95% bootstrap interval (over queries) of mean nDCG@10 hybrid / dense: how far a new set of claims
    drawn like these could move the ratio."""
    ids = list(hybrid)
    h = np.array([ndcg_at_k(hybrid[q], ir.qrels[q]) for q in ids])
    d = np.array([ndcg_at_k(dense[q], ir.qrels[q]) for q in ids])
    picks = np.random.default_rng(0).integers(0, len(ids), size=(draws, len(ids)))
    ratios = h[picks].mean(axis=1) / d[picks].mean(axis=1)
    return float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))


def sweep(s: Sweep, dense_reference: float, log: Callable[[str], None] = print) -> None:
    log(f"nDCG@10 as all / half A / half B ({' / '.join(str(len(v)) for v in s.parts.values())} queries); "
        f"x dense against the bare model's exact dense search, {dense_reference:.4f}")
    log("\n## BM25 settings (sparse alone | RRF k 60 | DBSF, depth 100)")
    mean_len = float(mean_tokens(s.texts))
    grid = [replace(RECOMMENDED_BM25, stem=stem, stop=stop) for stem in (True, False) for stop in (True, False)]
    grid += [Bm25Setting(k, b) for k in (0.9, 1.2, 1.5, 2.0) for b in (0.5, 0.75, 0.9)]
    grid += [Bm25Setting(avg_len=mean_len), Bm25Setting(avg_len=mean_len, stem=False)]
    for bm25 in dict.fromkeys(grid):
        log(f"- {bm25.label()}: {s.ndcg(FusionSetting('sparse'), bm25)} | {s.ndcg(FusionSetting(), bm25)} | "
            f"{s.ndcg(RECOMMENDED, bm25)}")

    log("\n## RRF: k by sparse weight (dense weight 1), depth 100 (nDCG@10 on all)")
    candidates: list[FusionSetting] = []
    weights = (0.5, 0.75, 1.0, 1.5, 2.0)
    log("| k | " + " | ".join(f"w {w:g}" for w in weights) + " |\n" + "|---" * (len(weights) + 1) + "|")
    for k in (1, 5, 10, 20, 40, 60, 100, 200):
        row = [FusionSetting(k=k, w_sparse=w) for w in weights]
        candidates += row
        log(f"| {k} | " + " | ".join(f"{s.scores(f)['all']['ndcg@10']:.4f}" for f in row) + " |")
    log("\n## Prefetch depth per side: RRF k 60 | DBSF")
    for depth in (10, 20, 50, 100, 200, 500):
        pair = [replace(f, depth_dense=depth, depth_sparse=depth) for f in (FusionSetting(), RECOMMENDED)]
        candidates += pair
        log(f"- {depth}: {s.ndcg(pair[0])} | {s.ndcg(pair[1])}")
    log("\n## Formula: cosine + w * BM25 score (0 where a side did not fetch the point)")
    for w in (0.005, 0.01, 0.02, 0.03, 0.05):
        candidates.append(FusionSetting("formula", w_sparse=w))
        log(f"- w {w:g}: {s.ndcg(candidates[-1])}")

    log("\n## Tuned on one half, reported on the other (best of the grids above)")
    scored = [(f, s.scores(f)) for f in candidates]
    for tune, report in (("A", "B"), ("B", "A")):
        best, result = max(scored, key=lambda item: item[1][tune]["ndcg@10"])
        log(f"- tuned on {tune}: {best.label()}: {tune} {result[tune]['ndcg@10']:.4f}, "
            f"{report} {result[report]['ndcg@10']:.4f} (DBSF depth 100 on {report}: "
            f"{s.scores(RECOMMENDED)[report]['ndcg@10']:.4f})")

    log("\n## Repeatability: the same query twice")
    for fusion in (FusionSetting(), RECOMMENDED):
        first, second = s.runs(fusion), s.runs(fusion)
        changed = sum(first[q] != second[q] for q in first)
        log(f"- {fusion.label()}: {changed} of {len(first)} rankings differ between two runs")


PRUNING_BUDGETS = (0.0, 0.2, 0.1, 0.075, 0.05, 0.03, 0.02)


def pruning_table(s: Sweep, dense_reference: float, log: Callable[[str], None] = print) -> None:
    """DBSF at the pipeline's prefetch of 50 with the question's common terms left out of the sparse side."""
    log("\n## Hybrid's pruning of common query terms: DBSF, prefetch 50 a side; the rarest terms kept while the "
        "points holding them add up to at most the budget's share of all")
    log("| sparse budget | nDCG@10 all / A / B | recall@10 all | x dense all | terms kept (mean) |\n"
        "|---|---|---|---|---|")
    index = s.index(RECOMMENDED_BM25)
    for budget in PRUNING_BUDGETS:
        fusion = FusionSetting("dbsf", depth_dense=50, depth_sparse=50, sparse_budget=budget)
        scores = s.scores(fusion)
        kept = statistics.fmean(len(index.sparse_query(q, budget).indices) for q in index.query_ids)
        ndcg = " / ".join(f"{part['ndcg@10']:.4f}" for part in scores.values())
        log(f"| {budget:g} | {ndcg} | "
            f"{scores['all']['recall@10']:.4f} | {scores['all']['ndcg@10'] / dense_reference:.3f} | {kept:.2f} |")


def final_table(s: Sweep, dense: dict[str, list[str]], log: Callable[[str], None] = print) -> None:
    """nDCG@10 and recall@10 at the recommended settings, with the latency of one query; x dense is against
    the bare model's exact search over whole documents (`dense`) on the same queries."""
    log(f"\n## At the recommended settings: BM25 {RECOMMENDED_BM25.label()}; {RECOMMENDED.label()}")
    log("| mode | part | nDCG@10 | recall@10 | x dense | median ms/query |\n|---|---|---|---|---|---|")
    reference = {part: evaluate({q: dense[q] for q in ids}, s.ir.qrels)["ndcg@10"] for part, ids in s.parts.items()}
    index = s.index(RECOMMENDED_BM25)
    for fusion in BASELINES:
        latency = index.latency_ms(fusion)
        for part, result in s.scores(fusion).items():
            log(f"| {fusion.label()} | {part} | {result['ndcg@10']:.4f} | {result['recall@10']:.4f} | "
                f"{result['ndcg@10'] / reference[part]:.3f} | {latency:.2f} |")
    low, high = ratio_interval(s.ir, s.runs(RECOMMENDED), dense)
    log(f"95% bootstrap interval of hybrid / dense over these queries: {low:.3f} - {high:.3f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fusion_sweep", description=__doc__)
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="a folder laid out as ir_eval expects")
    parser.add_argument("--chunks", action="store_true", help="also index the pipeline's chunks")
    parser.add_argument("--final-only", action="store_true", help="only the table at the recommended settings")
    args = parser.parse_args(argv)
    ir = load_set(args.set)
    log = print
    query_ids = list(ir.queries)
    query_vectors = cached_vectors([f"q{q}" for q in query_ids], [ir.queries[q] for q in query_ids], log)
    documents = cached_document_vectors(ir, DEFAULT_MODEL, log)
    with tempfile.TemporaryDirectory(prefix="fusion-sweep-") as workdir:
        whole = Sweep(ir, ir.doc_ids, ir.texts, documents, query_vectors, Path(workdir))
        dense = whole.runs(FusionSetting("dense"))  # the bare model's exact search: the reference throughout
        dense_reference = evaluate(dense, ir.qrels)["ndcg@10"]
        log(f"# {args.set}: {len(ir.doc_ids):,} documents, one point each")
        if not args.final_only:
            sweep(whole, dense_reference, log)
        final_table(whole, dense, log)
        pruning_table(whole, dense_reference, log)
        if args.chunks:
            owners, texts = chunk_set(ir)
            vectors = cached_vectors([f"{owner}#{n}" for n, owner in enumerate(owners)], texts, log)
            chunks = Sweep(ir, owners, texts, vectors, query_vectors, Path(workdir))
            log(f"\n# Chunks ({CHUNK_MAX_TOKENS} tokens, overlap {CHUNK_OVERLAP}): {len(texts):,} points; "
                f"a document ranks at its best chunk; x dense still against whole documents")
            if not args.final_only:
                sweep(chunks, dense_reference, log)
            final_table(chunks, dense, log)
            pruning_table(chunks, dense_reference, log)


if __name__ == "__main__":
    main()
