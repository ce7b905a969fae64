"""The index on a Qdrant server (QDRANT_URL), the path for a cluster: the same TenantIndex operations
as on the embedded store. These tests run only when QDRANT_URL names a server; none can be installed
here, and none is faked (the server store's code also runs against qdrant-client's in-memory mode in
test_qdrant.py and test_retrieval.py, which lacks the server's payload indexes, HNSW and quantization).
Each test works in a tenant of its own, and removes its collections after.
"""

from __future__ import annotations

import os
import uuid

import pytest
from qdrant_client import models

from ingest.core.ids import point_id
from ingest.index.qdrant import IndexPoint, QdrantSettings, TenantIndex, collection_name, open_qdrant
from ingest.index.retrieval import RetrievalSettings

pytestmark = pytest.mark.skipif(not os.environ.get("QDRANT_URL"),
                                reason="QDRANT_URL is not set: no Qdrant server to test the server path against")

KEY = "model-a-1234abcd"


@pytest.fixture
def tenant_client(tmp_path):
    tenant = f"servertest{uuid.uuid4().hex[:10]}"
    settings = QdrantSettings(path=tmp_path, url=os.environ["QDRANT_URL"], api_key=os.environ.get("QDRANT_API_KEY"))
    with open_qdrant(settings, tenant) as client:
        try:
            yield tenant, client
        finally:
            prefix = collection_name(tenant)
            qdrant = client.client  # the server store's qdrant-client
            aliases = [alias.alias_name for alias in qdrant.get_aliases().aliases if alias.alias_name.startswith(prefix)]
            if aliases:
                qdrant.update_collection_aliases(change_aliases_operations=[
                    models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=name)) for name in aliases])
            for name in client.collections():
                if name.startswith(prefix):
                    client.drop(name)


def _points(tenant: str, doc: str, texts: list[str]) -> list[IndexPoint]:
    vectors = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    return [IndexPoint(point_id(tenant, doc, number, text), vectors[number % 3],
                       {"text": text, "tenant": tenant, "doc_id": doc, "source": f"{doc}.md",
                        "embedding_model": "model-a"})
            for number, text in enumerate(texts)]


def test_blue_green_publish_and_rollback_on_the_server(tenant_client):
    tenant, client = tenant_client
    index = TenantIndex(client, tenant)
    first = index.prepare_staging(KEY, 3)
    index.upsert(_points(tenant, "guide", ["east", "north"]), first)
    index.publish(first)
    assert index.serving_collection() == first and index.count() == 2
    second = index.prepare_staging(KEY, 3)
    assert second != first
    index.upsert(_points(tenant, "guide", ["east", "north", "up"]), second)
    index.publish(second)
    assert index.count() == 3 and index.previous_collection() == first
    index.publish(first)  # rollback: the previous color serves again
    assert index.serving_collection() == first and index.count() == 2


def test_upserts_are_idempotent_and_deletes_leave_nothing_of_a_document(tenant_client):
    tenant, client = tenant_client
    index = TenantIndex(client, tenant)
    target = index.prepare_staging(KEY, 3)
    points = _points(tenant, "guide", ["east", "north"]) + _points(tenant, "notes", ["up"])
    index.upsert(points, target)
    index.upsert(points, target)  # a retried run writes the same ids again
    index.publish(target)
    assert index.count() == 3 and index.point_ids() == {point.point_id for point in points}
    assert index.delete_document("guide") == 2
    assert index.point_ids() == {points[2].point_id}
    hits = index.search([0.0, 0.0, 1.0], top_k=3)
    assert [hit.payload["doc_id"] for hit in hits] == ["notes"]


def test_hybrid_search_and_payload_indexes_on_the_server(tenant_client):
    tenant, client = tenant_client
    index = TenantIndex(client, tenant)
    target = index.prepare_staging(KEY, 3)
    index.upsert(_points(tenant, "guide", ["gearbox warranty", "canteen hours", "parking"]), target)
    index.publish(target)
    schema = client.client.get_collection(target).payload_schema
    assert {"tenant", "doc_id", "source"} <= set(schema)
    hits = index.search(None, 3, text="warranty", settings=RetrievalSettings(mode="sparse"))
    assert [hit.text for hit in hits] == ["gearbox warranty"]  # the only chunk with the word
    hits = index.search([0.0, 1.0, 0.0], 2, text="warranty", settings=RetrievalSettings(mode="hybrid"))
    assert {hit.text for hit in hits} == {"gearbox warranty", "canteen hours"}  # the best of each list
