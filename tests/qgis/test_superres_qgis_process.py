"""Super-resolve from the command line (qgis_process)."""
from __future__ import annotations

import json


from hsi_qgis_plugin.core.raster import raster_info


def test_qgis_process_lists_and_runs_superresolve(qgis_process, scene_tif, tmp_path):
    listing = qgis_process("list")
    assert "hsi:superresolve" in listing.stdout and "hsi:trainsuperresolution" in listing.stdout
    output = str(tmp_path / "x3.tif")
    result = qgis_process("run", "hsi:superresolve", "--json", "--", f"INPUT={scene_tif}", "FACTOR=1", "METHOD=0",
                          f"OUTPUT={output}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout[result.stdout.index("{"):])["results"]["OUTPUT"] == output
    assert raster_info(output).grid.same_as(raster_info(scene_tif).grid.refined(3))
