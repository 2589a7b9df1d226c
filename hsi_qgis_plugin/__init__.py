"""hsi_qgis_plugin: hyperspectral image enhancement and few-label classification for QGIS.

Importing the package pulls in nothing from QGIS, so ``hsi_qgis_plugin.core`` and friends work without it.
"""


def classFactory(iface):  # noqa: N802 - QGIS plugin entry point
    from .plugin import HsiPlugin

    return HsiPlugin(iface)
