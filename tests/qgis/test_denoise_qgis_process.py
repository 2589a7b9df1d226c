"""hsi:denoise from the command line (qgis_process), with JSON results."""
from __future__ import annotations

import json

from hsi_qgis_plugin.core.raster import raster_info, read_raster


def test_qgis_process_runs_denoise_and_reports_json(qgis_process, scene_tif, tmp_path):
    output = str(tmp_path / "denoised.tif")
    result = qgis_process("run", "hsi:denoise", "--json", "--", f"INPUT={scene_tif}", "METHOD=1", f"OUTPUT={output}")
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads(result.stdout[result.stdout.index("{"):])
    assert payload["results"]["RANK"] >= 1
    assert raster_info(output).grid.same_as(raster_info(scene_tif).grid)
    clean, info = read_raster(scene_tif)
    out, _ = read_raster(output)
    assert abs(out[info.metadata.good_bands] - clean[info.metadata.good_bands]).max() < 0.05
