"""The package's shape: every module on the map, none too long, no import cycles, light imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import dlbook

PACKAGE = Path(dlbook.__file__).parent
MAX_LINES = 400


def modules() -> dict[str, Path]:
    """Every module of dlbook by dotted name below the package (``vision.cnn``), packages' ``__init__`` left out."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] in ("__init__", "__main__"):
            continue
        found[".".join(parts)] = path
    return found


def test_the_package_map_lists_every_module():
    doc = dlbook.__doc__
    missing = []
    for name in modules():
        package, _, leaf = name.rpartition(".")
        # a module of a domain folder is listed in its folder's line ("``vision`` ... ``cnn``"),
        # a site module by its dotted name, a top-level module by its name
        if f"``{name}``" in doc:
            continue
        if package and f"``{package}``" in doc and f"``{leaf}``" in doc:
            continue
        missing.append(name)
    assert not missing, f"dlbook/__init__.py's map lacks {missing}"


def test_every_domain_folder_documents_its_modules():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        for module in sorted(init.parent.glob("*.py")):
            if module.name != "__init__.py":
                assert f"``{module.stem}``" in doc, f"{init} does not describe {module.stem}"


def test_the_readme_layout_names_every_module():
    """README's Layout tree: each top-level module by name, each folder's modules on the folder's lines."""
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    tree = readme.split("## Layout", 1)[1].split("```")[1]
    folders, current = {"": ""}, ""
    for line in tree.splitlines():
        head = line.strip().split(" ", 1)[0]
        if line.startswith("  ") and not line.startswith("   ") and head.endswith("/"):
            current = head.rstrip("/")
        elif line.startswith("  ") and not line.startswith("   "):
            current = ""
        folders[current] = folders.get(current, "") + " " + line.replace(",", " ").replace("(", " ")
    missing = [name for name in modules()
               if f" {name.rpartition('.')[2]} " not in folders.get(name.rpartition(".")[0], "") + " "]
    assert not missing, f"README's Layout section lacks {missing}"


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_over_400_lines(name):
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"dlbook.{name} has {lines} lines; split it (at most {MAX_LINES})"


def module_level_imports(path: Path) -> set[str]:
    """The dlbook modules that ``path`` imports at module level (not inside functions)."""
    imported = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dlbook"):
            base = node.module
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                imported.add(candidate if (PACKAGE / Path(*candidate.split(".")[1:])).with_suffix(".py").exists()
                             else base)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names if a.name.startswith("dlbook"))
    return imported


def test_no_import_cycles():
    graph = {f"dlbook.{name}": module_level_imports(path) for name, path in modules().items()}
    visiting, done = [], set()

    def visit(node):
        if node in done:
            return
        if node in visiting:
            cycle = visiting[visiting.index(node):] + [node]
            raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
        visiting.append(node)
        for target in graph.get(node, ()):
            visit(target)
        visiting.pop()
        done.add(node)

    for node in graph:
        visit(node)


@pytest.mark.parametrize("module", ["dlbook.text.chinese", "dlbook.text.vocabulary", "dlbook.settings",
                                    "dlbook.cli", "dlbook.results", "dlbook.apps", "dlbook.cache",
                                    "dlbook.machine"])
def test_light_modules_do_not_load_keras(module):
    """Segmenting Chinese, checking settings or starting the command line does not wait for Keras."""
    code = f"import sys, {module}; print('keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
