"""A tenant's source folder is a root: links that lead out of it are skipped and reported, never
read; file names with spaces, non-ASCII letters or line breaks are ingested like any other."""

from __future__ import annotations

import json

import pytest

from benchmarks.corpus import Section, write_markdown, write_text
from tests.e2e.test_cli import ingest, last_json

pytestmark = pytest.mark.e2e

ODD_NAMES = ("with space.md", "café crème.md", "line\nbreak.md", "日本語.txt")
SECRET = "the vault combination is left-right-left"


@pytest.fixture(scope="module")
def bounded(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("bounds")
    source, outside, home = base / "source", base / "outside", base / "home"
    write_text(outside / "secret.txt", [Section("Secret", (SECRET,))])
    write_markdown(outside / "folder" / "also-secret.md", [Section("Secret", (SECRET,))])
    for position, name in enumerate(ODD_NAMES):
        writer = write_text if name.endswith(".txt") else write_markdown
        writer(source / name, [Section(f"Topic {position}", (f"Odd name number {position} is ingested.",))])
    write_markdown(source / "inside.md", [Section("Inside", ("A file inside the folder.",))])
    (source / "link-out.txt").symlink_to(outside / "secret.txt")
    (source / "folder-out").symlink_to(outside / "folder", target_is_directory=True)
    (source / "absolute-etc").symlink_to("/etc/hostname")
    (source / "link-in.md").symlink_to(source / "inside.md")  # stays inside: read like a file
    run = ingest(home, "run", "--tenant", "bounds", "--source", str(source), "--json")
    status = json.loads(ingest(home, "status", "--tenant", "bounds", "--json").stdout)
    export = [json.loads(line) for line in ingest(home, "export", "--tenant", "bounds", "--jsonl").stdout.splitlines()
              if line.strip()]
    return {"run": run, "summary": last_json(run), "status": status, "export": export, "home": home}


def test_links_leading_outside_are_skipped_and_reported(bounded):
    assert bounded["summary"]["docs"]["skipped"] == 3
    log = bounded["run"].stderr
    for name in ("link-out.txt", "folder-out", "absolute-etc"):
        assert f"skipped {name}: " in log, name


def test_nothing_outside_the_folder_was_read(bounded):
    sources = {document["source"] for document in bounded["status"]["documents"]}
    assert not {"link-out.txt", "folder-out/also-secret.md", "absolute-etc"} & sources
    assert all(SECRET not in point["text"] for point in bounded["export"])
    for path in bounded["home"].rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_odd_file_names_are_ingested_with_their_exact_names(bounded):
    sources = {document["source"]: document for document in bounded["status"]["documents"]}
    assert set(ODD_NAMES) | {"inside.md", "link-in.md"} == set(sources)
    assert all(document["status"] == "indexed" for document in sources.values())
    texts = {point["source"]: point["text"] for point in bounded["export"]}
    for position, name in enumerate(ODD_NAMES):
        assert f"Odd name number {position} is ingested." in texts[name]
