"""Starting `ingest host` for a test's INGEST_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ingest.host.protocol import key_path

REPO_ROOT = Path(__file__).resolve().parents[3]


def host_log(home: Path) -> Path:
    """What the host printed."""
    return home / "host-output.log"


def start_host(home: Path, idle_minutes: float) -> subprocess.Popen:
    """`ingest host` for `home` in a process of its own, once it has written its key (it is ready)."""
    env = {**os.environ, "INGEST_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}
    home.mkdir(parents=True, exist_ok=True)
    with host_log(home).open("w", encoding="utf-8") as log:  # a file: a pipe nobody reads could fill and block it
        process = subprocess.Popen([sys.executable, "-m", "launcher.main", "host", "--idle-minutes",
                                    str(idle_minutes)], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while not key_path(home).is_file():
        assert process.poll() is None, host_log(home).read_text(encoding="utf-8")
        assert time.monotonic() < deadline, "the model host did not start in 180 s"
        time.sleep(0.2)
    return process


def wait_for_exit(process: subprocess.Popen, seconds: float) -> int:
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
