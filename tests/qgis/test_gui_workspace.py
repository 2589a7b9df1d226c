"""Interactive workspace: spectra dock, label drawing, class list, background jobs (pytest-qgis + pytest-qt)."""
from __future__ import annotations

import time

import numpy as np
import pytest
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsGeometry,
    QgsMultiBandColorRenderer,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
)
from qgis.gui import QgsMapMouseEvent
from qgis.PyQt.QtCore import QEvent, QPoint, Qt


@pytest.fixture
def messages():
    return []


@pytest.fixture
def registry(qgis_app, messages):
    from hsi_qgis_plugin.gui.tasks import JobRegistry

    jobs = JobRegistry(lambda level, title, text: messages.append((level, title, text)))
    yield jobs
    jobs.cancel_all()
    QgsApplication.taskManager().cancelAll()
    _wait_until(lambda: not jobs.active_jobs(), 20)
    jobs.disconnect_manager()


@pytest.fixture
def scene_raster(scene_tif, qgis_new_project):
    layer = QgsRasterLayer(scene_tif, "scene")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    return layer


@pytest.fixture
def canvas(qgis_canvas, scene_raster):
    qgis_canvas.setDestinationCrs(scene_raster.crs())
    qgis_canvas.setLayers([scene_raster])
    qgis_canvas.setExtent(scene_raster.extent())
    qgis_canvas.refresh()
    return qgis_canvas


def _wait_until(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QgsApplication.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _screen(canvas, x: float, y: float) -> QPoint:
    point = canvas.getCoordinateTransform().transform(QgsPointXY(x, y))
    return QPoint(int(round(point.x())), int(round(point.y())))


def _click(tool, canvas, x: float, y: float, button=Qt.MouseButton.LeftButton) -> None:
    event = QgsMapMouseEvent(canvas, QEvent.Type.MouseButtonRelease, _screen(canvas, x, y), button)
    tool.canvasReleaseEvent(event)


def _pixel_centre(scene, col: int, row: int) -> tuple:
    gt = scene.geotransform
    return gt[0] + (col + 0.5) * gt[1], gt[3] + (row + 0.5) * gt[5]


def test_picking_a_pixel_plots_its_spectrum(canvas, registry, scene_raster, sample_scene, tmp_path):
    from hsi_qgis_plugin.gui.spectra_dock import SpectraDock

    dock = SpectraDock(canvas, registry)
    dock.layer_combo.setLayer(scene_raster)
    dock.pick_button.setChecked(True)
    assert canvas.mapTool() is dock.point_tool
    _click(dock.point_tool, canvas, *_pixel_centre(sample_scene, 9, 30))
    lines = dock.plotted_lines()
    assert len(lines) == 1
    label, (x, y) = next(iter(lines.items()))
    assert label.startswith("scene") and "col 10, row 31" in label
    good = ~sample_scene.bad_bands
    np.testing.assert_allclose(np.asarray(x), sample_scene.wavelengths_nm)
    np.testing.assert_allclose(np.asarray(y)[good], sample_scene.data[good, 30, 9], rtol=1e-6)
    assert np.isnan(np.asarray(y)[~good]).all()
    assert dock.axes.get_xlabel() == "Wavelength (nm)"
    assert [t.get_text() for t in dock.axes.get_legend().get_texts()] == [label]
    csv_path, png_path = dock.export_csv(str(tmp_path / "s.csv")), dock.export_png(str(tmp_path / "s.png"))
    with open(csv_path, encoding="utf-8") as handle:
        assert len(handle.read().splitlines()) == 1 + sample_scene.data.shape[0]
    with open(png_path, "rb") as handle:
        assert handle.read(4) == b"\x89PNG"


def test_before_after_layers_and_live_preview(canvas, registry, scene_raster, sample_scene, tmp_path, rng):
    from hsi_qgis_plugin.core.metadata import BandMetadata
    from hsi_qgis_plugin.core.raster import raster_info, write_raster
    from hsi_qgis_plugin.gui.spectra_dock import SpectraDock

    grid = raster_info(scene_raster.source()).grid
    after = sample_scene.data * 0.5
    meta = BandMetadata(after.shape[0], sample_scene.wavelengths_nm, bad_bands=sample_scene.bad_bands)
    derived = QgsRasterLayer(write_raster(str(tmp_path / "after.tif"), after, grid, meta), "after")
    hidden = QgsRasterLayer(write_raster(str(tmp_path / "hidden.tif"), after, grid, meta), "hidden")
    for layer in (derived, hidden):
        QgsProject.instance().addMapLayer(layer)
    QgsProject.instance().layerTreeRoot().findLayer(hidden.id()).setItemVisibilityChecked(False)
    dock = SpectraDock(canvas, registry)
    dock.layer_combo.setLayer(scene_raster)
    dock.preview_check.setChecked(True)
    dock.show_point(QgsPointXY(*_pixel_centre(sample_scene, 20, 20)))
    lines = dock.plotted_lines()
    assert [k.split(" (")[0] for k in lines] == ["scene", "after"]
    good = ~sample_scene.bad_bands
    (_, before_y), (_, after_y) = lines.values()
    np.testing.assert_allclose(np.asarray(after_y)[good], 0.5 * np.asarray(before_y)[good], rtol=1e-5)
    assert len({line.get_color() for line in dock.axes.get_lines()}) == 2
    assert _wait_until(lambda: len(dock.plotted_lines()) == 3, 30), "the preview never arrived"
    preview_label = list(dock.plotted_lines())[-1]
    assert preview_label.endswith("preview") and next(iter(registry.jobs.values())).status == "Finished"


def test_polygon_mean_and_std_in_the_dock(canvas, registry, scene_raster, sample_scene):
    from hsi_qgis_plugin.gui.spectra_dock import SpectraDock

    dock = SpectraDock(canvas, registry)
    dock.layer_combo.setLayer(scene_raster)
    dock.compare_check.setChecked(False)
    dock.polygon_button.setChecked(True)
    tool = dock.polygon_tool
    gt = sample_scene.geotransform
    for col, row in ((10.2, 10.2), (12.8, 10.2), (12.8, 11.8), (10.2, 11.8)):
        _click(tool, canvas, gt[0] + col * gt[1], gt[3] + row * gt[5])
    _click(tool, canvas, 0, 0, Qt.MouseButton.RightButton)
    assert dock.spectra and dock.spectra[0].pixel_count == 6  # centres of cols 10-12 x rows 10-11
    block = sample_scene.data[:, 10:12, 10:13].reshape(sample_scene.data.shape[0], -1)
    good = ~sample_scene.bad_bands
    np.testing.assert_allclose(dock.spectra[0].values[good], block.mean(axis=1)[good], rtol=1e-5)
    assert len(dock.axes.collections) == 1  # the +- std band


def test_drawing_a_polygon_adds_a_labelled_feature(canvas, registry, scene_raster, sample_scene, tmp_path):
    from hsi_qgis_plugin.gui.labels import CLASS_FIELD, NAME_FIELD, LabelDock

    dock = LabelDock(canvas, registry)
    dock.raster_combo.setLayer(scene_raster)
    layer = dock.new_labels_layer(str(tmp_path / "labels.gpkg"))
    assert layer.providerType() == "ogr" and layer.crs() == scene_raster.crs()
    water = dock.labels.add_class("water")
    soil = dock.labels.add_class("soil")
    dock.select_class(soil.value)
    dock.polygon_button.setChecked(True)
    gt = sample_scene.geotransform
    for col, row in ((2, 2), (8, 2), (8, 6)):
        _click(dock.polygon_tool, canvas, gt[0] + col * gt[1], gt[3] + row * gt[5])
    _click(dock.polygon_tool, canvas, 0, 0, Qt.MouseButton.RightButton)
    dock.select_class(water.value)
    dock.point_button.setChecked(True)
    _click(dock.point_tool, canvas, *_pixel_centre(sample_scene, 30, 40))
    features = {f[CLASS_FIELD]: f for f in layer.getFeatures()}
    assert set(features) == {soil.value, water.value}
    assert features[soil.value][NAME_FIELD] == "soil"
    drawn = [canvas.getCoordinateTransform().toMapCoordinates(_screen(canvas, gt[0] + c * gt[1], gt[3] + r * gt[5]))
             for c, r in ((2, 2), (8, 2), (8, 6))]
    assert features[soil.value].geometry().equals(QgsGeometry.fromPolygonXY([drawn + drawn[:1]]))
    assert features[soil.value].geometry().area() == pytest.approx(0.5 * 6 * 4 * gt[1] ** 2, rel=0.5)
    pixel = features[water.value].geometry().boundingBox()
    assert pixel.xMinimum() == pytest.approx(gt[0] + 30 * gt[1]) and pixel.width() == pytest.approx(gt[1])
    reopened = type(layer)(layer.source(), "again", "ogr")
    assert reopened.featureCount() == 2  # written to the GeoPackage


def test_class_list_drives_the_renderer(canvas, registry, scene_raster):
    from hsi_qgis_plugin.gui.labels import LabelDock, LabelSet

    dock = LabelDock(canvas, registry)
    layer = dock.new_labels_layer(None)
    assert layer.providerType() == "memory"
    labels = dock.labels
    a, b = labels.add_class("grass"), labels.add_class("roof")
    labels.rename_class(a.value, "meadow")
    labels.recolour_class(b.value, "#123456")
    renderer = layer.renderer()
    assert isinstance(renderer, QgsCategorizedSymbolRenderer)
    categories = {c.value(): c for c in renderer.categories()}
    assert categories[a.value].label() == "meadow"
    assert categories[b.value].symbol().color().name() == "#123456"
    assert [dock.class_list.item(i).text() for i in range(2)] == ["1: meadow (0)", "2: roof (0)"]
    labels.delete_class(a.value)
    assert [c.label() for c in layer.renderer().categories()] == ["roof"]
    assert LabelSet(layer).classes[b.value].color == "#123456"  # kept with the layer


def test_classify_button_runs_the_classifier_and_adds_a_styled_class_map(
    canvas, registry, scene_raster, sample_scene, hsi_processing, messages, monkeypatch
):
    from hsi_qgis_plugin.gui.labels import LabelDock

    submitted = registry.submit_processing

    def quick(algorithm_id, parameters, *args):  # few training steps keep the test short
        fast = {"ENCODER_STEPS": 3, "BACKBONE_STEPS": 2, "FINETUNE_STEPS": 3, "DEVICE": "cpu"}
        return submitted(algorithm_id, {**parameters, **fast}, *args)

    monkeypatch.setattr(registry, "submit_processing", quick)
    dock = LabelDock(canvas, registry)
    dock.raster_combo.setLayer(scene_raster)
    dock.new_labels_layer(None)
    names = {}
    for value, name in enumerate(sample_scene.class_names[:3], start=1):
        names[value] = dock.labels.add_class(name)
        dock.select_class(names[value].value)
        dock.point_button.setChecked(True)
        rows, cols = np.nonzero(sample_scene.class_map == value)
        for i in range(0, len(rows), max(1, len(rows) // 4))[:4]:
            _click(dock.point_tool, canvas, *_pixel_centre(sample_scene, cols[i], rows[i]))
    dock.labels.recolour_class(names[2].value, "#123456")
    job = dock.classify()
    assert job is not None and job.device.startswith("CPU")
    assert _wait_until(lambda: QgsProject.instance().mapLayersByName("classification"), 240), messages
    classes = QgsProject.instance().mapLayersByName("classification")[0]
    assert classes.isValid() and classes.width() == sample_scene.data.shape[2]
    legend = {label: color.name() for label, color in classes.renderer().legendSymbologyItems()}
    assert set(legend) >= {label.name for label in names.values()}
    assert legend[names[2].name] == "#123456"  # the colour chosen in the class list
    assert QgsProject.instance().mapLayersByName("classification confidence")
    assert dock.report_button.isEnabled()


def test_processing_job_runs_and_adds_its_layer(registry, scene_raster, hsi_processing, qtbot):
    from hsi_qgis_plugin.gui.task_panel import TaskPanel

    panel = TaskPanel(registry)
    added = []

    def add(results):
        layer = QgsRasterLayer(results["OUTPUT"], "denoised")
        QgsProject.instance().addMapLayer(layer)
        added.append(layer)

    job = registry.submit_processing(
        "hsi:lowrankdenoise", {"INPUT": scene_raster.source(), "OUTPUT": "TEMPORARY_OUTPUT"}, on_success=add
    )
    assert job.device == "CPU"
    assert _wait_until(lambda: added, 60)
    assert added[0].isValid() and added[0].bandCount() == scene_raster.bandCount()
    assert QgsProject.instance().mapLayersByName("denoised")
    _wait_until(lambda: job.status == "Finished", 5)
    row = panel.row_of(job.job_id)
    assert panel.table.item(row, 1).text() == "Finished"
    assert panel.table.cellWidget(row, 2).value() == 100
    assert not panel.table.cellWidget(row, 5).isEnabled()


def test_function_job_can_be_cancelled_from_the_panel(registry, qtbot):
    from hsi_qgis_plugin.gui.task_panel import TaskPanel

    panel = TaskPanel(registry)
    finished = []

    def slow(monitor):
        for i in range(2000):
            monitor.check()
            monitor.report(i / 2000)
            time.sleep(0.01)
        return "done"

    job = registry.submit_function("slow job", slow, "CPU", finished.append)
    assert _wait_until(lambda: job.status == "Running" and job.progress > 0, 10)
    row = panel.row_of(job.job_id)
    assert panel.table.item(row, 4).text() == "CPU"
    panel.table.cellWidget(row, 5).click()
    assert _wait_until(lambda: job.status == "Cancelled", 10)
    assert not finished and job.elapsed < 15
    assert panel.table.item(row, 1).text() == "Cancelled"


def test_failed_job_reports_in_the_message_bar(registry, messages):
    def broken(monitor):
        raise ValueError("bad value")

    job = registry.submit_function("broken job", broken)
    assert _wait_until(lambda: job.status == "Failed", 10)
    assert "bad value" in messages[-1][2] and messages[-1][1] == "broken job"


def _true_colour_bands(layer) -> tuple:
    renderer = layer.renderer()
    assert isinstance(renderer, QgsMultiBandColorRenderer)
    return renderer.redBand(), renderer.greenBand(), renderer.blueBand()


def _bands_nearest(scene, targets) -> tuple:
    wavelengths = np.where(scene.bad_bands, np.inf, scene.wavelengths_nm)
    return tuple(int(np.argmin(np.abs(wavelengths - target))) + 1 for target in targets)


def test_plugin_adds_docks_menu_and_toolbar_and_unloads(qgis_iface, hsi_processing, scene_raster, sample_scene,
                                                        messages):
    import hsi_qgis_plugin

    plugin = hsi_qgis_plugin.classFactory(qgis_iface)
    plugin.initProcessing = lambda: None  # the session's provider is registered already (hsi_processing)
    plugin.initGui()
    try:
        texts = [a.text() for a in plugin.actions]
        assert "Spectra (before/after)" in texts and "Hyperspectral jobs" in texts
        assert all(not a.icon().isNull() for a in plugin.actions)
        assert [a.text() for a in plugin.toolbar.actions()] == texts[:-1]
        qgis_iface.setActiveLayer(scene_raster)
        job = plugin.denoise_active_layer()
        assert not plugin.task_panel.isHidden()  # the job panel opens with the job
        assert _wait_until(lambda: QgsProject.instance().mapLayersByName("scene (low-rank denoised)"), 60)
        assert job.status == "Finished" and job.device == "CPU"
        denoised = QgsProject.instance().mapLayersByName("scene (low-rank denoised)")[0]
        assert _true_colour_bands(denoised) == _bands_nearest(sample_scene, (640, 550, 470))
        assert plugin.true_colour_active_layer()
        assert _true_colour_bands(scene_raster) == _bands_nearest(sample_scene, (640, 550, 470))
    finally:
        plugin.unload()
    assert plugin.actions == [] and plugin.docks == [] and plugin.toolbar is None


def test_job_device_is_reported_for_torch_algorithms(hsi_processing):
    from hsi_qgis_plugin.gui.tasks import processing_device
    from hsi_qgis_plugin.processing.base import HsiAlgorithm

    class TorchLike(HsiAlgorithm):
        algorithm_id = "torchlike"

        def initAlgorithm(self, config=None):  # noqa: N802
            self.add_device_parameters()

    algorithm = TorchLike()
    algorithm.initAlgorithm()
    assert processing_device(algorithm, {"DEVICE": "cpu"}).startswith("CPU (")
    assert "DEVICE must be" in processing_device(algorithm, {"DEVICE": "tpu"})
    lowrank = QgsApplication.processingRegistry().createAlgorithmById("hsi:lowrankdenoise")
    assert processing_device(lowrank, {}) == "CPU"


def test_cancelled_processing_job_leaves_no_output(registry, hsi_processing, tmp_path, messages):
    import os

    from hsi_qgis_plugin.core.sample_scene import make_sample_scene, write_sample_scene

    source = write_sample_scene(make_sample_scene(rows=320, cols=320, n_bands=60, seed=5), str(tmp_path / "big.tif"))
    output = str(tmp_path / "denoised.tif")
    done = []
    job = registry.submit_processing(
        "hsi:lowrankdenoise", {"INPUT": source, "OUTPUT": output, "TILE_SIZE": 64}, on_success=done.append
    )
    assert _wait_until(lambda: job.status == "Running", 20)
    registry.cancel(job.job_id)
    assert _wait_until(lambda: not job.active, 30)
    assert job.status == "Cancelled" and not done
    assert not os.path.exists(output)
    assert not [m for m in messages if m[0] == Qgis.MessageLevel.Critical]  # a cancel is not an error
