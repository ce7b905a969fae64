import uuid

import polars as pl
import pytest

from ingest.config import ConfigError
from ingest.index import (
    IndexPoint,
    IndexUnavailable,
    QdrantSettings,
    TenantIndex,
    build_points,
    collection_name,
    open_qdrant,
    point_id,
    sync_tenant_index,
)


def test_collection_name_is_prefixed_tenant():
    assert collection_name("acme") == "tenant_acme"
    assert collection_name("acme") != collection_name("globex")


@pytest.mark.parametrize("tenant", ["Acme", "../x", "a b", ""])
def test_collection_name_rejects_invalid_tenants(tenant):
    with pytest.raises(ConfigError):
        collection_name(tenant)


def test_point_id_is_deterministic_uuid():
    first = point_id("acme", "doc", 3, "abc")
    assert first == point_id("acme", "doc", 3, "abc")
    assert str(uuid.UUID(first)) == first


@pytest.mark.parametrize("other", [("globex", "doc", 3, "abc"), ("acme", "doc2", 3, "abc"),
                                   ("acme", "doc", 4, "abc"), ("acme", "doc", 3, "abd")])
def test_point_id_differs_when_any_part_differs(other):
    assert point_id(*other) != point_id("acme", "doc", 3, "abc")


def test_point_id_rejects_invalid_tenant():
    with pytest.raises(ConfigError):
        point_id("Acme", "doc", 0, "abc")


def _point(tenant, index, vector, text):
    return IndexPoint(point_id(tenant, "doc", index, text), vector, {"text": text, "tenant": tenant})


POINTS = [_point("acme", 0, [1.0, 0.0, 0.0], "east"), _point("acme", 1, [0.0, 1.0, 0.0], "north"),
          _point("acme", 2, [0.0, 0.0, 1.0], "up")]


@pytest.fixture
def settings(tmp_path):
    return QdrantSettings(path=tmp_path / "qdrant")


@pytest.fixture
def client(settings):
    with open_qdrant(settings) as client:
        yield client


def test_settings_describe_where_the_index_lives(tmp_path):
    assert QdrantSettings(path=tmp_path).is_local
    assert str(tmp_path) in QdrantSettings(path=tmp_path).describe()
    server = QdrantSettings(path=tmp_path, url="http://qdrant:6333")
    assert not server.is_local and "http://qdrant:6333" in server.describe()


def test_ensure_collection_creates_it_once(client):
    index = TenantIndex(client, "acme")
    assert not index.exists()
    assert index.ensure_collection(3) is True
    assert index.ensure_collection(3) is False
    assert index.exists()
    assert client.collection_exists("tenant_acme")


def test_dimension_mismatch_raises_index_unavailable(client):
    TenantIndex(client, "acme").ensure_collection(3)
    with pytest.raises(IndexUnavailable, match="rebuild"):
        TenantIndex(client, "acme").ensure_collection(384)


def test_sync_upserts_all_points(client):
    index = TenantIndex(client, "acme")
    assert sync_tenant_index(index, 3, POINTS) == (3, 0)
    assert index.count() == 3
    assert index.point_ids() == {point.point_id for point in POINTS}


def test_second_sync_with_a_subset_deletes_the_rest(client):
    index = TenantIndex(client, "acme")
    sync_tenant_index(index, 3, POINTS)
    assert sync_tenant_index(index, 3, POINTS[:1]) == (1, 2)
    assert index.point_ids() == {POINTS[0].point_id}


def test_sync_is_idempotent(client):
    index = TenantIndex(client, "acme")
    sync_tenant_index(index, 3, POINTS)
    assert sync_tenant_index(index, 3, POINTS) == (3, 0)
    assert index.count() == 3


def test_search_returns_the_nearest_point_first(client):
    index = TenantIndex(client, "acme")
    sync_tenant_index(index, 3, POINTS)
    hits = index.search([0.1, 0.9, 0.2], top_k=3)
    assert [hit.text for hit in hits] == ["north", "up", "east"]
    assert hits[0].point_id == POINTS[1].point_id
    assert hits[0].score > hits[1].score > hits[2].score
    assert hits[0].payload["tenant"] == "acme"


def test_search_respects_top_k(client):
    index = TenantIndex(client, "acme")
    sync_tenant_index(index, 3, POINTS)
    assert len(index.search([1.0, 0.0, 0.0], top_k=2)) == 2


def test_search_and_count_of_a_missing_collection_are_empty(client):
    index = TenantIndex(client, "acme")
    assert index.search([1.0, 0.0, 0.0], top_k=5) == []
    assert index.count() == 0
    assert list(index.scroll()) == []


def test_scroll_yields_every_point_with_its_payload(client):
    index = TenantIndex(client, "acme")
    sync_tenant_index(index, 3, POINTS)
    hits = list(index.scroll())
    assert sorted(hit.text for hit in hits) == ["east", "north", "up"]
    assert {hit.point_id: hit.payload for hit in hits} == {p.point_id: p.payload for p in POINTS}


def test_tenants_in_one_store_never_see_each_other(client):
    acme, globex = TenantIndex(client, "acme"), TenantIndex(client, "globex")
    sync_tenant_index(acme, 3, POINTS)
    globex_points = [_point("globex", 0, [1.0, 0.0, 0.0], "globex secret")]
    sync_tenant_index(globex, 3, globex_points)
    assert {hit.payload["tenant"] for hit in acme.search([1.0, 0.0, 0.0], top_k=10)} == {"acme"}
    assert [hit.text for hit in globex.search([0.0, 1.0, 0.0], top_k=10)] == ["globex secret"]
    assert acme.count() == 3
    # a sync of one tenant deletes only that tenant's stale points
    sync_tenant_index(globex, 3, [])
    assert globex.count() == 0 and acme.count() == 3


def test_the_store_persists_across_clients(settings):
    with open_qdrant(settings) as client:
        sync_tenant_index(TenantIndex(client, "acme"), 3, POINTS)
    with open_qdrant(settings) as client:
        assert TenantIndex(client, "acme").count() == 3


def test_opening_the_same_local_store_twice_raises_index_unavailable(settings):
    with open_qdrant(settings):
        with pytest.raises(IndexUnavailable, match="in use by another process") as raised:
            with open_qdrant(settings):
                pass
    assert str(settings.path) in str(raised.value)
    assert "QDRANT_URL" in str(raised.value)


def test_store_can_be_reopened_after_the_first_client_closes(settings):
    with open_qdrant(settings):
        pass
    with open_qdrant(settings) as client:
        assert TenantIndex(client, "acme").count() == 0


def test_real_embeddings_find_the_matching_passage(client, embedder):
    passages = ["Customers may return unused items within 45 days.",
                "We ship worldwide with tracked couriers.",
                "The office is closed on public holidays."]
    vectors = embedder.encode(passages)
    points = [_point("acme", i, vector, text) for i, (vector, text) in enumerate(zip(vectors, passages))]
    index = TenantIndex(client, "acme")
    sync_tenant_index(index, embedder.dimension, points)
    [query] = embedder.encode(["How long do I have to send something back?"])
    assert index.search(query, top_k=1)[0].text == passages[0]


def test_build_points_carries_vector_and_payload():
    row = {"tenant": "acme", "doc_id": "d", "source": "a.md", "source_sha256": "s", "chunk_index": 0,
           "text": "hello", "text_sha256": "h", "start": 0, "end": 5, "token_count": 1, "pages": [2, 3],
           "section_path": ["A"], "section": "A", "title": "T", "element_types": ["NarrativeText"],
           "file_type": "md", "language": "en", "source_modified_at": "2026-01-01T00:00:00+00:00",
           "parser": "p", "ocr": False, "ocr_confidence": None, "point_id": point_id("acme", "d", 0, "h")}
    [point] = build_points(pl.DataFrame([row]), {row["point_id"]: [0.5, 0.5]}, {"run_id": "r1"})
    assert point.point_id == row["point_id"]
    assert list(point.vector) == [0.5, 0.5]
    assert point.payload["page"] == 2
    assert point.payload["run_id"] == "r1"
    assert point.payload["text"] == "hello" and point.payload["tenant"] == "acme"


def test_an_unreachable_qdrant_server_gets_an_error_that_names_the_settings(tmp_path):
    import socket

    with socket.socket() as probe:  # a loopback port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = QdrantSettings(path=tmp_path, url=f"https://127.0.0.1:{port}", api_key="s3cret-key")
    with pytest.raises(IndexUnavailable) as raised:
        with open_qdrant(settings):
            pass
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message and "QDRANT_URL" in message and "s3cret-key" not in message
