"""Pansharpen and Assess pansharpening from the command line (qgis_process)."""
from __future__ import annotations

import json
import os

import numpy as np

from hsi_qgis_plugin.core.mtf import mtf_degrade
from hsi_qgis_plugin.core.raster import RasterGrid, raster_info, write_raster


def test_qgis_process_pansharpens_and_assesses(qgis_process, tmp_path):
    rng = np.random.default_rng(2)
    pan = 1.0 + rng.random((48, 48))
    hs = np.linspace(0.5, 1.5, 4)[:, None, None] * mtf_degrade(pan, 3, 0.3)[None]
    hs_path = write_raster(str(tmp_path / "hs.tif"), hs.astype(np.float32),
                           RasterGrid(16, 16, (1000.0, 30.0, 0.0, 2000.0, 0.0, -30.0), ""))
    pan_path = write_raster(str(tmp_path / "pan.tif"), pan.astype(np.float32),
                            RasterGrid(48, 48, (1000.0, 10.0, 0.0, 2000.0, 0.0, -10.0), ""))
    fused = str(tmp_path / "fused.tif")
    result = qgis_process("run", "hsi:pansharpen", "--json", "--", f"HS={hs_path}", f"PAN={pan_path}", "METHOD=1",
                          f"OUTPUT={fused}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout[result.stdout.index("{"):])["results"]["RATIO"] == 3
    assert raster_info(fused).grid.same_as(raster_info(pan_path).grid)
    report = str(tmp_path / "report.html")
    assessed = qgis_process("run", "hsi:assesspansharpening", "--json", "--", f"FUSED={fused}", f"HS={hs_path}",
                            f"PAN={pan_path}", f"OUTPUT_HTML={report}")
    assert assessed.returncode == 0, assessed.stdout + assessed.stderr
    assert json.loads(assessed.stdout[assessed.stdout.index("{"):])["results"]["HQNR"] > 0.99
    assert os.path.exists(report)
