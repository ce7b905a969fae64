"""The whole benchmark in a throwaway folder: the corpora written, a full run of each profile and its
ceiling, the unchanged re-run and the one-document edit, query latency, gathered into one result."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.throughput.ceiling import chunk_texts, measure_ceiling
from benchmarks.throughput.figures import summarize_run
from benchmarks.throughput.latency import measure_query_latency
from benchmarks.throughput.redaction import DEFAULT_DENSE_SAMPLES, dense_texts, measure_redaction
from benchmarks.throughput.report import evaluate_targets, machine_info, speed_probe
from benchmarks.throughput.runs import REPO_ROOT, BenchError, run_pipeline
from benchmarks.throughput.settings import (
    DEFAULT_DOCUMENTS,
    DEFAULT_LATENCY_POINTS,
    DEFAULT_LATENCY_QUERIES,
    DEFAULT_PROFILE,
    DEFAULT_SCAN_FRACTION,
    DEFAULT_SEED,
    PROFILES,
    RESULT_VERSION,
    TENANTS,
)
from benchmarks.throughput.synthetic_corpus import (
    FORMAT_KIND_WEIGHTS,
    KIND_WEIGHTS,
    corpus_summary,
    document_to_edit,
    edited,
    generate_corpus,
    write_corpus,
    write_document,
)
from ingest.core.config import converted_models_dir
from ingest.embedding.embed import configured_embedder
from ingest.host.protocol import key_path

HOST_START_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class BenchOptions:
    documents: int = DEFAULT_DOCUMENTS
    scan_fraction: float = DEFAULT_SCAN_FRACTION
    seed: int = DEFAULT_SEED
    profile: str = DEFAULT_PROFILE  # all, both, text, scans or formats (settings.PROFILES)
    latency_points: tuple[int, ...] = DEFAULT_LATENCY_POINTS
    latency_queries: int = DEFAULT_LATENCY_QUERIES
    skip_latency: bool = False
    skip_incremental: bool = False
    skip_ceiling: bool = False
    skip_redaction: bool = False
    redaction_samples: int = DEFAULT_DENSE_SAMPLES
    keep_workdir: bool = False
    model: str = "all-MiniLM-L6-v2"


def _child_environment(home: Path, config: Path) -> dict[str, str]:
    """The environment of each run: throwaway homes, own tenants file, embedded store, alerts to a file.

    Converted models stay where this installation keeps them (INGEST_MODELS_DIR), converted before
    the runs: a conversion happens once per installation, not in every run.
    """
    dropped = {"QDRANT_URL", "QDRANT_API_KEY", "INGEST_DAGSTER_PG_URL", "INGEST_TEST_FAULT", "INGEST_CONFIG",
               "DAGSTER_HOME", "INGEST_HOME", "INGEST_ALERT_KIND", "INGEST_ALERT_URL", "INGEST_ALERT_SECRET"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env.update({"INGEST_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "INGEST_CONFIG": str(config),
                "INGEST_ALERT_KIND": "log", "INGEST_MODELS_DIR": str(converted_models_dir())})
    return env


@contextmanager
def running_model_host(env: dict[str, str], workdir: Path, say: Callable[[str], None]) -> Iterator[float]:
    """`ingest host` for the benchmark's home while the block runs; yields the seconds it took to be ready."""
    home = Path(env["INGEST_HOME"])
    log_path = workdir / "runs" / "model-host.log"
    started = time.perf_counter()
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with log_path.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "launcher.main", "host", "--idle-minutes", "10"],
                                   env={**env, "PYTHONPATH": path}, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        while not key_path(home).is_file():  # written once everything is loaded
            if process.poll() is not None or time.perf_counter() - started > HOST_START_TIMEOUT_SECONDS:
                raise BenchError(f"the model host did not start (see {log_path}):\n"
                                 + log_path.read_text(encoding="utf-8")[-2000:])
            time.sleep(0.2)
        ready = round(time.perf_counter() - started, 3)
        say(f"model host ready in {ready:.1f} s")
        yield ready
    finally:
        process.terminate()
        process.wait(timeout=60)


def run_benchmark(options: BenchOptions, log: Callable[[str], None]) -> dict:
    """The whole benchmark in a throwaway folder (removed at the end unless keep_workdir); the result dict."""
    if options.profile not in PROFILES:
        raise ValueError(f"unknown profile {options.profile!r}: one of {', '.join(PROFILES)}")
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    home = workdir / "home"

    def say(message: str) -> None:
        log(f"bench [{time.perf_counter() - started:6.0f} s] {message}")

    result: dict = {
        "benchmark": "tenant-ingest", "version": RESULT_VERSION,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {**asdict(options), "latency_points": list(options.latency_points)},
        "machine": machine_info(),
        "profiles": {},
    }
    say(f"working in {workdir}" + (" (kept afterwards)" if options.keep_workdir else " (removed afterwards)"))
    try:
        profiles = PROFILES[options.profile]
        corpora = {name: generate_corpus(options.documents, options.scan_fraction if name == "scans" else 0.0,
                                         options.seed, FORMAT_KIND_WEIGHTS if name == "formats" else KIND_WEIGHTS)
                   for name in profiles}
        config = workdir / "tenants.toml"
        config.write_text("".join(f'[tenants.{TENANTS[name]}]\nsource = "{workdir / ("corpus-" + name)}"\n'
                                  f"refresh_hour = 2\n\n" for name in profiles), encoding="utf-8")
        env = _child_environment(home, config)
        say(f"embedding model: loading {options.model} (converting it once if its backend needs that)")
        loaded = time.perf_counter()
        embedder = configured_embedder(options.model)
        result["embedder"] = {"model": options.model, "backend": embedder.backend, "precision": embedder.precision,
                              "batch_size": embedder.batch_size,
                              "load_seconds": round(time.perf_counter() - loaded, 3)}
        for name in profiles:
            corpus, root = corpora[name], workdir / f"corpus-{name}"
            say(f"{name}: writing {len(corpus)} documents to {root}")
            write_corpus(corpus, root)
            profile: dict = {"tenant": TENANTS[name], "corpus": corpus_summary(corpus, root)}
            result["profiles"][name] = profile
            profile["speed_probe_seconds"] = {"before_run": speed_probe()}
            say(f"{name}: full run ({profile['corpus']['by_kind']})")
            run = run_pipeline(TENANTS[name], env, workdir, f"{name}-full", say)
            profile["full_run"] = summarize_run(run)
            profile["embed_batch_size"] = run["embed_batch_size"]
            say(f"{name}: full run took {run['seconds']:.1f} s ({profile['full_run']['chunks']} chunks)")
            if not options.skip_ceiling and name != "formats":
                texts = chunk_texts(home, TENANTS[name])
                say(f"{name}: ceiling: encoding the run's {len(texts)} chunk texts with plain sentence-transformers "
                    "(fp32, in a fresh process)")
                ceiling = measure_ceiling(options.model, texts, run["embed_batch_size"])
                ceiling["ratio"] = round(ceiling["seconds"] / run["seconds"], 4) if run["seconds"] else None
                profile["ceiling"] = ceiling
                profile["speed_probe_seconds"]["after_ceiling"] = speed_probe()
        if not options.skip_incremental:
            name = "scans" if "scans" in profiles else profiles[0]
            full = result["profiles"][name]["full_run"]
            result["incremental_profile"] = name
            say(f"{name}: unchanged re-run")
            rerun = run_pipeline(TENANTS[name], env, workdir, f"{name}-rerun", say)
            result["rerun"] = {**summarize_run(rerun), "ratio_to_full": round(rerun["seconds"] / full["seconds"], 4)}
            target = document_to_edit(corpora[name])
            write_document(edited(target, options.seed), workdir / f"corpus-{name}")
            say(f"{name}: one-document edit ({target.path}, one paragraph appended)")
            edit = run_pipeline(TENANTS[name], env, workdir, f"{name}-edit", say)
            per_document = full["seconds"] / full["documents"]
            result["edit"] = {**summarize_run(edit), "document": target.path,
                              "full_run_seconds_per_document": round(per_document, 3),
                              "ratio_to_one_document": round(edit["seconds"] / per_document, 3)}
            say(f"{name}: the same edit again, with the model host running (`ingest host`)")
            with running_model_host(env, workdir, say) as ready_seconds:
                write_document(edited(edited(target, options.seed), options.seed + 1), workdir / f"corpus-{name}")
                hosted = run_pipeline(TENANTS[name], env, workdir, f"{name}-edit-hosted", say)
            result["edit_hosted"] = {**summarize_run(hosted), "document": target.path,
                                     "host_ready_seconds": ready_seconds,
                                     "parsed_by_model_host": hosted["metadata"].get("parsed_documents", {}).get(
                                         "parsed_by_model_host", False),
                                     "ratio_to_one_document": round(hosted["seconds"] / per_document, 3)}
        if not options.skip_redaction:
            say(f"redaction: the step alone on the {profiles[0]} corpus's prose and on "
                f"{options.redaction_samples:,} PII-dense evaluation texts")
            prose = [document.text() for document in corpora[profiles[0]]]
            result["redaction"] = measure_redaction(prose, dense_texts(options.redaction_samples), log=say)
        if not options.skip_latency:
            say(f"latency: {options.latency_queries} queries at {', '.join(map(str, options.latency_points))} points")
            result["latency"] = measure_query_latency(
                options.latency_points, store=workdir / "latency-qdrant", seed=options.seed,
                queries=options.latency_queries, dimension=embedder.dimension, model_name=options.model,
                embed=lambda text: embedder.encode([text])[0], log=say)
    finally:
        if not options.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)  # only the folder mkdtemp made for this benchmark
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["targets"] = evaluate_targets(result)
    return result
