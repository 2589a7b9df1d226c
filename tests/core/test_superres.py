"""ESSA attention, band-agnostic SR network, Spectral Mixup, zero-shot fit and model files."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from hsi_qgis_plugin.core.errors import HsiInputError
from hsi_qgis_plugin.core.metadata import BandMetadata
from hsi_qgis_plugin.core.model_file import card_path
from hsi_qgis_plugin.core.raster import RasterGrid, raster_info, read_raster, write_raster
from hsi_qgis_plugin.methods.superres.workflow import (
    Normaliser,
    degrade,
    fit_network,
    mixing_matrix,
    spectral_mixup,
    superresolve,
    superresolve_block,
    train_superres_model,
)
from hsi_qgis_plugin.models.essa import EssaAttention, EssaConfig, EssaSR, parameter_count, preset_config

torch.set_num_threads(1)  # the test machine is shared; one thread avoids contention


def test_essa_attention_equals_direct_quadratic_kernel_attention():
    torch.manual_seed(0)
    attention = EssaAttention(12).double()
    x = torch.randn(2, 30, 12, dtype=torch.float64)
    q, k, v = attention.qkv(x).chunk(3, dim=-1)
    # direct O(N^2) form: kernel between every pair of tokens from the squared, centred q and k
    qc, kc = q - q.mean(-1, keepdim=True), k - k.mean(-1, keepdim=True)
    q2 = qc ** 2 / (qc ** 2).sum(-1, keepdim=True)
    k2 = kc ** 2 / (kc ** 2).sum(-1, keepdim=True)
    q2 = q2 / q2.norm(dim=-1, keepdim=True)
    k2 = k2 / k2.norm(dim=-2, keepdim=True)
    kernel = torch.einsum("bic,bjc->bij", q2, k2)  # (B, N, N)
    direct = attention.proj(v + kernel @ v / math.sqrt(30))
    assert torch.allclose(attention(x), direct, atol=1e-10)
    assert kernel.shape == (2, 30, 30) and (kernel >= 0).all()


@pytest.mark.parametrize("bands", [31, 102, 224])
def test_network_is_band_agnostic(bands):
    torch.manual_seed(0)
    model = EssaSR(preset_config("small", 2)).eval()
    x = torch.randn(1, bands, 8, 6)
    with torch.no_grad():
        y = model(x, group_batch=7)
        bicubic = model.upsample(x)
    assert y.shape == (1, bands, 16, 12)
    assert torch.isfinite(y).all()
    # the learned part is a residual over bicubic, and every band gets one
    assert (y - bicubic).abs().amax(dim=(0, 2, 3)).min() > 0


def test_group_indices_cover_every_band_and_short_rasters():
    model = EssaSR(EssaConfig(factor=2, group_size=8, group_overlap=2))
    index = model.group_indices(20)
    assert set(index.reshape(-1).tolist()) == set(range(20))
    assert index.shape[1] == 8
    assert model.group_indices(5).tolist() == [[0, 1, 2, 3, 4, 4, 4, 4]]
    with torch.no_grad():
        assert model(torch.randn(1, 5, 4, 4)).shape == (1, 5, 8, 8)


def test_presets_are_small_enough_for_a_cpu():
    for preset in ("small", "base", "large"):
        assert parameter_count(EssaSR(preset_config(preset, 4))) < 2_000_000


def test_spectral_mixup_stays_in_the_convex_hull_of_the_bands():
    generator = torch.Generator().manual_seed(0)
    weights = mixing_matrix(16, 0.5, generator)
    assert (weights >= 0).all()
    assert torch.allclose(weights.sum(dim=0), torch.ones(16))
    x = torch.rand(16, 10, 9) * 5 - 2
    mixed = spectral_mixup(x, 0.5, generator)
    assert mixed.shape == x.shape
    low, high = x.min(dim=0).values, x.max(dim=0).values
    assert (mixed >= low - 1e-5).all() and (mixed <= high + 1e-5).all()
    assert not torch.allclose(mixed, x)
    assert torch.allclose(spectral_mixup(x, 0.0, generator), x)


@pytest.mark.parametrize("kind", ["wald", "bicubic"])
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_degradation_is_centred_on_the_coarse_pixels(kind, factor):
    rows = cols = 12 * factor
    ramp = np.add.outer(np.arange(rows) * 0.5, np.arange(cols) * 1.0)[None].astype(np.float32)
    low = degrade(ramp, factor, kind)
    assert low.shape == (1, 12, 12)
    centres = (np.arange(12) + 0.5) * factor - 0.5  # coarse pixel centres in fine pixel coordinates
    expected = np.add.outer(centres * 0.5, centres * 1.0)
    inner = slice(3, 9)  # away from the borders
    np.testing.assert_allclose(low[0, inner, inner], expected[inner, inner], atol=1e-3)


def test_short_zero_shot_fit_beats_bicubic(sample_scene):
    data = sample_scene.data[~sample_scene.bad_bands].astype(np.float32)
    normaliser = Normaliser.from_pixels(data.reshape(data.shape[0], -1))
    scene = normaliser.forward(data)
    valid = np.ones(scene.shape[1:], bool)
    model, history = fit_network(
        [(scene, valid)], 2, preset="small", budget_s=120, max_steps=120, degradation="bicubic",
        learning_rate=5e-3, spectral_weight=0.0, device="cpu", threads=1, seed=0,
    )
    assert history.steps == 120
    assert np.mean(history.losses[-15:]) < 0.8 * np.mean(history.losses[:15])
    assert history.psnr_network_db > history.psnr_bicubic_db + 0.03


def test_block_keeps_bad_bands_and_nodata(rng):
    data = rng.random((6, 5, 4)).astype(np.float32)
    data[:, 2, 1] = -9999.0
    good = np.array([True, True, False, True, True, True])
    out = superresolve_block(data, 3, good, -9999.0)
    assert out.shape == (6, 15, 12)
    assert (out[:, 6:9, 3:6] == -9999.0).all()
    np.testing.assert_array_equal(out[2], np.repeat(np.repeat(data[2], 3, 0), 3, 1))
    assert (out[good][:, :6] != -9999.0).all()


def _write(path, data, wavelengths, bad=None, nodata=None, pixel=30.0):
    grid = RasterGrid(data.shape[2], data.shape[1], (500000.0, pixel, 0.0, 5800000.0, 0.0, -pixel), "")
    meta = BandMetadata(data.shape[0], wavelengths_nm=wavelengths, bad_bands=bad, nodata=nodata)
    return write_raster(str(path), data.astype(np.float32), grid, meta)


def test_model_file_round_trip_on_other_band_counts(tmp_path, sample_scene):
    first = _write(tmp_path / "a.tif", sample_scene.data, sample_scene.wavelengths_nm, sample_scene.bad_bands)
    second = _write(tmp_path / "b.tif", sample_scene.data[::2, :32, :32], sample_scene.wavelengths_nm[::2])
    model_path = str(tmp_path / "sr.safetensors")
    result = train_superres_model([first, second], 2, model_path, preset="small", budget_s=30, max_steps=4,
                                  device="cpu")
    with open(card_path(model_path), encoding="utf-8") as handle:
        card = json.load(handle)
    assert card["task"] == "superresolution" and card["factor"] == 2 and card["preset"] == "small"
    assert card["training_data"]["rasters"] == ["a.tif", "b.tif"]
    assert card["band_count"] is None and card["training_data"]["band_counts"] == [12, 21]
    assert result.history.steps == 4
    other = _write(tmp_path / "c.tif", sample_scene.data[:7, :20, :16], sample_scene.wavelengths_nm[:7])
    out = str(tmp_path / "c_x2.tif")
    superresolve(other, out, 2, "model", model_path=model_path, device="cpu")
    estimate, _ = read_raster(out)
    assert estimate.shape == (7, 40, 32) and np.isfinite(estimate).all()
    quadrupled = str(tmp_path / "c_x4.tif")
    superresolve(other, quadrupled, 4, "model", model_path=model_path, device="cpu")  # the x2 model twice
    assert read_raster(quadrupled)[0].shape == (7, 80, 64)
    assert raster_info(quadrupled).grid.same_as(raster_info(other).grid.refined(4))
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no temporary x2 raster left
    with pytest.raises(HsiInputError, match="x2, not x3"):
        superresolve(other, str(tmp_path / "bad.tif"), 3, "model", model_path=model_path, device="cpu")


def test_file_level_errors(tmp_path, sample_scene):
    small = _write(tmp_path / "small.tif", sample_scene.data[:, :10, :10], sample_scene.wavelengths_nm)
    with pytest.raises(HsiInputError, match="too small"):
        superresolve(small, str(tmp_path / "o.tif"), 4, "essa", budget_s=1, device="cpu")
    with pytest.raises(HsiInputError, match="MODEL_FILE"):
        superresolve(small, str(tmp_path / "o.tif"), 2, "model")
    with pytest.raises(HsiInputError, match="FACTOR"):
        superresolve(small, str(tmp_path / "o.tif"), 5, "bicubic")
    assert not (tmp_path / "o.tif").exists()


def test_bicubic_output_grid_and_wavelengths(tmp_path, sample_scene):
    path = _write(tmp_path / "s.tif", sample_scene.data, sample_scene.wavelengths_nm, sample_scene.bad_bands)
    out = str(tmp_path / "s_x3.tif")
    superresolve(path, out, 3, "bicubic")
    info = raster_info(out)
    assert info.grid.same_as(raster_info(path).grid.refined(3))
    np.testing.assert_allclose(info.metadata.wavelengths_nm, sample_scene.wavelengths_nm)
    np.testing.assert_array_equal(info.metadata.bad_bands, sample_scene.bad_bands)


def test_self_ensemble_undoes_each_rotation_and_flip():
    from hsi_qgis_plugin.methods.superres.workflow import _dihedral, _dihedral_inverse

    x = torch.arange(2 * 3 * 4.0).reshape(1, 2, 3, 4)
    outputs = {tuple(_dihedral(x, k).reshape(-1).tolist()) for k in range(8)}
    assert len(outputs) == 8
    for k in range(8):
        assert torch.equal(_dihedral_inverse(_dihedral(x, k), k), x)


def test_an_untrained_network_falls_back_to_bicubic(tmp_path, sample_scene):
    path = _write(tmp_path / "s.tif", sample_scene.data, sample_scene.wavelengths_nm, sample_scene.bad_bands)
    fitted = superresolve(path, str(tmp_path / "net.tif"), 2, "essa", budget_s=60, max_steps=1, device="cpu",
                          threads=1)
    assert fitted.method == "bicubic" and fitted.history.psnr_network_db < fitted.history.psnr_bicubic_db
    superresolve(path, str(tmp_path / "bic.tif"), 2, "bicubic")
    np.testing.assert_array_equal(read_raster(str(tmp_path / "net.tif"))[0], read_raster(str(tmp_path / "bic.tif"))[0])


def _beats_bicubic(monkeypatch):
    """Make the fitted network count as better than bicubic, so the network path runs after a tiny fit."""
    import hsi_qgis_plugin.methods.superres.workflow as superres

    monkeypatch.setattr(superres, "_evaluate", lambda model, pairs, device: (99.0, 1.0))


def test_zero_shot_x4_is_a_x2_network_applied_twice(tmp_path, sample_scene, monkeypatch):
    import hsi_qgis_plugin.methods.superres.workflow as superres
    from hsi_qgis_plugin.core.progress import Monitor

    _beats_bicubic(monkeypatch)
    scales, factors, progress = [], [], []
    real_run_tiled, real_fit = superres.run_tiled, superres.fit_network
    monkeypatch.setattr(superres, "run_tiled", lambda *a, **k: scales.append(k["scale"]) or real_run_tiled(*a, **k))
    monkeypatch.setattr(superres, "fit_network", lambda w, f, *a, **k: factors.append(f) or real_fit(w, f, *a, **k))
    data = sample_scene.data.copy()
    data[:, 5, 7] = -9999.0
    path = _write(tmp_path / "s.tif", data, sample_scene.wavelengths_nm, sample_scene.bad_bands, nodata=-9999.0)
    out = str(tmp_path / "s_x4.tif")
    result = superresolve(path, out, 4, "essa", budget_s=60, max_steps=2, device="cpu", threads=1,
                          self_ensemble=False, monitor=Monitor(progress=progress.append))
    assert result.method == "essa" and result.factor == 4 and result.history.steps == 2
    assert factors == [2] and scales == [2, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.tif", "s_x4.tif"]  # no temporary x2 raster left
    info, source = raster_info(out), raster_info(path)
    assert (info.width, info.height) == (source.width * 4, source.height * 4)
    assert info.grid.geotransform == source.grid.refined(4).geotransform
    assert info.grid.same_as(source.grid.refined(4))
    np.testing.assert_allclose(info.metadata.wavelengths_nm, sample_scene.wavelengths_nm)
    np.testing.assert_array_equal(info.metadata.bad_bands, sample_scene.bad_bands)
    estimate, _ = read_raster(out)
    assert (estimate[:, 20:24, 28:32] == -9999.0).all()  # nodata replicated by 4, never invented
    np.testing.assert_array_equal(estimate[sample_scene.bad_bands], np.repeat(np.repeat(
        data[sample_scene.bad_bands], 4, axis=1), 4, axis=2))  # bad bands replicated
    assert np.isfinite(estimate).all() and (np.diff(progress) >= -1e-9).all() and progress[-1] == pytest.approx(100)


def test_x4_cascade_removes_its_temporary_raster_on_cancel(tmp_path, sample_scene, monkeypatch):
    from hsi_qgis_plugin.core.errors import HsiCancelled
    from hsi_qgis_plugin.core.progress import Monitor

    _beats_bicubic(monkeypatch)
    path = _write(tmp_path / "s.tif", sample_scene.data, sample_scene.wavelengths_nm, sample_scene.bad_bands)
    logs = []
    monitor = Monitor(cancelled=lambda: any("pass 2 of 2" in line for line in logs), log=logs.append)
    with pytest.raises(HsiCancelled):
        superresolve(path, str(tmp_path / "s_x4.tif"), 4, "essa", budget_s=60, max_steps=2, device="cpu",
                     threads=1, self_ensemble=False, monitor=monitor)
    assert any("pass 1 of 2" in line for line in logs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.tif"]


def test_x4_cascade_refuses_scenes_too_small_for_a_x2_fit(tmp_path, sample_scene):
    small = _write(tmp_path / "small.tif", sample_scene.data[:, :31, :40], sample_scene.wavelengths_nm)
    with pytest.raises(HsiInputError, match="at least 32 pixels per side.*x4 is learned as x2"):
        superresolve(small, str(tmp_path / "o.tif"), 4, "essa", budget_s=1, device="cpu")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.tif"]
