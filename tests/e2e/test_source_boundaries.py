"""A tenant's source folder is a root: links that lead out of it are skipped and reported, never
read; file names with spaces, non-ASCII letters or line breaks are ingested like any other. One
`ingest run`; its manifest and index are read in this process afterwards."""

from __future__ import annotations

import pytest

from benchmarks.corpus import Section, write_markdown, write_text
from ingest.core.manifest import read_manifest
from ingest.core.storage import TenantPaths
from tests.e2e.commands import ingest, last_json, served_points

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
    manifest = read_manifest(TenantPaths.for_tenant(home, "bounds").manifest)
    return {"run": run, "summary": last_json(run), "documents": {row["source"]: row for row in manifest.to_dicts()},
            "points": list(served_points(home, "bounds").values()), "home": home}


def test_links_leading_outside_are_skipped_and_reported(bounded):
    assert bounded["summary"]["docs"]["skipped"] == 3
    log = bounded["run"].stderr
    for name in ("link-out.txt", "folder-out", "absolute-etc"):
        assert f"skipped {name}: " in log, name


def test_nothing_outside_the_folder_was_read(bounded):
    assert not {"link-out.txt", "folder-out/also-secret.md", "absolute-etc"} & set(bounded["documents"])
    assert all(SECRET not in point["text"] for point in bounded["points"])
    for path in bounded["home"].rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_odd_file_names_are_ingested_with_their_exact_names(bounded):
    documents = bounded["documents"]
    assert set(ODD_NAMES) | {"inside.md", "link-in.md"} == set(documents)
    assert all(document["status"] == "indexed" for document in documents.values())
    texts = {point["source"]: point["text"] for point in bounded["points"]}
    for position, name in enumerate(ODD_NAMES):
        assert f"Odd name number {position} is ingested." in texts[name]
