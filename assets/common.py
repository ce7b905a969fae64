"""Shared settings of the ingestion assets."""

import time
from collections.abc import Callable

import dagster as dg

from assets.partitions import tenants_partitions

INGESTION_GROUP = "ingestion"


def tenant_stage(**asset_arguments) -> Callable[[Callable], dg.AssetsDefinition]:
    """@dg.asset for a pipeline stage: partitioned by tenant, in the ingestion group."""
    return dg.asset(partitions_def=tenants_partitions, group_name=INGESTION_GROUP, **asset_arguments)


class Stopwatch:
    """Seconds since creation, for the `seconds` metadata every asset reports."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self._started, 3)
