"""One pipeline run in a child process, as a real `ingest run` is, and the peak memory of its whole
process tree. Only that child touches Dagster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.throughput.settings import HEARTBEAT_SECONDS, REPO_ROOT, SAMPLE_SECONDS


class BenchError(RuntimeError):
    """A benchmark step failed; the message says which and why."""


def _read_pss_kb(pid: int) -> int | None:
    """Proportional set size (shared pages split among their sharers), from Linux's smaps_rollup."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


PEAK_BREAKDOWN_PROCESSES = 8


def _role(process) -> str:
    """What a process of the tree is, from its command line (the forked workers share their parent's)."""
    import psutil

    try:
        command = " ".join(process.cmdline())
        parent = process.ppid()
    except psutil.Error:
        return "ended"
    return f"{command[-100:]} (parent {parent})"


class TreeMemory:
    """Peak memory of a process and every descendant, from samples the caller takes.

    RSS summed over the processes counts pages they share (the forked parse
    workers share the fork server's loaded parsers) once per process: an upper
    bound. PSS splits shared pages among their sharers, so its sum is what the
    tree really holds; it costs more to read, so it is sampled every fifth time.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples = 0
        self.peak_rss = 0
        self.peak_pss: int | None = None
        self.peak_processes = 0
        self.peak_breakdown: list[dict] = []  # the largest processes at the PSS peak: who holds the memory

    def sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return  # the process has just ended
        rss = 0
        pss = 0
        with_pss = self.samples % 5 == 0
        breakdown = []
        for process in processes:
            try:
                rss += process.memory_info().rss
            except psutil.Error:
                continue
            if with_pss:
                process_pss = (_read_pss_kb(process.pid) or 0) * 1024
                pss += process_pss
                breakdown.append({"pid": process.pid, "pss_bytes": process_pss, "role": _role(process)})
        self.samples += 1
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_processes = max(self.peak_processes, len(processes))
        if with_pss and pss and pss > (self.peak_pss or 0):
            self.peak_pss = pss
            self.peak_breakdown = sorted(breakdown, key=lambda entry: -entry["pss_bytes"])[:PEAK_BREAKDOWN_PROCESSES]

    def result(self) -> dict:
        return {"peak_tree_rss_bytes": self.peak_rss, "peak_tree_pss_bytes": self.peak_pss,
                "peak_processes": self.peak_processes, "peak_breakdown": self.peak_breakdown,
                "samples": self.samples,
                "sample_seconds": SAMPLE_SECONDS}


def _tail(path: Path, lines: int) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def run_pipeline(tenant: str, env: dict[str, str], workdir: Path, label: str,
                 log: Callable[[str], None]) -> dict:
    """One `run_tenant` of `tenant` in a child process: its outcome, timings and the tree's peak memory."""
    out = workdir / "runs" / f"{label}.json"
    log_path = workdir / "runs" / f"{label}.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "benchmarks.throughput", "--child", tenant, str(out)]
    started = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log_file:
        # The child imports this package from the checkout, whatever its working folder.
        child_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))}
        process = subprocess.Popen(command, env=child_env, cwd=workdir, stdout=log_file, stderr=subprocess.STDOUT)
        memory = TreeMemory(process.pid)
        next_heartbeat = started + HEARTBEAT_SECONDS
        while process.poll() is None:
            memory.sample()
            time.sleep(SAMPLE_SECONDS)
            if time.perf_counter() >= next_heartbeat:
                last = _tail(log_path, 1).strip()
                log(f"  ... {label}: {time.perf_counter() - started:.0f} s, "
                    f"{memory.peak_rss / 2**30:.2f} GB peak RSS; last log line: {last[-160:]}")
                next_heartbeat += HEARTBEAT_SECONDS
    process_seconds = time.perf_counter() - started
    if process.returncode != 0 or not out.is_file():
        detail = json.loads(out.read_text(encoding="utf-8")).get("error") if out.is_file() else None
        raise BenchError(f"the {label} run exited {process.returncode}"
                         + (f": {detail}" if detail else "") + f"\n--- last lines of {log_path}:\n"
                         + _tail(log_path, 40))
    run = json.loads(out.read_text(encoding="utf-8"))
    run["process_seconds"] = round(process_seconds, 3)
    run["memory"] = {**memory.result(), "main_ru_maxrss_bytes": run.pop("ru_maxrss_kb") * 1024}
    return run


def _child_run(tenant: str, out: Path) -> int:
    """In the child process: one run of the tenant, its outcome written to `out` as JSON."""
    import resource

    started = time.perf_counter()
    from launcher.instance import prepare_dagster_home

    prepare_dagster_home()
    from launcher.runs import run_tenant
    from resources import default_resources

    imported = time.perf_counter() - started
    outcome = run_tenant(tenant, log_level="INFO")
    steps = _step_seconds(outcome.run_id)
    result = {
        "tenant": tenant,
        "success": outcome.success,
        "error": outcome.error,
        "run_id": outcome.run_id,
        "seconds": outcome.seconds,  # the whole run_tenant call
        "import_seconds": round(imported, 3),
        "summary": outcome.summary(),
        "metadata": outcome.metadata,
        "step_seconds": steps,
        "embed_batch_size": default_resources()["embedder"].batch_size,
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,  # kilobytes on Linux
    }
    out.write_text(json.dumps(result, default=str, indent=1), encoding="utf-8")
    return 0 if outcome.success else 1


def _step_seconds(run_id: str) -> dict[str, float]:
    """Wall seconds of each step of the run (assets and asset checks), from Dagster's event log.

    In the child only, next to run_tenant: the one place here that reads Dagster's own records.
    """
    import dagster as dg

    kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    began: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in dg.DagsterInstance.get().all_logs(run_id, of_type=kinds):
        if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
            began[entry.step_key] = entry.timestamp
        elif entry.step_key in began:
            seconds[entry.step_key] = round(entry.timestamp - began[entry.step_key], 3)
    return seconds
