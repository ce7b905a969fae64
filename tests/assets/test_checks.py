"""Asset checks in a tenant's run, passing and failing on purpose."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from assets.jobs import INGEST_JOB, ingest_tenant_job, ingestion_assets, ingestion_checks
from assets.partitions import TENANTS_PARTITION
from benchmarks.corpus import Section, write_eml, write_image, write_markdown
from ingest.core.config import TenantRegistry
from ingest.index.qdrant import TenantIndex, open_qdrant
from resources import ChecksResource, RedactorResource, default_resources

TENANT = "checked"


def run_tenant(home: Path, overrides: dict | None = None, instance: dg.DagsterInstance | None = None):
    defs = dg.Definitions(assets=ingestion_assets, asset_checks=ingestion_checks, jobs=[ingest_tenant_job],
                          resources={**default_resources(home), **(overrides or {})})
    instance = instance or dg.DagsterInstance.ephemeral()
    if not instance.has_dynamic_partition(TENANTS_PARTITION, TENANT):
        instance.add_dynamic_partitions(TENANTS_PARTITION, [TENANT])
    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(partition_key=TENANT, instance=instance,
                                                                 raise_on_error=False)
    evaluations = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    return result, evaluations, materialized


def metadata(evaluation) -> dict:
    return {key: value.value for key, value in evaluation.metadata.items()}


@pytest.fixture
def tenant(tmp_path) -> tuple[Path, Path]:
    source, home = tmp_path / "source", tmp_path / "home"
    write_markdown(source / "returns.md", [Section("Returns", ("Items can be returned within 45 days.",))])
    write_markdown(source / "delivery.md", [Section("Delivery", ("Parcels arrive in three working days.",))])
    write_eml(source / "mail.eml", sender="Support <support@example.com>", to="desk@example.com",
              subject="Callback", body="Please call the customer back at nina.berg@example.org today.")
    golden = tmp_path / "golden.jsonl"
    golden.write_text('{"query": "How long do I have to return an item?", "expected": ["returns.md"]}\n'
                      '{"query": "When will my parcel arrive?", "expected": ["delivery.md"]}\n', encoding="utf-8")
    TenantRegistry(home).register(TENANT, source, golden=golden)
    return source, home


def test_a_healthy_tenant_passes_every_check_and_is_published(tenant):
    _, home = tenant
    result, evaluations, materialized = run_tenant(home)
    assert result.success
    assert set(evaluations) == {key.name for check in ingestion_checks for key in check.check_keys}
    failed = {name: e.description for name, e in evaluations.items() if not e.passed}
    assert failed == {}
    assert "published_index" in materialized
    quality = metadata(evaluations["retrieval_quality"])
    assert quality["recall_at_k"] == 1.0 and quality["queries"] == 2
    assert quality["mode"] == "hybrid" and set(quality["by_mode"]) == {"hybrid", "dense", "sparse"}
    assert quality["by_mode"]["hybrid"]["recall_at_k"] == quality["recall_at_k"]  # it blocks on the default mode
    assert quality["by_mode"]["sparse"]["recall_at_k"] == 1.0  # 'return', 'parcel', 'arrive': keywords suffice


def test_pii_left_after_redaction_blocks_embedding(tenant):
    _, home = tenant
    weak_policy = RedactorResource(entities=["PERSON"])  # e-mail addresses are not redacted
    result, evaluations, materialized = run_tenant(home, {"redactor": weak_policy})
    residue = evaluations["pii_residue"]
    assert not residue.passed and residue.severity == dg.AssetCheckSeverity.ERROR
    found = metadata(residue)
    assert found["left_by_type"] == {"EMAIL_ADDRESS": 1} and list(found["documents"]) == ["mail.eml"]
    assert "nina.berg@example.org" not in str(found) and "nina.berg" not in residue.description
    assert not result.success
    assert {"chunks", "embeddings", "qdrant_index", "published_index"}.isdisjoint(materialized)


def test_a_regressed_index_is_not_published_and_the_previous_one_keeps_serving(tenant, tmp_path):
    source, home = tenant
    instance = dg.DagsterInstance.ephemeral()
    first, _, _ = run_tenant(home, instance=instance)
    assert first.success
    with open_qdrant(default_resources(home)["qdrant"].settings(), TENANT) as client:
        serving_before = TenantIndex(client, TENANT).serving_collection()

    write_markdown(source / "returns.md", [Section("Returns", ("Returns are no longer accepted.",))])
    impossible = tmp_path / "impossible.jsonl"
    impossible.write_text('{"query": "How long do I have to return an item?", "expected": ["mail.eml"]}\n')
    TenantRegistry(home).register(TENANT, golden=impossible)
    second, evaluations, materialized = run_tenant(home, instance=instance)
    quality = evaluations["retrieval_quality"]
    assert not quality.passed and "NOT PUBLISHED" in quality.description
    assert metadata(quality)["worst_queries"][0]["expected"] == ["mail.eml"]
    assert "qdrant_index" in materialized and "published_index" not in materialized
    with open_qdrant(default_resources(home)["qdrant"].settings(), TENANT) as client:
        index = TenantIndex(client, TENANT)
        assert index.serving_collection() == serving_before
        texts = [hit.text for hit in index.scroll()]
    assert any("45 days" in text for text in texts) and not any("no longer" in text for text in texts)


def test_quarantine_rate_ocr_quality_and_parse_coverage_fail_on_purpose(tenant):
    source, home = tenant
    (source / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    (source / "empty.docx").write_bytes(b"")
    (source / "random.pptx").write_bytes(bytes(range(256)) * 4)
    write_image(source / "scan.png", ["Blurry receipt 42"])
    strict = ChecksResource(min_ocr_confidence=99.9, quarantine_warn_above=0.1, quarantine_error_above=0.4,
                            min_parse_coverage=0.999)
    _, evaluations, materialized = run_tenant(home, {"thresholds": strict})
    rate = evaluations["quarantine_rate"]
    assert not rate.passed and rate.severity == dg.AssetCheckSeverity.ERROR
    assert set(metadata(rate)["reasons"]) == {"broken.pdf", "empty.docx", "random.pptx"}
    ocr = evaluations["ocr_quality"]
    assert not ocr.passed and ocr.severity == dg.AssetCheckSeverity.WARN
    assert list(metadata(ocr)["low_confidence"]) == ["scan.png"]
    coverage = evaluations["parse_coverage"]  # a scan is judged by its OCR confidence
    assert not coverage.passed and coverage.severity == dg.AssetCheckSeverity.WARN
    worst = metadata(coverage)["worst"]
    assert metadata(coverage)["low_coverage"] == ["scan.png"] == [row["source"] for row in worst]
    assert worst[0]["basis"] == "ocr-confidence" and 0 < worst[0]["ratio"] < 0.999
    assert "published_index" in materialized  # none of the three blocks publication


def test_a_check_that_cannot_be_evaluated_fails_with_its_error_and_its_step_mates_still_report(tenant, monkeypatch):
    _, home = tenant

    def broken(*args, **kwargs):
        raise RuntimeError("the OCR table is unreadable")

    monkeypatch.setattr("ingest.quality.checks.ocr_quality", broken)  # not blocking: publication goes on
    _, evaluations, materialized = run_tenant(home)
    ocr = evaluations["ocr_quality"]
    assert not ocr.passed and ocr.severity == dg.AssetCheckSeverity.ERROR
    assert "RuntimeError: the OCR table is unreadable" in ocr.description
    assert all(evaluations[name].passed for name in ("pii_residue", "parse_coverage", "quarantine_rate"))
    assert "published_index" in materialized

    monkeypatch.setattr("ingest.quality.checks.index_consistency", broken)  # blocking: the index is not published
    result, evaluations, materialized = run_tenant(home)
    assert not result.success and not evaluations["index_consistency"].passed
    assert evaluations["retrieval_quality"].passed  # evaluated beside it all the same
    assert "published_index" not in materialized


def test_a_tenant_policy_change_redacts_again_under_the_new_version(tenant, tmp_path, monkeypatch):
    _, home = tenant
    instance = dg.DagsterInstance.ephemeral()
    first, _, _ = run_tenant(home, instance=instance)
    assert first.success
    before = first.asset_materializations_for_node("parse_and_redact")
    old_version = next(m.metadata["policy_version"].value for m in before
                       if m.asset_key.path[-1] == "redacted_documents")

    config = tmp_path / "tenants.toml"
    config.write_text(f'[tenants.{TENANT}]\nsource = "{tenant[0]}"\n\n[tenants.{TENANT}.redaction]\n'
                      'label = "hash-mail"\n\n[tenants.' + TENANT + '.redaction.operators]\n'
                      'EMAIL_ADDRESS = "hash"\n', encoding="utf-8")
    monkeypatch.setenv("INGEST_CONFIG", str(config))
    monkeypatch.setenv("INGEST_PII_SALT", "a-test-salt-of-enough-length")
    second, evaluations, materialized = run_tenant(home, instance=instance)
    assert second.success and {"redacted_documents", "published_index"} <= materialized
    events = {m.asset_key.path[-1]: m.metadata for m in second.asset_materializations_for_node("parse_and_redact")}
    redacted = events["redacted_documents"]
    new_version = redacted["policy_version"].value
    assert new_version.startswith("hash-mail@") and new_version != old_version
    assert events["parsed_documents"]["parsed"].value == 3  # no unredacted text was kept: parsed again
    assert redacted["audit_by_document"].value["mail.eml"] == {"EMAIL_ADDRESS": 1}
    assert "nina.berg" not in str(redacted)
    with open_qdrant(default_resources(home)["qdrant"].settings(), TENANT) as client:
        hits = list(TenantIndex(client, TENANT).scroll())
    mail = [hit for hit in hits if hit.payload["source"] == "mail.eml"]
    assert mail and all(hit.payload["redaction_policy"] == new_version for hit in hits)
    assert any("<EMAIL_ADDRESS:" in hit.text for hit in mail)
    assert not any("nina.berg" in hit.text for hit in hits)
