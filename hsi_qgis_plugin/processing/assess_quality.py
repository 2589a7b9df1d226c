"""Assess quality (full reference): MPSNR, MSSIM, SAM, ERGAS, Q2n, per-band PSNR/SSIM, HTML and JSON report."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

from ..core.errors import HsiInputError
from ..methods.quality.workflow import SCALARS, assess_quality
from .base import P_MEMORY_MB, HsiAlgorithm

OUTPUT_LABELS = {
    "MPSNR": "Mean PSNR (dB)",
    "MSSIM": "Mean SSIM",
    "SAM": "Spectral angle (degrees)",
    "ERGAS": "ERGAS",
    "Q2N": "Q2n",
}


class AssessQualityAlgorithm(HsiAlgorithm):
    REFERENCE = "REFERENCE"
    ESTIMATE = "ESTIMATE"
    RATIO = "RATIO"
    DATA_RANGE = "DATA_RANGE"
    OUTPUT_HTML = "OUTPUT_HTML"
    OUTPUT_JSON = "OUTPUT_JSON"

    algorithm_id = "assessquality"
    display_name = "Assess quality (full reference)"
    group_key = "quality"
    output_file_parameters = (OUTPUT_HTML, OUTPUT_JSON)
    help_text = (
        "Compares a restored raster (ESTIMATE) with a clean REFERENCE on the same grid.\n\n"
        "MPSNR: mean over bands of 10 log10(range^2 / MSE), range = max - min of the reference (or DATA_RANGE). "
        "MSSIM: mean SSIM (11 x 11 Gaussian window). SAM: mean spectral angle in degrees. ERGAS: "
        "100/RATIO * sqrt(mean_b MSE_b / mean_b^2), RATIO = resolution ratio (1 for denoising). Q2n: "
        "hypercomplex quality index on 32 x 32 blocks (1 = perfect).\n\n"
        "Bad bands and pixels that are nodata in either raster are left out. The scalar results are also "
        "algorithm outputs, usable in graphical models. Writes an HTML report with a per-band PSNR/SSIM plot "
        "(PNG beside it) and a JSON file."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.REFERENCE, "Reference (clean) raster"))
        self.addParameter(QgsProcessingParameterRasterLayer(self.ESTIMATE, "Estimate (restored) raster"))
        self.addParameter(
            QgsProcessingParameterNumber(
                self.RATIO, "Resolution ratio for ERGAS", QgsProcessingParameterNumber.Type.Double, 1.0, minValue=0.0
            )
        )
        self.add_advanced(
            QgsProcessingParameterNumber(
                self.DATA_RANGE, "Data range for PSNR/SSIM (empty = reference max - min)",
                QgsProcessingParameterNumber.Type.Double, optional=True, minValue=0.0,
            )
        )
        self.add_tiling_parameters()
        self.addParameter(
            QgsProcessingParameterFileDestination(self.OUTPUT_HTML, "HTML report", "HTML files (*.html)")
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT_JSON, "JSON results", "JSON files (*.json)", optional=True, createByDefault=False
            )
        )
        for name in SCALARS:
            self.addOutput(QgsProcessingOutputNumber(name, OUTPUT_LABELS[name]))

    def run_algorithm(self, parameters, context, feedback):
        reference = self.hsi_raster(parameters, self.REFERENCE, context, min_bands=1)
        estimate = self.hsi_raster(parameters, self.ESTIMATE, context, min_bands=1)
        html_path = self.parameterAsFileOutput(parameters, self.OUTPUT_HTML, context)
        json_path = self.parameterAsFileOutput(parameters, self.OUTPUT_JSON, context) or None
        data_range = None
        if parameters.get(self.DATA_RANGE) not in (None, ""):
            data_range = self.parameterAsDouble(parameters, self.DATA_RANGE, context)
            if data_range <= 0:
                raise HsiInputError(f"DATA_RANGE must be > 0 (got {data_range})")
        result = assess_quality(
            reference.path,
            estimate.path,
            html_path=html_path,
            json_path=json_path,
            ratio=self.parameterAsDouble(parameters, self.RATIO, context),
            data_range=data_range,
            memory_budget_mb=self.parameterAsInt(parameters, P_MEMORY_MB, context),
            monitor=self.monitor(feedback),
        )
        for name in SCALARS:
            feedback.pushInfo(f"{name}: {result[name]:.4f}")
        outputs = {name: result[name] for name in SCALARS}
        outputs[self.OUTPUT_HTML] = html_path
        if json_path:
            outputs[self.OUTPUT_JSON] = json_path
        return outputs
