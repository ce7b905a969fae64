"""Retrieval modes: BM25 sparse vectors beside the dense ones, fused in the engine, on both stores."""

import pytest

from ingest.core.errors import ConfigError
from ingest.index.qdrant import TenantIndex
from ingest.index.retrieval import RetrievalSettings, sparse_document, sparse_query
from tests.unit.index.test_qdrant import _point, client, published, settings  # noqa: F401  (fixtures)

DENSE, SPARSE, HYBRID = (RetrievalSettings(mode=mode) for mode in ("dense", "sparse", "hybrid"))
# Three chunks: the dense vectors point one way, the words another.
PART_CODE = _point("acme", 0, [0.0, 0.0, 1.0], "Torque wrench XK-42 calibration every 6 months.")
NEAR = _point("acme", 1, [1.0, 0.0, 0.0], "How often should tools be checked for accuracy?")
FAR = _point("acme", 2, [0.0, 1.0, 0.0], "The canteen opens at noon.")


def test_settings_come_from_the_tenants_table_and_refuse_what_they_do_not_know():
    assert RetrievalSettings.from_table({}) == RetrievalSettings(mode="hybrid", fusion="dbsf", rrf_k=60,
                                                                 dense_weight=1.0, sparse_weight=1.0, prefetch=50)
    assert RetrievalSettings.from_table({"mode": "dense", "rrf_k": 10}).rrf_k == 10
    for table, message in (({"mode": "keyword"}, "mode must be one of hybrid, dense, sparse"),
                           ({"rrf": 60}, "unknown setting"), ({"rrf_k": 0}, "rrf_k"),
                           ({"fusion": "sum"}, "fusion must be one of dbsf, rrf"),
                           ({"dense_weight": -1}, "dense_weight"), ({"prefetch": 2.5}, "prefetch"),
                           ({"dense_weight": 0, "sparse_weight": 0}, "cannot both be 0")):
        with pytest.raises(ConfigError, match=message) as refused:
            RetrievalSettings.from_table(table, "acme")
        assert "[tenants.acme.retrieval]" in str(refused.value)
    assert RetrievalSettings().with_mode("sparse").mode == "sparse"
    with pytest.raises(ConfigError):
        RetrievalSettings().with_mode("both")


def test_sparse_vectors_weigh_stemmed_words_and_drop_stop_words():
    document = sparse_document("Refunds are refunded within the refund window")
    assert document == sparse_document("Refunds are refunded within the refund window")  # same text, same terms
    assert len(document.indices) == len(set(document.indices)) == len(document.values)
    [refund] = sparse_query("refund").indices
    assert refund in document.indices  # refunds / refunded / refund: one stem
    weights = dict(zip(document.indices, document.values, strict=True))
    assert weights[refund] == max(weights.values())  # said three times: the heaviest term
    assert sparse_query("the and of").indices == ()  # stop words only: nothing to match


def test_each_mode_finds_what_it_should(client):  # noqa: F811
    index = published(client, points=[PART_CODE, NEAR, FAR])
    question, vector = "XK-42 calibration interval", [1.0, 0.2, 0.0]  # the words name one chunk, the vector another

    def texts(settings, top_k=3):
        return [hit.text for hit in index.search(vector, top_k, text=question, settings=settings)]

    assert texts(DENSE)[0] == NEAR.payload["text"]
    assert texts(SPARSE) == [PART_CODE.payload["text"]]  # only it shares a word with the question
    assert set(texts(HYBRID, 2)) == {PART_CODE.payload["text"], NEAR.payload["text"]}  # the best of both
    assert texts(DENSE)[-1] == PART_CODE.payload["text"]  # last by meaning, first by words
    assert texts(HYBRID)[0] == PART_CODE.payload["text"]  # in both lists: it leads the fused one
    assert texts(RetrievalSettings(mode="hybrid", fusion="rrf"))[0] == PART_CODE.payload["text"]
    for dense_weight, sparse_weight, first in ((0.0, 1.0, PART_CODE), (1.0, 0.0, NEAR)):  # RRF's weights decide
        leaning = RetrievalSettings(mode="hybrid", fusion="rrf", dense_weight=dense_weight,
                                    sparse_weight=sparse_weight)
        assert texts(leaning)[0] == first.payload["text"]

    def fused_score(sparse_weight: float) -> float:
        settings = RetrievalSettings(mode="hybrid", fusion="rrf", sparse_weight=sparse_weight)
        return index.search(vector, 1, text=question, settings=settings)[0].score

    assert fused_score(1.0) > fused_score(0.5) > fused_score(0.0)  # a lighter list adds less
    with pytest.raises(ValueError, match="needs the question's text"):
        index.search(vector, 3, settings=HYBRID)


def test_idf_follows_the_corpus_without_rewriting_stored_points(client):  # noqa: F811
    """A word in every chunk says little: the engine weighs terms by the points present at query time."""
    rare = _point("acme", 0, [1.0, 0.0, 0.0], "gearbox warranty terms")
    common = _point("acme", 1, [0.0, 1.0, 0.0], "warranty warranty warranty claims")
    index = published(client, points=[rare, common])
    question = "gearbox warranty"
    first = [hit.text for hit in index.search(None, 2, text=question, settings=SPARSE)]
    assert first[0] == rare.payload["text"]
    score_before = index.search(None, 1, text="warranty", settings=SPARSE)[0].score
    more = [_point("acme", n, [0.0, 0.0, 1.0], f"warranty note {n}") for n in range(2, 8)]
    index.upsert(more, index.serving_collection())  # only the new points are written
    score_after = index.search(None, 1, text="warranty", settings=SPARSE)[0].score
    assert score_after < score_before  # 'warranty' is now in 8 of 8 chunks


def test_a_new_tenant_index_has_no_hits_in_any_mode(client):  # noqa: F811
    index = TenantIndex(client, "acme")
    for settings in (DENSE, SPARSE, HYBRID):
        assert index.search([1.0, 0.0, 0.0], 3, text="anything", settings=settings) == []
    assert published(client, points=[PART_CODE]).search(None, 3, text="canteen", settings=SPARSE) == []
