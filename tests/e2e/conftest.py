"""The end-to-end tier reports how many `ingest` processes it started, per test file."""

from __future__ import annotations

from tests.e2e.commands import STARTS


def pytest_terminal_summary(terminalreporter) -> None:
    if not STARTS:
        return
    terminalreporter.write_sep("-", f"`ingest` processes started: {sum(STARTS.values())}")
    for path, count in sorted(STARTS.items()):
        terminalreporter.write_line(f"{count:4d}  {path}")
