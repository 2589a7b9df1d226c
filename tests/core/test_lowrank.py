"""Low-rank denoising: noise estimation, automatic rank, gain on a noisy scene, bad bands and nodata kept."""
from __future__ import annotations

import numpy as np
import pytest

from hsi_qgis_plugin.core import degradation, metrics
from hsi_qgis_plugin.core.errors import HsiInputError
from hsi_qgis_plugin.core.metadata import BandMetadata
from hsi_qgis_plugin.core.raster import read_raster, write_raster
from hsi_qgis_plugin.core.sample_scene import make_sample_scene, scene_grid
from hsi_qgis_plugin.methods.denoise.lowrank import lowrank_denoise
from hsi_qgis_plugin.methods.denoise.subspace import estimate_noise_std, fit_subspace
from tests.conftest import shared_file


def test_noise_std_estimate_matches_band_dependent_noise(rng):
    scene = make_sample_scene(rows=40, cols=40, n_bands=50, seed=1)
    pixels = scene.data[~scene.bad_bands].reshape(-1, 1600).astype(np.float64)
    sigmas = np.linspace(0.005, 0.03, pixels.shape[0])
    noisy = pixels + rng.normal(size=pixels.shape) * sigmas[:, None]
    relative_error = np.abs(estimate_noise_std(noisy) / sigmas - 1)
    assert np.median(relative_error) < 0.15 and relative_error.max() < 0.3
    assert np.corrcoef(estimate_noise_std(noisy), sigmas)[0, 1] > 0.95  # follows the band-to-band trend


def test_automatic_rank_finds_the_number_of_endmembers(rng):
    abundances = rng.dirichlet(np.ones(4), size=3000).T  # 4 endmembers
    endmembers = rng.uniform(0.1, 0.9, size=(60, 4))
    pixels = endmembers @ abundances + rng.normal(size=(60, 3000)) * 0.01
    # 4 endmembers with sum-to-one abundances span an affine subspace of dimension 3 around the mean
    assert fit_subspace(pixels).rank == 3
    assert fit_subspace(pixels, rank=5).rank == 5
    with pytest.raises(HsiInputError, match="RANK"):
        fit_subspace(pixels, rank=-1)


@pytest.fixture
def noisy_scene(tmp_path):
    scene = make_sample_scene(rows=64, cols=64, n_bands=60, seed=5)
    good = ~scene.bad_bands
    clean = scene.data.copy()
    noisy = clean.copy()
    noisy[good] = degradation.add_gaussian_noise(clean[good], 30 / 255, np.random.default_rng(0))
    noisy[:, :3, :5] = -9999.0  # a nodata corner
    meta = BandMetadata(60, scene.wavelengths_nm, scene.fwhm_nm, scene.bad_bands, nodata=-9999.0)
    path = write_raster(str(tmp_path / "noisy.tif"), noisy, scene_grid(scene), meta, nodata=-9999.0)
    return path, clean, noisy, good


def test_lowrank_denoise_gains_more_than_10_db_and_keeps_bad_bands_and_nodata(noisy_scene, tmp_path):
    path, clean, noisy, good = noisy_scene
    output = str(tmp_path / "den.tif")
    result = lowrank_denoise(path, output, tile_size=32)
    denoised, info = read_raster(output)
    valid = np.ones(clean.shape[1:], bool)
    valid[:3, :5] = False
    before = metrics.assess(clean, noisy, mask=valid, band_mask=good)["MPSNR"]
    after = metrics.assess(clean, denoised, mask=valid, band_mask=good)["MPSNR"]
    assert after - before > 10.0, (before, after)
    assert 2 <= result.rank <= 10
    np.testing.assert_array_equal(denoised[~good], noisy[~good])
    assert (denoised[:, :3, :5] == -9999.0).all()
    assert info.metadata.nodata == -9999.0
    np.testing.assert_array_equal(info.metadata.bad_bands, ~good)


def test_filtering_the_eigenimages_helps(noisy_scene, tmp_path):
    path, clean, _, good = noisy_scene
    scores = {}
    for flag in (False, True):
        output = str(tmp_path / f"den_{flag}.tif")
        lowrank_denoise(path, output, filter_eigenimages=flag)
        scores[flag] = metrics.assess(clean[:, 3:, 5:], read_raster(output)[0][:, 3:, 5:], band_mask=good)["MPSNR"]
    assert scores[True] > scores[False]


def test_all_nodata_raster_is_rejected(tmp_path):
    data = np.full((5, 8, 8), -1.0, dtype=np.float32)
    path = write_raster(str(tmp_path / "empty.tif"), data, scene_grid(make_sample_scene(8, 8, 5)), nodata=-1.0)
    with pytest.raises(HsiInputError, match="no valid pixel"):
        lowrank_denoise(path, str(tmp_path / "out.tif"))
    assert not (tmp_path / "out.tif").exists()


def test_enmap_tile_gains_at_least_10_db(tmp_path):
    source = shared_file("enmap_potsdam", "images", "enmap_potsdam_tile_128_0.tif")
    clean, info = read_raster(source)
    good = info.metadata.good_bands
    noisy = clean.copy()
    noisy[good] = degradation.add_gaussian_noise(clean[good], 30 / 255, np.random.default_rng(0))
    path = write_raster(str(tmp_path / "noisy.tif"), noisy, info.grid, info.metadata)
    lowrank_denoise(path, str(tmp_path / "den.tif"))
    gain = metrics.assess(clean, read_raster(str(tmp_path / "den.tif"))[0], band_mask=good)["MPSNR"] - metrics.assess(
        clean, noisy, band_mask=good
    )["MPSNR"]
    assert gain > 10.0
