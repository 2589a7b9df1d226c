"""Pansharpen and Assess pansharpening through QGIS Processing: grids, ratio, network, models, errors, cancel."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from osgeo import osr
from qgis.core import QgsProcessingException, QgsProcessingFeedback
from scipy import ndimage

from hsi_qgis_plugin.core.metadata import BandMetadata
from hsi_qgis_plugin.core.mtf import mtf_degrade
from hsi_qgis_plugin.core.raster import RasterGrid, raster_info, read_raster, write_raster
from tests.qgis.modeler import new_model, add_child, model_input, child_output


def _wkt() -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    return srs.ExportToWkt()


def _write(path, array, origin, pixel, meta=None):
    grid = RasterGrid(array.shape[-1], array.shape[-2], (origin[0], pixel, 0.0, origin[1], 0.0, -pixel), _wkt())
    return write_raster(str(path), array.astype(np.float32), grid, meta)


@pytest.fixture
def pair(tmp_path):
    """HS 16 x 16 at 30 m (6 bands with wavelengths) and a PAN at 7.5 m (ratio 4) over HS columns 2..13."""
    rng = np.random.default_rng(5)
    noise = rng.standard_normal((64, 64))
    pan = 1.0 + 0.3 * ndimage.gaussian_filter(noise, 1.0) + 0.5 * ndimage.gaussian_filter(noise, 4.0)
    scales = np.linspace(0.6, 1.6, 6)
    hs = scales[:, None, None] * mtf_degrade(pan, 4, 0.3)[None]
    meta = BandMetadata(6, wavelengths_nm=np.linspace(450, 900, 6))
    hs_path = _write(tmp_path / "hs.tif", hs, (300000.0, 5800000.0), 30.0, meta)
    pan_path = _write(tmp_path / "pan.tif", pan[:, 8:56], (300060.0, 5800000.0), 7.5)
    reference = _write(tmp_path / "reference.tif", scales[:, None, None] * pan[None, :, 8:56],
                       (300060.0, 5800000.0), 7.5, meta)
    out = tmp_path / "out"
    out.mkdir()
    return hs_path, pan_path, reference, out


def test_pansharpen_output_is_on_the_pan_grid_with_wavelengths_and_ratio(run_algorithm, pair):
    hs_path, pan_path, reference, out = pair
    result = run_algorithm("hsi:pansharpen", {"HS": hs_path, "PAN": pan_path, "METHOD": 4,
                                              "OUTPUT": str(out / "fused.tif")})
    assert result["RATIO"] == 4
    fused, info = read_raster(result["OUTPUT"])
    assert info.grid.same_as(raster_info(pan_path).grid)
    np.testing.assert_allclose(info.metadata.wavelengths_nm, np.linspace(450, 900, 6))
    truth = read_raster(reference)[0]
    np.testing.assert_allclose(fused[:, 12:-12, 12:-12], truth[:, 12:-12, 12:-12], rtol=0.03)


def test_assess_pansharpening_reports_no_reference_and_wald_indices(run_algorithm, pair):
    hs_path, pan_path, reference, out = pair
    fused = run_algorithm("hsi:pansharpen", {"HS": hs_path, "PAN": pan_path, "METHOD": 1,
                                             "OUTPUT": str(out / "gsa.tif")})["OUTPUT"]
    exp = run_algorithm("hsi:pansharpen", {"HS": hs_path, "PAN": pan_path, "METHOD": 0,
                                           "OUTPUT": str(out / "exp.tif")})["OUTPUT"]
    scores = {}
    for name, path in (("gsa", fused), ("exp", exp)):
        scores[name] = run_algorithm("hsi:assesspansharpening", {
            "FUSED": path, "HS": hs_path, "PAN": pan_path, "REFERENCE": reference,
            "OUTPUT_HTML": str(out / f"{name}.html"), "OUTPUT_JSON": str(out / f"{name}.json")})
    assert scores["gsa"]["HQNR"] > scores["exp"]["HQNR"]
    assert scores["gsa"]["ERGAS"] < scores["exp"]["ERGAS"] and scores["gsa"]["Q2N"] > scores["exp"]["Q2N"]
    with open(out / "gsa.json") as handle:
        payload = json.load(handle)
    assert payload["ratio"] == 4 and len(payload["Q_PER_BAND"]) == 6
    assert os.path.exists(out / "gsa.html") and os.path.exists(out / "gsa_per_band.png")


def test_zero_shot_network_runs_through_processing(run_algorithm, pair):
    hs_path, pan_path, _, out = pair
    feedback = QgsProcessingFeedback()
    messages = []
    feedback.pushInfo = messages.append
    result = run_algorithm("hsi:pansharpen", {"HS": hs_path, "PAN": pan_path, "METHOD": 5, "ITERATIONS": 3,
                                              "TIME_BUDGET": 30, "DEVICE": "cpu", "OUTPUT": str(out / "pnn.tif")},
                           feedback=feedback)
    fused, info = read_raster(result["OUTPUT"])
    assert info.grid.same_as(raster_info(pan_path).grid) and np.isfinite(fused).all()
    assert any("Running on CPU" in m for m in messages)
    assert any("bands fine-tuned" in m for m in messages)


def test_non_integer_ratio_fails_clearly_and_writes_nothing(run_algorithm, pair, tmp_path):
    hs_path, _, _, out = pair
    odd = _write(tmp_path / "odd.tif", np.ones((50, 50)), (300000.0, 5800000.0), 12.0)
    with pytest.raises(QgsProcessingException, match="integer ratio"):
        run_algorithm("hsi:pansharpen", {"HS": hs_path, "PAN": odd, "METHOD": 1, "OUTPUT": str(out / "x.tif")})
    assert os.listdir(out) == []


def test_cancel_stops_the_network_and_leaves_no_output(run_algorithm, pair):
    hs_path, pan_path, _, out = pair
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda value: feedback.cancel() if value > 3 else None)  # base done: training
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_algorithm("hsi:pansharpen", {"HS": hs_path, "PAN": pan_path, "METHOD": 5, "DEVICE": "cpu",
                                         "OUTPUT": str(out / "c.tif")}, feedback=feedback)
    assert os.listdir(out) == []


def test_graphical_model_pansharpen_then_assess(hsi_processing, pair):
    hs_path, pan_path, _, out = pair
    model = new_model("Sharpen and assess", ["hs", "pan"])
    hs, pan = model_input("hs"), model_input("pan")
    add_child(model, "sharpen", "hsi:pansharpen", {"HS": hs, "PAN": pan}, {"fused": "OUTPUT"})
    add_child(model, "assess", "hsi:assesspansharpening", {"FUSED": child_output("sharpen"), "HS": hs, "PAN": pan},
              {"report": "OUTPUT_HTML"})
    ok, problems = model.validate()
    assert ok, problems
    result = hsi_processing.run(model, {"hs": hs_path, "pan": pan_path, "sharpen:fused": str(out / "f.tif"),
                                        "assess:report": str(out / "r.html")})
    assert raster_info(result["sharpen:fused"]).grid.same_as(raster_info(pan_path).grid)
    assert os.path.exists(result["assess:report"])
