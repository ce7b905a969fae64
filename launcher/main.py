"""The `ingest` console script: the command line (ingest.cli) with Dagster's launcher handed in."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import ingest  # noqa: F401  (offline environment first)
from ingest.cli.launching import RunOutcome


class DagsterLauncher:
    """Runs and the UI on the pipeline's Dagster instance (imported on first use: the commands that
    only read the index never load Dagster)."""

    def run_tenant(self, tenant: str, *, log_level: str, allow_mass_delete: bool,
                   wait_seconds: float) -> RunOutcome:
        from launcher.instance import prepare_dagster_home

        prepare_dagster_home()
        from launcher.runs import run_config, run_tenant, submission_url

        # With INGEST_DAGSTER_URL set, the run goes to that deployment (its queue, pools and run launcher:
        # a Celery worker, a pod) and is waited for; otherwise it executes in this process.
        if url := submission_url():
            from launcher.submit import submit_tenant

            return submit_tenant(url, tenant, run_config(log_level, allow_mass_delete), wait_seconds=wait_seconds)
        return run_tenant(tenant, log_level=log_level, allow_mass_delete=allow_mass_delete,
                          wait_seconds=wait_seconds)

    def describe_run(self, run_id: str) -> dict:
        from launcher.instance import prepare_dagster_home

        prepare_dagster_home()
        from launcher.runs import describe_run

        return describe_run(run_id)

    def ui(self, host: str, port: int) -> int:
        from launcher.ui import serve_ui

        return serve_ui(host, port, log=lambda message: print(message, file=sys.stderr, flush=True))


def main(argv: Sequence[str] | None = None) -> int:
    # Imported here, not above: every worker process the command starts from multiprocessing's fork server
    # runs this console script again as its main module (as multiprocessing does for a script), and the
    # command line's imports (the Qdrant client among them) would cost each worker about 0.3 s.
    from ingest.cli.app import main as cli_main

    return cli_main(argv, launcher=DagsterLauncher())


if __name__ == "__main__":
    sys.exit(main())
