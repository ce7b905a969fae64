"""Launching runs on Dagster's instance: the `ingest` entry point, a tenant's run, the instance's
settings (DAGSTER_HOME, PostgreSQL) and the UI process. The outermost layer: it imports ingest,
assets and resources; nothing imports it but tooling."""
