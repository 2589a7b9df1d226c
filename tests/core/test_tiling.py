"""Tiling: seam-free blending, memory planning, progress and cancellation at every tile."""
from __future__ import annotations

import os

import numpy as np
import pytest
from scipy import ndimage

from hsi_qgis_plugin.core.errors import HsiCancelled, HsiInputError
from hsi_qgis_plugin.core.outputs import OutputSet
from hsi_qgis_plugin.core.progress import Monitor
from hsi_qgis_plugin.core.raster import RasterGrid, open_raster, read_raster, write_raster
from hsi_qgis_plugin.core.tiling import blend_ramp, plan_tiles, run_tiled, tile_starts

GRID = RasterGrid(90, 70, (368000.0, 30.0, 0.0, 5810000.0, 0.0, -30.0), "")


@pytest.fixture
def smooth_tif(tmp_path):
    rows, cols = np.mgrid[0:GRID.height, 0:GRID.width]
    data = np.stack([np.sin(cols / 13.0 + b) * np.cos(rows / 7.0) * 100 + 10 * b for b in range(5)])
    return write_raster(str(tmp_path / "smooth.tif"), data.astype(np.float32), GRID)


def test_tiles_cover_the_image_with_the_requested_overlap():
    starts = tile_starts(100, 32, 8)
    assert starts[0] == 0 and starts[-1] == 100 - 32
    assert all(b - a <= 32 - 8 for a, b in zip(starts, starts[1:]))
    assert tile_starts(20, 32, 8) == [0]


def test_blend_weights_are_positive_and_flat_inside():
    weights = blend_ramp(32, 8, True, True)
    assert (weights > 0).all() and (weights[8:24] == 1).all()
    assert np.all(np.diff(weights[:8]) >= 0)
    assert weights[:2].max() < 1e-6  # the outer quarter of the overlap barely counts
    np.testing.assert_allclose(weights[:8] + weights[:8][::-1], 1.0, atol=1e-8)  # complementary neighbours


def test_identity_through_small_overlapping_tiles_returns_the_image_exactly(smooth_tif, tmp_path):
    output = str(tmp_path / "identity.tif")
    run_tiled(open_raster(smooth_tif), output, lambda tile, window: tile, 5, tile_size=24, overlap=8)
    original, _ = read_raster(smooth_tif)
    copy, info = read_raster(output)
    np.testing.assert_array_equal(copy, original)
    assert info.grid.same_as(GRID)


def test_local_filter_in_tiles_matches_the_whole_image_filter_without_seams(smooth_tif, tmp_path):
    def blur(tile, window):
        return ndimage.uniform_filter(tile, size=(1, 3, 3), mode="nearest")

    output = str(tmp_path / "blur.tif")
    run_tiled(open_raster(smooth_tif), output, blur, 5, tile_size=24, overlap=8)
    original, _ = read_raster(smooth_tif)
    tiled, _ = read_raster(output)
    whole = blur(original, None)
    # tile borders lie inside the blended overlaps, so no tile edge effect reaches the output
    np.testing.assert_allclose(tiled[:, 2:-2, 2:-2], whole[:, 2:-2, 2:-2], atol=1e-3)


def test_scale_refines_the_output_grid_exactly(smooth_tif, tmp_path):
    output = str(tmp_path / "x3.tif")
    run_tiled(
        open_raster(smooth_tif), output, lambda t, w: np.repeat(np.repeat(t, 3, 1), 3, 2), 5, tile_size=32, overlap=4, scale=3
    )
    data, info = read_raster(output)
    assert data.shape == (5, 210, 270)
    assert info.grid.geotransform == (368000.0, 10.0, 0.0, 5810000.0, 0.0, -10.0)


def test_progress_reaches_100_and_cancel_stops_within_one_tile(smooth_tif, tmp_path):
    reported, calls = [], []
    run_tiled(open_raster(smooth_tif), str(tmp_path / "p.tif"), lambda t, w: t, 5, tile_size=32, overlap=4,
              monitor=Monitor(progress=reported.append))
    assert reported[-1] == pytest.approx(100.0) and reported == sorted(reported)

    def slow_identity(tile, window):
        calls.append(window)
        return tile

    output = str(tmp_path / "cancelled.tif")
    with pytest.raises(HsiCancelled):
        with OutputSet([output]) as outputs:
            run_tiled(open_raster(smooth_tif), outputs.path(output), slow_identity, 5, tile_size=32, overlap=4,
                      monitor=Monitor(cancelled=lambda: len(calls) >= 2))
    assert len(calls) == 2  # the cancel check before the third tile stopped the run
    assert not [f for f in os.listdir(tmp_path) if f.startswith("cancelled") or "partial" in f]


def test_memory_plan_shrinks_tiles_to_fit_the_budget():
    generous = plan_tiles(width=1000, bands_in=224, bands_out=224, tile_size=512, overlap=16, memory_budget_mb=4096)
    tight = plan_tiles(width=1000, bands_in=224, bands_out=224, tile_size=512, overlap=16, memory_budget_mb=512)
    assert generous.tile_size == 512
    assert tight.tile_size < 512 and tight.estimated_bytes <= 512 * 2**20
    with pytest.raises(HsiInputError, match="memory budget"):
        plan_tiles(width=100000, bands_in=400, bands_out=400, tile_size=512, overlap=16, memory_budget_mb=64)
    with pytest.raises(HsiInputError, match="TILE_SIZE"):
        plan_tiles(width=100, bands_in=3, bands_out=3, tile_size=0, overlap=0)
