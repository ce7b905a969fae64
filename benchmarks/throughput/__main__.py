"""The child process of a benchmark run (see runs.run_pipeline):
`python -m benchmarks.throughput --child TENANT OUT_JSON`."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.throughput.runs import _child_run

if __name__ == "__main__":  # the child process of run_pipeline: python -m benchmarks.throughput --child TENANT OUT
    if len(sys.argv) != 4 or sys.argv[1] != "--child":
        sys.exit("usage: python -m benchmarks.throughput --child TENANT OUT_JSON (started by `python -m benchmarks bench`)")
    sys.exit(_child_run(sys.argv[2], Path(sys.argv[3])))
