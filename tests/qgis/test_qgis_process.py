"""The plugin works from the command line: qgis_process lists and runs its algorithms."""
from __future__ import annotations

import json
import os


from hsi_qgis_plugin.core.raster import raster_info


def test_qgis_process_lists_the_hyperspectral_provider(qgis_process):
    listing = qgis_process("list")
    assert listing.returncode == 0
    assert "Hyperspectral" in listing.stdout
    for algorithm_id in ("hsi:simulatedegradation", "hsi:assessquality", "hsi:lowrankdenoise"):
        assert algorithm_id in listing.stdout


def test_qgis_process_runs_lowrank_denoise_and_reports_json(qgis_process, scene_tif, tmp_path):
    output = str(tmp_path / "denoised.tif")
    result = qgis_process("run", "hsi:lowrankdenoise", "--json", "--", f"INPUT={scene_tif}", f"OUTPUT={output}")
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads(result.stdout[result.stdout.index("{"):])
    assert payload["results"]["RANK"] >= 1
    assert raster_info(output).grid.same_as(raster_info(scene_tif).grid)


def test_qgis_process_fails_with_a_message_and_non_zero_status_on_bad_input(qgis_process, tmp_path):
    output = str(tmp_path / "never.tif")
    result = qgis_process("run", "hsi:lowrankdenoise", "--", f"INPUT={tmp_path / 'missing.tif'}", f"OUTPUT={output}")
    assert result.returncode != 0
    assert not os.path.exists(output)
