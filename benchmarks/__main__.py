"""The benchmarks and the evaluations: `python -m benchmarks bench|cluster|index-engines|eval-pii|eval-ir ...`.

Tooling, not runtime: `make bench` and `make eval-pii` run them from a checkout (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import ingest  # noqa: F401  (offline environment first)
from benchmarks import throughput as bench_defaults  # constants only: no model or Dagster import
from ingest.core.config import TenantRegistry, embed_model_name, ingest_home


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _PolicyDetector:
    """The pipeline's redaction detector under a policy, as the evaluation sees it."""

    def __init__(self, policy, name: str) -> None:
        from ingest.pii.redact import Redactor

        self.name = name
        # In this process, one core: the figure per core, comparable with stock Presidio's. The
        # pipeline runs two workers side by side; `ingest bench` measures that throughput.
        self._redactor = Redactor(policy, workers=1)
        self._redactor.detect(["Warm-up: load the model before the clock starts."])

    def detect(self, texts: list[str]) -> list:
        return self._redactor.detect(texts)


def command_eval_pii(args: argparse.Namespace) -> int:
    """Stock Presidio and our policy on one labelled synthetic set, side by side."""
    from benchmarks.pii_eval import (
        StockPresidioDetector,
        evaluate,
        format_misses,
        format_report,
        report_as_json,
        targets_met,
    )
    from ingest.pii.policy import RedactionPolicy, policy_from_config

    if args.samples < 1:
        raise SystemExit("python -m benchmarks: " + "--samples must be at least 1")
    policy = RedactionPolicy()
    name = "ours (default policy)"
    if args.tenant:
        policy = policy_from_config(TenantRegistry(ingest_home()).get(args.tenant).redaction, tenant=args.tenant)
        name = f"ours ({args.tenant}: {policy.version})"
    _log(f"eval-pii: {args.samples} synthetic samples (seed {args.seed}) plus hand-written cases; "
         "loading the models")
    detectors = [StockPresidioDetector(), _PolicyDetector(policy, name)]
    dataset: list = []
    report = evaluate(detectors, samples=args.samples, seed=args.seed, dataset_out=dataset, misses=args.show_misses)
    print(json.dumps(report_as_json(report), indent=2) if args.json else format_report(report))
    if args.show_misses:  # synthetic values, to the terminal only
        print("\n" + (format_misses(report, dataset) or "no missed spans"))
    ours = report.results[-1]
    met = targets_met(ours.scores, ours.non_pii_survival)
    return 1 if args.check and not all(met.values()) else 0


def _positive_ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive whole numbers, got {text!r}")
    return values


def command_bench(args: argparse.Namespace) -> int:
    """The throughput benchmark (benchmarks/throughput/) in a throwaway home; the JSON result and a table."""
    from benchmarks.throughput import BenchError, BenchOptions, format_table, run_benchmark, write_result

    if (args.documents < 1 or not 0 <= args.scan_fraction <= 1 or args.latency_queries < 1
            or args.redaction_samples < 1):
        raise SystemExit("python -m benchmarks: --documents, --latency-queries and --redaction-samples must be at "
                         "least 1, --scan-fraction within 0-1")
    out = Path(args.out) if args.out else ingest_home() / "bench" / "result.json"
    options = BenchOptions(
        documents=args.documents, scan_fraction=args.scan_fraction, seed=args.seed, profile=args.profile,
        latency_points=args.latency_points, latency_queries=args.latency_queries, skip_latency=args.skip_latency,
        skip_incremental=args.skip_incremental, skip_ceiling=args.skip_ceiling, skip_redaction=args.skip_redaction,
        redaction_samples=args.redaction_samples, keep_workdir=args.keep_workdir,
        model=embed_model_name())
    try:
        result = run_benchmark(options, log=_log)
    except BenchError as error:
        _log(f"bench: {error}")
        return 1
    table = write_result(result, out)
    print(format_table(result))
    _log(f"bench: result in {out} (table in {table})")
    missed = [item for item in result["targets"] if item["met"] is False]
    return 1 if args.check and missed else 0


def command_cluster(args: argparse.Namespace) -> int:
    """Submission overhead of the local cluster (benchmarks/cluster.py) against the embedded default."""
    from benchmarks.cluster import format_report, measure

    if args.runs < 1:
        raise SystemExit("python -m benchmarks: --runs must be at least 1")
    result = measure(args.runs, log=_log)
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 1 if args.check and not result["target"]["met"] else 0


def command_index_engines(args: argparse.Namespace) -> int:
    """Embedded index engines side by side (benchmarks/index_engines.py); the JSON result and a table."""
    from benchmarks.index_engines import PRESETS, Options, format_table, run

    unknown = [name for name in args.configs if name not in PRESETS]
    if unknown:
        raise SystemExit("python -m benchmarks: unknown --configs " + ", ".join(unknown)
                         + f" (known: {', '.join(PRESETS)})")
    if args.queries < 1 or not 1 <= args.recall_queries <= 2 * args.queries:
        raise SystemExit("python -m benchmarks: --queries must be at least 1, --recall-queries 1 to twice that")
    out = Path(args.out) if args.out else ingest_home() / "bench" / "index-engines.json"
    options = Options(sizes=args.points, configs=tuple(args.configs), seed=args.seed, data=args.data,
                      queries=args.queries,
                      recall_queries=args.recall_queries, every_size=args.all_engines_at_every_size,
                      workdir=Path(args.workdir) if args.workdir else None, keep=args.keep,
                      search_ef=args.ef, query_words=args.query_words)
    report = run(options, log=_log)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_table(report))
    _log(f"index-engines: result in {out}")
    return 0


def command_eval_ir(args: argparse.Namespace) -> int:
    """Dense, BM25 and their fusion on the public retrieval set (benchmarks/ir_eval.py), exact search."""
    from benchmarks.ir_eval import format_report, run_eval

    if args.pipeline:
        from benchmarks.ir_pipeline import format_pipeline_report, run_pipeline_eval

        report = run_pipeline_eval(Path(args.set), args.model, _log,
                                   workdir=Path(args.workdir).resolve() if args.workdir else None)
        print(json.dumps(report, indent=2) if args.json else format_pipeline_report(report))
        return 1 if args.check and not report["target"]["met"] else 0
    report = run_eval(Path(args.set), args.model, log=_log)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 1 if args.check and not all(mode["within_0.01"] for mode in report["modes"].values()) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    pii = commands.add_parser("eval-pii", help="score stock Presidio and our redaction policy on a labelled "
                              "synthetic set: precision, recall and F2 per entity type, side by side")
    pii.add_argument("--samples", type=int, default=1000, help="synthetic sentences (default 1000)")
    pii.add_argument("--seed", type=int, default=42)
    pii.add_argument("--tenant", help="evaluate this tenant's configured policy instead of the default one")
    pii.add_argument("--json", action="store_true")
    pii.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    pii.add_argument("--show-misses", action="store_true", help="after the report, list the synthetic values our "
                     "policy missed, with what it found there and the text around them")
    pii.set_defaults(handler=command_eval_pii)

    ir = commands.add_parser("eval-ir", help="nDCG@10 and recall@10 of the bare model, BM25 and their "
                             "reciprocal-rank fusion on the public retrieval set, exact search")
    ir.add_argument("--set", default="/work/shared/ir/scifact-train", help="the set's folder (docs/, "
                    "queries.jsonl, qrels.json; default /work/shared/ir/scifact-train)")
    ir.add_argument("--model", default="all-MiniLM-L6-v2", help="the sentence-transformers model (default "
                    "all-MiniLM-L6-v2, the packaged one)")
    ir.add_argument("--json", action="store_true")
    ir.add_argument("--check", action="store_true", help="exit 1 when a figure is more than 0.01 from the "
                    "set's reference (with --pipeline: when hybrid is below 1.05x the bare model)")
    ir.add_argument("--pipeline", action="store_true", help="also run the documents through the pipeline and "
                    "score its dense, sparse and hybrid search beside the bare model")
    ir.add_argument("--workdir", help="with --pipeline: the home to run in (default a new temporary folder); "
                    "a kept one re-runs only what changed")
    ir.set_defaults(handler=command_eval_ir)


    bench = commands.add_parser("bench", help="throughput benchmark on a generated corpus in a throwaway home: "
                                "stage seconds, ceiling, re-runs, memory, query latency")
    bench.add_argument("--documents", type=int, default=bench_defaults.DEFAULT_DOCUMENTS,
                       help=f"documents in each corpus (default {bench_defaults.DEFAULT_DOCUMENTS})")
    bench.add_argument("--scan-fraction", type=float, default=bench_defaults.DEFAULT_SCAN_FRACTION,
                       help="share of scanned PDFs in the 'scans' corpus (default "
                       f"{bench_defaults.DEFAULT_SCAN_FRACTION})")
    bench.add_argument("--seed", type=int, default=bench_defaults.DEFAULT_SEED)
    bench.add_argument("--profile", choices=sorted(bench_defaults.PROFILES), default=bench_defaults.DEFAULT_PROFILE,
                       help="corpora to run: text-only, with scans, every format (parse seconds per type and "
                       "LibreOffice's start-up), both of the first two, or all three (default); the re-run and the "
                       "edit use the last of text and scans")
    bench.add_argument("--out", help="the JSON result (default $INGEST_HOME/bench/result.json); the table goes "
                       "next to it as .md")
    bench.add_argument("--latency-points", type=_positive_ints, default=bench_defaults.DEFAULT_LATENCY_POINTS,
                       metavar="N,N,...", help="store sizes for query latency (default "
                       f"{','.join(map(str, bench_defaults.DEFAULT_LATENCY_POINTS))})")
    bench.add_argument("--latency-queries", type=int, default=bench_defaults.DEFAULT_LATENCY_QUERIES,
                       help=f"queries at each size (default {bench_defaults.DEFAULT_LATENCY_QUERIES})")
    bench.add_argument("--skip-latency", action="store_true", help="no query-latency measurement")
    bench.add_argument("--skip-incremental", action="store_true", help="no unchanged re-run or one-document edit")
    bench.add_argument("--skip-ceiling", action="store_true", help="no plain sentence-transformers ceiling")
    bench.add_argument("--skip-redaction", action="store_true", help="no throughput of the redaction step alone "
                       "(document prose and PII-dense text)")
    bench.add_argument("--redaction-samples", type=int, default=bench_defaults.DEFAULT_DENSE_SAMPLES,
                       help="generated PII-evaluation sentences for the PII-dense redaction figure (default "
                       f"{bench_defaults.DEFAULT_DENSE_SAMPLES})")
    bench.add_argument("--keep-workdir", action="store_true", help="keep the throwaway folder (corpora, state, "
                       "each run's log) instead of removing it")
    bench.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    bench.set_defaults(handler=command_bench)

    cluster = commands.add_parser("cluster", help="start deploy/local-cluster.sh in a throwaway folder and time "
                                  "how long a submitted run takes to start its first step, against the embedded "
                                  "default")
    cluster.add_argument("--runs", type=int, default=5, help="runs of a small tenant each way (default 5)")
    cluster.add_argument("--json", action="store_true")
    cluster.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    cluster.set_defaults(handler=command_cluster)

    engines = commands.add_parser("index-engines", help="embedded index engines (qdrant-client local mode, "
                                  "Qdrant Edge) on seeded random vectors: upserts/s, cold open, query p50/p95, "
                                  "recall@10, peak memory, disk")
    engines.add_argument("--points", type=_positive_ints, default=(50_000, 1_000_000), metavar="N,N,...",
                         help="store sizes (default 50000,1000000)")
    engines.add_argument("--configs", type=lambda text: [part for part in text.split(",") if part],
                         default=["local", "edge-m16", "edge-m16-int8", "edge-m16-int8-sparse"],
                         metavar="NAME,...", help="engine configurations (see PRESETS in "
                         "benchmarks/index_engines.py; default local,edge-m16,edge-m16-int8,edge-m16-int8-sparse)")
    engines.add_argument("--all-engines-at-every-size", action="store_true",
                         help="run local mode above 50,000 points too (it scans every point in Python)")
    engines.add_argument("--queries", type=int, default=200, help="timed queries after opening, and as many "
                         "again warm (default 200)")
    engines.add_argument("--recall-queries", type=int, default=50, help="queries checked against exact "
                         "brute force (default 50)")
    engines.add_argument("--seed", type=int, default=1234)
    engines.add_argument("--data", choices=("latent", "uniform"), default="latent",
                         help="latent: unit vectors of a 32-dimensional latent space plus noise, like real "
                         "embeddings (default); uniform: uniform on the sphere, the worst case for HNSW recall")
    engines.add_argument("--ef", type=lambda text: tuple(int(part) for part in text.split(",") if part.strip()),
                         metavar="N,N,...", help="hnsw_ef values to query Edge stores with, 0 for exact search "
                         "(default: each configuration's own)")
    engines.add_argument("--query-words", type=int, default=4, help="keywords per synthetic question (default 4; "
                         "the SciFact claims carry 9 BM25 terms on average)")
    engines.add_argument("--workdir", help="where the stores are built (default: a throwaway temporary folder)")
    engines.add_argument("--keep", action="store_true", help="keep the stores after measuring them")
    engines.add_argument("--out", help="the JSON result (default $INGEST_HOME/bench/index-engines.json)")
    engines.set_defaults(handler=command_index_engines)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
