"""QGIS plugin object: registers the Processing provider (also in qgis_process) and the desktop UI."""
from __future__ import annotations

from qgis.core import QgsApplication

from .processing.provider import HsiProvider


class HsiPlugin:
    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider = None

    def initProcessing(self) -> None:  # noqa: N802 - called by qgis_process and by initGui
        if self.provider is None:
            self.provider = HsiProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
