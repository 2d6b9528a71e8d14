"""No import circles in the product, and no imports of our own modules inside functions (docs/architecture.md).

The graph has one node per module of the product packages (`test_layering.PACKAGES`) and an edge for every
import statement, top-level or inside a function: `import a.b` and `from a import b` lead to the module `a.b`
when it is one, `from a.b import name` to `a.b` (its `__init__` for a package). A lazy import of a heavy
third-party package (torch, diffusers, PIL ...) inside a function is fine; one of ours there is not, since it
only ever hides a circle or an upward import. The one exception is Django's: `AppConfig.ready()` in `apps.py`
is where an app imports its models, signals and the modules that need them, because `apps.py` itself is
imported before the app registry is ready (Django's documentation of `AppConfig.ready`).
"""

import ast
import sys
from pathlib import Path

import pytest

from tests.system.test_layering import PACKAGES

ROOT = Path(__file__).resolve().parents[2]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules(root: Path) -> dict[str, Path]:
    """Module name -> file, for every module of the product packages under `root`."""
    return {module_name(root, path): path for package in PACKAGES if (root / package).is_dir()
            for path in sorted((root / package).rglob("*.py"))}


def _imports(tree: ast.AST, name: str, is_package: bool):
    """(node, enclosing function names, [candidate module names]) of each import statement, relative ones
    resolved."""
    package = name if is_package else name.rpartition(".")[0]

    def visit(node, functions):
        for child in ast.iter_child_nodes(node):
            inner = functions
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = (*functions, child.name)
            elif isinstance(child, ast.Lambda):
                inner = (*functions, "<lambda>")
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield child, functions, [alias.name]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - child.level + 1] + ([child.module] if child.module else []))
                else:
                    base = child.module
                for alias in child.names:  # `from a import b`: the module a.b if it is one, else a
                    yield child, functions, [f"{base}.{alias.name}", base]
            else:
                yield from visit(child, inner)

    yield from visit(tree, ())


def django_app_ready(name: str, functions: tuple) -> bool:
    """An import in `AppConfig.ready()` of an app's `apps.py` (see the module docstring)."""
    return name.endswith(".apps") and functions == ("ready",)


def import_graph(root: Path) -> tuple[dict[str, dict[str, int]], list[str]]:
    """({module: {imported product module: line}}, ["file:line imports x inside a function", ...])."""
    modules = product_modules(root)
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    local_imports = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        for node, functions, candidates in _imports(tree, name, path.name == "__init__.py"):
            target = next((c for c in candidates if c in modules), None)
            if target is None:
                continue
            where = f"{path.relative_to(root)}:{node.lineno} imports {target} inside a function"
            if functions and not django_app_ready(name, functions) and where not in local_imports:
                local_imports.append(where)
            if target != name:
                graph[name].setdefault(target, node.lineno)
    return graph, local_imports


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (a list of modules, the first repeated at the end) per strongly connected component that has
    one, found with Tarjan's algorithm and a shortest path back to its first module."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for node in sorted(graph):
            if node not in index:
                connect(node)
    finally:
        sys.setrecursionlimit(limit)
    return [_cycle_through(graph, min(component), component) for component in components]


def _cycle_through(graph, start, component) -> list[str]:
    """A shortest path start -> ... -> start inside `component` (breadth first)."""
    previous, frontier = {}, [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node]):
                if target not in component or target in previous:
                    continue
                previous[target] = node
                if target == start:
                    path = [start]
                    while path[-1] != start or len(path) == 1:
                        path.append(previous[path[-1]])
                    return path[::-1]
                following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def describe(graph, cycle: list[str]) -> str:
    steps = [f"{source} (line {graph[source][target]})" for source, target in zip(cycle, cycle[1:])]
    return " -> ".join(steps + [cycle[-1]])


def test_the_product_has_no_import_cycles():
    graph, _ = import_graph(ROOT)
    cycles = find_cycles(graph)
    assert not cycles, "Import cycles:\n" + "\n".join(describe(graph, cycle) for cycle in cycles)


def test_no_module_imports_one_of_ours_inside_a_function():
    _, local_imports = import_graph(ROOT)
    assert not local_imports, "Function-level imports of our own modules:\n" + "\n".join(local_imports)


# --- the checks themselves -----------------------------------------------------------------------------------

def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_hidden_in_a_function_is_reported_with_its_lines(tmp_path):
    write(tmp_path, {
        "engine/__init__.py": "",
        "engine/hires.py": "from . import img2img\n",
        "engine/img2img.py": "import math\n\n\ndef check():\n    from .png import format_number\n",
        "engine/png.py": "from .img2img import parameter_fields\n",
        "engine/loader.py": "from .png import encode_png\n",
    })
    graph, local_imports = import_graph(tmp_path)
    cycles = find_cycles(graph)
    assert [describe(graph, cycle) for cycle in cycles] == [
        "engine.img2img (line 5) -> engine.png (line 1) -> engine.img2img"]
    assert local_imports == ["engine/img2img.py:5 imports engine.png inside a function"]


def test_a_cycle_through_a_package_init_is_found(tmp_path):
    write(tmp_path, {
        "core/__init__.py": "from .a import thing\n",
        "core/a.py": "from core.b import other\n",
        "core/b.py": "from core import thing\n",
    })
    graph, _ = import_graph(tmp_path)
    assert find_cycles(graph) == [["core", "core.a", "core.b", "core"]]


def test_only_an_app_configs_ready_may_import_ours_inside_a_function(tmp_path):
    write(tmp_path, {
        "images_app/__init__.py": "",
        "images_app/models.py": "",
        "images_app/apps.py": "class Config:\n    def ready(self):\n        from . import models\n\n"
                              "    def other(self):\n        from . import models\n",
        "images_app/views.py": "def ready():\n    from images_app import models\n",
    })
    _, local_imports = import_graph(tmp_path)
    assert local_imports == ["images_app/apps.py:6 imports images_app.models inside a function",
                             "images_app/views.py:2 imports images_app.models inside a function"]


@pytest.mark.parametrize("statement", ["import torch", "from PIL import Image", "import json"])
def test_a_lazy_third_party_import_is_fine(tmp_path, statement):
    write(tmp_path, {"engine/__init__.py": "", "engine/x.py": f"def f():\n    {statement}\n"})
    graph, local_imports = import_graph(tmp_path)
    assert not find_cycles(graph) and not local_imports
