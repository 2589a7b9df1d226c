"""Label drawing: a polygon labels layer (temporary or GeoPackage) with a class field, a class list that drives a
categorised renderer, point and polygon drawing tools, and a Classify button running ``hsi:classifyfewlabels``
in the background."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional

from qgis.core import (
    Qgis,
    QgsCategorizedSymbolRenderer,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsField,
    QgsGeometry,
    QgsMapLayerProxyModel,
    QgsPalettedRasterRenderer,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRendererCategory,
    QgsSymbol,
    QgsVectorFileWriter,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.gui import QgsDockWidget, QgsMapCanvas, QgsMapLayerComboBox
from qgis.PyQt.QtCore import QMetaType, QObject, Qt, QUrl, QVariant, pyqtSignal
from qgis.PyQt.QtGui import QColor, QDesktopServices, QIcon, QPixmap
from qgis.PyQt.QtWidgets import (
    QColorDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.raster import raster_info
from ..methods.spectra.workflow import pixel_of
from .map_tools import PointTool, PolygonTool, ToolButtons
from .tasks import JobRegistry

CLASS_FIELD = "class_id"
NAME_FIELD = "class_name"
CLASSES_PROPERTY = "hsi/label_classes"
CLASSIFY_ALGORITHM = "hsi:classifyfewlabels"
PALETTE = ("#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


@dataclass
class LabelClass:
    value: int
    name: str
    color: str  # "#rrggbb"


def field_type(name: str):
    """A QgsField type by name ("Int", "String"): QMetaType.Type from QGIS 3.38 on (the only kind QGIS 4 / Qt6
    accepts), QVariant.Type before."""
    if Qgis.QGIS_VERSION_INT >= 33800:
        return getattr(QMetaType.Type, name)
    return getattr(QVariant.Type, name)


def create_labels_layer(crs: QgsCoordinateReferenceSystem, path: Optional[str] = None, name: str = "labels"):
    """A polygon layer with the class fields: temporary (memory) when ``path`` is None, else a GeoPackage."""
    memory = QgsVectorLayer(f"Polygon?crs={crs.authid() or crs.toWkt()}", name, "memory")
    memory.dataProvider().addAttributes([QgsField(CLASS_FIELD, field_type("Int")),
                                          QgsField(NAME_FIELD, field_type("String"))])
    memory.updateFields()
    if not path:
        return memory
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = name
    error, message, *_ = QgsVectorFileWriter.writeAsVectorFormatV3(
        memory, path, QgsProject.instance().transformContext(), options
    )
    if error != QgsVectorFileWriter.WriterError.NoError:
        raise OSError(f"Cannot write '{path}': {message}")
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    if not layer.isValid():
        raise OSError(f"Cannot open '{path}' after writing it")
    return layer


class LabelSet(QObject):
    """The classes of a labels layer, kept in a layer property and shown by a categorised renderer."""

    changed = pyqtSignal()

    def __init__(self, layer: QgsVectorLayer, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        if layer.fields().indexOf(CLASS_FIELD) < 0:
            raise ValueError(f"Layer '{layer.name()}' has no '{CLASS_FIELD}' field")
        self.layer = layer
        self.classes: Dict[int, LabelClass] = {}
        stored = layer.customProperty(CLASSES_PROPERTY)
        if stored:
            for value, name, color in json.loads(stored):
                self.classes[int(value)] = LabelClass(int(value), name, color)
        else:
            for value in sorted(v for v in layer.uniqueValues(layer.fields().indexOf(CLASS_FIELD)) if v is not None):
                self.classes[int(value)] = LabelClass(int(value), f"Class {value}", PALETTE[(int(value) - 1) % len(PALETTE)])
        self.apply_renderer()

    def ordered(self) -> List[LabelClass]:
        return [self.classes[v] for v in sorted(self.classes)]

    def add_class(self, name: str, color: Optional[str] = None) -> LabelClass:
        value = max(self.classes, default=0) + 1
        label = LabelClass(value, name.strip() or f"Class {value}", color or PALETTE[(value - 1) % len(PALETTE)])
        self.classes[value] = label
        self._changed()
        return label

    def rename_class(self, value: int, name: str) -> None:
        self.classes[value].name = name.strip() or self.classes[value].name
        index = self.layer.fields().indexOf(NAME_FIELD)
        if index >= 0:
            changes = {f.id(): {index: self.classes[value].name} for f in self._features_of(value)}
            self.layer.dataProvider().changeAttributeValues(changes)
        self._changed()

    def recolour_class(self, value: int, color: str) -> None:
        self.classes[value].color = QColor(color).name()
        self._changed()

    def delete_class(self, value: int) -> int:
        """Remove a class and its features; returns the number of features deleted."""
        ids = [f.id() for f in self._features_of(value)]
        if ids:
            self.layer.dataProvider().deleteFeatures(ids)
        del self.classes[value]
        self._changed()
        return len(ids)

    def add_feature(self, geometry: QgsGeometry, value: int) -> QgsFeature:
        """Add a polygon (layer CRS) of class ``value``."""
        feature = QgsFeature(self.layer.fields())
        feature.setGeometry(geometry)
        feature.setAttribute(CLASS_FIELD, value)
        if self.layer.fields().indexOf(NAME_FIELD) >= 0:
            feature.setAttribute(NAME_FIELD, self.classes[value].name)
        if self.layer.isEditable():
            self.layer.addFeature(feature)
        else:
            ok, added = self.layer.dataProvider().addFeatures([feature])
            if not ok:
                raise OSError(f"Cannot add a feature to '{self.layer.name()}'")
            feature = added[0]
            self.layer.updateExtents()
        self.layer.triggerRepaint()
        return feature

    def counts(self) -> Dict[int, int]:
        counts = {value: 0 for value in self.classes}
        for feature in self.layer.getFeatures():
            value = feature[CLASS_FIELD]
            if value in counts:
                counts[value] += 1
        return counts

    def apply_renderer(self) -> None:
        geometry = self.layer.geometryType()
        categories = []
        for label in self.ordered():
            symbol = QgsSymbol.defaultSymbol(geometry)
            color = QColor(label.color)
            symbol.setColor(color)
            if geometry == QgsWkbTypes.GeometryType.PolygonGeometry:
                fill = QColor(color)
                fill.setAlpha(110)
                symbol.setColor(fill)
                symbol.symbolLayer(0).setStrokeColor(color)
            categories.append(QgsRendererCategory(label.value, symbol, label.name))
        self.layer.setRenderer(QgsCategorizedSymbolRenderer(CLASS_FIELD, categories))
        self.layer.triggerRepaint()

    def style_classification(self, layer: QgsRasterLayer) -> None:
        """A paletted renderer for a class raster whose values are the class ids."""
        classes = [QgsPalettedRasterRenderer.Class(c.value, QColor(c.color), c.name) for c in self.ordered()]
        layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes))
        layer.triggerRepaint()

    def _features_of(self, value: int):
        return [f for f in self.layer.getFeatures() if f[CLASS_FIELD] == value]

    def _changed(self) -> None:
        self.layer.setCustomProperty(
            CLASSES_PROPERTY, json.dumps([[c.value, c.name, c.color] for c in self.ordered()])
        )
        self.apply_renderer()
        self.changed.emit()


def pixel_square(raster: QgsRasterLayer, point: QgsPointXY, point_crs: QgsCoordinateReferenceSystem):
    """The footprint (raster CRS) of the raster pixel under a point, or None outside the raster."""
    to_raster = QgsCoordinateTransform(point_crs, raster.crs(), QgsProject.instance())
    local = to_raster.transform(point)
    info = raster_info(raster.source())
    pixel = pixel_of(info, local.x(), local.y())
    if pixel is None:
        return None
    gt = info.grid.geotransform
    corners = [(pixel[0] + dc, pixel[1] + dr) for dc, dr in ((0, 0), (1, 0), (1, 1), (0, 1), (0, 0))]
    ring = [QgsPointXY(gt[0] + c * gt[1] + r * gt[2], gt[3] + c * gt[4] + r * gt[5]) for c, r in corners]
    return QgsGeometry.fromPolygonXY([ring])


class LabelDock(QgsDockWidget):
    """Class list, drawing tools and the Classify button."""

    def __init__(self, canvas: QgsMapCanvas, registry: JobRegistry, parent: Optional[QWidget] = None) -> None:
        super().__init__("Hyperspectral labels", parent)
        self.setObjectName("HsiLabelDock")
        self.canvas = canvas
        self.registry = registry
        self.labels: Optional[LabelSet] = None
        self.last_report = ""
        self.jobs: list = []

        self.raster_combo = QgsMapLayerComboBox()
        self.raster_combo.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer)
        self.layer_combo.setAllowEmptyLayer(True)
        self.new_button = QToolButton()
        self.new_button.setText("New\u2026")
        self.new_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.new_button)
        menu.addAction("Temporary layer", lambda: self.new_labels_layer(None))
        menu.addAction("GeoPackage file\u2026", self._new_geopackage)
        self.new_button.setMenu(menu)
        self.class_list = QListWidget()
        self.add_button = QPushButton("Add")
        self.rename_button = QPushButton("Rename")
        self.colour_button = QPushButton("Colour")
        self.delete_button = QPushButton("Delete")
        self.polygon_button = QToolButton()
        self.polygon_button.setText("Draw polygon")
        self.point_button = QToolButton()
        self.point_button.setText("Label pixel")
        for button in (self.polygon_button, self.point_button):
            button.setCheckable(True)
        self.classify_button = QPushButton("Classify")
        self.classify_button.setToolTip(f"Run the few-label classifier ({CLASSIFY_ALGORITHM}) in the background")
        self.report_button = QPushButton("Open report")
        self.report_button.setEnabled(False)
        self.status = QLabel("Create or choose a labels layer")

        form = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(QLabel("Image"))
        row.addWidget(self.raster_combo, 1)
        form.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Labels"))
        row.addWidget(self.layer_combo, 1)
        row.addWidget(self.new_button)
        form.addLayout(row)
        form.addWidget(self.class_list, 1)
        row = QHBoxLayout()
        for button in (self.add_button, self.rename_button, self.colour_button, self.delete_button):
            row.addWidget(button)
        form.addLayout(row)
        row = QHBoxLayout()
        for button in (self.polygon_button, self.point_button, self.classify_button, self.report_button):
            row.addWidget(button)
        form.addLayout(row)
        form.addWidget(self.status)
        body = QWidget()
        body.setLayout(form)
        self.setWidget(body)

        self.polygon_tool = PolygonTool(canvas)
        self.polygon_tool.drawn.connect(self.add_polygon)
        self.point_tool = PointTool(canvas)
        self.point_tool.picked.connect(self.add_pixel)
        self.tool_buttons = ToolButtons(
            canvas, [(self.polygon_tool, self.polygon_button), (self.point_tool, self.point_button)]
        )
        self.layer_combo.layerChanged.connect(self.set_labels_layer)
        self.add_button.clicked.connect(self._ask_add)
        self.rename_button.clicked.connect(self._ask_rename)
        self.colour_button.clicked.connect(self._ask_colour)
        self.delete_button.clicked.connect(self._ask_delete)
        self.classify_button.clicked.connect(self.classify)
        self.report_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(self.last_report)))
        self.set_labels_layer(self.layer_combo.currentLayer())

    # --- labels layer ----------------------------------------------------------------------------------
    def new_labels_layer(self, path: Optional[str]) -> QgsVectorLayer:
        """Create a labels layer in the image's CRS (or the canvas CRS), add it and select it."""
        raster = self.raster_combo.currentLayer()
        crs = raster.crs() if raster is not None else self.canvas.mapSettings().destinationCrs()
        layer = create_labels_layer(crs, path, "labels")
        QgsProject.instance().addMapLayer(layer)
        self.layer_combo.setLayer(layer)
        self.set_labels_layer(layer)
        return layer

    def _new_geopackage(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New labels GeoPackage", "", "GeoPackage (*.gpkg)")
        if path:
            try:
                self.new_labels_layer(path if path.lower().endswith(".gpkg") else path + ".gpkg")
            except OSError as error:
                self.registry.notify(Qgis.MessageLevel.Critical, "Labels", str(error))

    def set_labels_layer(self, layer) -> None:
        if isinstance(layer, QgsVectorLayer) and layer.fields().indexOf(CLASS_FIELD) >= 0:
            if self.labels is None or self.labels.layer is not layer:
                self.labels = LabelSet(layer, self)
                self.labels.changed.connect(self.refresh_classes)
        else:
            self.labels = None
        self.refresh_classes()

    def refresh_classes(self) -> None:
        current = self.current_class()
        self.class_list.clear()
        enabled = self.labels is not None
        for widget in (self.add_button, self.rename_button, self.colour_button, self.delete_button,
                       self.polygon_button, self.point_button, self.classify_button):
            widget.setEnabled(enabled)
        if self.labels is None:
            self.status.setText(f"Create a labels layer, or choose a polygon layer with a '{CLASS_FIELD}' field")
            return
        counts = self.labels.counts()
        for label in self.labels.ordered():
            pixmap = QPixmap(14, 14)
            pixmap.fill(QColor(label.color))
            item = QListWidgetItem(QIcon(pixmap), f"{label.value}: {label.name} ({counts[label.value]})")
            item.setData(Qt.ItemDataRole.UserRole, label.value)
            self.class_list.addItem(item)
            if label.value == current:
                self.class_list.setCurrentItem(item)
        if self.class_list.currentItem() is None and self.class_list.count():
            self.class_list.setCurrentRow(self.class_list.count() - 1)
        self.status.setText(f"{sum(counts.values())} labelled regions in {len(counts)} classes")

    def current_class(self) -> Optional[int]:
        item = self.class_list.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def select_class(self, value: int) -> None:
        for row in range(self.class_list.count()):
            if int(self.class_list.item(row).data(Qt.ItemDataRole.UserRole)) == value:
                self.class_list.setCurrentRow(row)

    # --- class editing (dialogs wrap the LabelSet methods) ---------------------------------------------
    def _ask_add(self) -> None:
        name, ok = QInputDialog.getText(self, "New class", "Class name")
        if ok and self.labels is not None:
            self.select_class(self.labels.add_class(name).value)

    def _ask_rename(self) -> None:
        value = self.current_class()
        if value is not None:
            name, ok = QInputDialog.getText(self, "Rename class", "Class name", text=self.labels.classes[value].name)
            if ok:
                self.labels.rename_class(value, name)

    def _ask_colour(self) -> None:
        value = self.current_class()
        if value is not None:
            color = QColorDialog.getColor(QColor(self.labels.classes[value].color), self, "Class colour")
            if color.isValid():
                self.labels.recolour_class(value, color.name())

    def _ask_delete(self) -> None:
        value = self.current_class()
        if value is not None:
            removed = self.labels.delete_class(value)
            self.status.setText(f"Deleted the class and its {removed} labelled region(s)")

    # --- drawing ---------------------------------------------------------------------------------------
    def _target_class(self) -> Optional[int]:
        if self.labels is None:
            self.registry.notify(Qgis.MessageLevel.Warning, "Labels", "Create or choose a labels layer first")
            return None
        value = self.current_class()
        if value is None:
            value = self.labels.add_class("Class 1").value
            self.select_class(value)
        return value

    def add_polygon(self, geometry: QgsGeometry) -> Optional[QgsFeature]:
        """Add a drawn polygon (canvas CRS) with the selected class."""
        value = self._target_class()
        if value is None:
            return None
        local = QgsGeometry(geometry)
        local.transform(QgsCoordinateTransform(
            self.canvas.mapSettings().destinationCrs(), self.labels.layer.crs(), QgsProject.instance()
        ))
        feature = self.labels.add_feature(local, value)
        self.refresh_classes()
        return feature

    def add_pixel(self, point: QgsPointXY) -> Optional[QgsFeature]:
        """Label the image pixel under a click (canvas CRS) with the selected class, as a one-pixel polygon."""
        raster = self.raster_combo.currentLayer()
        if raster is None:
            self.registry.notify(Qgis.MessageLevel.Warning, "Labels", "Choose the image to label first")
            return None
        square = pixel_square(raster, point, self.canvas.mapSettings().destinationCrs())
        if square is None:
            self.status.setText("The click is outside the image")
            return None
        value = self._target_class()
        if value is None:
            return None
        square.transform(QgsCoordinateTransform(raster.crs(), self.labels.layer.crs(), QgsProject.instance()))
        feature = self.labels.add_feature(square, value)
        self.refresh_classes()
        return feature

    # --- classification --------------------------------------------------------------------------------
    def classify(self):
        """Run the few-label classifier on the current labels in the background; None if it cannot start."""
        raster = self.raster_combo.currentLayer()
        if raster is None or self.labels is None:
            self.registry.notify(Qgis.MessageLevel.Warning, "Labels", "Choose an image and a labels layer first")
            return None
        if self.labels.layer.isEditable():
            self.labels.layer.commitChanges(False)
        labels = self.labels
        parameters = {
            "INPUT": raster.source(),
            "LABELS": labels.layer.id(),
            "CLASS_FIELD": CLASS_FIELD,
            "OUTPUT": "TEMPORARY_OUTPUT",
            "CONFIDENCE": "TEMPORARY_OUTPUT",
            "REPORT": "TEMPORARY_OUTPUT",
        }
        job = self.registry.submit_processing(
            CLASSIFY_ALGORITHM, parameters, f"Classify {raster.name()}", lambda results: self._classified(results, labels)
        )
        if job is not None:
            self.jobs.append(job)
            self.status.setText("Classification running\u2026")
        return job

    def _classified(self, results: dict, labels: LabelSet) -> None:
        classes = QgsRasterLayer(results["OUTPUT"], "classification")
        labels.style_classification(classes)
        layers = [classes]
        if results.get("CONFIDENCE"):
            layers.append(QgsRasterLayer(results["CONFIDENCE"], "classification confidence"))
        for layer in reversed(layers):
            QgsProject.instance().addMapLayer(layer)
        self.last_report = str(results.get("REPORT") or "")
        self.report_button.setEnabled(os.path.exists(self.last_report))
        self.status.setText("Classification added to the project")
        self.registry.notify(Qgis.MessageLevel.Success, "Classify", f"Added the classification; report: {self.last_report}")

    def closeEvent(self, event) -> None:  # noqa: N802
        self.tool_buttons.release()
        super().closeEvent(event)
