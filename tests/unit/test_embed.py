import re
from pathlib import Path

import numpy as np
import pytest

from ingest.embed import (
    PACKAGED_MINILM_NAMES,
    Embedder,
    ModelNotAvailable,
    embedding_model_key,
    resolve_model_path,
)


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


def test_token_offsets_cover_the_text_without_special_tokens(embedder):
    text = "Refunds are issued quickly."
    offsets = embedder.token_offsets(text)
    assert len(offsets) == len(embedder._model.tokenizer.tokenize(text))
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
    from ingest.index import TenantIndex

    key = embedding_model_key(name)
    assert re.fullmatch(r"[a-z0-9-]{1,41}", key), key
    assert key == embedding_model_key(name)
    assert TenantIndex(None, "acme").physical_collection(key, "a") == f"tenant_acme__{key}__a"


def test_embedding_model_key_tells_apart_models_with_the_same_folder_name():
    assert embedding_model_key("/a/model") != embedding_model_key("/b/model")
    assert embedding_model_key("all-MiniLM-L6-v2") != embedding_model_key("sentence-transformers/all-MiniLM-L6-v2")
    assert embedding_model_key("all-MiniLM-L6-v2").startswith("all-minilm-l6-v2-")
