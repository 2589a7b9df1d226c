"""core/, models/ and methods/ must never import QGIS or Qt (dzetsaka-style guardrail), and gui/ is only
imported by the plugin's UI layer."""
from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, "hsi_qgis_plugin")
QT_ROOTS = {"qgis", "PyQt5", "PyQt6", "PySide2", "PySide6", "sip", "processing"}
PURE_PACKAGES = ("core", "models", "methods")


def python_files(*subpackages: str):
    for sub in subpackages:
        for folder, _, files in os.walk(os.path.join(PACKAGE, sub)):
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(folder, name)


def imported_modules(path: str):
    """(module, level) for every import statement in a file, wherever it is (also inside functions)."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


def test_pure_packages_have_files_to_check():
    assert len(list(python_files(*PURE_PACKAGES))) >= 10


@pytest.mark.parametrize("path", list(python_files(*PURE_PACKAGES)), ids=lambda p: os.path.relpath(p, PACKAGE))
def test_no_qgis_or_qt_import_in_core_models_methods(path):
    offending = [name for name, level in imported_modules(path) if level == 0 and name.split(".")[0] in QT_ROOTS]
    assert not offending, f"{os.path.relpath(path, ROOT)} imports {offending}"
    relative_gui = [name for name, level in imported_modules(path) if level > 0 and name.split(".")[0] in ("gui", "processing", "plugin")]
    assert not relative_gui, f"{os.path.relpath(path, ROOT)} imports the Qt-side package(s) {relative_gui}"


def test_guardrail_detects_a_forbidden_import(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("def f():\n    from qgis.core import QgsRasterLayer\n")
    assert ("qgis.core", 0) in list(imported_modules(str(sample)))


def test_importing_every_pure_module_loads_no_qt_in_a_fresh_interpreter():
    modules = []
    for path in python_files(*PURE_PACKAGES):
        relative = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
        modules.append(relative[: -len(".__init__")] if relative.endswith(".__init__") else relative)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(QT_ROOTS)!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"QGIS/Qt modules loaded: {result.stdout.strip()}"
