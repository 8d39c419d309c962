"""The import structure of `biocap/`: no import loops, no import up the layers.

Every `import` / `from ... import` of a biocap module counts, wherever it stands (module level or
inside a function: a lazy import is still a dependency), except those under
`if TYPE_CHECKING:`, which never run. The graph is read from the source (ast), so a module that
fails to import still shows its edges.

Layers, lowest first; a module may import its own layer and the layers below it:

  0  biocap.types, biocap.errors, biocap.imaging      value types, the error hierarchy, pixels
  1  biocap.plugins                                    contracts, hooks, USB transport, drivers
  2  biocap.templates                                  extraction per modality, record codecs
  3  biocap.quality                                    quality per modality (may reuse the
                                                       extractor's stages: iris segmentation,
                                                       the fingerprint trace)
  4  biocap.matching                                   comparators, galleries, fusion
  5  biocap.synthetic                                  generators with ground truth
  6  biocap.evaluation                                 datasets, metrics, bench runners
  7  biocap.sdk, biocap.builtin_plugin,                the facade: devices + providers; the
     biocap.enrollment, biocap.store                   built-in plugin may name any algorithm
  8  biocap.station
  9  biocap.office
  10 biocap.centre
  11 biocap.cli
  12 biocap (the package's __init__)                   the public face, re-exports only

Inside a layer, modules import each other freely as long as there is no loop. Templates sit
below quality (not above, as the first sketch of the architecture had it) because quality
measures reuse extraction stages, never the other way round. A new top-level module must be
given a layer here.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "biocap"

LAYERS: list[tuple[str, ...]] = [
    ("biocap.types", "biocap.errors", "biocap.imaging"),
    ("biocap.plugins",),
    ("biocap.templates",),
    ("biocap.quality",),
    ("biocap.matching",),
    ("biocap.synthetic",),
    ("biocap.evaluation",),
    ("biocap.sdk", "biocap.builtin_plugin", "biocap.enrollment", "biocap.store"),
    ("biocap.station",),
    ("biocap.office",),
    ("biocap.centre",),
    ("biocap.cli",),
    ("biocap",),
]


def layer_of(module: str) -> int:
    """The layer of a module: the longest prefix named in LAYERS."""
    best, rank = -1, None
    for k, names in enumerate(LAYERS):
        for name in names:
            inside = module == name or (name != "biocap" and module.startswith(name + "."))
            if inside and len(name) > best:
                best, rank = len(name), k
    if rank is None:
        raise AssertionError(f"{module} has no layer: add it to LAYERS in tests/test_layers.py")
    return rank


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


def _runtime_nodes(tree: ast.AST):
    """Every node except what sits under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the biocap modules it imports (a `from pkg import name` of a submodule counts
    as importing that submodule; of anything else, as importing the package)."""
    modules = _modules(root)
    top = root.name
    graph: dict[str, set[str]] = {}
    for name, (path, is_pkg) in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        package = name if is_pkg else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.split(".")[0] == top)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != top:
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if sub in modules else target)
        graph[name] = {d for d in deps if d != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop as [a, b, ..., a], or None. A package's own __init__ importing its
    submodules is not a loop with them (their `from . import x` resolves to the submodule)."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {m: WHITE for m in graph}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        colour[m] = GREY
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if d not in colour:
                continue
            if colour[d] == GREY:
                return stack[stack.index(d):] + [d]
            if colour[d] == WHITE:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        colour[m] = BLACK
        return None

    for m in sorted(graph):
        if colour[m] == WHITE:
            found = visit(m)
            if found:
                return found
    return None


def _package_edges_removed(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop the edges from a module to the packages that contain it: importing `a.b.c` runs
    `a/__init__` and `a/b/__init__` first, and a package's __init__ re-exporting its submodules
    is how a package presents its public face, not a loop."""
    out = {}
    for m, deps in graph.items():
        out[m] = {d for d in deps if not m.startswith(d + ".")}
    return out


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for m, deps in sorted(graph.items()):
        for d in sorted(deps):
            if layer_of(d) > layer_of(m):
                problems.append(f"{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})")
    return problems


def test_every_module_has_a_layer():
    for module in import_graph():
        layer_of(module)


def test_no_import_loops():
    cycle = find_cycle(_package_edges_removed(import_graph()))
    assert cycle is None, "import loop: " + " -> ".join(cycle)


def test_no_import_up_the_layers():
    problems = upward_imports(import_graph())
    assert not problems, "imports up the layers:\n" + "\n".join(problems)


# --- the checks themselves fail on a planted loop and a planted upward import -----------------
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "biocap"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_planted_loop_is_found(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "",
        "matching/__init__.py": "",
        "matching/a.py": "from . import b\n",
        "matching/b.py": "def f():\n    from .c import x  # lazy still counts\n",
        "matching/c.py": "from biocap.matching.a import y\n",
        "matching/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import z\n",
    })
    graph = import_graph(root)
    assert find_cycle(_package_edges_removed(graph)) == ["biocap.matching.a", "biocap.matching.b",
                                                          "biocap.matching.c", "biocap.matching.a"]
    assert graph["biocap.matching.d"] == set()  # TYPE_CHECKING imports never run


def test_a_planted_upward_import_is_found(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "",
        "quality/__init__.py": "",
        "quality/q.py": "from ..matching.m import score\n",
        "matching/__init__.py": "",
        "matching/m.py": "from ..quality.q import assess\n",
    })
    problems = upward_imports(import_graph(root))
    assert problems == ["biocap.quality.q (layer 3) imports biocap.matching.m (layer 4)"]


def test_an_unknown_top_level_module_must_be_placed():
    with pytest.raises(AssertionError, match="no layer"):
        layer_of("biocap.somewhere_new")
