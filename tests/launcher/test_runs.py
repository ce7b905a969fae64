"""Runs that died with their `ingest run` process give their concurrency-pool slots back."""

from __future__ import annotations

import dagster as dg
import pytest
from filelock import FileLock

from launcher.runs import LAUNCHED_BY, release_dead_runs
from resources import StorageResource


def started_run(instance: dg.DagsterInstance, run_id: str, tenant: str, launched_by: str = LAUNCHED_BY) -> None:
    instance.add_run(dg.DagsterRun(job_name="ingest_tenant", run_id=run_id, status=dg.DagsterRunStatus.STARTED,
                                   tags={"tenant": tenant, "launched_by": launched_by}))
    assert instance.event_log_storage.claim_concurrency_slot("embed", run_id, "embeddings").is_claimed


def claimed(instance: dg.DagsterInstance) -> set[str]:
    return {slot.run_id for slot in instance.event_log_storage.get_concurrency_info("embed").claimed_slots}


def test_dead_runs_are_failed_and_free_their_slots_while_live_and_daemon_runs_keep_theirs(tmp_path) -> None:
    storage = StorageResource(home=str(tmp_path))
    with dg.instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots("embed", 10)
        started_run(instance, "own-dead", "acme")
        started_run(instance, "other-dead", "globex")
        started_run(instance, "other-alive", "initech")
        started_run(instance, "daemon", "umbrella", launched_by="schedule")
        for tenant in ("acme", "globex", "initech", "umbrella"):
            storage.paths(tenant).root.mkdir(parents=True)
        alive = FileLock(storage.paths("initech").run_lock)
        alive.acquire()
        try:
            released = release_dead_runs(instance, "acme", storage)
        finally:
            alive.release()

        assert sorted(released) == ["other-dead", "own-dead"]
        assert claimed(instance) == {"other-alive", "daemon"}
        status = {run_id: instance.get_run_by_id(run_id).status
                  for run_id in ("own-dead", "other-dead", "other-alive", "daemon")}
        assert status == {"own-dead": dg.DagsterRunStatus.FAILURE, "other-dead": dg.DagsterRunStatus.FAILURE,
                          "other-alive": dg.DagsterRunStatus.STARTED, "daemon": dg.DagsterRunStatus.STARTED}


def test_pool_limits_exist_before_any_claim_and_a_lost_insert_race_is_harmless(monkeypatch) -> None:
    from launcher.runs import POOLS, ensure_pool_limits

    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
        storage = instance.event_log_storage
        assert not set(POOLS) & set(storage.get_concurrency_keys())
        insert = storage.initialize_concurrency_limit_to_default

        def another_run_inserts_first(pool: str) -> bool:
            insert(pool)  # the other run's insert lands first ...
            raise RuntimeError("duplicate key value violates unique constraint")  # ... so ours fails

        monkeypatch.setattr(storage, "initialize_concurrency_limit_to_default", another_run_inserts_first)
        ensure_pool_limits(instance)
        assert {pool: storage.get_concurrency_info(pool).slot_count for pool in POOLS} == {pool: 1 for pool in POOLS}

        monkeypatch.setattr(storage, "get_concurrency_keys", lambda: set())  # a failure that inserted nothing

        def broken(pool: str) -> bool:
            raise RuntimeError("the database is gone")

        monkeypatch.setattr(storage, "initialize_concurrency_limit_to_default", broken)
        with pytest.raises(RuntimeError, match="the database is gone"):
            ensure_pool_limits(instance)
