"""The Dagster UI (`dg dev`) on the pipeline's instance, stopped whole on SIGINT or SIGTERM.

`dg dev` starts the webserver, the daemon and a code server as processes of its own. It runs here in
a process group of its own; when `ingest ui` is interrupted or terminated, every process of that
group and every descendant of `dg dev` is sent SIGTERM, and SIGKILL after a grace period, so
nothing is left listening.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil

from launcher.instance import REPO_ROOT, prepare_dagster_home

STOP_GRACE_SECONDS = 20


def dg_dev_command(host: str, port: int) -> list[str]:
    """`dg dev` on this project (its pyproject.toml's [tool.dg]), in this interpreter's environment."""
    dg = Path(sys.executable).with_name("dg")
    return [str(dg), "dev", "--target-path", str(REPO_ROOT), "--use-active-venv", "--host", host,
            "--port", str(port)]


def serve_ui(host: str, port: int, log: Callable[[str], None]) -> int:
    """Run `dg dev` until it exits or this process is told to stop; the exit code."""
    home = prepare_dagster_home()
    environment = {**os.environ, "DAGSTER_HOME": str(home), "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    log(f"ingest: Dagster UI on http://{host}:{port} (DAGSTER_HOME={home}); Ctrl-C stops it")
    process = subprocess.Popen(dg_dev_command(host, port), cwd=REPO_ROOT, env=environment, start_new_session=True)
    stopping: list[int] = []

    def stop(signum: int, _frame) -> None:
        stopping.append(signum)
        stop_process_tree(process.pid)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        stop_process_tree(process.pid)  # whatever `dg dev` left behind when it exited on its own
    return 128 + stopping[0] if stopping else code


def stop_process_tree(pid: int, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM to the process group led by `pid` and to every descendant of `pid`; SIGKILL to what
    is still alive after `grace_seconds`."""
    try:
        leader = psutil.Process(pid)
        processes = [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        processes = []
    processes += [process for process in psutil.process_iter(["pid"])
                  if _group_of(process.pid) == pid and process not in processes]
    for process in processes:
        try:
            process.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(processes, timeout=grace_seconds)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None
