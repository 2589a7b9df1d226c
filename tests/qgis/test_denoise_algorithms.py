"""Denoise and Train denoiser through processing.run, in a graphical model, and with bad model files."""
from __future__ import annotations

import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from hsi_qgis_plugin.core.metadata import BandMetadata
from hsi_qgis_plugin.core.raster import raster_info, read_raster, write_raster
from hsi_qgis_plugin.core.sample_scene import make_sample_scene, scene_grid
from tests.qgis.modeler import new_model, add_child, model_input, child_output

NODATA = -9999.0


@pytest.fixture(scope="module")
def noisy_tif(tmp_path_factory):
    """A 31-band scene with non-iid noise on its good bands, a nodata block and bad bands."""
    from hsi_qgis_plugin.core.degradation import degrade

    scene = make_sample_scene(rows=40, cols=36, n_bands=31, seed=4)
    data = scene.data.astype(np.float64).copy()
    good = ~scene.bad_bands
    data[good] = degrade(data[good], np.random.default_rng(1), "noniid")
    data[:, :4, :6] = NODATA
    path = str(tmp_path_factory.mktemp("denoise") / "noisy.tif")
    meta = BandMetadata(31, scene.wavelengths_nm, scene.fwhm_nm, scene.bad_bands, nodata=NODATA)
    write_raster(path, data.astype(np.float32), scene_grid(scene), meta, nodata=NODATA)
    return path, scene


def mpsnr(clean, estimate, good) -> float:
    mse = np.mean((clean[good][:, 4:, 6:] - estimate[good][:, 4:, 6:]) ** 2, axis=(1, 2))
    return float(np.mean(10 * np.log10(1.0 / mse)))


class Recorder(QgsProcessingFeedback):
    """Keeps progress values and messages; cancels when a message contains ``cancel_on``."""

    def __init__(self, cancel_on: str = "") -> None:
        super().__init__()
        self.progress, self.messages, self.cancel_on = [], [], cancel_on
        self.progressChanged.connect(self.progress.append)

    def pushInfo(self, info: str) -> None:  # noqa: N802
        self.messages.append(info)
        if self.cancel_on and self.cancel_on in info:
            self.cancel()
        super().pushInfo(info)


def test_denoise_subspace_through_processing_improves_and_keeps_bad_bands_and_nodata(run_algorithm, noisy_tif, tmp_path):
    path, scene = noisy_tif
    feedback = Recorder()
    result = run_algorithm("hsi:denoise", {"INPUT": path, "METHOD": 1, "OUTPUT": str(tmp_path / "d.tif")}, feedback)
    out, info = read_raster(result["OUTPUT"])
    noisy, _ = read_raster(path)
    assert info.grid.same_as(raster_info(path).grid)
    assert np.allclose(info.metadata.wavelengths_nm, scene.wavelengths_nm)
    assert np.array_equal(out[scene.bad_bands], noisy[scene.bad_bands])
    assert np.all(out[:, :4, :6] == NODATA)
    assert mpsnr(scene.data, out, ~scene.bad_bands) > mpsnr(scene.data, noisy, ~scene.bad_bands) + 8.0
    assert result["RANK"] >= 2
    assert feedback.progress and max(feedback.progress) == pytest.approx(100.0)
    assert any("Tiled run" in m for m in feedback.messages)


def test_train_then_apply_a_model_file_and_reject_a_mismatched_raster(run_algorithm, noisy_tif, tmp_path):
    path, scene = noisy_tif
    feedback = Recorder()
    model = run_algorithm(
        "hsi:traindenoiser",
        {"INPUTS": [path], "ARCHITECTURE": 0, "TIME_BUDGET": 1, "DEVICE": "cpu", "OUTPUT_MODEL": str(tmp_path / "m.safetensors")},
        feedback,
    )
    assert os.path.exists(model["OUTPUT_MODEL"]) and os.path.exists(str(tmp_path / "m.json"))
    assert model["STEPS"] >= 1
    assert any("Running on CPU" in m for m in feedback.messages)
    applied = run_algorithm(
        "hsi:denoise",
        {"INPUT": path, "METHOD": 2, "MODEL_FILE": model["OUTPUT_MODEL"], "DEVICE": "cpu", "OUTPUT": str(tmp_path / "a.tif")},
    )
    out, _ = read_raster(applied["OUTPUT"])
    noisy, _ = read_raster(path)
    assert mpsnr(scene.data, out, ~scene.bad_bands) > mpsnr(scene.data, noisy, ~scene.bad_bands) + 8.0

    other = make_sample_scene(rows=16, cols=16, n_bands=24, seed=1)
    other_path = str(tmp_path / "other.tif")
    write_raster(other_path, other.data, scene_grid(other), BandMetadata(24, other.wavelengths_nm))
    with pytest.raises(QgsProcessingException, match="trained on 31 bands but the raster has 24"):
        run_algorithm(
            "hsi:denoise",
            {"INPUT": other_path, "METHOD": 2, "MODEL_FILE": model["OUTPUT_MODEL"], "OUTPUT": str(tmp_path / "bad.tif")},
        )
    assert not os.path.exists(tmp_path / "bad.tif")


def test_fit_on_scene_with_man_reports_epochs_and_cancels_cleanly(hsi_processing, noisy_tif, tmp_path):
    path, _ = noisy_tif
    feedback = Recorder(cancel_on="Epoch 1:")
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        hsi_processing.run(
            "hsi:denoise",
            {"INPUT": path, "METHOD": 3, "TIME_BUDGET": 600, "DEVICE": "cpu", "OUTPUT": str(tmp_path / "c.tif")},
            feedback=feedback,
        )
    assert not os.path.exists(tmp_path / "c.tif")
    assert any("Epoch 1" in m for m in feedback.messages)


def test_denoise_inside_a_graphical_model(hsi_processing, scene_tif, tmp_path):
    model = new_model("Degrade and denoise", ["clean"])
    add_child(model, "degrade", "hsi:simulatedegradation", {"INPUT": model_input("clean"), "NOISE": 6})
    add_child(model, "denoise", "hsi:denoise", {"INPUT": child_output("degrade")}, {"denoised": "OUTPUT"})
    ok, problems = model.validate()
    assert ok, problems
    result = hsi_processing.run(model, {"clean": scene_tif, "denoise:denoised": str(tmp_path / "denoised.tif")})
    clean, _ = read_raster(scene_tif)
    out, info = read_raster(result["denoise:denoised"])
    assert info.grid.same_as(raster_info(scene_tif).grid)
    good = info.metadata.good_bands
    assert np.mean((out[good] - clean[good]) ** 2) < 0.05 * np.var(clean[good])
