"""Super-resolve and Train super-resolution model through QGIS Processing."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException

from hsi_qgis_plugin.core.model_file import card_path
from hsi_qgis_plugin.core.raster import raster_info, read_raster
from tests.qgis.modeler import new_model, add_child, model_input

FAST = {"BUDGET": 1, "PRESET": 0, "DEVICE": "cpu", "THREADS": 1}


@pytest.mark.parametrize("factor_index, factor", [(0, 2), (1, 3), (2, 4)])
def test_bicubic_output_is_exactly_georeferenced(run_algorithm, scene_tif, tmp_path, factor_index, factor):
    out = str(tmp_path / f"x{factor}.tif")
    result = run_algorithm("hsi:superresolve", {"INPUT": scene_tif, "FACTOR": factor_index, "METHOD": 0, "OUTPUT": out})
    source, info = raster_info(scene_tif), raster_info(result["OUTPUT"])
    assert (info.width, info.height) == (source.width * factor, source.height * factor)
    gt, expected = info.grid.geotransform, source.grid.geotransform
    assert gt == (expected[0], expected[1] / factor, 0.0, expected[3], 0.0, expected[5] / factor)
    assert info.grid.same_as(source.grid.refined(factor))
    np.testing.assert_allclose(info.metadata.wavelengths_nm, source.metadata.wavelengths_nm)
    high, _ = read_raster(out)
    low, _ = read_raster(scene_tif)
    # averaging the fine pixels of a coarse pixel comes back close to it
    pooled = high.reshape(low.shape[0], low.shape[1], factor, low.shape[2], factor).mean(axis=(2, 4))
    good = source.metadata.good_bands
    assert np.median(np.abs(pooled[good] - low[good])) < 0.01 * np.ptp(low[good])


def test_zero_shot_network_writes_a_finite_refined_raster(run_algorithm, scene_tif, tmp_path):
    out = str(tmp_path / "essa.tif")
    result = run_algorithm("hsi:superresolve", {"INPUT": scene_tif, "FACTOR": 0, "METHOD": 1, "OUTPUT": out, **FAST})
    data, info = read_raster(result["OUTPUT"])
    assert data.shape[1:] == (2 * raster_info(scene_tif).height, 2 * raster_info(scene_tif).width)
    assert np.isfinite(data).all()
    assert np.isfinite(result["TRAIN_PSNR"]) and np.isfinite(result["TRAIN_BICUBIC_PSNR"])


def test_train_then_apply_a_model_file(run_algorithm, scene_tif, tmp_path):
    model = str(tmp_path / "sr.safetensors")
    trained = run_algorithm(
        "hsi:trainsuperresolution", {"INPUTS": [scene_tif, scene_tif], "FACTOR": 0, "OUTPUT_MODEL": model, **FAST}
    )
    assert os.path.exists(trained["OUTPUT_MODEL"])
    with open(card_path(model), encoding="utf-8") as handle:
        card = json.load(handle)
    assert card["factor"] == 2 and card["band_count"] == int(raster_info(scene_tif).metadata.good_bands.sum())
    out = str(tmp_path / "from_model.tif")
    run_algorithm("hsi:superresolve", {"INPUT": scene_tif, "FACTOR": 0, "METHOD": 2, "MODEL_FILE": model,
                                       "OUTPUT": out, "DEVICE": "cpu"})
    assert raster_info(out).grid.same_as(raster_info(scene_tif).grid.refined(2))
    with pytest.raises(QgsProcessingException, match="x2, not x3"):
        run_algorithm("hsi:superresolve", {"INPUT": scene_tif, "FACTOR": 1, "METHOD": 2, "MODEL_FILE": model,
                                           "OUTPUT": str(tmp_path / "wrong.tif"), "DEVICE": "cpu"})
    assert not (tmp_path / "wrong.tif").exists()


def test_model_method_without_file_fails_cleanly(run_algorithm, scene_tif, tmp_path):
    out = tmp_path / "none.tif"
    with pytest.raises(QgsProcessingException, match="MODEL_FILE"):
        run_algorithm("hsi:superresolve", {"INPUT": scene_tif, "FACTOR": 0, "METHOD": 2, "OUTPUT": str(out)})
    assert not out.exists()


def test_superresolve_inside_a_graphical_model(hsi_processing, scene_tif, tmp_path):
    model = new_model("Super-resolve", ["scene"])
    add_child(model, "sr", "hsi:superresolve", {"INPUT": model_input("scene"), "FACTOR": 2, "METHOD": 0},
              {"sharp": "OUTPUT"})
    ok, problems = model.validate()
    assert ok, problems
    result = hsi_processing.run(model, {"scene": scene_tif, "sr:sharp": str(tmp_path / "sharp.tif")})
    assert raster_info(result["sr:sharp"]).grid.same_as(raster_info(scene_tif).grid.refined(4))
