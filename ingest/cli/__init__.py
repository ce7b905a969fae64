"""The `ingest` command's parser and commands. Commands that launch Dagster runs call a launcher
handed in by the entry point (launcher.main), so this package never imports Dagster."""
