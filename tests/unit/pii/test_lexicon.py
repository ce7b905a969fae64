"""The name lexicon is built once per installation and kept beside the converted models."""

import json

import pytest

from ingest.pii.recognizers import lexicon as lexicon_module
from ingest.pii.recognizers.lexicon import lexicon_key, name_lexicon


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INGEST_MODELS_DIR", str(tmp_path))
    name_lexicon.cache_clear()
    yield tmp_path
    name_lexicon.cache_clear()  # the next test reads the session's own file again


def test_the_lexicon_is_built_once_kept_as_json_and_read_back_equal(models_dir, monkeypatch):
    built = name_lexicon()
    [stored] = models_dir.glob("name-lexicon-*.json")
    assert stored.name == f"name-lexicon-{lexicon_key()}.json"
    assert len(built.first_names) > 10_000 and "kowalczyk" in built.last_names and "tomasz" in built.first_names

    def no_building():
        raise AssertionError("built again although the stored lexicon was there")

    monkeypatch.setattr(lexicon_module, "_built_name_lexicon", no_building)
    name_lexicon.cache_clear()
    assert name_lexicon() == built  # every field, read from the file


def test_a_damaged_lexicon_file_is_built_again_and_replaced(models_dir):
    path = models_dir / f"name-lexicon-{lexicon_key()}.json"
    path.write_text('{"first_names": ["only"', encoding="utf-8")  # cut short by a crash

    lexicon = name_lexicon()

    assert "only" not in lexicon.first_names and len(lexicon.first_names) > 10_000
    assert set(json.loads(path.read_text(encoding="utf-8"))["first_names"]) == lexicon.first_names


def test_an_unwritable_models_folder_leaves_the_lexicon_built_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("INGEST_MODELS_DIR", str(blocker / "models"))  # a file where the folder should be
    name_lexicon.cache_clear()
    try:
        assert len(name_lexicon().last_names) > 10_000
    finally:
        name_lexicon.cache_clear()
