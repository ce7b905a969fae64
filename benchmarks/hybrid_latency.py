"""Hybrid query latency against dense on one Qdrant Edge shard, every variant taking turns per question.

`python -m benchmarks.hybrid_latency build PATH --points N` writes the benchmark's synthetic points
(benchmarks/index_engines.py: latent vectors, Zipf-drawn made-up words, the pipeline's payloads) into a
shard configured as the pipeline's (ingest/index/edge_store.py: everything Cold, int8, HNSW m 16), with
the same BM25 vector stored under several sparse names, one per sparse storage option, so that they are
compared on one store; it also writes how many points hold each term (PATH.term_df.json), what the
pipeline's term table would hold. `... query PATH` opens it as the pipeline does (read-ahead, then load)
and times the variants one question at a time, in turn, so that load from other processes falls on all of
them alike, each variant with questions of its own (drawn alike); wall clock and the process's CPU time.
Variants with the term counts leave the question's common terms out, as the pipeline's hybrid does
(ingest/index/retrieval.py `prune_query`) or by other rules. `--words` sets the keyword count of the
synthetic questions (4, the index-engines default; 0: shaped like the SciFact claims, see `terms`).
`... terms` counts the BM25 terms of the SciFact claims and the share of chunks each term occurs in.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from benchmarks.index_engines import (
    BATCH,
    CHUNK,
    DIMENSION,
    iter_vectors,
    payload,
    point_id,
    query_texts,
    query_vectors,
    texts_chunk,
    vocabulary,
)

SPARSE_NAMES = {  # sparse name -> EdgeSparseVectorParams options beside modifier Idf
    "bm25": {"memory": "Cold"},  # the pipeline's
    "bm25_f16": {"memory": "Cold", "datatype": "Float16"},
    "bm25_u8": {"memory": "Cold", "datatype": "Uint8"},
    "bm25_pinned": {"memory": "Pinned"},
}
# (share, min terms): query terms in more of the points than the share are dropped, but the rarest few stay
PRUNE_RULES = ((0.1, 1), (0.05, 1), (0.05, 4), (0.03, 1), (0.03, 4), (0.02, 4))
PRUNE_BUDGETS = (0.05, 0.075, 0.1, 0.2)  # or its rarest while their points add up to this share of all
PRUNE_KEEP = (6, 4)  # or only the question's rarest terms are kept
WARM = 20  # questions per variant answered before timing
SCIFACT = Path("/work/shared/ir/scifact-train")


def _config(qe, names):
    from ingest.index.store import HNSW_EF_CONSTRUCT, HNSW_M

    dense = qe.EdgeVectorParams(
        size=DIMENSION, distance=qe.Distance.Cosine, memory=qe.Memory.Cold,
        quantization_config=qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Cold),
        hnsw_config=qe.HnswIndexConfig(m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT, full_scan_threshold=10_000))
    sparse = {}
    for name in names:
        options = SPARSE_NAMES[name]
        extra = {"datatype": getattr(qe.VectorStorageDatatype, options["datatype"])} if "datatype" in options else {}
        sparse[name] = qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf, memory=getattr(qe.Memory, options["memory"]),
                                                 **extra)
    return qe.EdgeConfig(vectors={"dense": dense}, sparse_vectors=sparse, wal_enabled=False)


def build(path: Path, points: int, seed: int, names: list[str], log: Callable[[str], None]) -> None:
    import qdrant_edge as qe

    shard = qe.EdgeShard.create(str(path), _config(qe, names))
    for field in ("doc_id", "tenant"):
        shard.update(qe.UpdateOperation.create_field_index(field, qe.KeywordIndexParams(memory=qe.Memory.Cold)))
    bm25 = qe.Bm25()
    words = vocabulary(seed)
    term_df: Counter[int] = Counter()  # what the pipeline's term table would hold for these points
    started = time.perf_counter()
    for first, block in iter_vectors(seed, points):
        texts = texts_chunk(seed, first // CHUNK, len(block), words)
        built = []
        for i, (vector, text) in enumerate(zip(block.tolist(), texts, strict=True)):
            sparse = bm25.embed_document(text)
            term_df.update(sparse.indices)
            built.append(qe.Point(point_id(first + i), {"dense": vector, **dict.fromkeys(names, sparse)},
                                  payload(first + i, text)))
        for start in range(0, len(built), BATCH):
            shard.update(qe.UpdateOperation.upsert_points(built[start:start + BATCH]))
        if (first // CHUNK) % 10 == 9:
            log(f"  {first + len(block):,} points written, {time.perf_counter() - started:.0f} s")
    shard.flush()
    _df_path(path).write_text(json.dumps({"points": points, "df": term_df}))
    clock = time.perf_counter()
    shard.optimize()
    shard.flush()
    log(f"written in {clock - started:.0f} s, optimized in {time.perf_counter() - clock:.0f} s")
    shard.close()


def _df_path(path: Path) -> Path:
    return path.parent / f"{path.name}.term_df.json"


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return round(statistics.median(ordered) * 1000, 2), round(p95 * 1000, 2)


def query(path: Path, seed: int, count: int, words: int, variants: list[str] | None,
          log: Callable[[str], None], chunks: Path | None = None) -> dict:
    import qdrant_edge as qe

    from ingest.index.edge_store import read_ahead
    from ingest.index.retrieval import RetrievalSettings, SparseVector, prune_query
    from ingest.index.store import OVERSAMPLING
    from ingest.index.terms import TermTable

    names = list(json.loads((path / "edge_config.json").read_text())["sparse_vectors"])
    read_ahead(path)
    shard = qe.EdgeShard.load(str(path))
    bm25 = qe.Bm25()

    def params(ef: int, rescore: bool = True, oversampling: float = OVERSAMPLING):
        return qe.SearchParams(hnsw_ef=ef, quantization=qe.QuantizationSearchParams(
            rescore=rescore, oversampling=oversampling if rescore else None))

    def dense(ef: int, limit: int = 10):
        return lambda v, s: qe.QueryRequest(limit=limit, query=qe.Query.Nearest(v, using="dense"),
                                            params=params(ef), with_payload=True)

    def sparse_only(name: str):
        return lambda v, s: qe.QueryRequest(limit=10, query=qe.Query.Nearest(s, using=name), with_payload=True)

    def hybrid(name: str = "bm25", pf: int = 50, ef: int = 256, rescore: bool = True, spf: int | None = None,
               oversampling: float = OVERSAMPLING):
        def request(v, s):
            prefetches = [qe.Prefetch(limit=pf, query=qe.Query.Nearest(v, using="dense"),
                                      params=params(ef, rescore, oversampling)),
                          qe.Prefetch(limit=spf or pf, query=qe.Query.Nearest(s, using=name))]
            return qe.QueryRequest(limit=10, prefetches=prefetches, with_payload=True, query=qe.Fusion.Dbsf())
        return request

    df_path = _df_path(path)
    stats = json.loads(df_path.read_text()) if df_path.is_file() else None
    term_df = {int(term): n for term, n in stats["df"].items()} if stats else {}
    term_table = TermTable.from_counts(stats["points"], term_df) if stats else TermTable.empty()

    def pruned(s, max_share: float | None = None, min_terms: int = 1, keep: int | None = None,
               budget: float | None = None):
        """With `budget`, the question pruned as the pipeline prunes it (retrieval.prune_query). Otherwise
        its terms without those in more than `max_share` of the points, but at least its `min_terms`
        rarest ones; or only its `keep` rarest."""
        if budget is not None:
            kept = prune_query(SparseVector(tuple(s.indices), tuple(s.values)), term_table.frequencies(s.indices),
                               term_table.points, budget)
            return qe.SparseVector(list(kept.indices), list(kept.values))
        terms = sorted(s.indices, key=lambda term: term_df.get(term, 0))
        kept = [t for t in terms if max_share is None or term_df.get(t, 0) <= max_share * stats["points"]]
        kept = kept[:keep] if keep else (kept if len(kept) >= min_terms else terms[:min_terms])
        return qe.SparseVector(sorted(kept), [1.0] * len(kept))

    def with_pruning(make, **rule):
        return lambda v, s: make(v, pruned(s, **rule))

    table = {"dense@256": dense(256), "dense@128": dense(128)}
    table |= {f"sparse:{name}": sparse_only(name) for name in names}
    table |= {
        "hybrid pf50 ef256 rescored (before)": hybrid(),
        "hybrid pf50 ef256 int8 only, every term (before)": hybrid(rescore=False),
        "hybrid pf50 ef128 int8 only": hybrid(ef=128, rescore=False),
        "hybrid pf30 ef256 int8 only": hybrid(pf=30, rescore=False),
        "hybrid pf50 ef256 os1": hybrid(oversampling=1.0),
        "hybrid pf50 ef128": hybrid(ef=128),
        "hybrid pf30 ef256": hybrid(pf=30),
        "hybrid pf20 ef256": hybrid(pf=20),
        "hybrid dense20 sparse50 ef256": hybrid(pf=20, spf=50),
    }
    table |= {f"hybrid pf50 ef256 rescored {name}": hybrid(name) for name in names if name != "bm25"}
    table |= {
        "hybrid dense50 sparse20 int8 only": hybrid(rescore=False, spf=20),
        "hybrid dense50 sparse10 int8 only": hybrid(rescore=False, spf=10),
    }
    if stats:
        for share, least in PRUNE_RULES:
            rule = f"share<={share}" + (f" min {least}" if least > 1 else "")
            table[f"sparse pruned {rule}"] = with_pruning(sparse_only("bm25"), max_share=share, min_terms=least)
            table[f"hybrid int8 only pruned {rule}"] = with_pruning(hybrid(rescore=False), max_share=share,
                                                                     min_terms=least)
            table[f"hybrid ef128 int8 only pruned {rule}"] = with_pruning(hybrid(ef=128, rescore=False),
                                                                           max_share=share, min_terms=least)
        for budget in PRUNE_BUDGETS:
            shipped = " (pipeline)" if budget == RetrievalSettings().sparse_budget else ""
            table[f"hybrid int8 only budget {budget}{shipped}"] = with_pruning(hybrid(rescore=False), budget=budget)
            table[f"hybrid ef128 int8 only budget {budget}"] = with_pruning(hybrid(ef=128, rescore=False),
                                                                          budget=budget)
        for keep in PRUNE_KEEP:
            table[f"hybrid int8 only rarest {keep}"] = with_pruning(hybrid(rescore=False), keep=keep)
    if variants:
        table = {key: value for key, value in table.items() if any(v in key for v in variants)}
    # A question's full vectors, once read for re-scoring, answer the next search of the same question from
    # a cache (the first search of 50 candidates took 15 ms median at 200,000 points, the same again 1.8 ms):
    # so each variant gets questions of its own, all drawn alike, taking turns one question at a time.
    total = (count + WARM) * len(table)
    vectors = [list(map(float, v)) for v in query_vectors(seed, total)]
    texts = (claim_shaped_texts(seed, total, chunks) if words == 0
             else query_texts(seed, total, vocabulary(seed), length=words))
    sparse = [bm25.embed_query(text) for text in texts]
    timings: dict[str, list[float]] = {key: [] for key in table}
    # CPU seconds of the whole process (Edge's search threads included): other jobs on the machine stretch
    # the wall clock's tail, not the work a query does.
    cpu: dict[str, list[float]] = {key: [] for key in table}
    for i in range(count + WARM):
        for k, (key, make) in enumerate(table.items()):
            n = i * len(table) + k
            request = make(vectors[n], sparse[n])
            clock, cpu_clock = time.perf_counter(), time.process_time()
            shard.query(request)
            if i >= WARM:
                timings[key].append(time.perf_counter() - clock)
                cpu[key].append(time.process_time() - cpu_clock)
    shard.close()
    base = _percentiles(timings["dense@256"]) if "dense@256" in timings else None
    cpu_base = _percentiles(cpu["dense@256"]) if "dense@256" in cpu else None
    result = {}
    log("| variant | p50 ms | p95 ms | x dense p50 / p95 | CPU p50 / p95 ms | x dense CPU p95 |")
    for key, seconds in timings.items():
        p50, p95 = _percentiles(seconds)
        cpu50, cpu95 = _percentiles(cpu[key])
        ratio = f"{p50 / base[0]:.2f}x / {p95 / base[1]:.2f}x" if base else ""
        cpu_ratio = f"{cpu95 / cpu_base[1]:.2f}x" if cpu_base else ""
        result[key] = {"p50_ms": p50, "p95_ms": p95, "cpu_p50_ms": cpu50, "cpu_p95_ms": cpu95}
        log(f"| {key} | {p50} | {p95} | {ratio} | {cpu50} / {cpu95} | {cpu_ratio} |")
    terms = [len(vector.indices) for vector in sparse]
    log(f"query terms: mean {statistics.mean(terms):.2f}")
    return result


def _chunk_texts(shard_path: Path) -> list[str]:
    """The `text` of every point of an Edge shard (the pipeline's chunks of the SciFact abstracts)."""
    import qdrant_edge as qe

    shard = qe.EdgeShard.load(str(shard_path))
    texts, offset = [], None
    while True:
        records, offset = shard.scroll(qe.ScrollRequest(offset=offset, limit=512, with_payload=["text"]))
        texts += [str((record.payload or {}).get("text", "")) for record in records]
        if offset is None:
            shard.close()
            return texts


def _claim_term_shares(chunks: Path | None = None) -> list[list[float]]:
    """Per SciFact claim, the share of abstracts (or of the pipeline's chunks) holding each of its BM25 terms."""
    import qdrant_edge as qe

    bm25 = qe.Bm25()
    claims = [json.loads(line)["query"] for line in (SCIFACT / "queries.jsonl").read_text().splitlines() if line]
    texts = _chunk_texts(chunks) if chunks else [file.read_text(errors="replace")
                                                 for file in sorted((SCIFACT / "docs").glob("*"))]
    docs = [set(bm25.embed_document(text).indices) for text in texts]
    return [[sum(term in doc for doc in docs) / len(docs) for term in bm25.embed_query(claim).indices]
            for claim in claims]


def claim_shaped_texts(seed: int, count: int, chunks: Path | None = None) -> list[str]:
    """Synthetic questions shaped like the SciFact claims: per claim, as many made-up words as it has BM25
    terms, each the word whose share of the synthetic points is nearest that term's share of the abstracts
    (abstracts are longer than chunks, so this errs towards common, costly terms)."""
    import numpy as np

    words = vocabulary(seed)
    texts = texts_chunk(seed, 0, CHUNK, words)
    index = {word: n for n, word in enumerate(words)}
    held = np.zeros(len(words))
    for text in texts:
        for word in set(text.split()):
            if word in index:
                held[index[word]] += 1
    held /= len(texts)
    rng = np.random.default_rng([seed, 11])
    shaped = []
    for claim in _claim_term_shares(chunks):  # one of the ten nearest words, so that a claim's terms stay distinct
        shaped.append(" ".join(words[int(rng.choice(np.argsort(np.abs(held - share))[:10]))] for share in claim))
    return [shaped[i % len(shaped)] for i in range(count)]


def terms(log: Callable[[str], None]) -> None:
    """BM25 terms per SciFact claim, and the share of abstracts each claim term occurs in."""
    import qdrant_edge as qe

    bm25 = qe.Bm25()
    claims = [json.loads(line)["query"] for line in (SCIFACT / "queries.jsonl").read_text().splitlines() if line]
    counts = [len(bm25.embed_query(claim).indices) for claim in claims]
    docs = []
    for file in sorted((SCIFACT / "docs").glob("*")):
        docs.append(set(bm25.embed_document(file.read_text(errors="replace")).indices))
    shares = []
    for claim in claims:
        for term in bm25.embed_query(claim).indices:
            shares.append(sum(term in doc for doc in docs) / max(1, len(docs)))
    ordered = sorted(shares)
    log(f"SciFact claims: {len(claims)}, BM25 terms per claim mean {statistics.mean(counts):.2f}, "
        f"median {statistics.median(counts)}, p90 {sorted(counts)[int(0.9 * len(counts))]}; "
        f"{len(docs)} documents; share of documents holding a claim term: median {statistics.median(ordered):.4f}, "
        f"p90 {ordered[int(0.9 * len(ordered))]:.4f}, max {ordered[-1]:.4f}, mean {statistics.mean(ordered):.4f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hybrid_latency", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("path", type=Path)
    b.add_argument("--points", type=int, default=200_000)
    b.add_argument("--sparse", nargs="+", default=list(SPARSE_NAMES), choices=list(SPARSE_NAMES),
                   help="sparse vectors to store (each the same BM25 vector, stored with other options)")
    q = sub.add_parser("query")
    q.add_argument("path", type=Path)
    q.add_argument("--queries", type=int, default=300)
    q.add_argument("--words", type=int, default=4,
                   help="keywords per synthetic question (index-engines: 4); 0: shaped like the SciFact claims")
    q.add_argument("--shares-from", type=Path, help="with --words 0: an Edge shard of the pipeline's SciFact "
                   "chunks, whose term shares to match (default: the whole abstracts')")
    q.add_argument("--only", nargs="*", help="variants whose name contains one of these")
    for p in (b, q):
        p.add_argument("--seed", type=int, default=1234)
    sub.add_parser("terms")
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(line, flush=True)

    if args.command == "build":
        build(args.path, args.points, args.seed, args.sparse, log)
    elif args.command == "query":
        query(args.path, args.seed, args.queries, args.words, args.only, log, args.shares_from)
    else:
        terms(log)


if __name__ == "__main__":
    main(sys.argv[1:])
