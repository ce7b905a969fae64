"""What a process that only orchestrates (`ingest run` before it has work, Dagster's code server) imports."""

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_cli_and_the_dagster_definitions_import_neither_spacy_nor_torch():
    """Importing spaCy imports thinc and with it PyTorch: about 4 s of every command's start. The main
    process needs PyTorch only for the embedding model, loaded when there is text to embed."""
    code = ("import sys, assets.definitions, launcher.runs, ingest.cli.app\n"
            "print(sorted(name for name in ('spacy', 'thinc', 'torch') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_console_scripts_module_imports_no_command_until_it_runs():
    """multiprocessing runs the `ingest` console script again as the main module of every worker it starts
    from the fork server (parse, redaction): what the script's module imports at the top, each worker pays."""
    code = ("import sys, launcher.main\n"
            "print(sorted(name for name in ('ingest.cli.app', 'qdrant_client', 'dagster', 'polars')"
            " if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "[]"
