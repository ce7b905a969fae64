"""The term table behind hybrid's pruning: which terms a question keeps, and counts that stay exact through
writes, overwrites, deletes, blue/green publishing, rollback, erasure and interrupted writes, on both stores."""

import numpy as np
import pytest

import ingest.index.retrieval
from ingest.index.edge_store import TERMS_FILE, TERMS_STALE_FILE
from ingest.index.erase import forget_document
from ingest.index.qdrant import TenantIndex, open_qdrant
from ingest.index.retrieval import RetrievalSettings, SparseVector, prune_query, sparse_document, sparse_query
from ingest.index.server_store import ServerStore
from ingest.index.terms import TermDelta, TermTable, count_terms
from tests.unit.index.test_erase import FORGET
from tests.unit.index.test_qdrant import KEY, _point, client, settings  # noqa: F401  (fixtures)


def test_a_question_keeps_its_rarest_terms_within_the_budget(monkeypatch):
    monkeypatch.setattr(ingest.index.retrieval, "SPARSE_BUDGET_FLOOR", 0)
    question = SparseVector((11, 22, 33, 44), (1.0, 1.0, 1.0, 1.0))
    held = [500, 10, 40, 300]  # chunks holding each term, of 1,000
    assert prune_query(question, held, 1000, 0.05) == SparseVector((22, 33), (1.0, 1.0))  # 10 + 40 <= 50 < 350
    assert prune_query(question, held, 1000, 0.35) == SparseVector((22, 33, 44), (1.0, 1.0, 1.0))
    assert prune_query(question, held, 1000, 0.001) == SparseVector((22,), (1.0,))  # the rarest always stays
    assert prune_query(question, held, 1000, 0) == question  # 0: every term
    assert prune_query(question, [0, 0, 0, 0], 1000, 0.05) == question  # terms no chunk holds cost nothing
    assert prune_query(SparseVector((), ()), [], 1000, 0.05) == SparseVector((), ())


def test_pruning_never_cuts_below_the_floor():
    question = SparseVector((1, 2, 3), (1.0, 1.0, 1.0))
    floor = ingest.index.retrieval.SPARSE_BUDGET_FLOOR
    assert prune_query(question, [floor // 3] * 3, 10_000, 0.05) == question  # a small collection: untouched
    assert prune_query(question, [floor // 2] * 3, 10 * floor, 0.05).indices == (1, 2)  # 0.05 x points < floor


def test_the_budget_is_a_tenant_setting():
    assert RetrievalSettings().sparse_budget == 0.05
    assert RetrievalSettings.from_table({"sparse_budget": 0}).sparse_budget == 0
    with pytest.raises(ingest.index.retrieval.ConfigError, match="sparse_budget"):
        RetrievalSettings.from_table({"sparse_budget": -0.1})


def test_a_table_adds_and_removes_chunks_and_forgets_terms_at_zero():
    one, two = SparseVector((5, 7), (1.0, 1.0)), SparseVector((7, 9), (1.0, 1.0))
    change = TermDelta()
    change.add([one, two])
    table = TermTable.empty().applied(change)
    assert (table.points, table.frequencies([5, 7, 9, 8])) == (2, [1, 2, 1, 0])
    change = TermDelta()
    change.remove([one])
    after = table.applied(change)
    assert (after.points, after.as_dict()) == (1, {7: 1, 9: 1})  # term 5 is gone, not kept at 0
    assert TermTable.from_bytes(after.to_bytes()).as_dict() == after.as_dict() == count_terms([two]).as_dict()
    big = SparseVector((4_294_967_295,), (1.0,))  # term ids are unsigned 32-bit hashes
    assert count_terms([big]).frequencies([4_294_967_295]) == [1]


def exact_terms(store, name: str, through: str | None = None) -> bool:
    """The table of `name` (read through the alias `through`, if given) holds what its stored sparse
    vectors say."""
    truth = count_terms(store.stored_sparse(name))
    counted = store.term_frequencies(through or name, truth.terms.tolist())
    return counted == (truth.points, truth.counts.tolist())


def _texts(doc: str, words: list[str]) -> list:
    return [_point("acme", n, [1.0, float(n), 0.0], text, doc=doc) for n, text in enumerate(words)]


GUIDE = _texts("guide", ["gearbox warranty claim", "warranty for the gearbox housing", "canteen opens at noon"])
NOTES = _texts("notes", ["parking behind the warehouse", "warranty desk hours"])


def test_the_table_follows_writes_overwrites_and_deletes(client):  # noqa: F811
    index = TenantIndex(client, "acme")
    target = index.prepare_staging(KEY, 3)
    assert client.term_frequencies(target, []) == (0, [])  # a new collection starts counted
    index.upsert(GUIDE + NOTES, target)
    assert client.term_frequencies(target, []) is None  # being written: stale until finished
    index.finish_writes(target)
    assert exact_terms(client, target) and client.term_frequencies(target, [])[0] == 5
    [warranty] = sparse_query("warranty").indices
    assert client.term_frequencies(target, [warranty])[1] == [3]
    index = TenantIndex(client, "acme")
    changed = _point("acme", 0, [1.0, 0.0, 0.0], "gearbox warranty claim", doc="guide")
    index.upsert([changed, changed, *NOTES], target)  # written again, twice in one batch: counted once
    index.delete([GUIDE[1].point_id], target)
    index.finish_writes(target)
    assert exact_terms(client, target) and client.term_frequencies(target, [warranty]) == (4, [2])


def test_writes_read_back_only_the_points_they_replace(client):  # noqa: F811
    index = TenantIndex(client, "acme")
    target = index.prepare_staging(KEY, 3)
    index.upsert(GUIDE + NOTES, target)
    index.finish_writes(target)
    asked = []
    stored_sparse = client.stored_sparse

    def recording(name, **which):
        asked.append(which)
        return stored_sparse(name, **which)

    client.stored_sparse = recording  # the real store, its calls recorded
    try:
        index = TenantIndex(client, "acme")
        index.upsert(NOTES[:1], target)
        index.delete([GUIDE[2].point_id], target)
        index.finish_writes(target)
    finally:
        del client.stored_sparse
    assert asked == [{"ids": [NOTES[0].point_id]}, {"ids": [GUIDE[2].point_id]}]  # never the unchanged chunks
    assert exact_terms(client, target)


def test_the_table_follows_the_alias_through_publish_and_rollback(client):  # noqa: F811
    index = TenantIndex(client, "acme")
    first = index.prepare_staging(KEY, 3)
    index.upsert(GUIDE, first)
    index.finish_writes(first)
    index.publish(first)
    second = index.prepare_staging(KEY, 3)
    index.upsert(GUIDE + NOTES, second)
    index.finish_writes(second)
    [parking] = sparse_query("parking").indices
    assert client.term_frequencies(index.collection, [parking]) == (3, [0])
    index.publish(second)
    assert client.term_frequencies(index.collection, [parking]) == (5, [1])
    index.publish(first)  # rollback
    assert client.term_frequencies(index.collection, [parking]) == (3, [0])
    index.publish(index.prepare_staging("model-b-99999999", 3))  # another model: both colors dropped
    assert client.term_frequencies(first, []) is None and client.term_frequencies(second, []) is None
    assert client.term_frequencies(index.collection, []) == (0, [])
    if isinstance(client, ServerStore):  # the tables' own collections went with them
        assert [found.name for found in client.client.get_collections().collections if found.name.endswith(
            "__terms")] == [index.serving_collection() + "__terms"]


def test_an_interrupted_write_leaves_the_table_stale_until_it_is_counted_again(client, monkeypatch):  # noqa: F811
    monkeypatch.setattr(ingest.index.retrieval, "SPARSE_BUDGET_FLOOR", 0)
    index = TenantIndex(client, "acme")
    target = index.prepare_staging(KEY, 3)
    index.upsert(GUIDE + NOTES, target)
    index.finish_writes(target)
    index.publish(target)
    queries = []
    query = client.query

    def recording(name, spec):
        queries.append(spec.sparse.indices)
        return query(name, spec)

    client.query = recording
    try:
        question = "warranty parking"
        index.search([1.0, 0.0, 0.0], 2, text=question, settings=RetrievalSettings(sparse_budget=0.2))
        assert queries[-1] == sparse_query("parking").indices  # 'warranty' is in 3 of 5 chunks: left out
        TenantIndex(client, "acme").upsert(NOTES, target)  # a run that never finished its writes
        assert client.term_frequencies(target, []) is None
        index.search([1.0, 0.0, 0.0], 2, text=question, settings=RetrievalSettings(sparse_budget=0.2))
        assert queries[-1] == sparse_query(question).indices  # no exact table: every term is searched
    finally:
        del client.query
    assert TenantIndex(client, "acme").repair_term_table(target) and exact_terms(client, target)
    assert not TenantIndex(client, "acme").repair_term_table(target)  # exact: nothing to do


def test_a_pipeline_run_erasure_and_rollback_keep_the_tablesexact_terms(indexed):
    tenant = indexed
    with (tenant.source / "shipping.txt").open("a", encoding="utf-8") as handle:
        handle.write("\nParcels to remote islands take longer.\n")
    tenant.run("run-2")  # the run staged the other color and published it
    doc_id = tenant.doc_id(FORGET)
    with open_qdrant(tenant.qdrant, tenant.name) as store:
        names = sorted(store.collections())
        assert len(names) == 2 and all(exact_terms(store, name) for name in names)
        own = set().union(*(sparse_document(hit.text).indices for hit in TenantIndex(store, tenant.name).scroll(
            doc_id=doc_id)))
        others = set().union(*(sparse_document(hit.text).indices for hit in TenantIndex(store, tenant.name).scroll()
                               if hit.payload["doc_id"] != doc_id))
    only_erased = sorted(own - others)
    assert only_erased
    island = list(sparse_query("islands").indices)

    forget_document("acme", tenant.paths, tenant.qdrant, source=FORGET, requested_by="dpo@example.com")

    with open_qdrant(tenant.qdrant, tenant.name) as store:
        for name in names:
            assert exact_terms(store, name)
            assert store.term_frequencies(name, only_erased)[1] == [0] * len(only_erased)
            with np.load(tenant.qdrant.local_path(tenant.name) / name / TERMS_FILE) as table:
                assert not set(table["terms"].tolist()) & set(only_erased)  # not even in the file
        index = TenantIndex(store, tenant.name)
        assert store.term_frequencies(index.collection, island)[1] == [1]  # run-2's line serves
    tenant.rollback()
    with open_qdrant(tenant.qdrant, tenant.name) as store:
        index = TenantIndex(store, tenant.name)
        assert store.term_frequencies(index.collection, island)[1] == [0]  # run-1's version serves again
        assert exact_terms(store, index.serving_collection(), through=index.collection)


def test_a_collection_from_before_term_tables_is_counted_when_repaired(client):  # noqa: F811
    index = TenantIndex(client, "acme")
    target = index.prepare_staging(KEY, 3)
    index.upsert(GUIDE, target)
    index.finish_writes(target)
    if isinstance(client, ServerStore):  # as a release without term tables left it
        client.client.delete_collection(target + "__terms")
    else:
        client.mark_terms_stale(target)
        for name in (TERMS_FILE, TERMS_STALE_FILE):
            (client.root / target / name).unlink()
    assert client.term_frequencies(target, []) is None
    assert TenantIndex(client, "acme").repair_term_table(target) and exact_terms(client, target)
