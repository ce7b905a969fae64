"""Asset tier: the Dagster graph on an ephemeral instance with the real resources."""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.definitions import defs, ingestion_assets
from assets.jobs import INGEST_JOB_OPS_CONFIG, ingestion_checks
from assets.partitions import TENANTS_PARTITION
from assets.source_documents import source_documents
from benchmarks.corpus import write_eml, write_html, write_markdown, write_text_pdf
from ingest.core.config import TenantRegistry
from ingest.core.storage import TenantPaths
from launcher.runs import failure_message
from resources import StorageResource, default_resources

TENANT = "asset-test"


def make_resources(home: Path) -> dict:
    return default_resources(home)


def metadata_of(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        event.asset_key.path[-1]: {key: value.value for key, value in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }


@pytest.fixture
def tenant_home(tmp_path: Path, sections) -> tuple[Path, Path, dg.DagsterInstance]:
    source = tmp_path / "source"
    write_markdown(source / "guide.md", sections)
    write_html(source / "shipping.html", sections[1:])
    write_text_pdf(source / "locked.pdf", sections, password="secret")
    write_eml(source / "mail.eml", sender="Olivia Bennett <olivia.bennett@example.com>", to="team@example.com",
              subject="Callback", body="Please call Olivia Bennett on +1 212 555 0187 about the refund.")
    home = tmp_path / "home"
    TenantRegistry(home).register(TENANT, source)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANTS_PARTITION, [TENANT])
    return home, source, instance


def test_definitions_load_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("ingest_tenant")
    # Parsing and redaction share one step, so the unredacted text never leaves its memory.
    assert {node.name for node in job.graph.node_defs} >= {
        "source_documents", "parse_and_redact", "chunks", "enriched_chunks", "embeddings", "qdrant_index",
        "published_index"}
    assert {key.to_user_string() for key in job.asset_layer.asset_graph.get_all_asset_keys()} >= {
        "parsed_documents", "redacted_documents"}


def test_whole_graph_materialises_one_tenant(tenant_home):
    home, _, instance = tenant_home
    result = dg.materialize(ingestion_assets, instance=instance, partition_key=TENANT,
                            resources=make_resources(home))
    assert result.success
    metadata = metadata_of(result)
    assert metadata["source_documents"]["seen"] == 4
    assert metadata["source_documents"]["new"] == 4
    assert metadata["parsed_documents"]["quarantined"] == 1
    assert metadata["parsed_documents"]["parsed_by_model_host"] is False  # none runs: parsed by this run
    assert metadata["parsed_documents"]["quarantine_reasons"]["locked.pdf"].startswith("encrypted")
    assert metadata["redacted_documents"]["entities_by_type"].get("PERSON", 0) >= 1
    assert metadata["chunks"]["chunks"] == metadata["qdrant_index"]["upserted"] == metadata["qdrant_index"]["points"]
    assert metadata["published_index"]["documents_indexed"] == 3

    paths = TenantPaths.for_tenant(home, TENANT)
    redacted = pl.read_parquet(paths.redacted_elements)
    unique_texts = pl.read_parquet(paths.enriched_chunks)["text_sha256"].n_unique()
    assert metadata["embeddings"]["embedded"] == unique_texts  # identical chunk texts are embedded once
    assert metadata["published_index"]["serving"] == metadata["qdrant_index"]["collection"]
    assert metadata["published_index"]["serving"].startswith("tenant_asset-test__")
    assert not redacted["text"].str.contains("Olivia Bennett").any()
    manifest = pl.read_parquet(paths.manifest)
    assert sorted(manifest["status"].to_list()) == ["indexed", "indexed", "indexed", "quarantined"]

    # Dagster's standard metadata keys, from each stage's parquet file.
    for asset, table in (("source_documents", paths.source_documents), ("chunks", paths.chunks),
                         ("redacted_documents", paths.redacted_elements),
                         ("enriched_chunks", paths.enriched_chunks)):
        frame = pl.read_parquet(table)
        assert metadata[asset]["dagster/partition_row_count"] == frame.height, asset
        schema = metadata[asset]["dagster/column_schema"]
        assert [(column.name, column.type) for column in schema.columns] == \
            [(name, str(dtype)) for name, dtype in frame.schema.items()], asset
        assert metadata[asset]["dagster/uri"] == table.resolve().as_uri()


def test_load_embedder_early_loads_the_embedding_model_and_residue_recognisers_during_the_parse_step(tenant_home):
    from assets.parsed_documents import parse_and_redact
    from ingest.pii.recognizers.patterns import presidio_pattern_recognizers
    from resources import EmbedderResource, _load_embedder

    home, source, instance = tenant_home
    resources = make_resources(home)
    configured = resources["embedder"]
    # A batch size no other test asks for, so the model load counted here is this test's own.
    resources["embedder"] = EmbedderResource(model_name=configured.model_name, batch_size=7,
                                             backend=configured.backend, cache_dir=configured.cache_dir)
    parse_only = [source_documents, parse_and_redact]
    loads = _load_embedder.cache_info().misses
    presidio_pattern_recognizers.cache_clear()  # redaction itself runs in worker processes
    assert dg.materialize(parse_only, instance=instance, partition_key=TENANT, resources=resources).success
    assert _load_embedder.cache_info().misses == loads  # off by default: the UI's runs use other processes
    assert presidio_pattern_recognizers.cache_info().currsize == 0

    (source / "guide.md").write_text("## Guide\n\nEverything changed.\n", encoding="utf-8")
    early = {"ops": {"parse_and_redact": {"config": {"load_embedder_early": True}}}}
    assert dg.materialize(parse_only, instance=instance, partition_key=TENANT, resources=resources,
                          run_config=early).success
    assert _load_embedder.cache_info().misses == loads + 1
    assert presidio_pattern_recognizers.cache_info().currsize == 1  # for the residue check, loaded beside parsing
    hits = _load_embedder.cache_info().hits
    resources["embedder"].get()  # what the chunks step does next: the model is there already
    assert _load_embedder.cache_info().misses == loads + 1 and _load_embedder.cache_info().hits == hits + 1


def test_a_running_model_host_parses_redacts_and_embeds_for_the_run(tenant_home, embedder):
    from ingest.pii.recognizers.patterns import presidio_pattern_recognizers
    from resources import _load_embedder
    from tests.unit.host.running import host_log, start_host, wait_for_exit

    home, _, instance = tenant_home
    host = start_host(home, idle_minutes=10)
    loads = _load_embedder.cache_info().misses
    presidio_pattern_recognizers.cache_clear()
    try:
        # as `ingest run` runs it: the checks too, the embedding model loaded beside parsing
        result = dg.materialize([*ingestion_assets, *ingestion_checks], instance=instance, partition_key=TENANT,
                                resources=make_resources(home), run_config={"ops": INGEST_JOB_OPS_CONFIG})
    finally:
        host.terminate()
        wait_for_exit(host, 60)

    assert result.success
    metadata = metadata_of(result)
    assert "parsed and redacted 4 documents" in host_log(home).read_text(encoding="utf-8")
    assert metadata["parsed_documents"]["parsed_by_model_host"] is True
    assert _load_embedder.cache_info().misses == loads  # the run loaded no embedding model of its own
    assert presidio_pattern_recognizers.cache_info().currsize == 0  # nor presidio: the host checked residue
    assert metadata["parsed_documents"]["quarantined"] == 1
    assert metadata["redacted_documents"]["entities_by_type"].get("PERSON", 0) >= 1
    assert metadata["published_index"]["documents_indexed"] == 3
    assert metadata["chunks"]["chunks"] == metadata["qdrant_index"]["points"] > 0
    residue = [evaluation for evaluation in result.get_asset_check_evaluations()
               if evaluation.check_name == "pii_residue"]
    assert len(residue) == 1 and residue[0].passed
    redacted = pl.read_parquet(TenantPaths.for_tenant(home, TENANT).redacted_elements)
    assert not redacted["text"].str.contains("Olivia Bennett").any()


def test_source_documents_alone_reports_changes_since_the_manifest(tenant_home):
    home, source, instance = tenant_home
    resources = make_resources(home)
    assert dg.materialize(ingestion_assets, instance=instance, partition_key=TENANT, resources=resources).success

    (source / "guide.md").write_text("## Guide\n\nEverything changed.\n", encoding="utf-8")
    (source / "shipping.html").unlink()
    (source / "new.md").write_text("# New\n\nFresh.\n", encoding="utf-8")
    result = dg.materialize([source_documents], instance=instance, partition_key=TENANT,
                            resources={key: resources[key] for key in ("storage", "embedder")})
    counts = metadata_of(result)["source_documents"]
    assert (counts["new"], counts["changed"], counts["unchanged"], counts["deleted"]) == (1, 1, 2, 1)


def test_unknown_tenant_fails_with_a_message_that_says_what_to_do(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANTS_PARTITION, ["ghost"])
    result = dg.materialize([source_documents], instance=instance, partition_key="ghost",
                            resources=make_resources(tmp_path), raise_on_error=False)
    assert not result.success
    message = failure_message(instance, result.run_id)
    assert "ingest run --tenant ghost --source DIR" in message


def test_registry_sensor_adds_a_partition_for_each_configured_tenant(tmp_path):
    from assets.sensors import tenant_registry_sensor

    config = tmp_path / "tenants.toml"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    config.write_text('[tenants.north]\nsource = "a"\n\n[tenants.south]\nsource = "b"\n', encoding="utf-8")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANTS_PARTITION, ["north"])
    storage = StorageResource(home=str(tmp_path / "home"))
    import os

    os.environ["INGEST_CONFIG"] = str(config)
    try:
        with dg.build_sensor_context(instance=instance, resources={"storage": storage}) as context:
            result = tenant_registry_sensor(context)
    finally:
        del os.environ["INGEST_CONFIG"]
    requests = result.dynamic_partitions_requests
    assert [(r.partitions_def_name, list(r.partition_keys)) for r in requests] == [(TENANTS_PARTITION, ["south"])]


def test_an_unchanged_rerun_parses_redacts_and_embeds_nothing(tenant_home):
    home, _, instance = tenant_home
    resources = make_resources(home)
    assert dg.materialize(ingestion_assets, instance=instance, partition_key=TENANT, resources=resources).success
    again = metadata_of(dg.materialize(ingestion_assets, instance=instance, partition_key=TENANT,
                                       resources=resources))
    assert again["source_documents"]["unchanged"] == 4
    assert again["parsed_documents"]["parsed"] == 0
    assert again["redacted_documents"]["documents_redacted"] == 0
    assert again["chunks"]["documents_chunked"] == 0
    assert again["embeddings"]["embedded"] == 0
    assert (again["qdrant_index"]["upserted"], again["qdrant_index"]["deleted_points"]) == (0, 0)


def test_mass_deletion_is_refused_unless_allowed_by_run_config(tenant_home):
    home, source, instance = tenant_home
    resources = make_resources(home)
    assert dg.materialize(ingestion_assets, instance=instance, partition_key=TENANT, resources=resources).success
    for path in source.iterdir():
        path.unlink()
    refused = dg.materialize(ingestion_assets, instance=instance, partition_key=TENANT, resources=resources,
                             raise_on_error=False)
    assert not refused.success and "--allow-mass-delete" in failure_message(instance, refused.run_id)
    allowed = dg.materialize(ingestion_assets, instance=instance, partition_key=TENANT, resources=resources,
                             run_config={"ops": {"source_documents": {"config": {"allow_mass_delete": True}}}})
    assert metadata_of(allowed)["source_documents"]["deleted"] == 4
    assert metadata_of(allowed)["qdrant_index"]["points"] == 0


def test_permanent_failures_are_not_retried(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANTS_PARTITION, ["ghost"])
    result = dg.materialize([source_documents], instance=instance, partition_key="ghost",
                            resources=make_resources(tmp_path), raise_on_error=False)
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert not result.success and retries == []


def test_transient_failures_are_retried(tenant_home):
    from ingest.index.qdrant import open_qdrant

    home, _, instance = tenant_home
    resources = make_resources(home)
    # The embedded store locked by another client is transient: it clears when that client closes.
    with open_qdrant(resources["qdrant"].settings(), TENANT):
        result = dg.materialize(ingestion_assets, instance=instance, partition_key=TENANT, resources=resources,
                                raise_on_error=False)
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert not result.success and {e.step_key for e in retries} == {"qdrant_index"}
    assert len(retries) == 2  # twice, then the run fails


def test_parse_progress_is_logged_about_once_a_percent_not_once_a_document():
    from assets.parsed_documents import progress_line_due

    assert [position for position in range(1, 4) if progress_line_due(position, 3)] == [1, 2, 3]
    due = [position for position in range(1, 100_001) if progress_line_due(position, 100_000)]
    assert len(due) == 100 and due[0] == 1_000 and due[-1] == 100_000
    assert sum(progress_line_due(position, 250) for position in range(1, 251)) == 125  # every 2nd
