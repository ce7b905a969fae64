"""What a benchmark result says and where it goes: the targets met or missed, the table of its figures,
the machine it ran on, and the JSON and Markdown files it is written to."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.throughput.figures import STAGES
from benchmarks.throughput.redaction import TARGET_CHARACTERS_PER_SECOND
from benchmarks.throughput.settings import REPO_ROOT

TARGET_EDIT_DOCUMENTS = 5.0  # a one-document edit: at most five documents' share of the full run
TARGET_EDIT_SECONDS = 8.0  # ... and at most this many seconds
TARGET_RERUN_SECONDS = 4.0  # an unchanged re-run of a small corpus: at most this many seconds ...
TARGET_RERUN_SECONDS_DOCUMENTS = 40  # ... judged on corpora of up to this many documents
TARGET_MEMORY_DOCUMENTS = 2000  # the memory target is stated for a run of this many documents


def _get(result: dict, *keys: str):
    value = result
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def peak_memory_bytes(result: dict) -> int | None:
    """The highest PSS (else RSS) of a full run's process tree over the benchmark's profiles."""
    peaks = []
    for profile in result.get("profiles", {}).values():
        memory = _get(profile, "full_run", "memory") or {}
        value = memory.get("peak_tree_pss_bytes") or memory.get("peak_tree_rss_bytes")
        if value:
            peaks.append(value)
    return max(peaks) if peaks else None


def evaluate_targets(result: dict) -> list[dict]:
    """The issue's targets: value, goal and met (None when not measured or not applicable)."""

    def target(key: str, label: str, value, goal: str, met, note: str = "") -> dict:
        return {"key": key, "label": label, "value": value, "goal": goal, "met": met, "note": note}

    def at_least(value, bound):
        return None if value is None else value >= bound

    def at_most(value, bound):
        return None if value is None else value <= bound

    text = _get(result, "profiles", "text", "ceiling", "ratio")
    scans = _get(result, "profiles", "scans", "ceiling", "ratio")
    rerun = _get(result, "rerun", "ratio_to_full")
    rerun_seconds = _get(result, "rerun", "seconds")
    edit = _get(result, "edit", "ratio_to_one_document")
    edit_seconds = _get(result, "edit", "seconds")
    hosted = _get(result, "edit_hosted", "ratio_to_one_document")
    hosted_seconds = _get(result, "edit_hosted", "seconds")
    documents = _get(result, "parameters", "documents") or 0
    memory = peak_memory_bytes(result)
    memory_gb = round(memory / 1e9, 3) if memory else None
    memory_applies = documents >= TARGET_MEMORY_DOCUMENTS
    sizes = _get(result, "latency", "sizes") or {}
    p95_50k = _get(sizes, "50000", "p95_ms")
    largest = sizes[max(sizes, key=int)] if sizes else {}
    hybrid_ratio = largest.get("hybrid_over_dense_p95")
    prose_rate = _get(result, "redaction", "prose", "characters_per_second")
    dense_rate = _get(result, "redaction", "dense", "characters_per_second")
    return [
        target("ceiling_ratio_text", "ceiling / pipeline, text-only corpus", text, ">= 0.7", at_least(text, 0.7)),
        target("ceiling_ratio_scans", "ceiling / pipeline, with scans", scans, ">= 0.5", at_least(scans, 0.5)),
        target("rerun_ratio", "unchanged re-run / full run", rerun, "<= 0.05", at_most(rerun, 0.05)),
        target("rerun_seconds", f"unchanged re-run of up to {TARGET_RERUN_SECONDS_DOCUMENTS} documents, s",
               rerun_seconds, f"<= {TARGET_RERUN_SECONDS:g}",
               at_most(rerun_seconds, TARGET_RERUN_SECONDS) if documents <= TARGET_RERUN_SECONDS_DOCUMENTS else None,
               "" if documents <= TARGET_RERUN_SECONDS_DOCUMENTS or rerun_seconds is None else
               f"judged on corpora of up to {TARGET_RERUN_SECONDS_DOCUMENTS} documents (try --documents 40)"),
        target("edit_ratio", "one-document edit / one document's share of a full run", edit,
               f"<= {TARGET_EDIT_DOCUMENTS:g}", at_most(edit, TARGET_EDIT_DOCUMENTS)),
        target("edit_seconds", "one-document edit, s", edit_seconds, f"<= {TARGET_EDIT_SECONDS:g}",
               at_most(edit_seconds, TARGET_EDIT_SECONDS)),
        target("edit_hosted_ratio", "the same with the model host running (`ingest host`)", hosted,
               f"<= {TARGET_EDIT_DOCUMENTS:g}", at_most(hosted, TARGET_EDIT_DOCUMENTS)),
        target("edit_hosted_seconds", "one-document edit with the model host running, s", hosted_seconds,
               f"<= {TARGET_EDIT_SECONDS:g}", at_most(hosted_seconds, TARGET_EDIT_SECONDS)),
        target("peak_memory", "peak memory of a 2,000-document run, GB", memory_gb, "< 3",
               (memory_gb < 3.0 if memory_gb is not None else None) if memory_applies else None,
               "" if memory_applies else f"judged on runs of {TARGET_MEMORY_DOCUMENTS:,} documents or more; "
               f"this run had {documents:,} (try --documents {TARGET_MEMORY_DOCUMENTS})"),
        target("query_p95_50k", "dense query p95 at 50,000 points, ms", p95_50k, "<= 10", at_most(p95_50k, 10.0),
               "" if p95_50k is not None else "measured when --latency-points includes 50000"),
        target("hybrid_over_dense", "hybrid / dense query p95 at the largest size", hybrid_ratio, "<= 1.5",
               at_most(hybrid_ratio, 1.5)),
        target("redaction_prose", "redaction step, document prose, characters / s", prose_rate,
               f">= {TARGET_CHARACTERS_PER_SECOND:,}", at_least(prose_rate, TARGET_CHARACTERS_PER_SECOND)),
        target("redaction_dense", "redaction step, PII-dense text, characters / s", dense_rate,
               f">= {TARGET_CHARACTERS_PER_SECOND:,}", at_least(dense_rate, TARGET_CHARACTERS_PER_SECOND)),
    ]


def _number(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _gb(value) -> str:
    return "-" if not value else f"{value / 1e9:.2f} GB"


def _met(flag) -> str:
    return "n/a" if flag is None else ("met" if flag else "NOT met")


def format_table(result: dict) -> str:
    """A short plain-text report (Markdown tables) of a benchmark result."""
    parameters = result["parameters"]
    names = list(result.get("profiles", {}))
    headers = {"text": "text-only", "scans": f"with {parameters['scan_fraction']:.0%} scans",
               "formats": "every format"}
    profiles = [result["profiles"][name] for name in names]
    lines = [
        f"tenant-ingest benchmark: {parameters['documents']:,} documents a corpus, seed {parameters['seed']}, "
        f"model {parameters['model']} ({result.get('embedder', {}).get('backend', '?')} backend, "
        f"{result.get('embedder', {}).get('precision', '?')}, batches of "
        f"{result.get('embedder', {}).get('batch_size', '?')}), {result['machine']['cpu_count']} CPUs; "
        f"took {result['wall_seconds'] / 60:.1f} min",
        "",
        "| full run | " + " | ".join(headers[name] for name in names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]

    def row(label: str, values: Sequence[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    runs = [profile.get("full_run", {}) for profile in profiles]
    ceilings = [profile.get("ceiling") or {} for profile in profiles]
    row("documents (quarantined)", [f"{r['documents']:,} ({r['quarantined']})" for r in runs])
    row("chunks", [_number(r["chunks"]) for r in runs])
    row("seconds", [_number(r["seconds"], 1) for r in runs])
    row("documents / s", [_number(r["documents_per_second"]) for r in runs])
    row("chunks / s", [_number(r["chunks_per_second"]) for r in runs])
    row("ceiling: plain encode, s", [_number(c.get("seconds"), 1) for c in ceilings])
    row("ceiling / pipeline", [_number(c.get("ratio"), 3) for c in ceilings])
    probes = [profile.get("speed_probe_seconds", {}) for profile in profiles]
    row("speed probe, s: before the run / after the ceiling",
        [f"{_number(probe.get('before_run'), 2)} / {_number(probe.get('after_ceiling'), 2)}" for probe in probes])
    for stage in STAGES:
        row(f"{stage}, s (share)", [f"{_number(r['stages'][stage], 1)} ({r['shares'][stage]:.0%})"
                                    if r["shares"][stage] is not None else "-" for r in runs])
    row("OCR pages / s", [_number(r["ocr"]["pages_per_second"]) + f" ({r['ocr']['pages']} pages)" for r in runs])
    row("redaction characters / s", [_number(r["redaction"]["characters_per_second"], 0) for r in runs])
    row("upsert points / s", [_number(r["upsert"]["points_per_second"], 0) for r in runs])
    row("peak memory, tree PSS (RSS sum)",
        [f"{_gb(r['memory'].get('peak_tree_pss_bytes'))} ({_gb(r['memory'].get('peak_tree_rss_bytes'))})"
         for r in runs])
    lines += _parse_by_type_table(names, runs, headers)
    if result.get("rerun") or result.get("edit") or result.get("edit_hosted"):
        lines += ["", "| incremental (" + headers[result["incremental_profile"]] + ") | seconds | ratio | "
                  "process, s |", "| --- | ---: | ---: | ---: |"]
        if result.get("rerun"):
            lines.append(f"| unchanged re-run | {_number(result['rerun']['seconds'], 1)} | "
                         f"{_number(result['rerun']['ratio_to_full'], 3)} of the full run | "
                         f"{_number(result['rerun'].get('process_seconds'), 1)} |")
        for key, label in (("edit", "one-document edit"),
                           ("edit_hosted", "one-document edit, model host running")):
            if result.get(key):
                lines.append(f"| {label} | {_number(result[key]['seconds'], 1)} | "
                             f"{_number(result[key]['ratio_to_one_document'], 1)} documents' worth | "
                             f"{_number(result[key].get('process_seconds'), 1)} |")
    redaction = result.get("redaction")
    if redaction:
        lines += ["", f"| redaction step alone ({redaction['workers']} workers) | texts | characters | seconds | "
                  "characters / s | one process, characters / CPU s |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for name, label in (("prose", "document prose"), ("dense", "PII-dense text")):
            figures = redaction[name]
            lines.append(f"| {label} | {figures['texts']:,} | {figures['characters']:,} | "
                         f"{_number(figures['seconds'], 1)} | {_number(figures['characters_per_second'], 0)} | "
                         f"{_number(figures.get('characters_per_cpu_second'), 0)} |")
    latency = result.get("latency")
    if latency:
        lines += ["", f"| query latency (top {latency['top_k']}, search only) | dense p50 ms | dense p95 ms | "
                  "hybrid p95 ms (x dense) | hybrid, every term | sparse p95 ms | open s |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for size, figures in latency["sizes"].items():
            hybrid, sparse, every = figures.get("hybrid"), figures.get("sparse"), figures.get("hybrid_every_term")
            lines.append(f"| {int(size):,} points | {figures['p50_ms']:.1f} | {figures['p95_ms']:.1f} | "
                         + (f"{hybrid['p95_ms']:.1f} ({figures['hybrid_over_dense_p95']}x"
                            + (f"; CPU {figures['hybrid_over_dense_cpu_p95']}x"
                               if "hybrid_over_dense_cpu_p95" in figures else "") + ") | "
                            + (f"{every['p95_ms']:.1f} ({figures['every_term_over_dense_p95']}x)" if every else "-")
                            + f" | {sparse['p95_ms']:.1f}" if hybrid and sparse else "- | - | -")
                         + f" | {figures.get('open_seconds', '-')} |")
        if latency.get("with_embedding"):
            figures = latency["with_embedding"]
            lines.append(f"| {figures['points']:,} points, {figures.get('mode', 'dense')}, with the query's "
                         f"embedding | {figures['p50_ms']:.1f} | {figures['p95_ms']:.1f} | | | | |")
        lines.append(f"({latency['note']})")
    lines += ["", "| target | value | goal | |", "| --- | ---: | --- | --- |"]
    for item in result["targets"]:
        lines.append(f"| {item['label']} | {_number(item['value'], 3)} | {item['goal']} | {_met(item['met'])} |")
    notes = [item["note"] for item in result["targets"] if item["note"]]
    lines += [f"({note})" for note in notes]
    return "\n".join(lines)


def _parse_by_type_table(names: Sequence[str], runs: Sequence[dict], headers: dict[str, str]) -> list[str]:
    """Worker seconds a document per file type (LibreOffice's conversion share added after a '+'), and
    what LibreOffice's batches cost in each run that had any."""
    kinds = sorted({kind for run in runs for kind in run.get("parse_by_type", {})})
    if not kinds:
        return []
    lines = ["", "| parse, s a document (+ conversion) | " + " | ".join(headers[name] for name in names) + " |",
             "| --- |" + " ---: |" * len(names)]
    for kind in kinds:
        cells = []
        for run in runs:
            figures = run.get("parse_by_type", {}).get(kind)
            if figures is None:
                cells.append("-")
                continue
            conversion = figures["conversion_seconds_per_document"]
            cells.append(f"{figures['parse_seconds_per_document']:.3f}" + (f" + {conversion:.3f}" if conversion else "")
                         + f" ({figures['documents']})")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    office = [run.get("libreoffice") or {} for run in runs]
    if any(office):
        lines.append("| LibreOffice: start-up s (batches), conversion s | " + " | ".join(
            f"{entry['startup_seconds']:.1f} ({entry['batches']}), {entry['seconds']:.1f}" if entry else "-"
            for entry in office) + " |")
    return lines


def _git_commit() -> dict:
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain"], capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip() != ""
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


SPEED_PROBE_ITERATIONS = 5_000_000


def speed_probe() -> float:
    """Seconds this process takes for a fixed pure-Python loop: how fast the machine is just now. Taken
    before each full run and after its ceiling, so that a ratio measured while the machine's speed moved
    (a shared host's slow periods stretch everything by up to about 1.7x) shows as such."""
    started = time.perf_counter()
    total = 0
    for number in range(SPEED_PROBE_ITERATIONS):
        total += number
    return round(time.perf_counter() - started, 3)


def machine_info() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import psutil

    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = {}
    for name in ("torch", "sentence-transformers", "qdrant-client", "dagster", "unstructured",
                 "presidio-analyzer", "spacy"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    tesseract = shutil.which("tesseract")
    if tesseract:
        completed = subprocess.run([tesseract, "--version"], capture_output=True, text=True, timeout=30)
        tesseract = (completed.stdout or completed.stderr).splitlines()[0] if completed.returncode == 0 else None
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "memory_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": packages,
        "tesseract": tesseract,
        **_git_commit(),
    }


def write_result(result: dict, out: Path) -> Path:
    """The JSON result at `out` and the table next to it (same name, .md)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    table = out.with_suffix(".md")
    table.write_text(format_table(result) + "\n", encoding="utf-8")
    return table
