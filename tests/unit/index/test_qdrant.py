import secrets
import uuid

import polars as pl
import pytest

import ingest.index.qdrant
from ingest.core.errors import ConfigError
from ingest.core.ids import point_id
from ingest.index.qdrant import (
    PAYLOAD_COLUMNS,
    IndexPoint,
    IndexUnavailable,
    QdrantSettings,
    TenantIndex,
    build_points,
    collection_name,
    compact_local_store,
    open_qdrant,
)
from ingest.index.server_store import ServerStore


def test_collection_name_is_prefixed_tenant():
    assert collection_name("acme") == "tenant_acme"
    assert collection_name("acme") != collection_name("globex")


@pytest.mark.parametrize("tenant", ["Acme", "../x", "a b", ""])
def test_collection_name_rejects_invalid_tenants(tenant):
    with pytest.raises(ConfigError):
        collection_name(tenant)


def test_point_id_is_deterministic_uuid():
    first = point_id("acme", "doc", 3, "abc")
    # pinned: a re-run must overwrite the points it wrote before, whatever process or release computes the id
    assert first == "9ff47b45-29ef-570e-ac0c-736f6a016b45"
    assert str(uuid.UUID(first)) == first


@pytest.mark.parametrize("other", [("globex", "doc", 3, "abc"), ("acme", "doc2", 3, "abc"),
                                   ("acme", "doc", 4, "abc"), ("acme", "doc", 3, "abd")])
def test_point_id_differs_when_any_part_differs(other):
    assert point_id(*other) != point_id("acme", "doc", 3, "abc")


def test_point_id_rejects_invalid_tenant():
    with pytest.raises(ConfigError):
        point_id("Acme", "doc", 0, "abc")


def _point(tenant, index, vector, text, doc="doc"):
    return IndexPoint(point_id(tenant, doc, index, text), vector,
                      {"text": text, "tenant": tenant, "doc_id": doc, "embedding_model": "model-a"})


POINTS = [_point("acme", 0, [1.0, 0.0, 0.0], "east"), _point("acme", 1, [0.0, 1.0, 0.0], "north"),
          _point("acme", 2, [0.0, 0.0, 1.0], "up")]
KEY = "model-a-1234abcd"
OTHER_KEY = "model-b-99999999"


@pytest.fixture
def settings(tmp_path):
    return QdrantSettings(path=tmp_path / "qdrant")


@pytest.fixture(params=["embedded", "server"])
def client(request, settings):
    """The store behind TenantIndex: the embedded Qdrant Edge shards, and the server store's code on
    qdrant-client's in-memory mode (the same requests a server gets; see test_qdrant_server.py)."""
    if request.param == "server":
        from qdrant_client import QdrantClient

        store = ServerStore(QdrantClient(":memory:"))
        yield store
        store.close()
        return
    with open_qdrant(settings, "acme") as client:
        yield client


def published(client, tenant="acme", points=POINTS, key=KEY, dimension=3) -> TenantIndex:
    """A tenant index serving `points` from a freshly staged collection of `key`."""
    index = TenantIndex(client, tenant)
    target = index.prepare_staging(key, dimension)
    index.upsert(points, target)
    index.publish(target)
    return index


def collections(client) -> list[str]:
    return sorted(client.collections())


def test_settings_describe_where_the_index_lives(tmp_path):
    assert QdrantSettings(path=tmp_path).is_local
    assert str(tmp_path) in QdrantSettings(path=tmp_path).describe()
    server = QdrantSettings(path=tmp_path, url="http://qdrant:6333")
    assert not server.is_local and "http://qdrant:6333" in server.describe()


# --- collections, colors and the alias -----------------------------------------------------------

def test_physical_collection_is_the_alias_plus_model_key_and_color(client):
    index = TenantIndex(client, "acme")
    assert index.physical_collection(KEY, "a") == f"tenant_acme__{KEY}__a"
    assert index.physical_collection(KEY, "b") == f"tenant_acme__{KEY}__b"


@pytest.mark.parametrize("key, color", [("a_b", "a"), ("../x", "a"), ("a b", "a"), ("a/b", "b"), ("", "a"),
                                        (KEY, "c"), (KEY, ""), (KEY, "a/../b")])
def test_physical_collection_rejects_unsafe_model_keys_and_unknown_colors(client, key, color):
    with pytest.raises(ValueError):
        TenantIndex(client, "acme").physical_collection(key, color)


def test_the_staging_collection_is_the_color_that_does_not_serve(client):
    index = TenantIndex(client, "acme")
    assert index.staging_collection(KEY) == f"tenant_acme__{KEY}__a"  # nothing serves yet
    index.publish(index.prepare_staging(KEY, 3))
    assert index.staging_collection(KEY) == f"tenant_acme__{KEY}__b"
    index.publish(index.prepare_staging(KEY, 3))
    assert index.serving_collection() == f"tenant_acme__{KEY}__b"
    assert index.staging_collection(KEY) == f"tenant_acme__{KEY}__a"
    assert index.staging_collection(OTHER_KEY) == f"tenant_acme__{OTHER_KEY}__a"  # another model: its own pair


def test_prepare_staging_creates_the_collection_but_serves_nothing(client):
    index = TenantIndex(client, "acme")
    target = index.prepare_staging(KEY, 3)
    assert target == f"tenant_acme__{KEY}__a" and collections(client) == [target]
    assert index.vector_size(target) == 3
    assert index.serving_collection() is None and not index.exists() and index.count() == 0
    index.upsert(POINTS[:1], target)
    assert index.prepare_staging(KEY, 3) == target  # a half-built staging collection is reused as it is
    assert index.point_ids(target) == {POINTS[0].point_id}


def test_prepare_staging_of_the_same_model_with_another_dimension_is_refused(client):
    index = TenantIndex(client, "acme")
    target = index.prepare_staging(KEY, 3)
    with pytest.raises(IndexUnavailable, match="INGEST_EMBED_MODEL") as refused:
        index.prepare_staging(KEY, 384)
    assert target in str(refused.value)


def test_publish_points_the_alias_at_the_collection(client):
    index = published(client)
    assert index.serving_collection() == f"tenant_acme__{KEY}__a"
    assert index.exists() and index.count() == 3
    assert [hit.text for hit in index.search([0.0, 1.0, 0.0], top_k=1)] == ["north"]


def test_publishing_the_other_color_keeps_the_previous_one_for_rollback(client):
    index = published(client)
    assert index.previous_collection() is None  # only one color exists
    staging = index.prepare_staging(KEY, 3)
    index.upsert(POINTS[:1], staging)
    assert index.count() == 3  # queries read the published color until the staged one is published
    assert index.publish(staging) == []
    assert (index.serving_collection(), index.count()) == (staging, 1)
    assert index.previous_collection() == f"tenant_acme__{KEY}__a"
    assert collections(client) == [f"tenant_acme__{KEY}__a", staging]


def test_publishing_a_new_models_collection_drops_both_colors_of_the_old_model(client):
    index = published(client)
    index.publish(index.prepare_staging(KEY, 3))  # both colors of the first model exist now
    target = index.prepare_staging(OTHER_KEY, 2)
    index.upsert([_point("acme", 0, [1.0, 0.0], "only"), _point("acme", 1, [0.0, 1.0], "two")], target)
    assert sorted(index.publish(target)) == [f"tenant_acme__{KEY}__a", f"tenant_acme__{KEY}__b"]
    assert index.serving_collection() == target and collections(client) == [target]
    assert index.count() == 2 and index.previous_collection() is None
    assert [hit.text for hit in index.search([1.0, 0.0], top_k=1)] == ["only"]


def test_publish_refuses_to_replace_a_collection_that_holds_the_alias_name(client):
    client.create("tenant_acme", 3)
    index = TenantIndex(client, "acme")
    target = index.prepare_staging(KEY, 3)
    index.upsert(POINTS, target)
    with pytest.raises(IndexUnavailable, match="tenant_acme exists"):
        index.publish(target)
    assert "tenant_acme" in collections(client) and index.serving_collection() is None  # nothing deleted


@pytest.mark.parametrize("other_tenant", ["acme_b", "acme_", "acme_x_y", "acme-b"])
def test_publishing_one_tenant_never_drops_another_tenants_collection(client, other_tenant):
    """Tenant names may hold '_': 'tenant_acme_' is also the start of tenant 'acme_b''s collections."""
    other = published(client, tenant=other_tenant, points=[_point(other_tenant, 0, [1.0, 0.0, 0.0], "b's own")],
                      key=OTHER_KEY)
    theirs = other.serving_collection()
    assert theirs == f"tenant_{other_tenant}__{OTHER_KEY}__a"
    index = published(client, tenant="acme")  # another model than the other tenant's: acme drops other models
    index.publish(index.prepare_staging(KEY, 3))  # and publishes a second color
    assert other.serving_collection() == theirs and other.count() == 1
    assert theirs in collections(client)
    assert [hit.text for hit in other.scroll()] == ["b's own"]


def test_deleting_one_tenants_document_leaves_another_tenants_points(client):
    doc = [_point("acme", 0, [1.0, 0.0, 0.0], "mine", doc="d1")]
    other = published(client, tenant="acme_b", points=[_point("acme_b", 0, [0.0, 1.0, 0.0], "theirs", doc="d1")],
                      key=OTHER_KEY)
    index = published(client, tenant="acme", points=doc)
    assert index.delete_document("d1") == 1
    assert index.count() == 0 and [hit.text for hit in other.scroll()] == ["theirs"]


def test_a_tenant_named_like_another_tenants_collection_never_drops_it(client):
    acme = published(client)
    lookalike = f"acme__{KEY}__a"  # == acme's physical collection minus the 'tenant_' prefix
    assert acme.serving_collection() == f"tenant_{lookalike}"
    with pytest.raises(ConfigError, match="without '__'"):  # such a name is refused before anything is read
        TenantIndex(client, lookalike)
    assert acme.serving_collection() == f"tenant_acme__{KEY}__a" and acme.count() == 3


def test_document_fingerprints_map_each_point_to_its_document_version(client):
    index = TenantIndex(client, "acme")
    target = index.prepare_staging(KEY, 3)
    index.upsert([IndexPoint(POINTS[0].point_id, [1.0, 0.0, 0.0],
                             {"tenant": "acme", "doc_fingerprint": "f1", "text": "x"}),
                  IndexPoint(POINTS[1].point_id, [0.0, 1.0, 0.0],
                             {"tenant": "acme", "text": "written before fingerprints"})],
                 target)
    assert index.document_fingerprints(target) == {POINTS[0].point_id: "f1", POINTS[1].point_id: ""}
    assert index.document_fingerprints(f"tenant_acme__{OTHER_KEY}__a") == {}


def test_search_of_a_named_collection_reads_that_collection(client):
    index = published(client)
    staging = index.prepare_staging(KEY, 3)
    index.upsert([_point("acme", 7, [0.0, 1.0, 0.0], "staged only")], staging)
    assert [hit.text for hit in index.search([0.0, 1.0, 0.0], top_k=5, collection=staging)] == ["staged only"]
    assert "staged only" not in [hit.text for hit in index.search([0.0, 1.0, 0.0], top_k=5)]
    assert index.search([0.0, 1.0, 0.0], top_k=5, collection=f"tenant_acme__{OTHER_KEY}__a") == []


# --- writes and reads --------------------------------------------------------------------------------

def test_upsert_reports_each_batch_and_overwrites_instead_of_duplicating(client, monkeypatch):
    monkeypatch.setattr(ingest.index.qdrant, "UPSERT_BATCH", 2)
    index = TenantIndex(client, "acme")
    target = index.prepare_staging(KEY, 3)
    points = POINTS + [_point("acme", 3, [1.0, 1.0, 0.0], "ne"), _point("acme", 4, [0.0, 1.0, 1.0], "nu")]
    batches = []
    assert index.upsert(points, target, after_batch=batches.append) == 5
    assert batches == [2, 4, 5]
    assert index.upsert(points, target) == 5
    assert index.point_ids(target) == {point.point_id for point in points}
    assert client.count(target) == 5


def test_an_exception_after_a_batch_stops_the_upsert_there(client, monkeypatch):
    monkeypatch.setattr(ingest.index.qdrant, "UPSERT_BATCH", 2)
    index = TenantIndex(client, "acme")
    target = index.prepare_staging(KEY, 3)

    def stop(written):
        raise RuntimeError(f"stopped after {written}")

    with pytest.raises(RuntimeError, match="stopped after 2"):
        index.upsert(POINTS, target, after_batch=stop)
    assert index.point_ids(target) == {POINTS[0].point_id, POINTS[1].point_id}


def test_delete_removes_exactly_the_given_points(client, monkeypatch):
    monkeypatch.setattr(ingest.index.qdrant, "UPSERT_BATCH", 2)  # deletes go in batches too
    index = published(client)
    assert index.delete([POINTS[0].point_id, POINTS[2].point_id], f"tenant_acme__{KEY}__a") == 2
    assert index.point_ids() == {POINTS[1].point_id}
    assert index.delete([]) == 0 and index.count() == 1


def test_delete_document_removes_its_points_from_every_collection_of_the_tenant(client):
    mine = [_point("acme", 0, [1.0, 0.0, 0.0], "mine", doc="d1"), _point("acme", 1, [0.0, 1.0, 0.0], "mine2", doc="d1")]
    theirs = [_point("acme", 0, [0.0, 0.0, 1.0], "theirs", doc="d2")]
    index = published(client, points=mine + theirs)
    previous = index.prepare_staging(KEY, 3)
    index.upsert(mine + theirs, previous)
    index.publish(previous)  # color a now holds the previous version, kept for rollback
    half_built = index.prepare_staging(OTHER_KEY, 3)  # an unpublished collection of a new model
    index.upsert(mine + theirs, half_built)
    assert index.delete_document("d1") == 6
    for collection in (None, f"tenant_acme__{KEY}__a", half_built):
        assert {hit.payload["doc_id"] for hit in index.scroll(collection)} == {"d2"}


def test_retrieve_returns_one_point_with_its_payload(client):
    index = TenantIndex(client, "acme")
    assert index.retrieve(POINTS[1].point_id) is None  # no collection yet
    published(client)
    hit = index.retrieve(POINTS[1].point_id)
    assert (hit.point_id, hit.text, hit.payload) == (POINTS[1].point_id, "north", POINTS[1].payload)
    assert index.retrieve(point_id("acme", "doc", 99, "nope")) is None


def test_scroll_of_one_document_yields_only_its_points(client):
    points = POINTS + [_point("acme", 0, [1.0, 1.0, 1.0], "other doc", doc="d2")]
    index = published(client, points=points)
    assert [hit.text for hit in index.scroll(doc_id="d2")] == ["other doc"]
    assert sorted(hit.text for hit in index.scroll(doc_id="doc")) == ["east", "north", "up"]
    assert {hit.point_id: hit.payload for hit in index.scroll()} == {p.point_id: p.payload for p in points}
    assert all(hit.payload == {} for hit in index.scroll(with_payload=False))


def test_serving_model_comes_from_the_points(client):
    index = TenantIndex(client, "acme")
    assert index.serving_model() is None
    published(client)
    assert index.serving_model() == "model-a"


def test_search_returns_the_nearest_point_first(client):
    index = published(client)
    hits = index.search([0.1, 0.9, 0.2], top_k=3)
    assert [hit.text for hit in hits] == ["north", "up", "east"]
    assert hits[0].point_id == POINTS[1].point_id
    assert hits[0].score > hits[1].score > hits[2].score
    assert hits[0].payload["tenant"] == "acme"
    assert len(index.search([1.0, 0.0, 0.0], top_k=2)) == 2


def test_search_and_count_of_a_missing_collection_are_empty(client):
    index = TenantIndex(client, "acme")
    assert index.search([1.0, 0.0, 0.0], top_k=5) == []
    assert index.count() == 0
    assert list(index.scroll()) == []
    assert index.point_ids() == set()


def test_tenants_in_one_store_never_see_each_other(client):
    acme = published(client, tenant="acme")
    globex = published(client, tenant="globex", points=[_point("globex", 0, [1.0, 0.0, 0.0], "globex secret")])
    assert {hit.payload["tenant"] for hit in acme.search([1.0, 0.0, 0.0], top_k=10)} == {"acme"}
    assert [hit.text for hit in globex.search([0.0, 1.0, 0.0], top_k=10)] == ["globex secret"]
    assert acme.count() == 3 and globex.count() == 1
    # publishing a new model for one tenant drops only that tenant's old collections
    globex.publish(globex.prepare_staging(OTHER_KEY, 3))
    assert acme.count() == 3 and acme.serving_collection() == f"tenant_acme__{KEY}__a"


def test_the_store_and_its_alias_persist_across_clients(settings):
    with open_qdrant(settings, "acme") as client:
        published(client)
    with open_qdrant(settings, "acme") as client:
        index = TenantIndex(client, "acme")
        assert index.serving_collection() == f"tenant_acme__{KEY}__a" and index.count() == 3


def test_opening_the_same_local_store_twice_raises_index_unavailable(settings):
    with open_qdrant(settings, "acme"):
        with pytest.raises(IndexUnavailable, match="in use by another process") as raised:
            with open_qdrant(settings, "acme"):
                pass
    assert str(settings.path) in str(raised.value)
    assert "QDRANT_URL" in str(raised.value)


def test_store_can_be_reopened_after_the_first_client_closes(settings):
    with open_qdrant(settings, "acme"):
        pass
    with open_qdrant(settings, "acme") as client:
        assert TenantIndex(client, "acme").count() == 0


def test_real_embeddings_find_the_matching_passage(client, embedder):
    passages = ["Customers may return unused items within 45 days.",
                "We ship worldwide with tracked couriers.",
                "The office is closed on public holidays."]
    vectors = embedder.encode(passages)
    points = [_point("acme", i, vector, text) for i, (vector, text) in enumerate(zip(vectors, passages))]
    index = published(client, points=points, dimension=embedder.dimension)
    [query] = embedder.encode(["How long do I have to send something back?"])
    assert index.search(query, top_k=1)[0].text == passages[0]


# --- points and compaction ------------------------------------------------------------------------------

def _enriched_row(doc_id="d", index=0, text="hello", pages=(2, 3)):
    digest = f"sha-{text}"
    return {"tenant": "acme", "doc_id": doc_id, "source": "a.md", "source_sha256": "s", "chunk_index": index,
            "text": text, "text_sha256": digest, "start": 0, "end": 5, "token_count": 1, "pages": list(pages),
            "section_path": ["A"], "section": "A", "title": "T", "element_types": ["NarrativeText"],
            "file_type": "md", "language": "en", "source_modified_at": "2026-01-01T00:00:00+00:00",
            "parser": "p", "strategy": "partition", "extraction": ["partition"], "ocr": False,
            "ocr_confidence": None,
            "point_id": point_id("acme", doc_id, index, digest), "fingerprint": "f"}


def test_build_points_takes_vectors_by_text_hash_and_merges_the_payload():
    rows = [_enriched_row(), _enriched_row("e", 0, "world", pages=())]
    vectors = {"sha-hello": [0.5, 0.5], "sha-world": [0.1, 0.9]}
    per_document = {"d": {"doc_version": 3, "redaction_entities": {"PERSON": 1}}}
    hello, world = build_points(pl.DataFrame(rows), vectors, per_document, {"run_id": "r1", "ingested_at": "now"})
    assert hello.point_id == rows[0]["point_id"] and list(hello.vector) == [0.5, 0.5]
    assert list(world.vector) == [0.1, 0.9]
    assert {name: hello.payload[name] for name in PAYLOAD_COLUMNS} == {name: rows[0][name] for name in PAYLOAD_COLUMNS}
    assert (hello.payload["page"], world.payload["page"]) == (2, None)
    assert (hello.payload["doc_version"], hello.payload["redaction_entities"]) == (3, {"PERSON": 1})
    assert "doc_version" not in world.payload
    assert hello.payload["run_id"] == world.payload["run_id"] == "r1"
    assert "fingerprint" not in hello.payload  # only what queries and lineage need


def _store_bytes(root) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


def _incompressible_markers(count: int) -> list[str]:
    """Random strings that LZ4 (which compresses the payload pages) leaves whole: it replaces any four
    bytes seen before in a page by a back-reference. So no four letters repeat across the markers, and the
    letters (G-Z) appear nowhere else in a page, unlike hex, which point ids and hashes are full of."""
    alphabet = "GHIJKLMNOPQRSTUVWXYZ"
    while True:
        markers = ["".join(secrets.choice(alphabet) for _ in range(48)) for _ in range(count)]
        grams = [marker[i:i + 4] for marker in markers for i in range(len(marker) - 3)]
        if len(set(grams)) == len(grams):
            return markers


def test_compact_local_store_leaves_no_bytes_of_deleted_points(settings):
    """Deleting only marks points; compaction rewrites the shard. Payload pages are compressed, so the
    test looks for markers that do not compress, not for plain words."""
    gone_marker, kept_marker = _incompressible_markers(2)
    gone = [IndexPoint(point_id("acme", "secret", i, "s"), [1.0, 0.0, float(i)],
                       {"tenant": "acme", "doc_id": "secret", "text": "merger", "text_sha256": f"{gone_marker}{i:04d}"})
            for i in range(40)]
    kept = IndexPoint(point_id("acme", "public", 0, "p"), [0.0, 1.0, 0.0],
                      {"tenant": "acme", "doc_id": "public", "text": "opening hours", "text_sha256": kept_marker})
    with open_qdrant(settings, "acme") as client:
        index = published(client, points=gone + [kept])
        assert index.delete_document("secret") == 40
    assert gone_marker.encode() in _store_bytes(settings.local_path("acme"))  # marked deleted, still on disk
    compact_local_store(settings.local_path("acme"))
    content = _store_bytes(settings.local_path("acme"))
    assert gone_marker.encode() not in content
    assert kept_marker.encode() in content  # the search would find it
    with open_qdrant(settings, "acme") as client:
        assert TenantIndex(client, "acme").point_ids() == {kept.point_id}


def test_an_unreachable_qdrant_server_gets_an_error_that_names_the_settings(tmp_path):
    import socket

    with socket.socket() as probe:  # a loopback port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = QdrantSettings(path=tmp_path, url=f"https://127.0.0.1:{port}", api_key="s3cret-key")
    with pytest.raises(IndexUnavailable) as raised:
        with open_qdrant(settings, "acme"):
            pass
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message and "QDRANT_URL" in message and "s3cret-key" not in message


def test_embedded_writes_are_on_disk_when_upsert_returns(settings):
    """Each batch is flushed: another reader of the shard's files sees every point upsert reported."""
    import qdrant_edge

    with open_qdrant(settings, "acme") as client:
        index = TenantIndex(client, "acme")
        target = index.prepare_staging(KEY, 3)

        assert index.upsert(POINTS, target) == len(POINTS)

        reader = qdrant_edge.EdgeShard.load(str(settings.local_path("acme") / target))
        try:
            assert reader.count(qdrant_edge.CountRequest(exact=True)) == len(POINTS)
        finally:
            reader.close()


def test_a_large_shard_has_the_files_opening_reads_ahead(tmp_path):
    """read_ahead names files of Edge's on-disk layout: a shard big enough for a graph (10 MB of vectors)
    must hold them, or opening falls back to page-by-page faults without anyone noticing."""
    import numpy as np

    from ingest.index.edge_store import HOT_FILES, EdgeStore, read_ahead

    store = EdgeStore(tmp_path / "store")
    store.create("big", 2048)  # wide vectors: 1,400 of them pass the graph's threshold quickly
    vectors = np.random.default_rng(0).standard_normal((1400, 2048)).astype(np.float32)
    points = [IndexPoint(point_id("acme", "doc", n, "t"), vectors[n].tolist(), {"tenant": "acme", "text": "t"})
              for n in range(len(vectors))]
    for first in range(0, len(points), 256):
        store.upsert("big", points[first:first + 256])
    store.finish_writes("big")
    store.close()
    present = {path.name for path in (tmp_path / "store" / "big").glob("segments/*/*/*")}
    assert {"quantized.data", "links_compressed.bin", "inverted_index.dat"} <= present & HOT_FILES
    assert read_ahead(tmp_path / "store" / "big") >= vectors.shape[0] * 2048  # at least the int8 copies
