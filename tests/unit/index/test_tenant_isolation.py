"""Tenant isolation is an invariant: one tenant's reads and writes never touch another's points.

Two walls stand between tenants: the collection name (one validated function makes it, and every
read or write names a collection that belongs to the tenant) and the tenant field of each point,
which every query filters on. And no code outside the two stores under `ingest/index/` talks to Qdrant
directly: everything else goes through `TenantIndex`.
"""

import ast
from pathlib import Path

import pytest

from ingest.core.config import validate_tenant
from ingest.core.errors import ConfigError
from ingest.index.qdrant import TenantIndex
from ingest.index.retrieval import MODES, RetrievalSettings
from tests.unit.index.test_qdrant import KEY, _point, client, published, settings  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[3]
# Methods of qdrant-client that read or write points.
POINT_METHODS = {"query_points", "query_batch_points", "search", "search_batch", "scroll", "retrieve", "count",
                 "upsert", "delete", "set_payload", "overwrite_payload", "delete_payload", "recommend",
                 "discover", "query_points_groups", "batch_update_points", "upload_points", "upload_collection",
                 "update"}  # Qdrant Edge's one write method

A_TEXT, B_TEXT = "alpha's refund rules", "beta's secret merger plan"


@pytest.fixture
def two_tenants(client):  # noqa: F811
    alpha = published(client, "alpha", [_point("alpha", 0, [1.0, 0.0, 0.0], A_TEXT)])
    beta = published(client, "beta", [_point("beta", 0, [0.0, 1.0, 0.0], B_TEXT),
                                      _point("beta", 1, [0.0, 0.9, 0.1], B_TEXT + " (draft)")])
    return alpha, beta


def test_a_query_with_the_exact_vector_of_another_tenants_chunk_returns_only_own_points(two_tenants):
    alpha, beta = two_tenants
    hits = alpha.search([0.0, 1.0, 0.0], top_k=10)  # beta's chunk, exactly
    assert [hit.text for hit in hits] == [A_TEXT]
    assert {hit.payload["tenant"] for hit in hits} == {"alpha"}
    assert {hit.text for hit in beta.search([0.0, 1.0, 0.0], top_k=10)} == {B_TEXT, B_TEXT + " (draft)"}


def test_another_tenants_point_id_cannot_be_retrieved(two_tenants):
    alpha, beta = two_tenants
    theirs = next(iter(beta.scroll())).point_id
    assert beta.retrieve(theirs) is not None
    assert alpha.retrieve(theirs) is None


@pytest.mark.parametrize("operation", ["search", "scroll", "delete", "upsert"])
def test_no_read_or_write_reaches_another_tenants_collection(two_tenants, operation):
    alpha, beta = two_tenants
    theirs = beta.serving_collection()
    calls = {
        "search": lambda: alpha.search([0.0, 1.0, 0.0], 5, theirs),
        "scroll": lambda: list(alpha.scroll(theirs)),
        "delete": lambda: alpha.delete([next(iter(beta.scroll())).point_id], theirs),
        "upsert": lambda: alpha.upsert([_point("alpha", 5, [1.0, 0.0, 0.0], "x")], theirs),
    }
    with pytest.raises(ValueError, match="not one of tenant alpha's"):
        calls[operation]()
    assert beta.count() == 2


def test_a_point_of_another_tenant_is_never_written_into_a_tenants_collection(two_tenants):
    alpha, _ = two_tenants
    with pytest.raises(ValueError, match="not tenant alpha's"):
        alpha.upsert([_point("beta", 9, [1.0, 0.0, 0.0], "smuggled")], alpha.serving_collection())


def test_a_foreign_point_inside_a_tenants_collection_stays_invisible_to_it(two_tenants, client):  # noqa: F811
    """The second wall: even a point that got into alpha's collection by other means is filtered out."""
    alpha, _ = two_tenants
    foreign = _point("beta", 7, [1.0, 0.0, 0.0], "planted " + A_TEXT)
    client.upsert(alpha.serving_collection(), [foreign])  # past TenantIndex, which would refuse it
    for mode in MODES:
        hits = alpha.search([1.0, 0.0, 0.0], 10, text=A_TEXT, settings=RetrievalSettings(mode=mode))
        assert [hit.text for hit in hits] == [A_TEXT], mode
    assert [hit.text for hit in alpha.scroll()] == [A_TEXT]
    assert alpha.retrieve(foreign.point_id) is None


def test_a_foreign_point_nearest_the_query_still_leaves_top_k_own_hits(two_tenants, client):  # noqa: F811
    """The tenant filter runs inside the query: a foreign point nearest the question takes no slot."""
    alpha, _ = two_tenants
    foreign = _point("beta", 7, [0.0, 1.0, 0.0], "planted")
    client.upsert(alpha.serving_collection(), [foreign])

    hits = alpha.search([0.0, 1.0, 0.0], 1)

    assert [hit.text for hit in hits] == [A_TEXT]
    assert all(hit.payload["tenant"] == "alpha" for hit in hits)


@pytest.mark.parametrize("name", [f"alpha__{KEY}__a", "alpha__b", "__", "Alpha", "../beta", "a/b", "", "x" * 64])
def test_tenant_names_that_could_reach_other_names_are_refused(name, client):  # noqa: F811
    with pytest.raises(ConfigError):
        validate_tenant(name)
    with pytest.raises(ConfigError):
        TenantIndex(client, name)


def _qdrant_point_calls(path: Path) -> list[str]:
    """`client.<method>(...)` and `self._client.<method>(...)` calls on point methods in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in POINT_METHODS:
            receiver = node.func.value
            if isinstance(receiver, ast.Call):  # self._shard(name).query(...)
                receiver = receiver.func
            name = receiver.id if isinstance(receiver, ast.Name) else (
                receiver.attr if isinstance(receiver, ast.Attribute) else "")
            if name in ("client", "_client", "qdrant", "shard", "_shard", "reader"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}.{node.func.attr}")
    return found


def test_only_the_tenant_index_talks_to_qdrant_about_points():
    files = [path for folder in ("ingest", "assets", "resources", "launcher") for path in (ROOT / folder).rglob("*.py")]
    calls = [call for path in files for call in _qdrant_point_calls(path)]
    stores = ("ingest/index/server_store.py:", "ingest/index/edge_store.py:")
    assert calls and all(call.startswith(stores) for call in calls), calls
