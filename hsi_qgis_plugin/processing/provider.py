"""The "Hyperspectral" Processing provider (id ``hsi``)."""
from __future__ import annotations

from qgis.core import Qgis, QgsMessageLog, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from . import settings
from .algorithms import TORCH_MISSING, load_algorithm_classes
from .base import ICON_PATH


class HsiProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "hsi"

    def name(self) -> str:
        return "Hyperspectral"

    def longName(self) -> str:
        return "Hyperspectral enhancement and few-label classification"

    def icon(self) -> QIcon:
        return QIcon(ICON_PATH)

    def load(self) -> bool:
        try:
            settings.register()
        except ImportError:  # the Processing plugin is not loaded (bare QgsApplication)
            pass
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        try:
            settings.unregister()
        except ImportError:
            pass

    def loadAlgorithms(self) -> None:
        classes, skipped = load_algorithm_classes()
        if skipped:
            QgsMessageLog.logMessage(TORCH_MISSING.format(names=", ".join(skipped)), "Hyperspectral",
                                     Qgis.MessageLevel.Warning)
        for algorithm_class in classes:
            self.addAlgorithm(algorithm_class())

    def supportedOutputRasterLayerExtensions(self) -> list:
        return ["tif"]

    def defaultRasterFileExtension(self) -> str:
        return "tif"
