"""Screenshots of the real QGIS desktop with the plugin's workspace, for docs/images/.

    PYTHONPATH=$PWD/.venv/lib/python3.11/site-packages QGIS_PLUGINPATH=$PWD \
        xvfb-run -a -s "-screen 0 1600x1000x24" qgis --nologo --noversioncheck --code scripts/screenshots.py

(run from the repository root; PYTHONPATH lets QGIS's Python import PyTorch from the project's venv.)

Builds a noisy synthetic scene and its low-rank denoised version, loads and starts the plugin, picks a pixel in
the spectra dock with the live preview on, draws two labelled regions, starts a denoise job so the job panel
shows it running, saves the screenshots and quits QGIS.
"""
import os
import tempfile
import traceback

import numpy as np
from qgis.core import QgsApplication, QgsGeometry, QgsPointXY, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface, loadPlugin, plugins, startPlugin

from hsi_qgis_plugin.core.sample_scene import make_sample_scene, write_sample_scene
from hsi_qgis_plugin.methods.denoise.lowrank import lowrank_denoise

NAME = "hsi_qgis_plugin"
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))) if "__file__" in globals()
                   else os.getcwd(), "docs", "images")
WORK = tempfile.mkdtemp(prefix="hsi-shots-")
os.makedirs(OUT, exist_ok=True)


def make_data():
    scene = make_sample_scene(rows=160, cols=160, n_bands=120, seed=1)
    rng = np.random.default_rng(1)
    scene.data[...] += rng.normal(0, 0.03, scene.data.shape).astype(np.float32)
    noisy = write_sample_scene(scene, os.path.join(WORK, "scene_noisy.tif"))
    denoised = lowrank_denoise(noisy, os.path.join(WORK, "scene_denoised.tif")).output
    big = make_sample_scene(rows=640, cols=640, n_bands=120, seed=2)
    return scene, noisy, denoised, write_sample_scene(big, os.path.join(WORK, "large_scene.tif"))


def centre(scene, col, row):
    gt = scene.geotransform
    return QgsPointXY(gt[0] + (col + 0.5) * gt[1], gt[3] + (row + 0.5) * gt[5])


def run():
    note(f"started; work folder {WORK}")
    scene, noisy, denoised, big = make_data()
    note("data written")
    large = QgsRasterLayer(big, "large scene")
    after = QgsRasterLayer(denoised, "scene (low-rank denoised)")
    before = QgsRasterLayer(noisy, "scene (noisy)")
    for layer in (large, after, before):
        QgsProject.instance().addMapLayer(layer)
    loadPlugin(NAME)
    startPlugin(NAME)
    plugin = plugins[NAME]
    canvas = iface.mapCanvas()
    canvas.setDestinationCrs(before.crs())
    canvas.setExtent(before.extent())
    iface.mainWindow().resize(1600, 1000)
    iface.mainWindow().showMaximized()

    spectra, labels, panel = plugin.spectra_dock, plugin.label_dock, plugin.task_panel
    for dock in (spectra, labels, panel):
        dock.show()
    spectra.layer_combo.setLayer(before)
    root = QgsProject.instance().layerTreeRoot()
    root.findLayer(large.id()).setItemVisibilityChecked(False)  # another image: kept out of the comparison
    spectra.preview_check.setChecked(True)
    spectra.pick_button.setChecked(True)
    spectra.show_point(centre(scene, 70, 95))

    labels.raster_combo.setLayer(before)
    labels.new_labels_layer(None)
    gt = scene.geotransform

    def square(c0, r0, c1, r1):
        corners = [(c0, r0), (c1, r0), (c1, r1), (c0, r1), (c0, r0)]
        return QgsGeometry.fromPolygonXY([[QgsPointXY(gt[0] + c * gt[1], gt[3] + r * gt[5]) for c, r in corners]])

    for name, box in (("lake", (20, 20, 40, 35)), ("forest", (100, 110, 130, 140)), ("road", (60, 5, 64, 60))):
        value = labels.labels.add_class(name).value
        labels.select_class(value)
        labels.add_polygon(square(*box))
    iface.setActiveLayer(large)
    plugin.denoise_active_layer()
    note("workspace set up; job started")
    QTimer.singleShot(12000, lambda: guarded(shoot, plugin, before.extent()))


def shoot(plugin, extent):
    canvas = iface.mapCanvas()
    canvas.setExtent(extent)
    canvas.refresh()
    canvas.waitWhileRendering()
    iface.mainWindow().grab().save(os.path.join(OUT, "workspace.png"))
    plugin.spectra_dock.grab().save(os.path.join(OUT, "spectra_dock.png"))
    plugin.label_dock.grab().save(os.path.join(OUT, "label_dock.png"))
    plugin.task_panel.grab().save(os.path.join(OUT, "task_panel.png"))
    note(f"screenshots written to {OUT}")
    plugin.registry.cancel_all()
    QTimer.singleShot(2000, QgsApplication.instance().quit)


def note(text: str) -> None:
    with open(os.path.join(WORK, "screenshots.log"), "a", encoding="utf-8") as handle:
        handle.write(text + "\n")


def guarded(step, *args):
    """Run a step; on error print the traceback and quit (a Python error dialog would block QGIS)."""
    try:
        step(*args)
    except Exception:  # noqa: BLE001
        note(traceback.format_exc())
        QgsApplication.instance().exit(1)


def watchdog() -> None:
    """Log visible windows (a modal dialog would stop the script) and quit."""
    from qgis.PyQt.QtWidgets import QApplication, QTextEdit

    for widget in QApplication.topLevelWidgets():
        if widget.isVisible():
            texts = [edit.toPlainText()[:3000] for edit in widget.findChildren(QTextEdit)][:3]
            note(f"visible: {type(widget).__name__} '{widget.windowTitle()}' {texts}")
    note("watchdog: quitting")
    QgsApplication.instance().exit(2)


QTimer.singleShot(1000, lambda: guarded(run))
QTimer.singleShot(150000, watchdog)
