"""`make demo`'s script runs end to end through the plugin's algorithms and leaves what it promises."""
from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_demo_writes_outputs_reports_and_quicklook_and_denoises(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "demo.py"), "--out", str(out), "--size", "48", "--bands", "32"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("scene_clean.tif", "scene_noisy.tif", "scene_lowrank.tif", "scene_denoised.tif",
                 "quality_denoised.html", "quality_denoised.json", "quicklook.png"):
        assert (out / name).exists(), name
    assert f"Report:  {out / 'quality_denoised.html'}" in result.stdout
    noisy = json.loads((out / "quality_noisy.json").read_text())["MPSNR"]
    denoised = json.loads((out / "quality_denoised.json").read_text())["MPSNR"]
    assert denoised > noisy + 10
