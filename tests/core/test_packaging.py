"""The installable plugin: metadata.txt fields and the zip built by `make zip`."""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_metadata() -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "hsi_qgis_plugin", "metadata.txt"), encoding="utf-8")
    return parser["general"]


def test_metadata_declares_what_qgis_and_the_plugin_repository_need():
    general = read_metadata()
    for field in ("name", "description", "about", "version", "author", "email", "tags", "homepage", "tracker", "repository", "icon"):
        assert general.get(field, "").strip(), field
    assert general["qgisMinimumVersion"] == "3.22"
    assert general["hasProcessingProvider"] == "yes"
    assert os.path.exists(os.path.join(ROOT, "hsi_qgis_plugin", general["icon"]))


@pytest.mark.skipif(shutil.which("zip") is None or shutil.which("make") is None, reason="needs make and zip")
def test_make_zip_contains_only_the_plugin_folder():
    result = subprocess.run(["make", "-s", "zip"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    archive = os.path.join(ROOT, result.stdout.strip().splitlines()[-1])
    names = zipfile.ZipFile(archive).namelist()
    assert "hsi_qgis_plugin/metadata.txt" in names and "hsi_qgis_plugin/__init__.py" in names
    assert "hsi_qgis_plugin/resources/icon.svg" in names  # the icon folder link is resolved into real files
    assert all(name.startswith("hsi_qgis_plugin/") for name in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n]
