"""Shared settings of the ingestion assets."""

import time

INGESTION_GROUP = "ingestion"


class Stopwatch:
    """Seconds since creation, for the `seconds` metadata every asset reports."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self._started, 3)
