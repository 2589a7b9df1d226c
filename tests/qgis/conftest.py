"""QGIS-side fixtures: the Hyperspectral provider registered in pytest-qgis's application."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QGIS_PROCESS = shutil.which("qgis_process.bin") or "/usr/bin/qgis_process.bin"


@pytest.fixture(scope="session")
def hsi_processing(qgis_app, qgis_processing):
    """The ``processing`` module with the ``hsi`` provider registered (once per session)."""
    import processing
    from qgis.core import QgsApplication

    from hsi_qgis_plugin.processing.provider import HsiProvider

    registry = QgsApplication.processingRegistry()
    if registry.providerById("hsi") is None:
        provider = HsiProvider()
        registry.addProvider(provider)
        hsi_processing.provider = provider  # keep a Python reference for the whole session
    return processing


@pytest.fixture
def run_algorithm(hsi_processing):
    """``run_algorithm("hsi:x", {...})`` runs an algorithm and returns its results."""

    def run(algorithm_id: str, parameters: dict, feedback=None) -> dict:
        return hsi_processing.run(algorithm_id, parameters, feedback=feedback)

    return run


@pytest.fixture(scope="session")
def qgis_process(tmp_path_factory):
    """``qgis_process(*arguments)`` runs qgis_process with the plugin enabled in a throw-away profile."""
    if not os.path.exists(QGIS_PROCESS):
        pytest.skip("qgis_process.bin is not installed")
    environment = dict(os.environ)
    environment.update(
        QT_QPA_PLATFORM="offscreen",
        QGIS_PLUGINPATH=ROOT,
        QGIS_CUSTOM_CONFIG_PATH=str(tmp_path_factory.mktemp("qgis_profile")),
        PATH=os.path.dirname(sys.executable) + os.pathsep + environment.get("PATH", ""),
    )

    def run(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [QGIS_PROCESS, *arguments], env=environment, capture_output=True, text=True, timeout=300
        )

    enabled = run("plugins", "enable", "hsi_qgis_plugin")
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    return run
