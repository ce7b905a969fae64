"""The layout holds: no import cycle (imports inside functions included), the domain never imports
Dagster or the Dagster glue, assets/ holds definitions only, and no source file passes 800 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ingest", "assets", "resources", "launcher", "benchmarks")
MAX_LINES = 800


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imported_names(path: Path, module: str) -> set[str]:
    """Every module named by an import anywhere in the file: top level, inside functions, under TYPE_CHECKING."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            names.add(origin)
            names.update(f"{origin}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (a module importing `a.b.c` also runs `a` and `a.b`)."""
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges = set()
        for name in imported_names(path, module):
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                candidate = ".".join(parts[:end])
                if candidate in modules and candidate != module and not module.startswith(candidate + "."):
                    edges.add(candidate)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_stage_packages_of_the_domain_import_each_other_in_one_direction_only() -> None:
    packages: dict[str, set[str]] = {}
    for module, edges in import_graph().items():
        if module.startswith("ingest."):
            source = module.split(".")[1]
            targets = {edge.split(".")[1] for edge in edges if edge.startswith("ingest.") and edge.count(".")}
            packages.setdefault(source, set()).update(targets - {source})
    assert cycles({package: edges & set(packages) for package, edges in packages.items()}) == []


@pytest.mark.parametrize("module", sorted(m for m in project_modules() if m == "ingest" or m.startswith("ingest.")))
def test_the_domain_never_imports_dagster_or_its_glue(module: str) -> None:
    names = imported_names(project_modules()[module], module)
    forbidden = {name for name in names
                 if name.split(".")[0] in {"dagster", "dagster_webserver", "dagster_postgres", "assets", "resources",
                                           "launcher", "benchmarks"}}
    assert forbidden == set()


def test_definitions_and_resources_never_import_the_launcher() -> None:
    graph = import_graph()
    reaching = {module: sorted(edge for edge in edges if edge.startswith("launcher"))
                for module, edges in graph.items() if module.split(".")[0] in ("assets", "resources")}
    assert {module: edges for module, edges in reaching.items() if edges} == {}


def test_no_source_file_is_longer_than_800_lines() -> None:
    long = {str(path.relative_to(ROOT)): lines for path in project_modules().values()
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
