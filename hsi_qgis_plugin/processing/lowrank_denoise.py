"""Low-rank denoise: HySime-style subspace projection with optional Wiener filtering of the eigen-images."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..methods.denoise.lowrank import lowrank_denoise
from .base import HsiAlgorithm


class LowRankDenoiseAlgorithm(HsiAlgorithm):
    INPUT = "INPUT"
    RANK = "RANK"
    FILTER_EIGENIMAGES = "FILTER_EIGENIMAGES"
    OUTPUT = "OUTPUT"

    algorithm_id = "lowrankdenoise"
    display_name = "Low-rank denoise"
    group_key = "enhancement"
    output_file_parameters = (OUTPUT,)
    help_text = (
        "Classical denoising baseline. The noise of each band is estimated by regression on its spectral "
        "neighbours, the bands are whitened by it (so band-dependent noise is handled), and every pixel is "
        "projected on the signal subspace. The rank is chosen automatically (HySime's minimum-error rule, "
        "bounded by the Marchenko-Pastur noise edge) unless RANK is set. Optionally each eigen-image is "
        "smoothed by an adaptive Wiener filter that knows its noise level.\n\n"
        "Bad bands (bbl = 0) and nodata pixels are copied unchanged. Runs tile by tile within the memory "
        "budget. Output: a GeoTIFF with the input's georeferencing, wavelengths and band names."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Hyperspectral raster"))
        self.addParameter(
            QgsProcessingParameterNumber(
                self.RANK, "Subspace rank (0 = automatic)", QgsProcessingParameterNumber.Type.Integer,
                defaultValue=0, minValue=0,
            )
        )
        self.add_flag(self.FILTER_EIGENIMAGES, "Filter the eigen-images (adaptive Wiener)", True)
        self.add_tiling_parameters()
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Denoised raster"))
        self.addOutput(QgsProcessingOutputNumber(self.RANK, "Subspace rank used"))

    def run_algorithm(self, parameters, context, feedback):
        info = self.hsi_raster(parameters, self.INPUT, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        result = lowrank_denoise(
            info.path,
            output,
            rank=self.parameterAsInt(parameters, self.RANK, context),
            filter_eigenimages=self.parameterAsBool(parameters, self.FILTER_EIGENIMAGES, context),
            monitor=self.monitor(feedback),
            **self.tiling(parameters, context),
        )
        feedback.pushInfo(f"Subspace rank {result.rank}; output written to {output}")
        return {self.OUTPUT: output, self.RANK: result.rank}
