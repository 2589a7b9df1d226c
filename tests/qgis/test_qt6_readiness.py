"""The Qt side (gui/, processing/, plugin.py) is written so that it also loads in QGIS 4 / Qt6: Qt comes only
through qgis.PyQt, and enum values are reached through their enum (``Qt.AlignmentFlag.AlignLeft``, not
``Qt.AlignLeft``), which PyQt6 requires."""
from __future__ import annotations

import ast
import importlib
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, "hsi_qgis_plugin")
DIRECT_QT = {"PyQt5", "PyQt6", "PySide2", "PySide6", "sip"}


def qt_side_files() -> list:
    paths = [os.path.join(PACKAGE, name) for name in ("plugin.py", "__init__.py")]
    for sub in ("gui", "processing"):
        for folder, _, files in os.walk(os.path.join(PACKAGE, sub)):
            paths += [os.path.join(folder, name) for name in files if name.endswith(".py")]
    return sorted(paths)


def is_enum_value(value) -> bool:
    """An enum member: sip enums are instances of a type whose metatype is sip's ``enumtype``; newer sip
    builds use Python enums."""
    import enum

    return isinstance(value, enum.Enum) or type(type(value)).__name__ == "enumtype"


def problems(source: str) -> list:
    """Direct Qt imports, and unscoped enum values reached through a class imported from qgis.*."""
    tree = ast.parse(source)
    found, imported = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in DIRECT_QT]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in DIRECT_QT:
                found.append(f"from {node.module} import ...")
            elif node.module.split(".")[0] == "qgis":
                for alias in node.names:
                    imported[alias.asname or alias.name] = (node.module, alias.name)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported):
            continue
        module, name = imported[node.value.id]
        owner = getattr(importlib.import_module(module), name, None)
        if is_enum_value(getattr(owner, node.attr, None)):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr} (unscoped enum)")
    return found


def test_there_are_files_to_check():
    assert len(qt_side_files()) >= 15


@pytest.mark.parametrize("path", qt_side_files(), ids=lambda p: os.path.relpath(p, PACKAGE))
def test_qt_side_is_ready_for_qt6(qgis_app, path):
    with open(path, encoding="utf-8") as handle:
        found = problems(handle.read())
    assert not found, f"{os.path.relpath(path, ROOT)}: {found}"


def test_the_check_catches_unscoped_enums_and_direct_imports(qgis_app):
    bad = "from PyQt5.QtCore import Qt as Q\nfrom qgis.PyQt.QtCore import Qt, QVariant\n" \
          "a = Qt.AlignLeft\nb = QVariant.Int\nc = Qt.AlignmentFlag.AlignLeft\n"
    assert problems(bad) == ["from PyQt5.QtCore import ...", "line 3: Qt.AlignLeft (unscoped enum)",
                             "line 4: QVariant.Int (unscoped enum)"]
