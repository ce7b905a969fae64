"""Tenants are Dagster partitions: registered from configuration and the command line."""

import dagster as dg

TENANTS_PARTITION = "tenants"
tenants_partitions = dg.DynamicPartitionsDefinition(name=TENANTS_PARTITION)
