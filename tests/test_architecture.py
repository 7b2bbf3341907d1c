"""The architecture, checked over the import graph read from the source (docs/ARCHITECTURE.md draws it).

How the graph is computed: every module under ``src/mfrec`` is a node (a package's
``__init__`` is a node of its own, named by the package). Every ``import`` and
``from ... import`` in a file is an edge, wherever it is written: at module level or
inside a function (a lazy import is still a dependency, it only runs later). ``from
mfrec.a import b`` points at the module ``mfrec.a.b`` when that is a module, else at
``mfrec.a``; relative imports are resolved first. The one exclusion is an import under
``if TYPE_CHECKING:``: it never runs, so it creates no runtime dependency (mfrec has none
that cross a layer; the ranking layer types models with a Protocol instead).

Rules:

* every module belongs to exactly one layer of :data:`LAYERS` (a new package must be placed);
* no edge points to a higher layer (layer order below, lowest first);
* no cycle anywhere in the graph, within a package included (Tarjan's strongly
  connected components over all ``mfrec`` modules);
* the top level holds only the package face, ``exceptions.py`` and the foundation modules;
* no source file exceeds 400 lines;
* evaluation, the CLI and the reports use the models' public API only (no ``._private`` names).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mfrec"

#: Lowest first: a module may import from its own layer and the layers before it, never after.
#: The package face ``mfrec/__init__.py`` only holds ``__version__`` and imports nothing, so it is
#: foundation; the command entry point ``python -m mfrec`` is the top.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("mfrec", "mfrec.exceptions", "mfrec._validation", "mfrec._threads")),
    ("kernels", ("mfrec.kernels",)),
    ("data", ("mfrec.data",)),
    ("ranking", ("mfrec.ranking",)),
    ("models", ("mfrec.models",)),
    ("evaluation", ("mfrec.evaluation",)),
    ("reports", ("mfrec.reports",)),
    ("service, spark", ("mfrec.service", "mfrec.spark")),
    ("cli", ("mfrec.cli",)),
    ("entry point", ("mfrec.__main__",)),
)
#: Top-level files: the package face, the exceptions and at most two foundation modules.
TOP_LEVEL = {"__init__.py", "__main__.py", "exceptions.py", "_validation.py", "_threads.py"}
MAX_LINES = 400


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import in the tree, at any depth, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(root: Path = SRC) -> dict[str, dict[str, int]]:
    """{module: {imported mfrec module: first line}} for every module under ``root``."""
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, dict[str, int]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: dict[str, int] = {}
        for node in _import_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names]
            for target in targets:
                while target and target not in paths:  # `import mfrec.a.b` of a name inside a module
                    target = target.rpartition(".")[0]
                if target:
                    edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of ``module`` (ValueError when no layer or several claim it)."""
    hits = [
        i
        for i, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or (prefix != "mfrec" and module.startswith(prefix + "."))
    ]
    if len(hits) != 1:
        raise ValueError(f"{module} belongs to {len(hits)} layers; place it in exactly one of LAYERS")
    return hits[0]


def upward_edges(graph: dict[str, dict[str, int]]) -> list[str]:
    return [
        f"{source}:{line} imports {target} ({LAYERS[layer_of(source)][0]} -> {LAYERS[layer_of(target)][0]})"
        for source, edges in sorted(graph.items())
        for target, line in sorted(edges.items())
        if layer_of(target) > layer_of(source)
    ]


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, {}):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


GRAPH = import_graph()


def test_every_module_is_in_one_layer():
    unplaced = []
    for module in GRAPH:
        try:
            layer_of(module)
        except ValueError as error:
            unplaced.append(str(error))
    assert not unplaced, unplaced


def test_no_import_points_to_a_higher_layer():
    bad = upward_edges(GRAPH)
    assert not bad, "imports from a lower layer to a higher one:\n" + "\n".join(bad)


def test_no_import_cycles():
    found = cycles(GRAPH)
    assert not found, f"import cycles: {found}"


def test_the_checks_see_lazy_imports_cycles_and_upward_edges(tmp_path):
    """The checker itself: a lazy upward import and a two-module cycle are found; TYPE_CHECKING is not an edge."""
    root = tmp_path / "mfrec"
    (root / "models").mkdir(parents=True)
    (root / "cli").mkdir()
    for folder in (root, root / "models", root / "cli"):
        (folder / "__init__.py").write_text("")
    (root / "models" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mfrec.cli import x\n"
        "def f():\n    from . import b\n"
    )
    (root / "models" / "b.py").write_text("from mfrec.models.a import f\ndef g():\n    import mfrec.cli.x\n")
    (root / "cli" / "x.py").write_text("")
    graph = import_graph(root)
    assert graph["mfrec.models.a"] == {"mfrec.models.b": 5}
    assert cycles(graph) == [["mfrec.models.a", "mfrec.models.b"]]
    assert upward_edges(graph) == ["mfrec.models.b:3 imports mfrec.cli.x (models -> cli)"]


def test_top_level_holds_only_the_face_exceptions_and_foundation():
    files = {p.name for p in SRC.glob("*.py")}
    assert files <= TOP_LEVEL, f"{sorted(files - TOP_LEVEL)} belong in a package (docs/ARCHITECTURE.md)"


def test_no_source_file_is_too_long():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"


CALLERS = sorted([*(SRC / "evaluation").glob("*.py"), *(SRC / "cli").glob("*.py"), *(SRC / "reports").glob("*.py")])


@pytest.mark.parametrize("path", CALLERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_evaluation_cli_and_reports_use_only_public_model_api(path):
    tree = ast.parse(path.read_text())
    private = sorted(
        {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
        }
    )
    assert not private, f"{path.name} reaches into private attributes {private}; use mfrec.ranking or public methods"
