"""Thin Dagster glue over ingest/: one asset per stage, partitioned by tenant."""
