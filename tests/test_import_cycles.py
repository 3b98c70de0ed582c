"""No import cycles between the modules of sklearn_mdtree and featurizers.

Every module is read with :mod:`ast` (nothing is imported); every import statement
counts, the lazy ones inside functions included, relative imports resolved:

- ``import a.b`` is an edge to the module ``a.b``;
- ``from a import x`` is an edge to the submodule ``a.x`` when there is one (so a
  package's ``__init__`` that re-exports from its submodules, ``from . import x``,
  is an edge to ``x``, not to itself), else to ``a`` itself;
- the implicit import of a module's parent packages is not an edge (a package's
  ``__init__`` runs before its submodules by construction).

A cycle is a strongly connected set of two or more modules (or a module importing
itself); the test names each, as a path through the modules.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sklearn_mdtree", "featurizers")


def _modules():
    """``{dotted name: path}`` of every module of the packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_package(path):
    return path.name == "__init__.py"


def _imports(name, path, modules):
    """The internal modules ``name`` imports, anywhere in its body."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if _is_package(path) else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    targets.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in modules:
                    targets.add(sub)
                elif source in modules:
                    targets.add(source)
    return targets


def import_graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph):
    """The strongly connected components with a cycle (Tarjan), each as a path."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
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
            if len(component) > 1 or v in graph[v]:
                # a shortest cycle through each member: every loop of the knot is named
                members = set(component)
                found.extend(dict.fromkeys(
                    _canonical(_path(graph, members, m)) for m in sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _canonical(cycle):
    """The cycle ``a -> b -> a`` started at its smallest module (to drop repeats)."""
    nodes = cycle.split(" -> ")[:-1]
    i = nodes.index(min(nodes))
    nodes = nodes[i:] + nodes[:i]
    return " -> ".join([*nodes, nodes[0]])


def _path(graph, members, start):
    """A shortest cycle through ``start`` within ``members``, as ``a -> b -> a``."""
    previous, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                path = [v]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return " -> ".join([*reversed(path), start])
            if w not in previous:
                previous[w] = v
                queue.append(w)
    return start


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    # a lazy import inside a function, relative: the featurize command's torch side
    assert "featurizers._models" in graph["sklearn_mdtree._cli.featurize"] or (
        "featurizers" in graph["sklearn_mdtree._cli.featurize"])
    # ``from . import x`` in a package's __init__ is an edge to the submodule
    assert "sklearn_mdtree._cli.diagnose" in graph["sklearn_mdtree._cli._parser"]
    assert "sklearn_mdtree._cli" not in graph["sklearn_mdtree._cli._parser"]


def test_cycle_finder_names_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert sorted(_cycles(graph)) == ["a -> b -> c -> a", "e -> e"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    cycles = [c for c in _cycles(import_graph()) if c.startswith(package)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
