"""Hostile and broken documents, and a folder's edges, through the whole pipeline: one `ingest run` over
a folder of them succeeds, each ends indexed or quarantined under the right category, and the good ones
are searchable. (The same inputs are checked one by one in tests/unit/parsing/test_hostile_inputs.py;
the 20 MB one-line text is smaller here, to keep embedding it short.)

The tenant's source folder is a root: links that lead out of it are skipped and reported, never read;
file names with spaces, non-ASCII letters or line breaks are ingested like any other. The tenant's
status, manifest and index are read in this process afterwards."""

from __future__ import annotations

import json

import pytest

from benchmarks.corpus import Section, write_markdown, write_text
from ingest.cli.app import tenant_status
from ingest.core.manifest import read_manifest
from ingest.core.storage import TenantPaths
from tests.e2e.commands import FOREIGN, ingest, last_json, served_points
from tests.unit.parsing import hostile
from tests.unit.parsing.test_hostile_inputs import ACCENTED, HOSTILE

pytestmark = pytest.mark.e2e

LINE_MB = 1
ODD_NAMES = ("with space.md", "café crème.md", "line\nbreak.md", "日本語.txt")
SECRET = "the vault combination is left-right-left"
LINKS_OUT = ("link-out.txt", "folder-out", "absolute-etc")


def write_folder_edges(source, outside) -> list[str]:
    """Odd file names, a file inside and a link to it, and links leading outside; the names ingested."""
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
    return [*ODD_NAMES, "inside.md", "link-in.md"]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("hostile-run")
    source, home = base / "source", base / "home"
    source.mkdir()
    expected = {}
    for name, (write, category, _) in HOSTILE.items():
        if name == "20mb_one_line.txt":
            name = f"{LINE_MB}mb_one_line.txt"
            hostile.write_one_line_text(source / name, megabytes=LINE_MB)
        else:
            write(source / name)
        expected[name] = category
    expected.update(dict.fromkeys(write_folder_edges(source, base / "outside")))
    run = ingest(home, "run", "--tenant", "hostile", "--source", str(source), "--json", check=False)
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("INGEST_HOME", str(home))
        for name in FOREIGN:
            environment.delenv(name, raising=False)
        status = tenant_status("hostile")
    manifest = read_manifest(TenantPaths.for_tenant(home, "hostile").manifest)
    return {"run": run, "status": status, "expected": expected, "home": home,
            "documents": {row["source"]: row for row in manifest.to_dicts()},
            "points": list(served_points(home, "hostile").values())}


def test_the_run_succeeds_despite_every_hostile_input(hostile_run):
    run = hostile_run["run"]
    assert run.returncode == 0, run.stderr[-3000:]
    summary = last_json(run)
    quarantined = sum(1 for category in hostile_run["expected"].values() if category)
    assert summary["docs"]["seen"] == len(hostile_run["expected"]) and summary["docs"]["quarantined"] == quarantined


def test_each_input_ends_indexed_or_quarantined_with_the_right_category(hostile_run):
    documents = {document["source"]: document for document in hostile_run["status"]["documents"]}
    outcomes = {name: document["category"] for name, document in documents.items()}
    assert outcomes == hostile_run["expected"]
    expected_counts = {}
    for category in filter(None, hostile_run["expected"].values()):
        expected_counts[category] = expected_counts.get(category, 0) + 1
    assert hostile_run["status"]["quarantined_by_category"] == expected_counts
    assert all(documents[name]["status"] == "indexed" for name, category in hostile_run["expected"].items()
               if category is None)


def test_decoded_text_is_searchable(hostile_run):
    home = hostile_run["home"]
    [answer] = [json.loads(line) for line in
                ingest(home, "query", "--tenant", "hostile", "--json", "crème brûlée in Zürich").stdout.splitlines()]
    assert answer["hits"][0]["source"] in {"latin1.txt", "utf16.txt", "utf8_bom.txt"}
    assert "Zürich" in answer["hits"][0]["text"] and "crème" in ACCENTED


def test_links_leading_outside_are_skipped_and_reported(hostile_run):
    assert last_json(hostile_run["run"])["docs"]["skipped"] == len(LINKS_OUT)
    log = hostile_run["run"].stderr
    for name in LINKS_OUT:
        assert f"skipped {name}: " in log, name


def test_nothing_outside_the_folder_was_read(hostile_run):
    assert not {"link-out.txt", "folder-out/also-secret.md", "absolute-etc"} & set(hostile_run["documents"])
    assert all(SECRET not in point["text"] for point in hostile_run["points"])
    for path in hostile_run["home"].rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_odd_file_names_are_ingested_with_their_exact_names(hostile_run):
    documents = hostile_run["documents"]
    edges = set(ODD_NAMES) | {"inside.md", "link-in.md"}
    assert edges <= set(documents)
    assert all(documents[name]["status"] == "indexed" for name in edges)
    texts = {point["source"]: point["text"] for point in hostile_run["points"]}
    for position, name in enumerate(ODD_NAMES):
        assert f"Odd name number {position} is ingested." in texts[name]
