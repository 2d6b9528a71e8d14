"""The dependency rule of docs/architecture.md, checked on every import statement of the project.

Packages form layers; a module may import its own package and the layers below it, never one above:

    sdhost (composition root) -> a1111_app -> tasks_app -> models_app -> images_app -> system_app -> core (library)

`engine` (the render engine, a library package beside `core`) imports nothing of Django and nothing of ours
outside itself; the apps may import it, `core` may not.
Imports inside functions count as much as those at the top of a module.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["core", "system_app", "images_app", "models_app", "tasks_app", "a1111_app", "ui_app",
          "sdhost"]  # bottom first
ENGINE = "engine"
PACKAGES = [ENGINE, *LAYERS]  # the product


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path):
    """(line, absolute module name) for every import statement in the file, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            yield node.lineno, target
            for alias in node.names:  # `from pkg import module` imports pkg.module
                yield node.lineno, f"{target}.{alias.name}"


def project_files():
    for layer in PACKAGES:
        yield from sorted((ROOT / layer).rglob("*.py"))


def violations(files):
    """Every import statement that breaks the rule, as readable lines (one per statement)."""
    found = {}
    for path in files:
        source = module_name(path)
        for line, target in imported_modules(path):
            top = target.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if source.split(".")[0] == ENGINE:
                if top == "django" or top in LAYERS:
                    found.setdefault((path, line), f"{where}: the render engine imports nothing of Django or of the project")
                continue
            source_layer = LAYERS.index(source.split(".")[0])
            if top == ENGINE and source_layer == 0:
                found.setdefault((path, line), f"{where}: core is a library and imports no engine")
                continue
            if top in LAYERS and LAYERS.index(top) > source_layer:
                allowed = ", ".join(LAYERS[:source_layer]) or "no other package"
                found.setdefault((path, line), f"{where}: {LAYERS[source_layer]} may import only {allowed}")
    return sorted(found.values())


def test_every_import_points_down_the_layers():
    problems = violations(project_files())
    assert not problems, "Upward or engine-breaking imports:\n" + "\n".join(problems)


@pytest.mark.parametrize("source, statement, layer", [
    ("core/x.py", "from system_app.models import Tag", "core"),
    ("system_app/x.py", "def f():\n    from images_app.models import Image", "system_app"),
    ("images_app/x.py", "import tasks_app.queue", "images_app"),
    ("models_app/x.py", "from tasks_app import worker", "models_app"),
    ("tasks_app/x.py", "from sdhost.api import views", "tasks_app"),
])
def test_an_upward_import_is_reported(tmp_path, monkeypatch, source, statement, layer):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    path = tmp_path / source
    path.parent.mkdir(parents=True)
    path.write_text(statement + "\n")
    assert [p for p in violations([path]) if f"{layer} may import only" in p]


def test_an_engine_import_of_django_or_the_project_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    path = tmp_path / "engine" / "x.py"
    path.parent.mkdir(parents=True)
    path.write_text("from django.conf import settings\nfrom . import loader\nfrom tasks_app.models import Task\n")
    problems = violations([path])
    assert len(problems) == 2 and all("render engine" in p for p in problems)
