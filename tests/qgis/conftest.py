"""QGIS-side fixtures: the Hyperspectral provider registered in pytest-qgis's application."""
from __future__ import annotations

import pytest


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
