"""Dagster's SQLite storage, with an event log that keeps one SQLAlchemy engine per database file.

Dagster's own SQLite event log builds a new engine, with its dialect set-up, for every connection it
opens: about 550 for one run of the pipeline, a few milliseconds each on this machine (docs/BENCHMARKS.md
has the figures). Here each database file (a run's shard, the cross-run index) keeps its engine, and the engine
keeps no connection open (NullPool, as Dagster's), so threads and worker processes still each open their
own connection for each use. Everything else is Dagster's class: the same files, schema and migrations,
under DAGSTER_HOME where Dagster keeps them by default, so a home made before this storage reads the same.

launcher.instance names the storage in DAGSTER_HOME/dagster.yaml (`storage: custom:`) when the instance
is on SQLite; the webserver and the daemon load it from there too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

MAX_ENGINES = 32  # a long-lived process (the webserver) reads many runs' shards: the least recent are dropped


class ReusedEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage that reuses each database file's engine (see the module's docstring)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = create_engine(self.conn_string_for_shard(shard), poolclass=NullPool,
                                       connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
                self._engines[shard] = engine
                while len(self._engines) > MAX_ENGINES:
                    self._engines.popitem(last=False)[1].dispose()
            else:
                self._engines.move_to_end(shard)
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's own _connect, less the engine made and disposed of on each call.
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as connection, connection.begin():
                yield connection


class SqliteStorage(DagsterSqliteStorage):
    """DagsterSqliteStorage (runs, event logs and schedules under `base_dir`) with the reused-engine event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._event_log_storage = ReusedEngineSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: dict) -> SqliteStorage:
        # Dagster's classmethod builds its own class, whatever class it is called on.
        return cls.from_local(inst_data=inst_data, **config_value)
