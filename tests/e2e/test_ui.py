"""`ingest ui` serves the Dagster UI through `dg dev`, and SIGINT or SIGTERM stops every process it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from launcher.ui import stop_process_tree

pytestmark = pytest.mark.e2e

INGEST = str(Path(sys.executable).with_name("ingest"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_ui(port: int, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ingest ui exited early with {process.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the UI did not answer on port {port}")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_ingest_ui_stops_the_webserver_daemon_and_code_server(tmp_path: Path, stop_signal) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DAGSTER_HOME", "INGEST_CONFIG")}
    log = tmp_path / "ui.log"  # a file, not a pipe: nobody reads the UI's log while it runs
    with log.open("w") as log_file:
        process = subprocess.Popen([INGEST, "ui", "--port", str(port)], env={**env, "INGEST_HOME": str(tmp_path)},
                                   stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        wait_for_ui(port, process)
        started = psutil.Process(process.pid).children(recursive=True)
        commands = [" ".join(child.cmdline()) for child in started]
        for part in ("dg dev", "dagster_webserver", "dagster._daemon", "api grpc"):
            assert any(part in command for command in commands), (part, commands)
        process.send_signal(stop_signal)
        assert process.wait(timeout=60) == 128 + stop_signal
        _, alive = psutil.wait_procs(started, timeout=10)
        assert alive == [], [" ".join(p.cmdline()) for p in alive]
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
    finally:
        if process.poll() is None:  # a failed assertion: stop the UI and everything it started anyway
            stop_process_tree(process.pid, grace_seconds=5)
    assert f"http://127.0.0.1:{port}" in log.read_text()
