"""The int8 embedding model (INGEST_EMBED_PRECISION=int8; fp32 is the default): quantized once from the
converted OpenVINO model, close to the fp32 vectors, as good on the golden sets, and named apart from them."""

import numpy as np
import pytest

from ingest.embedding.embed import Embedder, calibration_texts, cpu_int8_support, embedding_model_key
from ingest.index.qdrant import TenantIndex
from tests.unit.embedding.test_embed import MIXED_TEXTS, golden_evaluations

pytest.importorskip("openvino")
pytest.importorskip("nncf")


@pytest.fixture(scope="session")
def int8_embedder(converted_models_dir):
    return Embedder("all-MiniLM-L6-v2", cache_dir=converted_models_dir, precision="int8")


def test_int8_vectors_stay_close_to_fp32_ones(int8_embedder, embedder):
    quantized, full = int8_embedder.encode(MIXED_TEXTS), embedder.encode(MIXED_TEXTS)
    assert quantized.shape == full.shape and quantized.dtype == np.float32
    assert np.allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-5)
    cosine = (quantized * full).sum(axis=1)
    # Mean 0.995 where the CPU has VNNI, 0.989 where OpenVINO emulates int8 on AVX2 (other rounding); the
    # least close is the one-letter text. Retrieval quality, the measure that matters, is tested below.
    assert cosine.mean() > 0.98 and cosine.min() > 0.95, cosine
    assert np.abs(quantized - full).max() > 1e-4  # really another model: not the fp32 one under a new name


def test_int8_keeps_a_paraphrase_closer_than_an_unrelated_sentence(int8_embedder):
    a, b, c = int8_embedder.encode(["Refunds are paid within five days.", "You get your money back in five days.",
                                    "The centrifuge must be balanced before each run."])
    assert a @ b > a @ c + 0.2


def test_int8_retrieval_on_the_golden_sets_is_within_one_percent_of_fp32(int8_embedder, embedder):
    for tenant, by_int8, by_fp32 in golden_evaluations(int8_embedder, embedder):
        assert by_fp32.recall_at_k >= 0.8  # the comparison is between two working searches
        assert by_int8.ndcg_at_10 >= 0.99 * by_fp32.ndcg_at_10, (tenant, by_int8.ndcg_at_10, by_fp32.ndcg_at_10)


def test_the_quantized_model_is_kept_beside_the_converted_one_and_reused(int8_embedder, converted_models_dir, caplog):
    folder = converted_models_dir / embedding_model_key("all-MiniLM-L6-v2")
    [quantized] = [path for path in folder.rglob("model.xml") if path.parent.name.endswith("-int8")]
    assert not list(folder.glob(".converting-*"))  # published whole, nothing half-written left
    modified = quantized.stat().st_mtime_ns
    with caplog.at_level("INFO", logger="ingest.embedding.embed"):
        again = Embedder("all-MiniLM-L6-v2", cache_dir=converted_models_dir, precision="int8")
    assert "quantizing" not in caplog.text and quantized.stat().st_mtime_ns == modified
    assert np.allclose(again.encode(MIXED_TEXTS[:3]), int8_embedder.encode(MIXED_TEXTS[:3]), atol=1e-6)


def test_int8_vectors_have_their_own_key(int8_embedder, embedder):
    assert int8_embedder.model_key == embedding_model_key("all-MiniLM-L6-v2", "int8") == "all-minilm-l6-v2-int8-d1988b92"
    assert embedder.model_key == embedding_model_key("all-MiniLM-L6-v2") == "all-minilm-l6-v2-07db4e1f"
    # the key is a valid part of a tenant's collection names (no store needed to check the name's shape)
    index = TenantIndex.__new__(TenantIndex)
    index.collection = "tenant_acme"
    assert index.physical_collection(int8_embedder.model_key, "a") == "tenant_acme__all-minilm-l6-v2-int8-d1988b92__a"


def test_int8_is_refused_on_torch_and_without_a_cache_folder():
    with pytest.raises(ValueError, match="INGEST_EMBED_PRECISION=fp32"):
        Embedder("all-MiniLM-L6-v2", backend="torch", precision="int8")
    with pytest.raises(ValueError, match="cache_dir"):
        Embedder("all-MiniLM-L6-v2", precision="int8")
    with pytest.raises(ValueError, match="unknown precision"):
        Embedder("all-MiniLM-L6-v2", precision="int4")


def test_the_calibration_texts_are_paragraphs_and_questions():
    texts = calibration_texts()
    questions = [text for text in texts if text.endswith("?")]
    assert len(texts) >= 50 and 10 <= len(questions) < len(texts) / 2
    assert all("\n" not in text for text in texts)
    assert max(map(len, texts)) > 200


@pytest.mark.parametrize(("flags", "found"), [
    ("fpu sse avx2 fma", []),  # AVX2 alone: int8 is emulated
    ("fpu avx2 avx512f avx512_vnni", ["avx512_vnni"]),
    ("fpu avx2 avx_vnni amx_bf16 amx_int8", ["avx_vnni", "amx_int8"]),
])
def test_the_cpu_int8_check_reads_the_instruction_sets_from_cpuinfo(tmp_path, flags, found):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: A CPU\nflags\t\t: {flags}\n\n"
                       f"processor\t: 1\nflags\t\t: {flags}\n", encoding="ascii")
    assert cpu_int8_support(cpuinfo) == found
    assert cpu_int8_support(tmp_path / "missing") == []  # not Linux: nothing claimed
