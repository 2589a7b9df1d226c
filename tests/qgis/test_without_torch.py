"""Without PyTorch in QGIS's Python the plugin still loads: the classical algorithms work, the neural ones are
left out with a message naming them."""
from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHILD = r"""
import json, sys
sys.modules["torch"] = None  # any "import torch" now raises ModuleNotFoundError, as in a QGIS without PyTorch
sys.path.insert(0, {root!r})
from qgis.core import QgsApplication, QgsMessageLog
app = QgsApplication([], False)
app.initQgis()
messages = []
QgsApplication.messageLog().messageReceived.connect(lambda text, tag, level: messages.append(text))
from hsi_qgis_plugin.processing.provider import HsiProvider
provider = HsiProvider()
QgsApplication.processingRegistry().addProvider(provider)
from hsi_qgis_plugin.core.sample_scene import make_sample_scene, write_sample_scene
write_sample_scene(make_sample_scene(rows=24, cols=20, n_bands=12, seed=1), {scene!r})
algorithm = QgsApplication.processingRegistry().algorithmById("hsi:lowrankdenoise")
from qgis.core import QgsProcessingContext, QgsProcessingFeedback
results, ok = algorithm.run({{"INPUT": {scene!r}, "OUTPUT": {output!r}}}, QgsProcessingContext(), QgsProcessingFeedback())
print(json.dumps({{"ids": [a.id() for a in provider.algorithms()], "ok": ok, "messages": messages}}))
"""


def test_plugin_loads_without_torch_and_runs_classical_algorithms(tmp_path):
    scene, output = str(tmp_path / "scene.tif"), str(tmp_path / "denoised.tif")
    code = CHILD.format(root=ROOT, scene=scene, output=output)
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=environment)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    for classical in ("hsi:simulatedegradation", "hsi:assessquality", "hsi:lowrankdenoise"):
        assert classical in payload["ids"]
    assert "hsi:denoise" not in payload["ids"]
    assert payload["ok"] and os.path.exists(output)
    assert any("PyTorch is not installed" in text and "denoise" in text for text in payload["messages"])
