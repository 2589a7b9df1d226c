"""Through Processing: an output that names an input is refused for every algorithm that writes files, and a
failed or cancelled run leaves an earlier file at its destination as it was."""
from __future__ import annotations

import hashlib
import os
import shutil

import numpy as np
import pytest
from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback

from hsi_qgis_plugin.core.raster import RasterGrid, write_raster


def checksums(folder) -> dict:
    result = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as handle:
                result[name] = hashlib.sha256(handle.read()).hexdigest()
    return result


@pytest.fixture
def files(tmp_path, scene_tif):
    """Copies of the inputs in an empty folder: scene, a label raster, a PAN, a model file (any bytes)."""
    scene = str(tmp_path / "scene.tif")
    shutil.copy(scene_tif, scene)
    grid = RasterGrid(40, 48, (0, 1, 0, 0, 0, -1), "")
    labels = write_raster(str(tmp_path / "labels.tif"), np.ones((1, 48, 40), np.uint8), grid, nodata=0)
    pan = write_raster(str(tmp_path / "pan.tif"), np.ones((1, 96, 80), np.float32),
                       RasterGrid(80, 96, (0, 0.5, 0, 0, 0, -0.5), ""))
    model = tmp_path / "model.safetensors"
    model.write_bytes(b"not read: the run is refused before anything runs")
    return {"scene": scene, "labels": labels, "pan": pan, "model": str(model)}


# algorithm id -> parameters in which one output names an input (f: the files fixture)
SAME_AS_INPUT = {
    "hsi:simulatedegradation": lambda f: {"INPUT": f["scene"], "OUTPUT": f["scene"]},
    "hsi:assessquality": lambda f: {"REFERENCE": f["scene"], "ESTIMATE": f["labels"], "OUTPUT_HTML": f["labels"]},
    "hsi:lowrankdenoise": lambda f: {"INPUT": f["scene"], "OUTPUT": f["scene"]},
    "hsi:superresolve": lambda f: {"INPUT": f["scene"], "METHOD": 0, "OUTPUT": f["scene"]},
    "hsi:trainsuperresolution": lambda f: {"INPUTS": [f["scene"]], "OUTPUT_MODEL": f["scene"]},
    "hsi:pansharpen": lambda f: {"HS": f["scene"], "PAN": f["pan"], "OUTPUT": f["pan"]},
    "hsi:assesspansharpening": lambda f: {"FUSED": f["scene"], "HS": f["scene"], "PAN": f["pan"],
                                          "OUTPUT_HTML": str(os.path.dirname(f["scene"])) + "/report.html",
                                          "OUTPUT_JSON": f["pan"]},
    "hsi:denoise": lambda f: {"INPUT": f["scene"], "METHOD": 2, "MODEL_FILE": f["model"], "OUTPUT": f["model"]},
    "hsi:traindenoiser": lambda f: {"INPUTS": [f["scene"]], "OUTPUT_MODEL": f["scene"]},
    "hsi:pretrainencoder": lambda f: {"INPUT": f["scene"], "OUTPUT_MODEL": f["scene"]},
    "hsi:classifyfewlabels": lambda f: {"INPUT": f["scene"], "LABELS": f["labels"], "OUTPUT": f["labels"]},
    "hsi:applyclassifier": lambda f: {"INPUT": f["scene"], "MODEL_FILE": f["model"], "OUTPUT": f["scene"]},
}


def test_every_algorithm_that_writes_files_is_covered(hsi_processing):
    provider = QgsApplication.processingRegistry().providerById("hsi")
    writers = {a.id() for a in provider.algorithms() if any(p.isDestination() for p in a.parameterDefinitions())}
    assert writers == set(SAME_AS_INPUT)


@pytest.mark.parametrize("algorithm_id", sorted(SAME_AS_INPUT))
def test_output_naming_an_input_is_refused_and_the_input_is_untouched(run_algorithm, files, algorithm_id):
    folder = os.path.dirname(files["scene"])
    before = checksums(folder)
    with pytest.raises(QgsProcessingException, match="also an input"):
        run_algorithm(algorithm_id, SAME_AS_INPUT[algorithm_id](files))
    assert checksums(folder) == before


def test_output_reaching_the_input_through_a_symlink_is_refused(run_algorithm, files):
    link = os.path.join(os.path.dirname(files["scene"]), "link.tif")
    os.symlink(files["scene"], link)
    before = checksums(os.path.dirname(link))
    with pytest.raises(QgsProcessingException, match="also an input"):
        run_algorithm("hsi:lowrankdenoise", {"INPUT": files["scene"], "OUTPUT": link})
    assert checksums(os.path.dirname(link)) == before


def test_a_failed_run_keeps_the_file_that_was_at_its_destination(run_algorithm, files, tmp_path):
    earlier = tmp_path / "denoised.tif"
    earlier.write_bytes(b"an earlier result")
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda progress: progress > 20 and feedback.cancel())
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_algorithm("hsi:lowrankdenoise", {"INPUT": files["scene"], "OUTPUT": str(earlier), "TILE_SIZE": 16},
                      feedback=feedback)
    assert earlier.read_bytes() == b"an earlier result"
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]
