"""Shared fixtures: the synthetic sample scene on disk and paths to ../shared/data."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def shared_file(*parts: str) -> str:
    """Path of a file in ../shared/data; skips the test cleanly when it is absent."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"shared data file {os.path.join(*parts)} is not available")
    return path


@pytest.fixture(scope="session")
def sample_scene():
    from hsi_qgis_plugin.core.sample_scene import make_sample_scene

    return make_sample_scene(rows=48, cols=40, n_bands=24, seed=3)


@pytest.fixture(scope="session")
def scene_tif(tmp_path_factory, sample_scene):
    """The small sample scene written as a GeoTIFF with wavelengths, FWHM and bad bands."""
    from hsi_qgis_plugin.core.sample_scene import write_sample_scene

    path = str(tmp_path_factory.mktemp("scene") / "scene.tif")
    write_sample_scene(sample_scene, path)
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
