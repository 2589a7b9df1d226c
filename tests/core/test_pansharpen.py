"""Pansharpening: classical methods on exactly sharpenable scenes, geometry, metrics, raster alignment and errors."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from osgeo import gdal, osr

from hsi_qgis_plugin.core import metrics
from hsi_qgis_plugin.core.errors import HsiInputError
from hsi_qgis_plugin.core.metadata import BandMetadata
from hsi_qgis_plugin.core.degradation import simulate_pan, wald_degrade
from hsi_qgis_plugin.core.mtf import centre_offset, interpolate, mtf_degrade, wald_offset
from hsi_qgis_plugin.core.pansharpening_metrics import d_lambda_khan, d_s_regression, hqnr, reduced_resolution
from hsi_qgis_plugin.core.raster import RasterGrid, raster_info, read_raster, write_raster
from hsi_qgis_plugin.methods.pansharpen.classical import CLASSICAL_METHODS, classical_pansharpen, glp_hpm
from hsi_qgis_plugin.methods.pansharpen.workflow import (
    assess_pansharpening,
    detect_ratio,
    load_inputs,
    pansharpen_rasters,
)
from hsi_qgis_plugin.methods.pansharpen.training import PnnSettings, select_patches, zero_shot_pansharpen
from tests.conftest import shared_file


def _smooth_pan(rng, rows, cols):
    """A positive PAN with structure at several scales."""
    from scipy import ndimage

    noise = rng.standard_normal((rows, cols))
    return 1.0 + 0.3 * ndimage.gaussian_filter(noise, 1.0) + 0.5 * ndimage.gaussian_filter(noise, 4.0)


def _sharpenable(rng, ratio, bands=6, rows=12, cols=10):
    pan = _smooth_pan(rng, rows * ratio, cols * ratio)
    scales = rng.uniform(0.5, 2.0, bands)
    hs_lr = scales[:, None, None] * mtf_degrade(pan, ratio, 0.3)[None]
    return hs_lr, pan, scales[:, None, None] * pan[None]


@pytest.mark.parametrize("ratio", [2, 3, 4, 6])
@pytest.mark.parametrize("method", [m for m in CLASSICAL_METHODS if m != "exp"])
def test_classical_methods_recover_scaled_pan_exactly(rng, method, ratio):
    hs_lr, pan, truth = _sharpenable(rng, ratio)
    fused = classical_pansharpen(method, hs_lr, pan, ratio, 0.3)
    assert fused.shape == truth.shape
    np.testing.assert_allclose(fused, truth, rtol=0, atol=1e-10)


def test_hpm_with_pan_equalisation_is_also_exact(rng):
    hs_lr, pan, truth = _sharpenable(rng, 4)
    np.testing.assert_allclose(glp_hpm(hs_lr, 5.0 * pan + 2.0, 4, 0.3, equalise_pan=True), truth, atol=1e-10)


def test_bicubic_interpolation_reproduces_the_coarse_samples_and_constants(rng):
    coarse = rng.random((2, 7, 5))
    up = interpolate(coarse, 3)  # odd ratio: coarse pixel centres fall on fine pixels
    np.testing.assert_allclose(up[:, 1::3, 1::3], coarse, atol=1e-12)
    np.testing.assert_allclose(interpolate(np.full((1, 4, 4), 2.5), 4), 2.5, atol=1e-12)
    # a linear ramp is reproduced exactly away from the borders (Keys cubic is exact for linear signals)
    ramp = np.arange(10.0)[None, :, None] * np.ones((1, 10, 3))
    fine = interpolate(ramp, 4)[0, 8:-8, 0]
    expected = (np.arange(40)[8:-8] - centre_offset(4)) / 4
    np.testing.assert_allclose(fine, expected, atol=1e-12)


def test_mtf_degrade_matches_wald_degrade_at_its_sample_positions(rng):
    image = rng.random((3, 32, 24))
    ours = mtf_degrade(image, 4, 0.3, wald_offset(4))
    np.testing.assert_allclose(ours, wald_degrade(image, 4, 0.3), atol=1e-6)


def test_sharpening_beats_interpolation_on_a_degraded_scene(sample_scene):
    reference = sample_scene.data[~sample_scene.bad_bands, :48, :40].astype(np.float64)
    hs_lr = wald_degrade(reference, 4, 0.3)
    pan = reference.mean(axis=0)
    errors = {
        m: metrics.ergas(reference, classical_pansharpen(m, hs_lr, pan, 4, 0.3, wald_offset(4)), 4)
        for m in CLASSICAL_METHODS
    }
    assert all(errors[m] < errors["exp"] for m in ("gsa", "glp_fs", "glp_hpm", "bth"))


def test_unknown_method_and_bad_shapes_are_clear_errors(rng):
    hs_lr, pan, _ = _sharpenable(rng, 2)
    with pytest.raises(HsiInputError, match="unknown pansharpening method"):
        classical_pansharpen("ihs", hs_lr, pan, 2)
    with pytest.raises(HsiInputError, match="needs 24 x 20"):
        classical_pansharpen("gsa", hs_lr, pan[:-1], 2)


# --- metrics ----------------------------------------------------------------------------------------------------


def test_identical_images_give_perfect_reduced_resolution_scores(rng):
    image = rng.random((5, 32, 32)) + 0.5
    scores = reduced_resolution(image, image.copy(), 4)
    assert scores["ERGAS"] == 0.0
    assert scores["SAM"] == pytest.approx(0.0, abs=1e-6)
    assert scores["Q2N"] == pytest.approx(1.0, abs=1e-12)


def test_ergas_and_sam_hand_computed():
    reference = np.array([[[1.0, 1.0]], [[2.0, 2.0]]])  # two bands, one row, two pixels
    estimate = np.array([[[1.5, 1.5]], [[2.0, 2.0]]])
    # band 1: MSE 0.25, mean 1 -> 0.25; band 2: 0 -> sqrt(0.125) * 100 / 4
    assert reduced_resolution(reference, estimate, 4)["ERGAS"] == pytest.approx(25 * np.sqrt(0.125))
    angle = np.degrees(np.arccos((1.5 + 4.0) / (np.sqrt(5.0) * np.sqrt(1.5**2 + 4.0))))
    assert reduced_resolution(reference, estimate, 4)["SAM"] == pytest.approx(angle)


def test_no_reference_indices_on_ideal_and_flawed_fusions(rng):
    hs_lr, pan, truth = _sharpenable(rng, 4, rows=16, cols=16)
    ideal = hqnr(truth, hs_lr, pan, 4, 0.3)
    assert ideal["D_LAMBDA"] == pytest.approx(0.0, abs=1e-9)
    assert ideal["D_S"] == pytest.approx(0.0, abs=1e-12)
    assert ideal["HQNR"] == pytest.approx(1.0, abs=1e-9)
    blurred = interpolate(hs_lr, 4)
    assert d_s_regression(blurred, pan) > 0.05
    shuffled = truth[::-1].copy()
    assert d_lambda_khan(shuffled, hs_lr, 4, 0.3) > 0.05


def test_d_s_is_one_minus_r_squared():
    pan = np.array([[1.0, 2.0], [3.0, 4.0]])
    fused = np.array([[[1.0, 1.0], [1.0, 2.0]]])  # fit of pan on this band plus a constant
    x = fused[0].ravel() - fused[0].mean()
    y = pan.ravel() - pan.mean()
    r2 = (x @ y) ** 2 / ((x @ x) * (y @ y))
    assert d_s_regression(fused, pan) == pytest.approx(1 - r2)


# --- zero-shot network ------------------------------------------------------------------------------------------


def test_patch_selection_returns_distinct_blocks_inside_the_image(rng):
    hs_lr = rng.random((8, 40, 40))
    patches = select_patches(hs_lr, 4, 32, 4, seed=0)
    assert 1 <= len(patches) <= 4
    assert len(set(patches)) == len(patches)
    for r0, c0, h, w in patches:
        assert (h, w) == (8, 8) and 0 <= r0 <= 32 and 0 <= c0 <= 32
    assert select_patches(hs_lr[:, :16, :16], 4, 32, 4, 0) == [(0, 0, 16, 16)]


def test_zero_shot_network_improves_on_its_base_estimate(rng, sample_scene):
    reference = sample_scene.data[~sample_scene.bad_bands][:6, :32, :32].astype(np.float64)
    hs_lr = wald_degrade(reference, 4, 0.3)
    pan = reference.mean(axis=0)
    settings = PnnSettings(base="exp", channels=(8, 8), iterations=15, first_band_factor=3, time_budget_s=60)
    result = zero_shot_pansharpen(hs_lr, pan, 4, 0.3, wald_offset(4), settings)
    base = classical_pansharpen("exp", hs_lr, pan, 4, 0.3, wald_offset(4))
    assert result.fused.shape == reference.shape and result.tuned_bands == 6
    assert metrics.ergas(reference, result.fused, 4) < metrics.ergas(reference, base, 4)


def test_zero_shot_without_time_returns_its_base_estimate_for_every_band(rng):
    hs_lr, pan, _ = _sharpenable(rng, 2, bands=4, rows=8, cols=8)
    result = zero_shot_pansharpen(hs_lr, pan, 2, settings=PnnSettings(time_budget_s=1e-9, channels=(4, 4)))
    assert result.tuned_bands == 0
    np.testing.assert_allclose(result.fused, classical_pansharpen("glp_hpm", hs_lr, pan, 2), rtol=1e-5)
    assert any("time budget" in line for line in result.log)


# --- rasters ----------------------------------------------------------------------------------------------------


def _utm(epsg=32633) -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def _write(path, array, origin, pixel, crs=None, nodata=None, meta=None):
    grid = RasterGrid(array.shape[-1], array.shape[-2], (origin[0], pixel, 0.0, origin[1], 0.0, -pixel),
                      _utm() if crs is None else crs)
    return write_raster(str(path), array.astype(np.float32), grid, meta, nodata)


@pytest.fixture
def pair(tmp_path, rng):
    """HS 12 x 10 at 30 m and a PAN at 10 m (ratio 3) covering HS columns 1..8 and rows 2..11."""
    hs_lr, pan, truth = _sharpenable(rng, 3, bands=5, rows=12, cols=10)
    meta = BandMetadata(5, wavelengths_nm=np.array([450.0, 550, 650, 750, 850]),
                        bad_bands=np.array([False, False, False, True, False]))
    hs_path = _write(tmp_path / "hs.tif", hs_lr, (500000.0, 4000000.0), 30.0, meta=meta)
    pan_crop = pan[6:, 3:27]  # rows from HS row 2, cols from HS col 1 to 9 (exclusive)
    pan_path = _write(tmp_path / "pan.tif", pan_crop, (500030.0, 4000000.0 - 60.0), 10.0)
    return hs_path, pan_path, truth[:, 6:, 3:27], tmp_path


def test_ratio_detection_and_output_grid_equals_the_pan(pair):
    hs_path, pan_path, truth, tmp = pair
    out = str(tmp / "fused.tif")
    result = pansharpen_rasters(hs_path, pan_path, out, "glp_fs", memory_budget_mb=256)
    assert result.ratio == 3
    fused, info = read_raster(out)
    pan_info = raster_info(pan_path)
    assert info.grid.same_as(pan_info.grid)
    assert np.allclose(info.metadata.wavelengths_nm, [450, 550, 650, 750, 850])
    assert info.metadata.bad_bands.tolist() == [False, False, False, True, False]
    good = [0, 1, 2, 4]
    # inside the overlap the scene is exactly sharpenable, except near borders where the crop changes the MTF
    np.testing.assert_allclose(fused[good][:, 9:-9, 9:-9], truth[good][:, 9:-9, 9:-9], rtol=0.03)
    # the bad band is copied by nearest neighbour, not sharpened
    hs = read_raster(hs_path)[0]
    np.testing.assert_array_equal(fused[3, ::3, ::3], hs[3, 2:12, 1:9])


def test_pan_in_another_crs_is_warped_onto_the_refined_hs_grid(tmp_path, rng):
    hs_lr, pan, _ = _sharpenable(rng, 2, bands=4, rows=16, cols=16)
    hs_path = _write(tmp_path / "hs.tif", hs_lr, (500000.0, 4000000.0), 30.0)
    pan_path = _write(tmp_path / "pan.tif", pan, (500000.0, 4000000.0), 15.0)
    warped = str(tmp_path / "pan_utm32.tif")
    gdal.Warp(warped, pan_path, dstSRS="EPSG:32632", resampleAlg="bilinear")
    inputs = load_inputs(hs_path, warped)
    assert inputs.ratio == 2
    gt = inputs.fine_grid.geotransform
    assert gt[1] == 15.0 and gt[5] == -15.0
    assert osr.SpatialReference(wkt=inputs.fine_grid.crs_wkt).IsSame(osr.SpatialReference(wkt=_utm()))
    col, row = int(round((gt[0] - 500000.0) / 15.0)), int(round((4000000.0 - gt[3]) / 15.0))
    original = pan[row:row + inputs.pan.shape[0], col:col + inputs.pan.shape[1]]
    assert inputs.pan_valid.mean() > 0.8 and original.shape == inputs.pan.shape
    # away from the edges (where the warps pad), the twice-resampled PAN matches the original pixel for pixel
    assert np.corrcoef(inputs.pan[2:-2, 2:-2].ravel(), original[2:-2, 2:-2].ravel())[0, 1] > 0.98


def test_non_integer_ratio_is_refused(tmp_path, rng):
    hs_path = _write(tmp_path / "hs.tif", rng.random((3, 10, 10)), (0.0, 1000.0), 30.0)
    pan_path = _write(tmp_path / "pan.tif", rng.random((25, 25)), (0.0, 1000.0), 12.0)
    with pytest.raises(HsiInputError, match="integer ratio"):
        load_inputs(hs_path, pan_path)
    with pytest.raises(HsiInputError, match="integer ratio"):
        detect_ratio((30.0, 30.0), (30.0, 30.0))


def test_non_overlapping_and_tiny_overlaps_are_refused(tmp_path, rng):
    hs_path = _write(tmp_path / "hs.tif", rng.random((3, 10, 10)), (0.0, 1000.0), 30.0)
    far = _write(tmp_path / "far.tif", rng.random((20, 20)), (5000.0, 1000.0), 15.0)
    with pytest.raises(HsiInputError, match="do not overlap"):
        load_inputs(hs_path, far)
    corner = _write(tmp_path / "corner.tif", rng.random((20, 20)), (240.0, 1000.0 - 240.0), 15.0)
    with pytest.raises(HsiInputError, match="overlap on only 2 x 2"):
        load_inputs(hs_path, corner)


def test_failed_run_leaves_no_output(tmp_path, rng):
    hs_path = _write(tmp_path / "hs.tif", rng.random((3, 10, 10)), (0.0, 1000.0), 30.0)
    pan_path = _write(tmp_path / "pan.tif", rng.random((25, 25)), (0.0, 1000.0), 12.0)
    out = tmp_path / "out.tif"
    with pytest.raises(HsiInputError):
        pansharpen_rasters(hs_path, pan_path, str(out), "gsa")
    assert not out.exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".") or f.startswith("out")]


def test_nodata_pixels_stay_nodata_and_assessment_reports(pair):
    hs_path, pan_path, truth, tmp = pair
    hs, info = read_raster(hs_path)
    hs[:, 5, 4] = -32768.0
    holed = _write(tmp / "holed.tif", hs, (500000.0, 4000000.0), 30.0, nodata=-32768.0, meta=info.metadata)
    out = str(tmp / "fused.tif")
    pansharpen_rasters(holed, pan_path, out, "gsa")
    fused, fused_info = read_raster(out)
    assert fused_info.metadata.nodata == -32768.0
    # HS row 5, col 4 -> overlap row 3, col 3 -> fine rows 9..11, cols 9..11
    assert np.all(fused[:, 9:12, 9:12] == -32768.0)
    assert np.all(fused[:, 12:15, 9:12] != -32768.0)
    ref_path = _write(tmp / "ref.tif", truth, (500030.0, 4000000.0 - 60.0), 10.0, meta=info.metadata)
    html, js = str(tmp / "q.html"), str(tmp / "q.json")
    result = assess_pansharpening(out, holed, pan_path, ref_path, html, js)
    assert 0 <= result["HQNR"] <= 1 and result["ratio"] == 3
    assert result["ERGAS"] < 5 and result["Q2N"] > 0.8
    with open(js) as handle:
        payload = json.load(handle)
    assert len(payload["Q_PER_BAND"]) == 4 and os.path.exists(html)


def test_assessment_refuses_a_fused_raster_on_another_grid(pair):
    hs_path, pan_path, _, tmp = pair
    with pytest.raises(HsiInputError, match="not on the HS grid"):
        assess_pansharpening(hs_path, hs_path, pan_path)


def test_classical_methods_reach_the_reference_ergas_on_samson():
    reference, info = read_raster(shared_file("samson", "samson.tif"))
    reference = reference[:, :92, :92].astype(np.float64)
    hs_lr = wald_degrade(reference, 4, 0.3)
    pan = simulate_pan(reference, info.metadata.wavelengths_nm)
    ergas = {m: metrics.ergas(reference, classical_pansharpen(m, hs_lr, pan, 4, 0.3, wald_offset(4)), 4)
             for m in CLASSICAL_METHODS}
    # the measurements at ratio 4: bicubic 3.93, GSA 2.80, MTF-GLP-HPM (no equalisation) 2.46
    assert ergas["exp"] == pytest.approx(3.93, abs=0.1)
    assert ergas["gsa"] < 2.80 and ergas["glp_hpm"] < 2.46 and ergas["glp_fs"] < 2.80 and ergas["bth"] < 2.80
