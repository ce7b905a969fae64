import re
from pathlib import Path

import numpy as np
import pytest

from ingest.core.errors import ModelNotAvailable
from ingest.embedding.embed import PACKAGED_MINILM_NAMES, Embedder, embedding_model_key, resolve_model_path


def test_dimension_is_384(embedder):
    assert embedder.dimension == 384
    assert embedder.encode(["hello"]).shape == (1, 384)


def test_vectors_are_unit_length_float32(embedder):
    vectors = embedder.encode(["Refunds take five days.", "Shipping is tracked.", "x"])
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_paraphrase_is_closer_than_an_unrelated_sentence(embedder):
    query, paraphrase, unrelated = embedder.encode([
        "How long do I have to return an item?",
        "Customers may send products back within 45 days.",
        "The cafeteria serves soup on Tuesdays.",
    ])
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.1


def test_encoding_is_deterministic_and_independent_of_batch(embedder):
    texts = ["Refunds take five days.", "Shipping is tracked worldwide."]
    together = embedder.encode(texts)
    alone = embedder.encode(texts[1:])
    assert np.allclose(together[1], alone[0], atol=1e-5)


def test_encode_of_nothing_is_an_empty_matrix(embedder):
    vectors = embedder.encode([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_max_tokens_leaves_room_for_special_tokens(embedder):
    assert embedder.max_tokens == 254


def test_token_offsets_cover_the_text_without_special_tokens(embedder, hugging_face_tokenizer):
    text = "Refunds are issued quickly."
    offsets = embedder.token_offsets(text)
    assert len(offsets) == len(hugging_face_tokenizer.tokenize(text))
    assert "".join(text[start:end] for start, end in offsets) == text.replace(" ", "")
    assert offsets[0][0] == 0 and offsets[-1][1] == len(text)


def test_resolve_model_path_of_an_existing_folder_returns_it(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert resolve_model_path(str(folder)) == str(folder.resolve())


@pytest.mark.parametrize("name", sorted(PACKAGED_MINILM_NAMES))
def test_resolve_model_path_of_the_packaged_model_is_a_local_folder(name):
    folder = Path(resolve_model_path(name))
    assert folder.is_dir()
    assert (folder / "config.json").is_file()


def test_resolve_model_path_keeps_a_hub_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_model_path("some-org/some-model") == "some-org/some-model"


def test_missing_model_raises_model_not_available(tmp_path):
    with pytest.raises(ModelNotAvailable, match="INGEST_EMBED_MODEL"):
        Embedder(str(tmp_path / "no-such-model"))


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2",
                                  "/opt/models/My Model (v2)!", "C:\\models\\e5", "../../etc/passwd", "é" * 80])
def test_embedding_model_key_is_safe_for_file_and_collection_names(name):
    from ingest.index.qdrant import TenantIndex

    key = embedding_model_key(name)
    assert re.fullmatch(r"[a-z0-9-]{1,41}", key), key
    assert TenantIndex(None, "acme").physical_collection(key, "a") == f"tenant_acme__{key}__a"


def test_embedding_model_key_tells_apart_models_with_the_same_folder_name():
    assert embedding_model_key("/a/model") != embedding_model_key("/b/model")
    assert embedding_model_key("all-MiniLM-L6-v2") != embedding_model_key("sentence-transformers/all-MiniLM-L6-v2")
    # pinned: the key names the tenants' collections and embedding caches written by earlier releases
    assert embedding_model_key("all-MiniLM-L6-v2") == "all-minilm-l6-v2-07db4e1f"


# --- backends: OpenVINO (the default where installed) and torch give the same vectors -------------

MIXED_TEXTS = [
    "Refunds take five days.",
    "x",
    "Zürich, Café crème, naïve façade: Unicode survives the tokenizer.",
    "A long passage that runs past the model's 256-token window. " * 40,  # truncated alike
    "Which forklift failed the brake test?",
]


@pytest.fixture(scope="session")
def torch_embedder():
    return Embedder("all-MiniLM-L6-v2", backend="torch")


def test_the_default_backend_is_openvino_where_it_is_installed(embedder):
    pytest.importorskip("openvino")
    assert embedder.backend == "openvino"


def test_openvino_and_torch_vectors_agree(embedder, torch_embedder):
    openvino_vectors = embedder.encode(MIXED_TEXTS)
    torch_vectors = torch_embedder.encode(MIXED_TEXTS)
    assert openvino_vectors.shape == torch_vectors.shape == (len(MIXED_TEXTS), 384)
    assert openvino_vectors.dtype == np.float32
    assert np.abs(openvino_vectors - torch_vectors).max() < 1e-5
    assert np.allclose(np.linalg.norm(openvino_vectors, axis=1), 1.0, atol=1e-5)


def test_openvino_vectors_do_not_depend_on_batching(embedder):
    together = embedder.encode(MIXED_TEXTS)
    one_by_one = np.vstack([embedder.encode([text]) for text in MIXED_TEXTS])
    assert np.abs(together - one_by_one).max() < 1e-5


def _sample_corpus_search(embedder: Embedder, texts_by_source: dict[str, list[str]]):
    sources = [source for source, texts in texts_by_source.items() for _ in texts]
    vectors = embedder.encode([text for texts in texts_by_source.values() for text in texts])

    def search(queries: list[str]) -> list[list[str]]:
        scores = embedder.encode(queries) @ vectors.T
        rankings = []
        for row in scores:
            ranked = [sources[i] for i in np.argsort(-row, kind="stable")]
            rankings.append(list(dict.fromkeys(ranked)))
        return rankings

    return search


def golden_evaluations(first: Embedder, second: Embedder):
    """(tenant, evaluation by `first`, evaluation by `second`) on each sample tenant's golden set, searching
    the tenant's parsed elements by exact cosine."""
    from ingest.parsing.parse import SUPPORTED_TYPES, parse_document
    from ingest.parsing.sources import scan_source
    from ingest.quality.golden import evaluate, load_golden_set

    corpus = Path(__file__).resolve().parents[3] / "ingest" / "sample_corpus"
    for tenant in ("acme", "globex"):
        texts_by_source = {}
        for document in scan_source(tenant, corpus / tenant):
            if document.file_type in SUPPORTED_TYPES:
                texts_by_source[document.source] = [e.text for e in parse_document(document).elements]
        golden = load_golden_set(corpus / "golden" / f"{tenant}.jsonl")
        yield (tenant, evaluate(golden, _sample_corpus_search(first, texts_by_source)),
               evaluate(golden, _sample_corpus_search(second, texts_by_source)))


def test_retrieval_on_the_golden_sets_is_the_same_with_either_backend(embedder, torch_embedder):
    """Backends may only be swapped when retrieval quality stays within 0.5%: here it is identical."""
    for tenant, by_openvino, by_torch in golden_evaluations(embedder, torch_embedder):
        assert [r.retrieved[:5] for r in by_openvino.results] == [r.retrieved[:5] for r in by_torch.results]
        for metric in ("recall_at_k", "mrr", "ndcg_at_10"):
            assert abs(getattr(by_openvino, metric) - getattr(by_torch, metric)) <= 0.005, (tenant, metric)
        assert by_openvino.recall_at_k >= 0.8  # and the comparison is between two working searches


def test_a_second_load_reuses_the_converted_model(embedder, converted_models_dir, caplog):
    pytest.importorskip("openvino")
    # Other tests convert other models into the same session folder: look at this model's own.
    folder = converted_models_dir / embedding_model_key("all-MiniLM-L6-v2")
    def fp32_models() -> list:  # the int8 model, when a test made it, sits beside it
        return [path for path in folder.rglob("model.xml") if not path.parent.name.endswith("-int8")]

    [converted] = fp32_models()
    modified = converted.stat().st_mtime_ns
    with caplog.at_level("INFO", logger="ingest.embedding.embed"):
        again = Embedder("all-MiniLM-L6-v2", cache_dir=converted_models_dir)
    assert again.backend == "openvino"
    assert "converting" not in caplog.text
    assert fp32_models() == [converted]
    assert converted.stat().st_mtime_ns == modified


def test_the_conversion_cache_follows_the_model_files(tmp_path):
    from ingest.embedding.embed import _folder_fingerprint

    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "weights.bin").write_bytes(b"\0" * 10)
    before = _folder_fingerprint(tmp_path)
    assert _folder_fingerprint(tmp_path) == before
    (tmp_path / "weights.bin").write_bytes(b"\0" * 11)  # retrained or replaced model
    assert _folder_fingerprint(tmp_path) != before


def test_a_failed_conversion_leaves_nothing_half_written_and_auto_falls_back_to_torch(tmp_path, monkeypatch, caplog):
    openvino = pytest.importorskip("openvino")

    def broken_save(model, path, **options):
        from pathlib import Path as _Path

        _Path(path).write_text("<half", encoding="utf-8")  # a partial file, then the disk fills
        raise OSError("No space left on device")

    monkeypatch.setattr(openvino, "save_model", broken_save)
    with caplog.at_level("WARNING", logger="ingest.embedding.embed"):
        fallback = Embedder("all-MiniLM-L6-v2", cache_dir=tmp_path)
    assert fallback.backend == "torch"
    assert "stays on torch" in caplog.text and "No space left" in caplog.text
    assert not list(tmp_path.rglob("model.xml")), "a partial conversion was left behind"
    assert np.abs(fallback.encode(["Refunds take five days."])[0]
                  - Embedder("all-MiniLM-L6-v2", backend="torch").encode(["Refunds take five days."])[0]).max() < 1e-6
    with pytest.raises(OSError, match="No space left"):
        Embedder("all-MiniLM-L6-v2", cache_dir=tmp_path, backend="openvino")


def test_backend_settings_are_checked():
    with pytest.raises(ValueError, match="unknown embedding backend 'onnx'"):
        Embedder("all-MiniLM-L6-v2", backend="onnx")
    with pytest.raises(ValueError, match="needs a local model folder and a cache_dir"):
        Embedder("all-MiniLM-L6-v2", backend="openvino")
    assert Embedder("all-MiniLM-L6-v2", backend="torch").backend == "torch"
    assert Embedder("all-MiniLM-L6-v2").backend == "torch"  # no cache folder: nothing to convert into


@pytest.mark.parametrize(("variable", "default", "other", "wrong"), [
    ("INGEST_EMBED_BACKEND", "auto", "torch", "gpu"), ("INGEST_EMBED_PRECISION", "fp32", "int8", "fp16")])
def test_the_embedding_settings_are_validated(monkeypatch, variable, default, other, wrong):
    from ingest.core import config
    from ingest.core.errors import ConfigError

    read = {"INGEST_EMBED_BACKEND": config.embed_backend, "INGEST_EMBED_PRECISION": config.embed_precision}[variable]
    monkeypatch.delenv(variable, raising=False)
    assert read() == default
    monkeypatch.setenv(variable, other)
    assert read() == other
    monkeypatch.setenv(variable, wrong)
    with pytest.raises(ConfigError, match=f"{variable}='{wrong}'"):
        read()


_LOAD_CONVERTED = """
import json, sys
from pathlib import Path
from ingest.embedding.embed import Embedder
embedder = Embedder("all-MiniLM-L6-v2", cache_dir=Path(sys.argv[1]))
heavy = sorted(name for name in ("torch", "transformers", "sentence_transformers") if name in sys.modules)
texts = json.loads(sys.argv[2])
print(json.dumps({"heavy": heavy, "backend": embedder.backend, "dimension": embedder.dimension,
                  "max_tokens": embedder.max_tokens, "vectors": embedder.encode(texts).tolist(),
                  "offsets": [embedder.token_offsets(text) for text in texts]}))
"""


def test_a_converted_model_loads_without_pytorch_and_gives_the_same_vectors(embedder, converted_models_dir):
    """After its first conversion the model loads from the converted files and tokenizer.json alone: a
    one-document run does not pay for importing PyTorch and sentence-transformers."""
    import json
    import subprocess
    import sys

    pytest.importorskip("openvino")
    assert embedder.backend == "openvino"  # converted, and its tokenization verified and kept
    repo = Path(__file__).resolve().parents[3]
    loaded = subprocess.run([sys.executable, "-c", _LOAD_CONVERTED, str(converted_models_dir),
                             json.dumps(MIXED_TEXTS)], capture_output=True, text=True, cwd=repo, check=True)
    result = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [] and result["backend"] == "openvino"
    assert (result["dimension"], result["max_tokens"]) == (embedder.dimension, embedder.max_tokens)
    assert np.abs(np.array(result["vectors"], dtype=np.float32) - embedder.encode(MIXED_TEXTS)).max() < 1e-6
    assert [[tuple(pair) for pair in offsets] for offsets in result["offsets"]] == [
        embedder.token_offsets(text) for text in MIXED_TEXTS]


def _converted_copy(embedder, converted_models_dir: Path, folder: Path, *, with_tokenization: bool) -> Path:
    """The session's converted model copied into `folder` (no conversion to wait for); its model.xml."""
    import shutil

    from ingest.embedding import tokens

    assert embedder.backend == "openvino"
    key = embedding_model_key("all-MiniLM-L6-v2")
    [source] = [path.parent for path in (converted_models_dir / key).rglob("model.xml")
                if not path.parent.name.endswith("-int8")]
    target = folder / key / source.name
    shutil.copytree(source, target)
    if not with_tokenization:
        (target / tokens.TOKENIZATION_FILE).unlink(missing_ok=True)
    return target / "model.xml"


def test_a_tokenization_that_differs_keeps_the_model_on_sentence_transformers(embedder, converted_models_dir,
                                                                              tmp_path, monkeypatch, caplog):
    """The settings are kept only when every token id agrees; otherwise each load goes through
    sentence-transformers, slower but the same vectors."""
    pytest.importorskip("openvino")
    from ingest.embedding import tokens

    _converted_copy(embedder, converted_models_dir, tmp_path, with_tokenization=False)

    original = tokens.ModelTokenizer.features

    def off_by_one(self, texts):
        features = original(self, texts)
        features["input_ids"] = features["input_ids"] + 1
        return features

    monkeypatch.setattr(tokens.ModelTokenizer, "features", off_by_one)
    with caplog.at_level("INFO", logger="ingest.embedding.embed"):
        first = Embedder("all-MiniLM-L6-v2", cache_dir=tmp_path)
    assert first.backend == "openvino" and first._model is not None
    assert "input_ids differ" in caplog.text
    assert list(tmp_path.rglob("model.xml")) and not list(tmp_path.rglob(tokens.TOKENIZATION_FILE))
    monkeypatch.undo()
    second = Embedder("all-MiniLM-L6-v2", cache_dir=tmp_path)  # verified now, and kept
    assert second._model is not None and list(tmp_path.rglob(tokens.TOKENIZATION_FILE))
    third = Embedder("all-MiniLM-L6-v2", cache_dir=tmp_path)
    assert third._model is None
    assert np.abs(third.encode(MIXED_TEXTS) - first.encode(MIXED_TEXTS)).max() < 1e-6


def test_a_damaged_converted_model_is_loaded_again_through_sentence_transformers(embedder, converted_models_dir,
                                                                                 tmp_path, caplog):
    pytest.importorskip("openvino")
    from ingest.embedding import tokens

    model_xml = _converted_copy(embedder, converted_models_dir, tmp_path, with_tokenization=True)
    assert (model_xml.parent / tokens.TOKENIZATION_FILE).is_file()
    assert Embedder("all-MiniLM-L6-v2", cache_dir=tmp_path)._model is None  # loads from the copy alone
    model_xml.write_text("<net", encoding="utf-8")  # a disk error, a partial copy
    with caplog.at_level("WARNING", logger="ingest.embedding.embed"):
        with pytest.raises(Exception):  # noqa: B017  (the loaded model's own compile of the same file fails)
            Embedder("all-MiniLM-L6-v2", cache_dir=tmp_path, backend="openvino")
    assert "did not load" in caplog.text
