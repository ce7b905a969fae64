"""Helpers shared by the unit tests (the session-wide model fixtures live in tests/conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.parsing.sources import scan_source

WORD = re.compile(r"\w+|[^\w\s]")


def word_offsets(text: str) -> list[tuple[int, int]]:
    """A tiny stand-in tokenizer: one token per word or punctuation mark."""
    return [match.span() for match in WORD.finditer(text)]


@pytest.fixture
def scan_one():
    """The SourceDocument of one file, as scan_source sees it inside its folder."""

    def scan(path: Path, tenant: str = "acme"):
        documents = {Path(d.path).name: d for d in scan_source(tenant, path.parent)}
        return documents[path.name]

    return scan


# --- a tiny tenant driven through the stage functions ---------------------------------

MODEL = "all-MiniLM-L6-v2"
POLICY = "policy-1"
CHUNKER = "chunker-1"

# One phrase per document that appears nowhere else: erasure and lineage tests look for them.
PHRASES = {
    "policy.md": "unused item within 45 days",
    "shipping.txt": "tracked couriers to every continent",
    "hours.html": "warehouse opens at seven",
}


def _write_documents(source: Path) -> None:
    from benchmarks.corpus import Section, write_html, write_markdown, write_text

    write_markdown(source / "policy.md", [
        Section("Returns policy", (
            "Customers may return any unused item within 45 days of delivery for a refund.",
            "Questions about returns go to John Smith at 212-555-0199 on weekdays.",
        )),
        Section("Refunds", ("Refunds reach the original card within five business days.",)),
    ])
    write_text(source / "shipping.txt", [
        Section("Shipping", ("Parcels travel with tracked couriers to every continent.",)),
    ])
    write_html(source / "hours.html", [
        Section("Opening hours", ("The warehouse opens at seven and closes at noon on Saturdays.",)),
    ])


class TinyTenant:
    """A tenant with three small documents (markdown, text, HTML) and its state under tmp_path.

    `run` drives every stage function in order, with the real redactor, a real
    chunker (regex tokenizer) and the real embedding model, each behind a
    factory that counts how often it was built (or fails the test, with
    forbid=True).
    """

    def __init__(self, root: Path, redactor, embedder, name: str = "acme", *, write: bool = True) -> None:
        from ingest.core.storage import TenantPaths
        from ingest.index.qdrant import QdrantSettings

        self.name = name
        self.source = root / "source"
        self.home = root / "home"
        self.paths = TenantPaths.for_tenant(self.home, name)
        self.qdrant = QdrantSettings(path=self.home / "qdrant")
        self._redactor = redactor
        self._embedder = embedder
        self.built: dict[str, int] = {}
        if write:
            self.source.mkdir(parents=True, exist_ok=True)
            _write_documents(self.source)

    def copy_to(self, root: Path) -> "TinyTenant":
        """The same tenant, files and state (modification times included), in another folder."""
        import shutil

        shutil.copytree(self.source, root / "source")
        shutil.copytree(self.home, root / "home")
        return TinyTenant(root, self._redactor, self._embedder, self.name, write=False)

    # factories ---------------------------------------------------------------------
    def _factory(self, kind: str, make, forbid: bool):
        def build():
            if forbid:
                raise AssertionError(f"the {kind} was built although the stage had no work for it")
            self.built[kind] = self.built.get(kind, 0) + 1
            return make()

        return build

    def chunker(self):
        from ingest.chunking.chunk import Chunker, ChunkSettings

        return Chunker(word_offsets, ChunkSettings(max_tokens=24, overlap_tokens=4), model_limit=512)

    @staticmethod
    def versions(policy: str = POLICY, chunker: str = CHUNKER, model: str = MODEL) -> dict[str, str]:
        from ingest.parsing.parse import ParseSettings

        return {"parser_version": ParseSettings().version, "redaction_policy": policy,
                "chunker_version": chunker, "embedding_model": model}

    # stages ------------------------------------------------------------------------
    def source_stage(self, *, allow_mass_delete: bool = False, max_delete_fraction: float = 0.5) -> dict:
        from ingest.parsing.stage import source_stage

        return source_stage(self.name, self.source, self.paths, max_delete_fraction=max_delete_fraction,
                            allow_mass_delete=allow_mass_delete).metadata

    def index_stage(self, run_id: str, *, model: str = MODEL, policy: str = POLICY,
                    chunker: str = CHUNKER) -> dict:
        from ingest.index.stage import index_stage

        return index_stage(self.name, self.paths, self.qdrant, model_name=model, run_id=run_id,
                           now=f"at-{run_id}", versions=self.versions(policy, chunker, model)).metadata

    def publish_stage(self, run_id: str, *, model: str = MODEL, policy: str = POLICY,
                      chunker: str = CHUNKER) -> dict:
        from ingest.index.stage import publish_stage

        return publish_stage(self.name, self.paths, self.qdrant, run_id=run_id, now=f"at-{run_id}",
                             versions=self.versions(policy, chunker, model)).metadata

    def rollback(self, when: str = "at-rollback") -> dict:
        from ingest.index.stage import rollback

        return rollback(self.name, self.paths, self.qdrant, now=when)

    def run(self, run_id: str = "run-1", *, policy: str = POLICY, chunker: str = CHUNKER, model: str = MODEL,
            embedder=None, forbid: bool = False, allow_mass_delete: bool = False, index: bool = True,
            publish: bool = True, load_beside=None) -> dict:
        """Every stage in order (index and publish unless told otherwise); each one's metadata by name."""
        from ingest.chunking.stage import chunk_stage, enrich_stage
        from ingest.embedding.stage import embed_stage
        from ingest.parsing.parse import ParseSettings
        from ingest.parsing.stage import parse_and_redact_stage

        embedder = embedder or self._embedder
        result = {"source": self.source_stage(allow_mass_delete=allow_mass_delete)}
        result["parse"], result["redact"] = (stage.metadata for stage in parse_and_redact_stage(
            self.paths, ParseSettings(), policy, self._factory("redactor", lambda: self._redactor, forbid),
            load_beside=load_beside))
        result["chunk"] = chunk_stage(self.paths, chunker, self._factory("chunker", self.chunker, forbid)).metadata
        result["enrich"] = enrich_stage(self.name, self.paths).metadata
        result["embed"] = embed_stage(self.paths, model, self._factory("embedder", lambda: embedder,
                                                                       forbid)).metadata
        if index:
            result["index"] = self.index_stage(run_id, model=model, policy=policy, chunker=chunker)
            if publish:
                result["publish"] = self.publish_stage(run_id, model=model, policy=policy, chunker=chunker)
        return result

    # state -------------------------------------------------------------------------
    def doc_id(self, source: str) -> str:
        from ingest.core.ids import make_doc_id

        return make_doc_id(self.name, source)

    def enriched(self):
        import polars as pl

        return pl.read_parquet(self.paths.enriched_chunks)

    def manifest(self):
        from ingest.core.manifest import read_manifest

        return read_manifest(self.paths.manifest)

    def manifest_row(self, source: str) -> dict:
        import polars as pl

        return self.manifest().filter(pl.col("source") == source).row(0, named=True)

    def points(self, collection: str | None = None) -> dict[str, dict]:
        """point id -> payload of the collection the alias serves (or of `collection`)."""
        from ingest.index.qdrant import TenantIndex, open_qdrant

        with open_qdrant(self.qdrant, self.name) as client:
            hits = list(TenantIndex(client, self.name).scroll(collection))
        ids = [hit.point_id for hit in hits]
        assert len(ids) == len(set(ids))
        return {hit.point_id: hit.payload for hit in hits}

    def desired_point_ids(self) -> set[str]:
        return set(self.enriched()["point_id"].to_list())

    def store(self) -> tuple[str | None, list[str], int]:
        """(collection the alias serves, every collection in the store, points the alias serves)."""
        from ingest.index.qdrant import TenantIndex, open_qdrant

        with open_qdrant(self.qdrant, self.name) as client:
            index = TenantIndex(client, self.name)
            names = sorted(client.collections())
            return index.serving_collection(), names, index.count()


@pytest.fixture
def tenant(tmp_path, redactor, embedder) -> TinyTenant:
    """The tiny tenant before its first run."""
    return TinyTenant(tmp_path, redactor, embedder)


@pytest.fixture(scope="session")
def indexed_template(tmp_path_factory, redactor, embedder) -> TinyTenant:
    tenant = TinyTenant(tmp_path_factory.mktemp("indexed-template"), redactor, embedder)
    tenant.run("run-1")
    return tenant


@pytest.fixture
def indexed(tmp_path, indexed_template) -> TinyTenant:
    """The tiny tenant after run-1 (staged and published), copied from a template built once per session."""
    return indexed_template.copy_to(tmp_path)
