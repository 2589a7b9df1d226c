"""Spectra behind the workspace dock: pixel, polygon mean +- std, live preview, CSV export (no QGIS)."""
from __future__ import annotations

import ast
import csv
import os

import numpy as np
import pytest

from hsi_qgis_plugin.core.errors import HsiInputError
from hsi_qgis_plugin.core.metadata import BandMetadata
from hsi_qgis_plugin.core.raster import RasterGrid, write_raster
from hsi_qgis_plugin.methods.spectra.workflow import (
    PREVIEW_METHODS,
    pixel_spectrum,
    polygon_spectrum,
    preview_spectrum,
    write_spectra_csv,
)

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "hsi_qgis_plugin")


def _centre(scene, col: int, row: int) -> tuple:
    gt = scene.geotransform
    return gt[0] + (col + 0.5) * gt[1], gt[3] + (row + 0.5) * gt[5]


def test_pixel_spectrum_matches_file_with_bad_band_gaps(sample_scene, scene_tif):
    x, y = _centre(sample_scene, 7, 11)
    spectrum = pixel_spectrum(scene_tif, x, y, "scene")
    expected = sample_scene.data[:, 11, 7].astype(np.float64)
    good = ~sample_scene.bad_bands
    assert sample_scene.bad_bands.any()
    np.testing.assert_allclose(spectrum.values[good], expected[good], rtol=1e-6)
    assert np.isnan(spectrum.values[sample_scene.bad_bands]).all()
    np.testing.assert_allclose(spectrum.x, sample_scene.wavelengths_nm)
    assert spectrum.x_label == "Wavelength (nm)"
    assert "col 8, row 12" in spectrum.label
    assert pixel_spectrum(scene_tif, x - 1e6, y, "scene") is None


def test_scale_nodata_and_band_numbers_without_wavelengths(tmp_path):
    data = np.arange(2 * 3 * 5, dtype=np.float32).reshape(5, 2, 3) + 10
    data[:, 0, 1] = -1
    meta = BandMetadata(5, nodata=-1, scales=np.full(5, 0.5), offsets=np.full(5, 1.0))
    grid = RasterGrid(3, 2, (0.0, 1.0, 0.0, 2.0, 0.0, -1.0), "")
    path = write_raster(str(tmp_path / "raw.tif"), data, grid, meta)
    spectrum = pixel_spectrum(path, 2.5, 0.5, "raw")
    np.testing.assert_allclose(spectrum.values, data[:, 1, 2] * 0.5 + 1.0)
    np.testing.assert_array_equal(spectrum.x, [1, 2, 3, 4, 5])
    assert spectrum.x_label == "Band"
    assert np.isnan(pixel_spectrum(path, 1.5, 1.5, "raw").values).all()


def test_polygon_mean_and_std_over_pixel_centres(sample_scene, scene_tif):
    gt = sample_scene.geotransform
    x0, y0 = gt[0] + 4 * gt[1], gt[3] + 6 * gt[5]  # corner of pixel (col 4, row 6)
    x1, y1 = x0 + 3 * gt[1], y0 + 2 * gt[5]  # 3 x 2 pixels
    wkt = f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
    spectrum = polygon_spectrum(scene_tif, wkt, "scene")
    block = sample_scene.data[:, 6:8, 4:7].reshape(sample_scene.data.shape[0], -1).astype(np.float64)
    good = ~sample_scene.bad_bands
    assert spectrum.pixel_count == 6
    np.testing.assert_allclose(spectrum.values[good], block.mean(axis=1)[good], rtol=1e-5)
    np.testing.assert_allclose(spectrum.std[good], block.std(axis=1)[good], rtol=1e-4, atol=1e-7)
    far = f"POLYGON(({x0 - 1e6} {y0}, {x1 - 1e6} {y0}, {x1 - 1e6} {y1}, {x0 - 1e6} {y0}))"
    with pytest.raises(HsiInputError, match="does not overlap"):
        polygon_spectrum(scene_tif, far, "scene")


@pytest.mark.parametrize("method", list(PREVIEW_METHODS))
def test_preview_removes_noise_at_the_picked_pixel(tmp_path, rng, method):
    from hsi_qgis_plugin.core.sample_scene import make_sample_scene

    sample_scene = make_sample_scene(rows=40, cols=40, n_bands=60, seed=3)
    noisy = sample_scene.data + rng.normal(0, 0.02, sample_scene.data.shape).astype(np.float32)
    meta = BandMetadata(noisy.shape[0], sample_scene.wavelengths_nm, bad_bands=sample_scene.bad_bands)
    grid = RasterGrid(noisy.shape[2], noisy.shape[1], tuple(sample_scene.geotransform), "")
    path = write_raster(str(tmp_path / "noisy.tif"), noisy, grid, meta)
    good = ~sample_scene.bad_bands
    errors = {}
    for col, row in ((20, 24), (0, 0), (39, 5)):
        x, y = _centre(sample_scene, col, row)
        restored = preview_spectrum(path, x, y, method, "noisy")
        clean = sample_scene.data[good, row, col]
        errors[(col, row)] = (
            np.abs(restored.values[good] - clean).mean(),
            np.abs(noisy[good, row, col] - clean).mean(),
        )
        assert np.isnan(restored.values[~good]).all()
    for restored_error, noisy_error in errors.values():
        assert restored_error < 0.6 * noisy_error
    with pytest.raises(HsiInputError, match="Unknown preview method"):
        preview_spectrum(path, *_centre(sample_scene, 1, 1), "magic", "noisy")


def test_csv_export_round_trip(sample_scene, scene_tif, tmp_path):
    spectrum = pixel_spectrum(scene_tif, *_centre(sample_scene, 2, 3), "scene")
    path = write_spectra_csv(str(tmp_path / "spectra.csv"), [spectrum])
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][1].endswith("| value")
    assert len(rows) == 1 + sample_scene.data.shape[0]
    bad = int(np.flatnonzero(sample_scene.bad_bands)[0])
    assert rows[1 + bad][1] == ""
    assert float(rows[1][1]) == pytest.approx(sample_scene.data[0, 3, 2], rel=1e-6)
    with pytest.raises(HsiInputError):
        write_spectra_csv(str(tmp_path / "none.csv"), [])


@pytest.mark.parametrize("folder", ["core", "models", "methods"])
def test_compute_layers_never_import_gui_or_qgis(folder):
    for root, _dirs, files in os.walk(os.path.join(PACKAGE, folder)):
        for name in files:
            if not name.endswith(".py"):
                continue
            with open(os.path.join(root, name), encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            for node in ast.walk(tree):
                modules = []
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    modules = [("." * node.level) + (node.module or "")]
                for module in modules:
                    assert "gui" not in module.split(".") and not module.startswith(("qgis", "PyQt")), (name, module)

