"""Hostile and broken documents through the whole pipeline: one `ingest run` over a folder of them
succeeds, each ends indexed or quarantined under the right category, and the good ones are searchable.
(The same inputs are checked one by one in tests/unit/parsing/test_hostile_inputs.py; the 20 MB
one-line text is smaller here, to keep embedding it short.) The tenant's status is read in this
process, as `ingest status --json` prints it."""

from __future__ import annotations

import json

import pytest

from ingest.cli.app import tenant_status
from tests.e2e.commands import FOREIGN, ingest, last_json
from tests.unit.parsing import hostile
from tests.unit.parsing.test_hostile_inputs import ACCENTED, HOSTILE

pytestmark = pytest.mark.e2e

LINE_MB = 1


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
    run = ingest(home, "run", "--tenant", "hostile", "--source", str(source), "--json", check=False)
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("INGEST_HOME", str(home))
        for name in FOREIGN:
            environment.delenv(name, raising=False)
        status = tenant_status("hostile")
    return {"run": run, "status": status, "expected": expected, "home": home}


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
