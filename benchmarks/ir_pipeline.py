"""The public retrieval set through the whole pipeline, each retrieval mode beside the bare model.

`python -m benchmarks eval-ir --pipeline`: the set's documents become a tenant's source folder and go
through one real run (parse, redact, chunk, embed, index into the embedded store) in a throwaway home;
then every claim is asked in each mode (`TenantIndex.search`, what `ingest query` calls, with the
tenant's retrieval settings), chunks are mapped to their documents (the best chunk ranks a document),
and nDCG@10 and recall@10 are reported against the bare model's exact dense search on whole documents,
measured in the same run (`benchmarks/ir_eval.py`).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from benchmarks.ir_eval import IrSet, evaluate, load_set, run_eval
from benchmarks.throughput.driver import _child_environment
from benchmarks.throughput.runs import run_pipeline

TENANT = "ir-eval"
CHUNK_DEPTH = 40  # chunks asked for per query, so that 10 distinct documents rank
TARGET_PUBLIC = 1.05  # hybrid nDCG@10 over the bare model's, on this set


def documents_ranked(sources: list[str], depth: int = 10) -> list[str]:
    """Document ids in the order of their best chunk ('docs/123.txt' -> '123')."""
    ranked: dict[str, None] = {}
    for source in sources:
        ranked.setdefault(Path(source).stem, None)
    return list(ranked)[:depth]


def _write_config(home: Path, ir: IrSet, folder: Path, retrieval: Mapping[str, object]) -> Path:
    config = home / "tenants.toml"
    table = "".join(f"{key} = {json.dumps(value)}\n" for key, value in retrieval.items())
    config.write_text(f'[tenants.{TENANT}]\nsource = "{folder / "docs"}"\nrefresh_hour = 2\n'
                      + (f"\n[tenants.{TENANT}.retrieval]\n{table}" if table else ""), encoding="utf-8")
    return config


def search_all_modes(home: Path, config: Path, ir: IrSet, model_name: str) -> dict[str, dict[str, list[str]]]:
    """mode -> query id -> ranked document ids, from the tenant's index in `home`."""
    from ingest.core.config import TenantRegistry
    from ingest.embedding.embed import configured_embedder
    from ingest.index.qdrant import QdrantSettings, TenantIndex, open_qdrant
    from ingest.index.retrieval import MODES, RetrievalSettings

    settings = RetrievalSettings.from_table(TenantRegistry(home, config).get(TENANT).retrieval, TENANT)
    query_ids = list(ir.queries)
    texts = [ir.queries[q] for q in query_ids]
    vectors = configured_embedder(model_name).encode(texts)
    rankings: dict[str, dict[str, list[str]]] = {}
    with open_qdrant(QdrantSettings(path=home / "qdrant"), TENANT) as store:
        index = TenantIndex(store, TENANT)
        for mode in MODES:
            mode_settings = settings.with_mode(mode)
            rankings[mode] = {
                q: documents_ranked([hit.payload.get("source", "") for hit in index.search(
                    vector, CHUNK_DEPTH, text=text, settings=mode_settings)])
                for q, text, vector in zip(query_ids, texts, vectors, strict=True)}
    return rankings


def run_pipeline_eval(folder: Path, model_name: str, log: Callable[[str], None],
                      retrieval: Mapping[str, object] | None = None, workdir: Path | None = None) -> dict:
    ir = load_set(folder)
    baseline = run_eval(folder, model_name, log=log)
    bare = baseline["modes"]["dense"]["ndcg@10"]
    home = workdir or Path(tempfile.mkdtemp(prefix="ingest-ir-pipeline-"))  # a kept one: only changes re-run
    home.mkdir(parents=True, exist_ok=True)
    config = _write_config(home, ir, folder, retrieval or {})
    log(f"eval-ir: running the pipeline on {len(ir.doc_ids):,} documents in {home}")
    started = time.perf_counter()
    run = run_pipeline(TENANT, _child_environment(home, config), home, "ir", log)
    run_seconds = time.perf_counter() - started
    rankings = search_all_modes(home, config, ir, model_name)
    modes = {}
    for mode, ranked in rankings.items():
        scores = evaluate(ranked, ir.qrels)
        scores["vs_bare_model"] = round(scores["ndcg@10"] / bare, 4) if bare else None
        modes[mode] = scores
    return {"set": str(folder), "documents": len(ir.doc_ids), "queries": len(ir.queries), "model": model_name,
            "run_seconds": round(run_seconds, 1), "run": run.get("summary"),
            "retrieval": dict(retrieval or {}), "bare_model": baseline["modes"]["dense"],
            "baselines": baseline["modes"], "pipeline": modes,
            "target": {"hybrid_vs_bare_model": TARGET_PUBLIC,
                       "met": modes["hybrid"]["vs_bare_model"] >= TARGET_PUBLIC}}


def format_pipeline_report(report: dict) -> str:
    bare = report["bare_model"]
    lines = [f"{report['set']}: {report['queries']} queries over {report['documents']:,} documents through the "
             f"pipeline ({report['run_seconds']:.0f} s run), model {report['model']}", "",
             "| mode | nDCG@10 | recall@10 | x bare model |", "| --- | --- | --- | --- |",
             f"| bare model, exact dense on whole documents | {bare['ndcg@10']:.4f} | {bare['recall@10']:.4f} | 1.000 |"]
    for mode, scores in report["pipeline"].items():
        lines.append(f"| pipeline, {mode} | {scores['ndcg@10']:.4f} | {scores['recall@10']:.4f} | "
                     f"{scores['vs_bare_model']:.3f} |")
    target = report["target"]
    lines.append(f"\nhybrid >= {target['hybrid_vs_bare_model']}x the bare model: {'met' if target['met'] else 'NOT met'}")
    return "\n".join(lines)
