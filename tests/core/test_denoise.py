"""Denoise workflows: classical parts, self-supervised fit, model files, bad bands and nodata."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from hsi_qgis_plugin.core.degradation import degrade
from hsi_qgis_plugin.core.errors import HsiInputError
from hsi_qgis_plugin.core.metadata import BandMetadata
from hsi_qgis_plugin.core.metrics import assess
from hsi_qgis_plugin.core.model_file import load_model
from hsi_qgis_plugin.core.raster import raster_info, read_raster, write_raster
from hsi_qgis_plugin.core.sample_scene import make_sample_scene, scene_grid
from hsi_qgis_plugin.methods.denoise.workflow import denoise_raster, train_denoiser
from hsi_qgis_plugin.methods.denoise.classical import (
    dct_denoise,
    remove_structured_noise,
    robust_subspace_denoise,
    subspace_denoise,
)
from hsi_qgis_plugin.methods.denoise.training import apply_network, build_model, train_neighbor2neighbor

NODATA = -9999.0


@pytest.fixture(scope="module")
def clean_scene():
    scene = make_sample_scene(rows=40, cols=36, n_bands=31, seed=2)
    return scene, scene.data[~scene.bad_bands].astype(np.float64)


def write_noisy(path, scene, noise="noniid", holes=True, seed=0) -> tuple:
    """The scene with noise on its good bands, a block of nodata pixels; returns (path, clean, noisy)."""
    data = scene.data.astype(np.float64).copy()
    good = ~scene.bad_bands
    data[good] = degrade(data[good], np.random.default_rng(seed), noise)
    if holes:
        data[:, :5, :7] = NODATA
    meta = BandMetadata(data.shape[0], scene.wavelengths_nm, scene.fwhm_nm, scene.bad_bands, nodata=NODATA)
    write_raster(str(path), data.astype(np.float32), scene_grid(scene), meta, nodata=NODATA)
    return str(path), scene.data, data.astype(np.float32)


def good_psnr(clean, estimate, scene) -> float:
    valid = np.ones(clean.shape[1:], bool)
    valid[:5, :7] = False
    return assess(clean[~scene.bad_bands], estimate[~scene.bad_bands], data_range=1.0, mask=valid)["MPSNR"]


def test_dct_denoise_removes_most_of_the_noise_of_a_smooth_image(rng):
    y, x = np.mgrid[0:48, 0:48] / 48.0
    image = np.sin(4 * x) + np.cos(3 * y) + (x > 0.5)
    noisy = image + 0.2 * rng.standard_normal(image.shape)
    result = dct_denoise(noisy, 0.2)
    assert np.mean((result - image) ** 2) < 0.2 * np.mean((noisy - image) ** 2)
    assert np.array_equal(dct_denoise(noisy, 0.0), noisy)


def test_structured_noise_is_found_and_repaired(clean_scene, rng):
    _, clean = clean_scene
    valid = np.ones(clean.shape[1:], bool)
    noisy = clean + 0.005 * rng.standard_normal(clean.shape)
    noisy[3, :, 10:12] = 0.0  # dead lines
    impulse = rng.random(clean.shape[1:]) < 0.2
    noisy[7][impulse] = 1.0  # saturated samples
    noisy[12, :, 20] += 0.3  # stripe
    repaired, missing, report = remove_structured_noise(noisy, valid)
    assert missing[3, :, 10:12].all() and missing[7][impulse].all()
    assert report.stripe_columns >= 1
    assert missing.sum() - impulse.sum() - 2 * clean.shape[1] < 0.01 * missing.size  # few false alarms
    assert np.abs(repaired[12, :, 20] - clean[12, :, 20]).max() < 0.05  # stripe removed
    denoised, _, _ = robust_subspace_denoise(noisy, valid)
    for band in (3, 7, 12):
        assert np.mean((denoised[band] - clean[band]) ** 2) < 0.2 * np.mean((noisy[band] - clean[band]) ** 2)


def test_robust_subspace_beats_plain_subspace_on_the_mixture(clean_scene):
    _, clean = clean_scene
    valid = np.ones(clean.shape[1:], bool)
    noisy = degrade(clean, np.random.default_rng(5), "mixture")
    plain = assess(clean, subspace_denoise(noisy, valid), data_range=1.0)["MPSNR"]
    robust, _, _ = robust_subspace_denoise(noisy, valid)
    assert assess(clean, robust, data_range=1.0)["MPSNR"] > plain + 3.0


def test_a_short_self_supervised_fit_lowers_the_error():
    """Unguided Neighbor2Neighbor on a noisy smooth 3-band stack: 30 steps already learn some denoising."""
    rng = np.random.default_rng(1234)
    y, x = np.mgrid[0:24, 0:24] / 24.0
    signal = np.stack([np.sin(3 * x + k) * np.cos(2 * y) for k in range(3)])
    noisy = signal + 0.4 * rng.standard_normal(signal.shape)
    model = build_model("hsdt", "small")
    noise = np.full(3, 0.4)
    log = train_neighbor2neighbor(
        model, [noisy.astype(np.float32)], [noise], 600.0, torch.device("cpu"), guided=False, max_steps=30
    )
    assert log.steps == 30 and log.epochs == 3
    result = apply_network(model, noisy, noise, torch.device("cpu"), guided=False)
    assert np.mean((result - signal) ** 2) < 0.92 * np.mean((noisy - signal) ** 2)


@pytest.mark.parametrize("method", ["subspace", "hsdt"])
def test_denoise_raster_improves_and_keeps_bad_bands_and_nodata_exactly(method, clean_scene, tmp_path):
    scene, _ = clean_scene
    path, clean, noisy = write_noisy(tmp_path / "noisy.tif", scene)
    result = denoise_raster(path, str(tmp_path / "out.tif"), method, max_steps=2, tile_size=32)
    out, info = read_raster(result.output)
    assert info.grid.same_as(raster_info(path).grid)
    assert np.allclose(info.metadata.wavelengths_nm, scene.wavelengths_nm)
    assert np.array_equal(out[scene.bad_bands], noisy[scene.bad_bands])
    assert np.all(out[:, :5, :7] == NODATA)
    assert good_psnr(clean, out, scene) > good_psnr(clean, noisy, scene) + 8.0
    if method == "hsdt":
        assert result.training.steps == 2


def test_model_file_round_trip_and_clear_errors(clean_scene, tmp_path):
    scene, _ = clean_scene
    path, clean, noisy = write_noisy(tmp_path / "noisy.tif", scene, holes=False)
    model_path = str(tmp_path / "man.safetensors")
    card = train_denoiser([path], model_path, "man", max_steps=1)
    state, stored = load_model(model_path, "denoise")
    for key in ("architecture", "preset", "band_count", "wavelengths_nm", "normalisation", "training_data",
                "training_time_s", "metrics"):
        assert key in stored
    assert stored["band_count"] == 31 and stored["architecture"] == "man"
    assert json.loads(Path(os.path.splitext(model_path)[0] + ".json").read_text())["preset"] == "small"
    reference = build_model("man", "small").state_dict()
    assert set(state) == set(reference)
    out_path = str(tmp_path / "applied.tif")
    denoise_raster(path, out_path, "man", model_file=model_path)
    out, _ = read_raster(out_path)
    assert good_psnr(clean, out, scene) > good_psnr(clean, noisy, scene) + 8.0

    with pytest.raises(HsiInputError, match="HSDT|MAN"):
        denoise_raster(path, str(tmp_path / "x.tif"), "hsdt", model_file=model_path)
    other = make_sample_scene(rows=20, cols=20, n_bands=40, seed=1)
    other_path, _, _ = write_noisy(tmp_path / "other.tif", other, holes=False)
    with pytest.raises(HsiInputError, match="trained on 31 bands but the raster has 40"):
        denoise_raster(other_path, str(tmp_path / "y.tif"), "man", model_file=model_path)
    assert not os.path.exists(tmp_path / "x.tif") and not os.path.exists(tmp_path / "y.tif")
    assert card["metrics"]["steps"] == 1


def test_bad_parameters_give_clear_errors(clean_scene, tmp_path):
    scene, _ = clean_scene
    path, _, _ = write_noisy(tmp_path / "noisy.tif", scene, holes=False)
    with pytest.raises(HsiInputError, match="METHOD"):
        denoise_raster(path, str(tmp_path / "o.tif"), "bm4d")
    with pytest.raises(HsiInputError, match="at least one"):
        train_denoiser([], str(tmp_path / "m.safetensors"))
    other = make_sample_scene(rows=20, cols=20, n_bands=40, seed=1)
    other_path, _, _ = write_noisy(tmp_path / "other.tif", other, holes=False)
    with pytest.raises(HsiInputError, match="same bands"):
        train_denoiser([path, other_path], str(tmp_path / "m.safetensors"), max_steps=1)
    assert not os.path.exists(tmp_path / "m.safetensors")
