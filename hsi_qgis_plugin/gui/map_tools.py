"""Small signal-only map tools: pick a point, draw a polygon. They emit map coordinates in the canvas CRS."""
from __future__ import annotations

from typing import List, Sequence, Tuple

from qgis.core import QgsGeometry, QgsPointXY, QgsWkbTypes
from qgis.gui import QgsMapCanvas, QgsMapMouseEvent, QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor, QKeyEvent
from qgis.PyQt.QtWidgets import QAbstractButton


class PointTool(QgsMapTool):
    """Left click emits ``picked(point)``."""

    picked = pyqtSignal(QgsPointXY)

    def __init__(self, canvas: QgsMapCanvas) -> None:
        super().__init__(canvas)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def canvasReleaseEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.picked.emit(QgsPointXY(self.toMapCoordinates(event.pos())))


class PolygonTool(QgsMapTool):
    """Left clicks add vertices, a right click (or Enter) closes the polygon and emits ``drawn(geometry)``;
    Esc or Backspace undo."""

    drawn = pyqtSignal(QgsGeometry)

    def __init__(self, canvas: QgsMapCanvas, color: QColor = QColor(255, 0, 255)) -> None:
        super().__init__(canvas)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.vertices: List[QgsPointXY] = []
        self.band = QgsRubberBand(canvas, QgsWkbTypes.GeometryType.PolygonGeometry)
        fill = QColor(color)
        fill.setAlpha(60)
        self.band.setFillColor(fill)
        self.band.setStrokeColor(color)
        self.band.setWidth(2)

    def canvasReleaseEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.vertices.append(QgsPointXY(self.toMapCoordinates(event.pos())))
            self._redraw()
        elif event.button() == Qt.MouseButton.RightButton:
            self.finish()

    def canvasMoveEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802
        if self.vertices:
            self._redraw(QgsPointXY(self.toMapCoordinates(event.pos())))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish()
        elif event.key() == Qt.Key.Key_Escape:
            self.reset()
        elif event.key() == Qt.Key.Key_Backspace and self.vertices:
            self.vertices.pop()
            self._redraw()

    def finish(self) -> None:
        """Emit the polygon when it has at least three vertices; start a new one."""
        if len(self.vertices) >= 3:
            geometry = QgsGeometry.fromPolygonXY([self.vertices + [self.vertices[0]]])
            self.reset()
            self.drawn.emit(geometry)
        else:
            self.reset()

    def reset(self) -> None:
        self.vertices = []
        self.band.reset(QgsWkbTypes.GeometryType.PolygonGeometry)

    def deactivate(self) -> None:
        self.reset()
        super().deactivate()

    def _redraw(self, floating: QgsPointXY = None) -> None:
        points = self.vertices + ([floating] if floating is not None else [])
        self.band.setToGeometry(QgsGeometry.fromPolygonXY([points]), None)


class ToolButtons:
    """Checkable buttons that switch map tools on the canvas and follow it when another tool takes over."""

    def __init__(self, canvas: QgsMapCanvas, pairs: Sequence[Tuple[QgsMapTool, QAbstractButton]]) -> None:
        self.canvas = canvas
        self.pairs = list(pairs)
        for tool, button in self.pairs:
            button.toggled.connect(lambda on, tool=tool: self._use(tool, on))
        canvas.mapToolSet.connect(self._tool_changed)

    def _use(self, tool: QgsMapTool, on: bool) -> None:
        if on:
            self.canvas.setMapTool(tool)
        elif self.canvas.mapTool() is tool:
            self.canvas.unsetMapTool(tool)

    def _tool_changed(self, new_tool, _old_tool=None) -> None:
        for tool, button in self.pairs:
            button.blockSignals(True)
            button.setChecked(new_tool is tool)
            button.blockSignals(False)

    def release(self) -> None:
        """Take our tools off the canvas (when the dock closes)."""
        for tool, _ in self.pairs:
            if self.canvas.mapTool() is tool:
                self.canvas.unsetMapTool(tool)
