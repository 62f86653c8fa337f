"""berg's modules form one-way layers: every import (at the top of a module or inside a
function) points to a lower layer, or stays inside its own package, and no import cycle
exists. The layers, lowest first, are those of docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

import berg

# Lowest first. An entry is a module or a package (its submodules included); a module may
# import from lower layers, and from its own entry (a package's modules among themselves).
LAYERS = [
    ["berg.errors"],
    [
        "berg.version",
        "berg.files",
        "berg.media_writer",
        "berg.packages",
        "berg.devices",
        "berg.progress",
        "berg.timing",
        "berg.validation",
        "berg.holder",
    ],
    # the caches' one store, the Hub and a result's rows on disk, on the file helpers
    ["berg.store", "berg.hub", "berg.response_rows"],
    ["berg.registry", "berg.cortex"],
    ["berg.result_formats", "berg.metadata_files"],  # one format's bytes; a BERG metadata file
    ["berg.metadata", "berg.io"],
    ["berg.contribution_files"],  # results of their own, through io
    ["berg.stimulus"],
    ["berg.features"],
    ["berg.tribe"],
    ["berg.options", "berg.downloads"],
    ["berg.pipeline"],
    ["berg.batch"],
    ["berg.api"],
    ["berg"],  # the package's face: BERG and the errors
    ["berg.plotting", "berg.doctor", "berg.selftest"],
    ["berg.viewer"],  # the browser page, on berg.plotting's mesh and colour maps
    ["berg.experiments"],  # encodes through a model, draws with berg.plotting
    ["berg.cli"],
    ["berg.__main__"],
]

ROOT = Path(berg.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """The berg modules ``name`` imports (a ``from package import module`` counts as the
    module; anything else as the module it is taken from)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "berg")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "berg":
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                found.add(full if full in MODULES else source)
    found.discard(name)
    return found


def entry_of(name: str) -> tuple[int, str]:
    """(layer, entry) of a module: the longest entry that is it or a package above it."""
    best = None
    for rank, entries in enumerate(LAYERS):
        for entry in entries:
            # "berg" stands for the package's __init__ only, not for all of berg.
            inside = name == entry or (entry != "berg" and name.startswith(entry + "."))
            if inside:
                if best is None or len(entry) > len(best[1]):
                    best = (rank, entry)
    assert best is not None, f"{name} is in no layer: add it to LAYERS (and the docs)"
    return best


GRAPH = {name: imports_of(name) for name in MODULES}


def test_every_module_has_a_layer():
    for name in MODULES:
        entry_of(name)


def test_imports_point_down():
    wrong = []
    for name, targets in GRAPH.items():
        rank, entry = entry_of(name)
        for target in targets:
            target_rank, target_entry = entry_of(target)
            if target_rank > rank or (target_rank == rank and target_entry != entry):
                wrong.append(f"{name} ({entry}) imports {target} ({target_entry})")
    assert not wrong, "imports against the layer order:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles():
    # Tarjan's strongly connected components; any component of two or more is a cycle.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_the_layer_check_sees_a_wrong_import(tmp_path):
    # The check itself: an upward import and a cycle are found in a made-up graph.
    global GRAPH
    saved = GRAPH
    try:
        GRAPH = dict(
            saved,
            **{
                "berg.stimulus.timeline": saved["berg.stimulus.timeline"]
                | {"berg.features.pipeline"},
                "berg.features.pipeline": saved["berg.features.pipeline"]
                | {"berg.stimulus.timeline"},
            },
        )
        try:
            test_imports_point_down()
        except AssertionError as error:
            assert "berg.stimulus.timeline (berg.stimulus) imports berg.features.pipeline" in str(
                error
            )
        else:
            raise AssertionError("an upward import went unnoticed")
        try:
            test_no_import_cycles()
        except AssertionError as error:
            assert "berg.features.pipeline" in str(error)
        else:
            raise AssertionError("a cycle went unnoticed")
    finally:
        GRAPH = saved


def test_citations_of_the_contract_resolve():
    # Code and tests cite "docs/inference.md, section N": each N is a section of that page,
    # and no citation points to a document that is not in the repository.
    import re

    repo = ROOT.parent
    headings = set(re.findall(r"^## (\d+)\. ", (repo / "docs" / "inference.md").read_text(), re.M))
    cited, stale = set(), []
    for path in [
        *ROOT.rglob("*.py"),
        *(repo / "tests").glob("*.py"),
        *(repo / "benchmarks").glob("*.py"),
    ]:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"docs/inference\.md, sections? (\d+)(?: and (\d+))?", text):
            cited.update(n for n in match.groups() if n)
        if (
            re.search(r"reference doc, section|tribe_v2_inference", text)
            and path.name != "test_architecture.py"
        ):
            stale.append(path.name)
    assert cited and cited <= headings, sorted(cited - headings)
    assert not stale, stale


def test_links_between_the_docs_and_the_code_resolve():
    # The README and docs/ link to modules by relative path; a module that moves or becomes a
    # package must take its links along.
    import re

    repo = ROOT.parent
    broken = []
    for page in [repo / "README.md", *(repo / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.name}: {target}")
    assert not broken, broken
