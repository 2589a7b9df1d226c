"""True-colour display of hyperspectral rasters: the bands nearest 640 / 550 / 470 nm, 2-98 % stretch.

QGIS shows a multiband raster with bands 1 / 2 / 3 by default (deep blue for most sensors); outputs loaded from
this provider, and layers the plugin adds, are shown in true colour instead.
"""
from __future__ import annotations

from typing import List

from qgis.core import (
    QgsContrastEnhancement,
    QgsMultiBandColorRenderer,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRasterMinMaxOrigin,
)

from ..core.errors import HsiError
from ..core.raster import raster_info
from ..core.report import rgb_bands


def style_true_colour(layer: QgsRasterLayer) -> bool:
    """Give ``layer`` a true-colour renderer when it has >= 3 bands with wavelengths; True if styled."""
    if not layer.isValid() or layer.bandCount() < 3:
        return False
    try:
        metadata = raster_info(layer.source()).metadata
    except HsiError:
        return False
    if metadata.wavelengths_nm is None:
        return False
    red, green, blue = (band + 1 for band in rgb_bands(metadata, layer.bandCount()))
    layer.setRenderer(QgsMultiBandColorRenderer(layer.dataProvider(), red, green, blue))
    layer.setContrastEnhancement(
        QgsContrastEnhancement.ContrastEnhancementAlgorithm.StretchToMinimumMaximum,
        QgsRasterMinMaxOrigin.Limits.CumulativeCut,
    )
    layer.triggerRepaint()
    return True


class TrueColourOnLoad(QgsProcessingLayerPostProcessorInterface):
    """Styles an output layer in true colour once Processing has loaded it."""

    _alive: List["TrueColourOnLoad"] = []  # Processing holds only a C++ pointer: keep the Python objects

    @classmethod
    def create(cls) -> "TrueColourOnLoad":
        processor = cls()
        cls._alive.append(processor)
        return processor

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: N802
        if isinstance(layer, QgsRasterLayer):
            style_true_colour(layer)
