"""The model host serves a run's parsing, redaction and embedding as the run would do them itself, only
to a run of the same code and model that holds its key, and goes away when stopped or idle."""

from __future__ import annotations

import dataclasses
import logging
from multiprocessing.connection import AuthenticationError, Client
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from benchmarks.corpus import Section, write_markdown, write_text
from ingest.host.protocol import HostClient, HostedEmbedder, HostIdentity, connect, host_address, key_path
from ingest.host.server import configured_identity, stop_host
from ingest.parsing.limits import ParseLimits
from ingest.parsing.parse import ParseSettings
from ingest.parsing.sources import scan_source
from ingest.parsing.stage import parse_and_redact_documents
from ingest.pii.policy import RedactionPolicy
from ingest.pii.redact import Redactor, residue_scan
from tests.unit.host.running import host_log, start_host, wait_for_exit

EMAIL = "jane.roe@example.com"


@pytest.fixture(scope="module")
def host(tmp_path_factory, embedder):  # `embedder`: the session's model is converted before the host loads it
    home = tmp_path_factory.mktemp("host-home")
    process = start_host(home, idle_minutes=10)
    yield home
    assert stop_host(home)
    assert wait_for_exit(process, 60) == 0
    assert not key_path(home).exists()


@pytest.fixture
def documents(tmp_path):
    folder = tmp_path / "source"
    write_markdown(folder / "notes.md", [Section("Returns", (f"Jane Roe wrote to {EMAIL} about the returns policy.",
                                                             "Refunds are issued within five business days."))])
    write_text(folder / "plain.txt", [Section("Shipping", ("We ship worldwide with tracked couriers.",))])
    return scan_source("acme", folder)


def test_the_host_parses_and_redacts_a_batch_as_the_run_would_and_sends_back_no_unredacted_text(host, documents):
    client = HostClient(connect(host, configured_identity(host)))
    progress, conversions = [], []
    try:
        hosted = client.parse_and_redact(documents, lambda position, parsed: progress.append(parsed), None,
                                         conversions.append, settings=ParseSettings(), limits=ParseLimits(),
                                         policy=RedactionPolicy(), workers=2)
    finally:
        client.close()
    here = parse_and_redact_documents(documents, ParseSettings(), ParseLimits(), lambda: Redactor(RedactionPolicy()))

    timing = pl.col("parse_seconds")
    assert hosted.parsed.drop(timing).equals(here.parsed.drop(timing))
    assert hosted.redacted.equals(here.redacted)
    assert hosted.characters == here.characters
    assert not hosted.redacted.filter(pl.col("text").str.contains(EMAIL, literal=True)).height
    assert hosted.redacted["text"].str.contains("<EMAIL_ADDRESS>", literal=True).any()
    # progress lines get each document's counts, never its text
    assert sorted(parsed.doc_id for parsed in progress) == sorted(d.doc_id for d in documents)
    assert all(element.text == "" for parsed in progress for element in parsed.elements)
    assert sum(len(parsed.elements) for parsed in progress) == here.parsed["elements"].sum()


def test_the_host_detects_a_files_type_as_the_run_would(host, documents):
    client = HostClient(connect(host, configured_identity(host)))
    try:
        detected = [client.file_type(Path(document.path)) for document in documents]
    finally:
        client.close()

    assert detected == [(document.file_type, document.mime_type) for document in documents]
    assert {kind for kind, _ in detected} == {"md", "txt"}


def test_the_host_scans_for_residue_as_the_run_would(host):
    texts = [f"write to {EMAIL}", "<PERSON> called from 10.0.0.1", "nothing left here"]
    client = HostClient(connect(host, configured_identity(host)))
    try:
        found = client.residue_scan(texts, RedactionPolicy())
    finally:
        client.close()

    assert found == residue_scan(texts, RedactionPolicy())
    assert found[0] == {"EMAIL_ADDRESS": 1} and found[2] == {}


def test_the_hosts_embedder_gives_the_vectors_and_token_offsets_of_the_model_loaded_here(host, embedder):
    hosted = HostedEmbedder(HostClient(connect(host, configured_identity(host))), load_here=lambda: embedder)
    texts = ["Refunds are issued within five business days.", "We ship worldwide."]

    assert (hosted.dimension, hosted.max_tokens, hosted.model_name) == \
        (embedder.dimension, embedder.max_tokens, embedder.model_name)
    np.testing.assert_allclose(hosted.encode(texts), embedder.encode(texts), atol=1e-6)
    assert hosted.token_offsets(texts[0]) == embedder.token_offsets(texts[0])


def test_a_host_that_goes_away_leaves_the_run_to_load_the_model_itself(host, embedder, caplog):
    client = HostClient(connect(host, configured_identity(host)))
    hosted = HostedEmbedder(client, load_here=lambda: embedder)
    client.close()  # as if the host had exited

    with caplog.at_level(logging.WARNING):
        vectors = hosted.encode(["We ship worldwide."])

    np.testing.assert_allclose(vectors, embedder.encode(["We ship worldwide."]), atol=1e-6)
    assert "loading the embedding model here" in caplog.text


@pytest.mark.parametrize("change", [{"code": "0" * 16}, {"precision": "int8"}])
def test_a_host_of_other_code_or_another_model_is_not_used(host, change, caplog):
    ours = configured_identity(host)
    other = (dataclasses.replace(ours, **change) if "code" in change
             else dataclasses.replace(ours, embedder=dataclasses.replace(ours.embedder, **change)))

    with caplog.at_level(logging.WARNING):
        assert connect(host, other) is None

    assert "runs other code or embedding settings" in caplog.text
    assert isinstance(other, HostIdentity) and other != ours


def test_a_client_without_the_key_is_refused_and_the_host_serves_on(host):
    with pytest.raises(AuthenticationError):
        Client(host_address(host), family="AF_UNIX", authkey=b"not the key")

    connection = connect(host, configured_identity(host))
    assert connection is not None
    connection.close()
    assert key_path(host).stat().st_mode & 0o077 == 0  # the key is the owner's alone


def test_without_a_host_nothing_connects_and_stop_says_so(tmp_path):
    assert connect(tmp_path, configured_identity(tmp_path)) is None
    assert stop_host(tmp_path) is False


def test_an_idle_host_exits_on_its_own_and_removes_its_key(tmp_path, embedder):
    process = start_host(tmp_path, idle_minutes=0.02)  # 1.2 s

    assert wait_for_exit(process, 60) == 0
    assert not key_path(tmp_path).exists()
    assert "no request for" in host_log(tmp_path).read_text(encoding="utf-8")
