"""QGIS plugin object: registers the Processing provider (also in qgis_process) and the desktop UI."""
from __future__ import annotations

import threading
from typing import List, Optional

from qgis.core import Qgis, QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QToolBar

from .core.device import warm_up_imports
from .processing.base import ICON_PATH
from .processing.provider import HsiProvider
from .processing.styling import style_true_colour

MENU = "&Hyperspectral"


class HsiPlugin:
    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider = None
        self.registry = None
        self.docks: list = []
        self.actions: List[QAction] = []
        self.toolbar: Optional[QToolBar] = None

    def initProcessing(self) -> None:  # noqa: N802 - called by qgis_process and by initGui
        if self.provider is None:
            self.provider = HsiProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()
        # imports that jobs would otherwise do mid-run stall the canvas (core.device.warm_up_imports)
        threading.Thread(target=warm_up_imports, name="hsi-import-warm-up", daemon=True).start()
        from .gui.labels import LabelDock
        from .gui.spectra_dock import SpectraDock
        from .gui.task_panel import TaskPanel
        from .gui.tasks import JobRegistry

        window = self.iface.mainWindow()
        canvas = self.iface.mapCanvas()
        self.registry = JobRegistry(self.notify)
        self.spectra_dock = SpectraDock(canvas, self.registry, window)
        self.label_dock = LabelDock(canvas, self.registry, window)
        self.task_panel = TaskPanel(self.registry, window)
        self.docks = [self.spectra_dock, self.label_dock, self.task_panel]
        areas = (Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                 Qt.DockWidgetArea.BottomDockWidgetArea)
        for dock, area in zip(self.docks, areas):
            self.iface.addDockWidget(area, dock)
            dock.hide()

        self.toolbar = self.iface.addToolBar("Hyperspectral")
        self.toolbar.setObjectName("HsiToolbar")
        entries = (
            ("Spectra (before/after)", "/mActionIdentify.svg", self.spectra_dock),
            ("Label drawing and classification", "/mActionCapturePolygon.svg", self.label_dock),
            ("Hyperspectral jobs", "/mTaskRunning.svg", self.task_panel),
        )
        for text, icon, dock in entries:
            action = dock.toggleViewAction()
            action.setText(text)
            action.setIcon(QgsApplication.getThemeIcon(icon))
            self._add_action(action)
        self._add_action(self._action("Low-rank denoise the active layer", QIcon(ICON_PATH), self.denoise_active_layer))
        self._add_action(self._action("Show the active layer in true colour",
                                      QgsApplication.getThemeIcon("/mActionFullHistogramStretch.svg"),
                                      self.true_colour_active_layer))
        self._add_action(
            self._action("Hyperspectral settings\u2026", QgsApplication.getThemeIcon("/mActionOptions.svg"),
                         self.show_settings),
            toolbar=False,
        )

    def _action(self, text: str, icon: QIcon, slot) -> QAction:
        action = QAction(icon, text, self.iface.mainWindow())
        action.triggered.connect(slot)
        return action

    def _add_action(self, action: QAction, toolbar: bool = True) -> None:
        """Raster menu and toolbar; tolerant of the reduced iface of test stubs."""
        add_to_menu = getattr(self.iface, "addPluginToRasterMenu", None) or self.iface.addPluginToMenu
        add_to_menu(MENU, action)
        if toolbar:
            self.toolbar.addAction(action)
        self.actions.append(action)

    def notify(self, level: Qgis.MessageLevel, title: str, text: str) -> None:
        durations = {Qgis.MessageLevel.Critical: 0, Qgis.MessageLevel.Warning: 8}
        self.iface.messageBar().pushMessage(title, text, level=level, duration=durations.get(level, 5))

    def denoise_active_layer(self):
        """Run the low-rank denoiser on the active raster layer as a background job; the result is added."""
        layer = self.iface.activeLayer()
        if not isinstance(layer, QgsRasterLayer) or layer.bandCount() < 3:
            self.notify(Qgis.MessageLevel.Warning, "Hyperspectral", "Select a hyperspectral raster layer first")
            return None
        self.task_panel.show()
        name = f"{layer.name()} (low-rank denoised)"

        def add(results: dict) -> None:
            denoised = QgsRasterLayer(results["OUTPUT"], name)
            style_true_colour(denoised)
            QgsProject.instance().addMapLayer(denoised)

        return self.registry.submit_processing(
            "hsi:lowrankdenoise", {"INPUT": layer.source(), "OUTPUT": "TEMPORARY_OUTPUT"}, f"Denoise {layer.name()}", add
        )

    def true_colour_active_layer(self) -> bool:
        """Display the active hyperspectral layer with its bands nearest 640 / 550 / 470 nm."""
        layer = self.iface.activeLayer()
        if isinstance(layer, QgsRasterLayer) and style_true_colour(layer):
            return True
        self.notify(Qgis.MessageLevel.Warning, "Hyperspectral",
                    "True colour needs a raster layer with at least 3 bands and their wavelengths")
        return False

    def show_settings(self) -> None:
        """Device, threads, tile size and memory budget live in the Processing options page."""
        show = getattr(self.iface, "showOptionsDialog", None)
        if show is not None:
            show(self.iface.mainWindow(), currentPage="processingOptions")

    def unload(self) -> None:
        if self.registry is not None:  # stays referenced: cancelled tasks still call back into it
            self.registry.cancel_all()
            self.registry.disconnect_manager()
        remove_from_menu = getattr(self.iface, "removePluginRasterMenu", None) or getattr(
            self.iface, "removePluginMenu", None
        )
        for action in self.actions:
            if remove_from_menu is not None:
                remove_from_menu(MENU, action)
        self.actions = []
        if self.toolbar is not None:
            self.iface.mainWindow().removeToolBar(self.toolbar)
            self.toolbar.deleteLater()
            self.toolbar = None
        remove_dock = getattr(self.iface, "removeDockWidget", None)
        for dock in self.docks:
            dock.close()
            if remove_dock is not None:
                remove_dock(dock)
            dock.deleteLater()
        self.docks = []
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
