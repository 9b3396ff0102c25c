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
