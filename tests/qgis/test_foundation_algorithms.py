"""The Hyperspectral provider and its first algorithms, run the way users run them."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from qgis.core import (
    QgsApplication,
    QgsProcessingException,
    QgsProcessingFeedback,
)

from hsi_qgis_plugin.core.raster import RasterGrid, raster_info, read_raster, write_raster
from tests.qgis.modeler import new_model, add_child, model_input, child_output


def outputs_in(folder) -> list:
    return sorted(f for f in os.listdir(folder) if not f.endswith(".aux.xml"))


def test_provider_is_listed_with_name_icon_and_groups(hsi_processing):
    provider = QgsApplication.processingRegistry().providerById("hsi")
    assert provider.name() == "Hyperspectral"
    assert not provider.icon().isNull()
    ids = {a.id() for a in provider.algorithms()}
    assert {"hsi:simulatedegradation", "hsi:assessquality", "hsi:lowrankdenoise"} <= ids
    assert {a.group() for a in provider.algorithms()} <= {"Enhancement", "Classification", "Quality", "Tools"}


def test_every_algorithm_has_help_and_stable_upper_case_parameter_ids(hsi_processing):
    provider = QgsApplication.processingRegistry().providerById("hsi")
    for algorithm in provider.algorithms():
        assert len(algorithm.shortHelpString()) > 80, algorithm.id()
        for parameter in algorithm.parameterDefinitions():
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", parameter.name()), (algorithm.id(), parameter.name())
            assert parameter.type() in _STANDARD_TYPES, (algorithm.id(), parameter.type())


_STANDARD_TYPES = {
    "raster", "vector", "source", "multilayer", "number", "enum", "boolean", "string", "file", "field",
    "rasterDestination", "vectorDestination", "fileDestination", "folderDestination", "sink", "crs", "extent",
    "band", "distance", "matrix", "point", "layer",
}


def test_simulate_degradation_keeps_georeferencing_and_wavelengths_and_is_reproducible(run_algorithm, scene_tif, tmp_path):
    params = {"INPUT": scene_tif, "NOISE": 6, "SEED": 7}
    first = run_algorithm("hsi:simulatedegradation", {**params, "OUTPUT": str(tmp_path / "a.tif")})
    second = run_algorithm("hsi:simulatedegradation", {**params, "OUTPUT": str(tmp_path / "b.tif")})
    a, info = read_raster(first["OUTPUT"])
    b, _ = read_raster(second["OUTPUT"])
    clean, source = read_raster(scene_tif)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, clean)
    assert info.grid.same_as(source.grid)
    np.testing.assert_allclose(info.metadata.wavelengths_nm, source.metadata.wavelengths_nm)
    np.testing.assert_array_equal(a[source.metadata.bad_bands], clean[source.metadata.bad_bands])


def test_simulate_degradation_wald_ratio_and_simulated_pan(run_algorithm, scene_tif, tmp_path):
    result = run_algorithm(
        "hsi:simulatedegradation",
        {"INPUT": scene_tif, "NOISE": 0, "RATIO": 4, "OUTPUT": str(tmp_path / "lr.tif"), "OUTPUT_PAN": str(tmp_path / "pan.tif")},
    )
    low, low_info = read_raster(result["OUTPUT"])
    pan, pan_info = read_raster(result["OUTPUT_PAN"])
    source = raster_info(scene_tif)
    assert low.shape == (source.band_count, source.height // 4, source.width // 4)
    assert low_info.grid.geotransform[1] == pytest.approx(4 * source.grid.geotransform[1])
    assert low_info.grid.geotransform[0] == pytest.approx(source.grid.geotransform[0])
    assert pan.shape == (1, source.height, source.width) and pan_info.grid.same_as(source.grid)


def test_assess_quality_reports_numbers_html_json_and_plot(run_algorithm, scene_tif, tmp_path):
    noisy = run_algorithm("hsi:simulatedegradation", {"INPUT": scene_tif, "NOISE": 1, "OUTPUT": str(tmp_path / "n.tif")})
    result = run_algorithm(
        "hsi:assessquality",
        {"REFERENCE": scene_tif, "ESTIMATE": noisy["OUTPUT"], "OUTPUT_HTML": str(tmp_path / "q.html"), "OUTPUT_JSON": str(tmp_path / "q.json")},
    )
    # sigma = 30/255 of the range gives PSNR = 20 log10(255/30) = 18.6 dB
    assert result["MPSNR"] == pytest.approx(18.59, abs=0.3)
    assert 0 < result["MSSIM"] < 0.9 and result["SAM"] > 1 and result["ERGAS"] > 1 and 0 < result["Q2N"] < 1
    with open(result["OUTPUT_JSON"], encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["MPSNR"] == pytest.approx(result["MPSNR"])
    source = raster_info(scene_tif)
    assert len(report["PSNR_PER_BAND"]) == source.band_count
    assert report["bands_used"] == int(source.metadata.good_bands.sum())
    assert os.path.exists(str(tmp_path / "q_per_band.png"))
    with open(result["OUTPUT_HTML"], encoding="utf-8") as handle:
        assert "q_per_band.png" in handle.read()


def test_lowrank_denoise_through_processing_improves_the_scene(run_algorithm, scene_tif, tmp_path):
    noisy = run_algorithm("hsi:simulatedegradation", {"INPUT": scene_tif, "NOISE": 1, "OUTPUT": str(tmp_path / "n.tif")})
    denoised = run_algorithm("hsi:lowrankdenoise", {"INPUT": noisy["OUTPUT"], "OUTPUT": str(tmp_path / "d.tif")})
    quality = run_algorithm(
        "hsi:assessquality", {"REFERENCE": scene_tif, "ESTIMATE": denoised["OUTPUT"], "OUTPUT_HTML": str(tmp_path / "q.html")}
    )
    assert denoised["RANK"] >= 2
    assert quality["MPSNR"] > 18.6 + 8


def build_chain_model():
    """Simulate degradation -> Low-rank denoise -> Assess quality, as a user would draw it in the modeler."""
    model = new_model("Degrade, denoise and assess", ["clean"])
    add_child(model, "degrade", "hsi:simulatedegradation", {"INPUT": model_input("clean"), "NOISE": 2})
    add_child(model, "denoise", "hsi:lowrankdenoise", {"INPUT": child_output("degrade")}, {"denoised": "OUTPUT"})
    add_child(model, "assess", "hsi:assessquality",
              {"REFERENCE": model_input("clean"), "ESTIMATE": child_output("denoise")}, {"report": "OUTPUT_HTML"})
    return model


def test_graphical_model_chains_degrade_denoise_assess(hsi_processing, scene_tif, tmp_path):
    model = build_chain_model()
    ok, problems = model.validate()
    assert ok, problems
    result = hsi_processing.run(
        model,
        {"clean": scene_tif, "denoise:denoised": str(tmp_path / "denoised.tif"), "assess:report": str(tmp_path / "report.html")},
    )
    assert os.path.exists(result["denoise:denoised"])
    assert os.path.exists(result["assess:report"])
    assert raster_info(result["denoise:denoised"]).grid.same_as(raster_info(scene_tif).grid)


# --- bad inputs ------------------------------------------------------------------------------------------


def test_missing_file_gives_a_clear_error_and_no_output(run_algorithm, tmp_path):
    with pytest.raises(QgsProcessingException):
        run_algorithm("hsi:lowrankdenoise", {"INPUT": str(tmp_path / "missing.tif"), "OUTPUT": str(tmp_path / "o.tif")})
    assert outputs_in(tmp_path) == []


def test_single_band_raster_is_rejected_by_hsi_algorithms(run_algorithm, tmp_path):
    single = write_raster(str(tmp_path / "one.tif"), np.ones((1, 20, 20), np.float32), RasterGrid(20, 20, (0, 1, 0, 0, 0, -1), ""))
    with pytest.raises(QgsProcessingException, match="1 band"):
        run_algorithm("hsi:lowrankdenoise", {"INPUT": single, "OUTPUT": str(tmp_path / "o.tif")})
    assert outputs_in(tmp_path) == ["one.tif"]


def test_mismatched_rasters_are_rejected_by_assess_quality(run_algorithm, scene_tif, tmp_path):
    low = run_algorithm("hsi:simulatedegradation", {"INPUT": scene_tif, "NOISE": 0, "RATIO": 2, "OUTPUT": str(tmp_path / "lr.tif")})
    with pytest.raises(QgsProcessingException, match="same grid|share one grid"):
        run_algorithm(
            "hsi:assessquality",
            {"REFERENCE": scene_tif, "ESTIMATE": low["OUTPUT"], "OUTPUT_HTML": str(tmp_path / "q.html"), "OUTPUT_JSON": str(tmp_path / "q.json")},
        )
    assert outputs_in(tmp_path) == ["lr.tif"]


def test_all_nodata_raster_is_rejected(run_algorithm, tmp_path):
    empty = write_raster(
        str(tmp_path / "empty.tif"), np.full((6, 16, 16), -5.0, np.float32), RasterGrid(16, 16, (0, 1, 0, 0, 0, -1), ""), nodata=-5.0
    )
    for algorithm in ("hsi:lowrankdenoise", "hsi:simulatedegradation"):
        with pytest.raises(QgsProcessingException, match="no valid pixel"):
            run_algorithm(algorithm, {"INPUT": empty, "OUTPUT": str(tmp_path / "o.tif")})
    assert outputs_in(tmp_path) == ["empty.tif"]


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"NOISE": 1, "SIGMA": 0.0}, "SIGMA"),
        ({"NOISE": 2, "SIGMA_MIN": 0.3, "SIGMA_MAX": 0.1}, "SIGMA_MIN"),
        ({"NOISE": 0, "RATIO": 4, "MTF_GAIN": 0.0}, "MTF_GAIN"),
        ({"NOISE": 6, "BAND_FRACTION": 0.9}, "1/3|band_fraction|BAND_FRACTION"),
    ],
)
def test_zero_or_inconsistent_parameters_are_rejected(run_algorithm, scene_tif, tmp_path, parameters, message):
    with pytest.raises(QgsProcessingException, match=message):
        run_algorithm("hsi:simulatedegradation", {"INPUT": scene_tif, **parameters, "OUTPUT": str(tmp_path / "o.tif")})
    assert outputs_in(tmp_path) == []


def test_out_of_range_parameters_fail_validation(run_algorithm, scene_tif, tmp_path):
    with pytest.raises(QgsProcessingException):
        run_algorithm("hsi:simulatedegradation", {"INPUT": scene_tif, "RATIO": 0, "OUTPUT": str(tmp_path / "o.tif")})
    with pytest.raises(QgsProcessingException):
        run_algorithm("hsi:lowrankdenoise", {"INPUT": scene_tif, "RANK": -1, "OUTPUT": str(tmp_path / "o.tif")})
    assert outputs_in(tmp_path) == []


def test_cancel_mid_run_stops_and_leaves_no_output(run_algorithm, scene_tif, tmp_path):
    feedback = QgsProcessingFeedback()
    progress = []

    def on_progress(value):
        progress.append(value)
        if value > 15:  # the subspace is fitted (10 %) and tiles are running
            feedback.cancel()

    feedback.progressChanged.connect(on_progress)
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_algorithm(
            "hsi:lowrankdenoise", {"INPUT": scene_tif, "TILE_SIZE": 16, "OUTPUT": str(tmp_path / "o.tif")}, feedback=feedback
        )
    assert max(progress) < 60  # stopped within one tile of the cancel request (tiles are ~8 % each)
    assert outputs_in(tmp_path) == []


def test_temporary_outputs_are_written_where_the_result_says(run_algorithm, scene_tif):
    result = run_algorithm("hsi:lowrankdenoise", {"INPUT": scene_tif, "OUTPUT": "TEMPORARY_OUTPUT"})
    assert os.path.exists(result["OUTPUT"])
    assert raster_info(result["OUTPUT"]).grid.same_as(raster_info(scene_tif).grid)


def test_outputs_loaded_from_the_toolbox_open_in_true_colour(hsi_processing, scene_tif, sample_scene, tmp_path):
    from qgis.core import QgsMultiBandColorRenderer, QgsProcessingContext, QgsProject

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    output = str(tmp_path / "noisy.tif")
    hsi_processing.runAndLoadResults("hsi:simulatedegradation", {"INPUT": scene_tif, "NOISE": 1, "OUTPUT": output},
                                     context=context)
    layer = next(layer for layer in QgsProject.instance().mapLayers().values() if layer.source() == output)
    renderer = layer.renderer()
    assert isinstance(renderer, QgsMultiBandColorRenderer)
    wavelengths = np.where(sample_scene.bad_bands, np.inf, sample_scene.wavelengths_nm)
    nearest = tuple(int(np.argmin(abs(wavelengths - target))) + 1 for target in (640, 550, 470))
    assert (renderer.redBand(), renderer.greenBand(), renderer.blueBand()) == nearest != (1, 2, 3)
    QgsProject.instance().removeMapLayer(layer.id())
