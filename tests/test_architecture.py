"""The countxplain library stays Qt-free: no module imports a Qt binding or Qt widget library."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import countxplain

PACKAGE_DIR = Path(countxplain.__file__).resolve().parent
QT_MODULES = ("PySide6", "PySide2", "PyQt6", "PyQt5", "PyQt4", "pyqtgraph", "superqt", "qtpy", "sip", "shiboken6")


def _is_qt(name: str | None) -> bool:
    if not name:
        return False
    top = name.split(".")[0]
    return top in QT_MODULES or top.lower().startswith(("pyqt", "pyside"))


def _python_files():
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(files) > 10, f"found only {files} under {PACKAGE_DIR}"
    return files


def qt_imports_in(source: str, filename: str) -> list[str]:
    """Qt imports in one module: import statements and dynamic imports by name."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_qt(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and _is_qt(node.module):
                found.append(node.module)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and _is_qt(first.value):
                    found.append(first.value)
    return found


def test_the_checker_finds_qt_imports():
    source = ("import os\nimport PySide6.QtWidgets\nfrom pyqtgraph import ImageItem\nfrom superqt import QRangeSlider\n"
              "import qtpy as q\nimport importlib\nimportlib.import_module('PyQt5.QtCore')\n__import__('PySide2')\n"
              "def f():\n    from PyQt6 import QtGui\n")
    assert qt_imports_in(source, "<test>") == ["PySide6.QtWidgets", "pyqtgraph", "superqt", "qtpy", "PyQt5.QtCore",
                                               "PySide2", "PyQt6"]
    assert qt_imports_in("import numpy\nfrom .images import read_image\nimport torch.nn\n", "<test>") == []


def test_no_module_imports_qt():
    offenders = {}
    for path in _python_files():
        found = qt_imports_in(path.read_text(encoding="utf-8"), str(path))
        if found:
            offenders[str(path.relative_to(PACKAGE_DIR))] = found
    assert offenders == {}


def test_importing_every_module_loads_no_qt():
    code = f"""
import importlib, json, pkgutil, sys
import countxplain
names = sorted(m.name for m in pkgutil.walk_packages(countxplain.__path__, "countxplain."))
for name in names:
    importlib.import_module(name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in {QT_MODULES!r}
            or m.split(".")[0].lower().startswith(("pyqt", "pyside")))
print(json.dumps({{"modules": names, "qt": qt}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {"countxplain." + ".".join(p.relative_to(PACKAGE_DIR).with_suffix("").parts).removesuffix(".__init__")
                for p in _python_files()} - {"countxplain.__init__"}
    assert expected <= set(report["modules"])
    assert report["qt"] == []


REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_of_pyproject_hold():
    """import-linter's contracts (pyproject.toml): no Qt or app in the library, the app above the
    library, and the library's layers, each importing only from those below it."""
    import shutil

    command = shutil.which("lint-imports")
    assert command, "import-linter is not installed (it is a test dependency)"
    result = subprocess.run([command, "--config", str(REPO_ROOT / "pyproject.toml")], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan): each is at least one import circle."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_circle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_library_or_the_app_takes_part_in_an_import_circle():
    """Imports inside functions count too: they are where a circle hides."""
    import grimp

    graph = grimp.build_graph("countxplain", "cxdesktop", exclude_type_checking_imports=True)
    modules = {m for m in graph.modules if not graph.find_children(m)}  # modules, not packages
    edges = {m: {d for d in graph.find_modules_directly_imported_by(m) if d in modules} for m in modules}
    assert import_cycles(edges) == []
