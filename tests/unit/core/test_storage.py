import polars as pl
import pytest

from ingest.core.errors import ConfigError
from ingest.core.files import _atomic_replace, atomic_write_text, read_parquet, write_parquet
from ingest.core.storage import TenantPaths


def test_atomic_write_replaces_content_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "state" / "manifest.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text(encoding="utf-8") == "second"
    assert [p.name for p in target.parent.iterdir()] == ["manifest.json"]


def test_failed_write_keeps_the_old_file_and_removes_the_temp_file(tmp_path):
    target = tmp_path / "data.txt"
    atomic_write_text(target, "good")

    def crash_half_way(temporary):
        temporary.write_text("half written", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        _atomic_replace(target, crash_half_way)
    assert target.read_text(encoding="utf-8") == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["data.txt"]


def test_write_parquet_round_trips_and_leaves_no_temp_files(tmp_path):
    frame = pl.DataFrame({"doc_id": ["a", "b"], "pages": [1, 3], "tags": [["x"], []]})
    target = tmp_path / "out" / "stage.parquet"
    write_parquet(frame, target)
    write_parquet(frame, target)
    assert read_parquet(target).equals(frame)
    assert [p.name for p in target.parent.iterdir()] == ["stage.parquet"]


def test_read_parquet_of_missing_file_says_what_to_do(tmp_path):
    missing = tmp_path / "chunks.parquet"
    with pytest.raises(FileNotFoundError) as raised:
        read_parquet(missing)
    assert str(missing) in str(raised.value)
    assert "materialise the upstream stage" in str(raised.value)


def test_tenant_paths_live_under_the_tenant_folder(tmp_path):
    paths = TenantPaths.for_tenant(tmp_path, "acme")
    root = tmp_path / "tenants" / "acme"
    stage_files = [paths.source_documents, paths.parsed_documents, paths.elements, paths.redacted_elements,
                   paths.redaction_audit,
                   paths.chunks, paths.enriched_chunks, paths.manifest, paths.audit_log, paths.forgotten]
    assert all(path.parent == root for path in stage_files)
    assert len(set(stage_files)) == len(stage_files)


def test_each_embedding_model_has_its_own_cache_file_in_the_tenant_folder(tmp_path):
    from ingest.embedding.embed import embedding_model_key

    paths = TenantPaths.for_tenant(tmp_path, "acme")
    first = paths.embedding_cache(embedding_model_key("all-MiniLM-L6-v2"))
    second = paths.embedding_cache(embedding_model_key("/models/all-MiniLM-L6-v2"))
    assert first != second
    assert first.parent == second.parent == tmp_path / "tenants" / "acme" / "embedding_cache"
    assert first.suffix == ".parquet"
    assert paths.embedding_cache("k") != TenantPaths.for_tenant(tmp_path, "globex").embedding_cache("k")


@pytest.mark.parametrize("tenant", ["../other", "acme/../../x", ""])
def test_tenant_paths_reject_names_that_escape_the_home(tmp_path, tenant):
    with pytest.raises(ConfigError):
        TenantPaths.for_tenant(tmp_path, tenant)


def test_atomic_writes_follow_the_umask_not_mkstemp_private_mode(tmp_path):
    import os
    import stat

    from ingest.core.files import atomic_write_text

    previous = os.umask(0o022)
    try:
        target = tmp_path / "shared.txt"
        atomic_write_text(target, "readable by the Dagster webserver's user")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
