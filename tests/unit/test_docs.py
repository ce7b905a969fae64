"""The documentation matches the tree: the README's layout names every package and top-level folder, the
README stays a front page, every relative link resolves, and the open-alerts file is named as the code
names it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ingest.alerts.notify import alert_state_path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 300
# What a folder must hold to count as code or docs.
CODE_OR_DOCS = {".py", ".md", ".sh", ".toml"}
# Never part of the tree, whatever git says (a checkout without git falls back to the file system).
NOT_SOURCE = {".venv", ".ingest", "build", "__pycache__", ".pytest_cache"}
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.MULTILINE | re.DOTALL)


def layout_block(text: str) -> str:
    """The first fenced code block under the `## Layout` heading."""
    match = re.search(r"^## Layout[ \t]*\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, "README.md has no `## Layout` section"
    block = re.search(r"^```[^\n]*\n(.*?)^```", match.group(1), re.MULTILINE | re.DOTALL)
    assert block, "the `## Layout` section has no fenced code block"
    return block.group(1)


def layout_tree(block: str) -> dict[str, set[str]]:
    """Top-level entries of the layout block (lines starting in column 0 with `name/`) mapped to the
    entries indented under them (`  name/`)."""
    tree: dict[str, set[str]] = {}
    current: str | None = None
    for line in block.splitlines():
        entry = re.match(r"^(\s*)([\w.-]+)/", line)
        if not entry:
            continue
        indent, name = entry.groups()
        if not indent:
            current = name
            tree.setdefault(name, set())
        elif current is not None and len(indent) <= 4:
            tree[current].add(name)
    return tree


def source_files() -> list[Path]:
    """Files tracked by git, plus new ones it does not ignore; every file when git is not available."""
    try:
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                                capture_output=True, check=True, timeout=60).stdout.decode()
        return [Path(name) for name in listed.split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        return [path.relative_to(ROOT) for path in ROOT.rglob("*")
                if path.is_file() and not NOT_SOURCE.intersection(path.relative_to(ROOT).parts)]


def top_level_source_folders() -> set[str]:
    folders = set()
    for path in source_files():
        top = path.parts[0]
        if (len(path.parts) > 1 and not top.startswith(".") and top not in NOT_SOURCE
                and not top.endswith(".egg-info") and path.suffix in CODE_OR_DOCS):
            folders.add(top)
    return folders


def ingest_subpackages() -> set[str]:
    return {path.parent.name for path in (ROOT / "ingest").glob("*/__init__.py")}


def test_the_tree_parser_reads_names_and_nesting() -> None:
    block = "a/   text\n  b/ more\n      continued c/ not an entry\n  d/\ne/\n"
    assert layout_tree(block) == {"a": {"b", "d"}, "e": set()}


def test_the_layout_names_every_subpackage_of_ingest_under_ingest() -> None:
    tree = layout_tree(layout_block(README.read_text(encoding="utf-8")))
    packages = ingest_subpackages()
    assert {"core", "parsing", "pii", "chunking", "embedding", "index", "quality", "alerts", "cli"} <= packages
    assert "ingest" in tree
    assert packages - tree["ingest"] == set()


def test_the_layout_names_every_top_level_folder_of_code_or_docs() -> None:
    tree = layout_tree(layout_block(README.read_text(encoding="utf-8")))
    folders = top_level_source_folders()
    assert {"ingest", "assets", "resources", "launcher", "benchmarks", "docs", "scripts", "shims", "tests"} <= folders
    assert folders - set(tree) == set()


def test_the_layout_names_every_tier_of_the_tests() -> None:
    tree = layout_tree(layout_block(README.read_text(encoding="utf-8")))
    tiers = {path.parent.name for path in (ROOT / "tests").glob("*/__init__.py")}
    assert {"unit", "assets", "e2e", "benchmarks"} <= tiers
    assert tiers - tree.get("tests", set()) == set()


def test_the_readme_is_a_front_page() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_the_readme_keeps_the_command_ci_runs() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ".ci/run calls `make test`" in README.read_text(encoding="utf-8")


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md")), ROOT / "benchmarks" / "README.md"]


def relative_links(text: str) -> list[str]:
    """Link targets outside fenced code blocks and inline code that are neither URLs nor in-page anchors."""
    prose = re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))
    return [target for target in LINK.findall(prose)
            if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) and not target.startswith("#")]


def test_the_link_finder_skips_urls_anchors_and_code() -> None:
    text = ("[a](docs/A.md) [b](https://example.org) [c](#here) `[d](D.md)`\n```\n[e](E.md)\n```\n"
            "![f](img/f.png \"title\") [g](RUNBOOK.md#roll-back)")
    assert relative_links(text) == ["docs/A.md", "img/f.png", "RUNBOOK.md#roll-back"]


@pytest.mark.parametrize("document", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_that_exists(document: Path) -> None:
    assert document.is_file(), f"{document.relative_to(ROOT)} is missing"
    broken = [target for target in relative_links(document.read_text(encoding="utf-8"))
              if not (document.parent / target.split("#", 1)[0]).exists()]
    assert broken == []


def test_the_open_alerts_file_is_named_as_the_code_names_it() -> None:
    relative = alert_state_path(Path("HOME")).relative_to("HOME").as_posix()
    named = f"$INGEST_HOME/{relative}"
    for document in (DOCS / "RUNBOOK.md", DOCS / "OPERATIONS.md"):
        assert named in document.read_text(encoding="utf-8"), f"{document.name} does not name {named}"
