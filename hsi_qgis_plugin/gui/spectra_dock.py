"""Spectra dock: click a pixel (or draw a polygon) and compare its spectrum across the source layer and every
hyperspectral layer covering the point (before/after restoration), with an optional live restoration preview."""
from __future__ import annotations

from typing import List, Optional

from matplotlib.backends.backend_qt5agg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qgis.core import (
    Qgis,
    QgsCoordinateTransform,
    QgsGeometry,
    QgsMapLayerProxyModel,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
)
from qgis.gui import QgsDockWidget, QgsMapCanvas, QgsMapLayerComboBox, QgsVertexMarker
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import HsiError
from ..methods.spectra.workflow import (
    PREVIEW_METHODS,
    Spectrum,
    pixel_spectrum,
    polygon_spectrum,
    preview_spectrum,
    write_spectra_csv,
)
from .map_tools import PointTool, PolygonTool, ToolButtons
from .tasks import JobRegistry

MIN_SPECTRAL_BANDS = 3


def hyperspectral_layers() -> List[QgsRasterLayer]:
    """Visible file-based raster layers of the project with enough bands to have a spectrum."""
    root = QgsProject.instance().layerTreeRoot()
    layers = []
    for layer in QgsProject.instance().mapLayers().values():
        node = root.findLayer(layer.id())
        if (isinstance(layer, QgsRasterLayer) and layer.providerType() == "gdal"
                and layer.bandCount() >= MIN_SPECTRAL_BANDS and (node is None or node.isVisible())):
            layers.append(layer)
    return layers


class SpectraDock(QgsDockWidget):
    def __init__(self, canvas: QgsMapCanvas, registry: JobRegistry, parent: Optional[QWidget] = None) -> None:
        super().__init__("Hyperspectral spectra", parent)
        self.setObjectName("HsiSpectraDock")
        self.canvas = canvas
        self.registry = registry
        self.spectra: List[Spectrum] = []
        self.preview_jobs: list = []

        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.pick_button = self._tool_button("Pick pixel", "Click a pixel to plot its spectrum")
        self.polygon_button = self._tool_button(
            "Polygon mean \u00b1 std", "Draw a polygon (left clicks, right click to close) to plot its mean \u00b1 std"
        )
        self.compare_check = QCheckBox("All visible layers at the point")
        self.compare_check.setChecked(True)
        self.compare_check.setToolTip("Also plot every other visible hyperspectral layer covering the point (before/after)")
        self.preview_check = QCheckBox("Live preview")
        self.preview_check.setToolTip("Restore a small window around the picked pixel in the background")
        self.method_combo = QComboBox()
        self.method_combo.addItems(list(PREVIEW_METHODS))
        self.clear_button = QPushButton("Clear")
        self.csv_button = QPushButton("Export CSV\u2026")
        self.png_button = QPushButton("Export PNG\u2026")
        self.figure = Figure(figsize=(5, 3.6), tight_layout=True)
        self.axes = self.figure.add_subplot(111)
        self.plot_canvas = FigureCanvasQTAgg(self.figure)
        self.plot_canvas.setMinimumHeight(260)
        self.status = QLabel("Pick a pixel on the map")

        top = QHBoxLayout()
        top.addWidget(QLabel("Source"))
        top.addWidget(self.layer_combo, 1)
        tools = QHBoxLayout()
        for widget in (self.pick_button, self.polygon_button, self.compare_check):
            tools.addWidget(widget)
        tools.addStretch(1)
        preview = QHBoxLayout()
        preview.addWidget(self.preview_check)
        preview.addWidget(self.method_combo, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        for widget in (self.clear_button, self.csv_button, self.png_button):
            bottom.addWidget(widget)
        body = QWidget()
        layout = QVBoxLayout(body)
        for row in (top, tools, preview):
            layout.addLayout(row)
        layout.addWidget(self.plot_canvas, 1)
        layout.addLayout(bottom)
        self.setWidget(body)

        self.point_tool = PointTool(canvas)
        self.point_tool.picked.connect(self.show_point)
        self.polygon_tool = PolygonTool(canvas)
        self.polygon_tool.drawn.connect(self.show_polygon)
        self.marker: Optional[QgsVertexMarker] = None
        self.tool_buttons = ToolButtons(
            canvas, [(self.point_tool, self.pick_button), (self.polygon_tool, self.polygon_button)]
        )
        self.clear_button.clicked.connect(self.clear)
        self.csv_button.clicked.connect(lambda: self._export("CSV files (*.csv)", self.export_csv))
        self.png_button.clicked.connect(lambda: self._export("PNG images (*.png)", self.export_png))
        self.redraw()

    # --- tools -----------------------------------------------------------------------------------------
    def _tool_button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(True)
        return button

    # --- spectra ---------------------------------------------------------------------------------------
    def source_layer(self) -> Optional[QgsRasterLayer]:
        layer = self.layer_combo.currentLayer()
        return layer if isinstance(layer, QgsRasterLayer) else None

    def layers_to_plot(self) -> List[QgsRasterLayer]:
        """The source layer first, then (if asked) every other hyperspectral layer of the project."""
        source = self.source_layer()
        layers = [source] if source is not None else []
        if self.compare_check.isChecked():
            layers += [layer for layer in hyperspectral_layers() if layer is not source]
        return layers

    def _to_layer(self, layer: QgsRasterLayer) -> QgsCoordinateTransform:
        return QgsCoordinateTransform(self.canvas.mapSettings().destinationCrs(), layer.crs(), QgsProject.instance())

    def show_point(self, point: QgsPointXY) -> None:
        """Plot the spectra at a map point (canvas CRS) and start a live preview if it is on."""
        self._mark(point)
        spectra = []
        try:
            for layer in self.layers_to_plot():
                local = self._to_layer(layer).transform(point)
                spectrum = pixel_spectrum(layer.source(), local.x(), local.y(), layer.name())
                if spectrum is not None:
                    spectra.append(spectrum)
        except HsiError as error:
            self._error(str(error))
            return
        self.spectra = spectra
        self.status.setText(f"{len(spectra)} spectra" if spectra else "No layer covers this point")
        self.redraw()
        source = self.source_layer()
        if self.preview_check.isChecked() and source is not None and spectra:
            self.start_preview(source, point)

    def show_polygon(self, geometry: QgsGeometry) -> None:
        """Plot mean +- std over a polygon (canvas CRS) for each layer it overlaps."""
        spectra = []
        for layer in self.layers_to_plot():
            local = QgsGeometry(geometry)
            local.transform(self._to_layer(layer))
            try:
                spectra.append(polygon_spectrum(layer.source(), local.asWkt(), layer.name()))
            except HsiError as error:
                if layer is self.source_layer():
                    self._error(str(error))
                    return
        self.spectra = spectra
        self.status.setText(f"Mean \u00b1 std over {spectra[0].pixel_count} px" if spectra else "No layer overlaps")
        self.redraw()

    def start_preview(self, layer: QgsRasterLayer, point: QgsPointXY):
        """Run the chosen preview method in the background; the result is overlaid when it arrives."""
        local = self._to_layer(layer).transform(point)
        method = self.method_combo.currentText()
        path, name, x, y = layer.source(), layer.name(), local.x(), local.y()
        for job in self.registry.active_jobs():
            if job in self.preview_jobs:
                self.registry.cancel(job.job_id)
        job = self.registry.submit_function(
            f"Preview: {method} on {name}",
            lambda monitor: preview_spectrum(path, x, y, method, name, monitor),
            "CPU",
            self._preview_arrived,
        )
        self.preview_jobs = [j for j in self.preview_jobs if j.active] + [job]
        self.status.setText("Preview running\u2026")
        return job

    def _preview_arrived(self, spectrum: Optional[Spectrum]) -> None:
        if spectrum is None:
            return
        self.spectra = [s for s in self.spectra if not s.label.endswith(" preview")] + [spectrum]
        self.status.setText(f"{len(self.spectra)} spectra (preview added)")
        self.redraw()

    def clear(self) -> None:
        self.spectra = []
        if self.marker is not None:
            self.canvas.scene().removeItem(self.marker)
            self.marker = None
        self.status.setText("Pick a pixel on the map")
        self.redraw()

    def _mark(self, point: QgsPointXY) -> None:
        if self.marker is None:
            self.marker = QgsVertexMarker(self.canvas)
            self.marker.setColor(QColor(255, 0, 255))
            self.marker.setIconType(QgsVertexMarker.IconType.ICON_CROSS)
            self.marker.setIconSize(14)
            self.marker.setPenWidth(2)
        self.marker.setCenter(point)

    # --- plot and export -------------------------------------------------------------------------------
    def redraw(self) -> None:
        axes = self.axes
        axes.clear()
        for i, spectrum in enumerate(self.spectra):
            color = f"C{i % 10}"
            preview = spectrum.label.endswith(" preview")
            axes.plot(spectrum.x, spectrum.values, "--" if preview else "-", color=color,
                      linewidth=1.8 if preview else 1.2, label=spectrum.label)
            if spectrum.std is not None:
                axes.fill_between(spectrum.x, spectrum.values - spectrum.std, spectrum.values + spectrum.std,
                                  color=color, alpha=0.2, linewidth=0)
        axes.set_xlabel(self.spectra[0].x_label if self.spectra else "Wavelength (nm)")
        axes.set_ylabel("Value")
        axes.grid(alpha=0.3)
        if self.spectra:
            axes.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
        self.plot_canvas.draw_idle()

    def plotted_lines(self) -> dict:
        """label -> (x, y) of the plotted lines, read back from the plot."""
        return {line.get_label(): (line.get_xdata(), line.get_ydata()) for line in self.axes.get_lines()}

    def export_csv(self, path: str) -> str:
        return write_spectra_csv(path, self.spectra)

    def export_png(self, path: str) -> str:
        self.figure.savefig(path, dpi=120)
        return path

    def _export(self, file_filter: str, writer) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export spectra", "", file_filter)
        if not path:
            return
        try:
            writer(path)
        except (HsiError, OSError) as error:
            self._error(str(error))
            return
        self.registry.notify(Qgis.MessageLevel.Success, "Spectra", f"Saved {path}")

    def _error(self, message: str) -> None:
        self.status.setText(message)
        self.registry.notify(Qgis.MessageLevel.Warning, "Spectra", message)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.tool_buttons.release()
        super().closeEvent(event)
