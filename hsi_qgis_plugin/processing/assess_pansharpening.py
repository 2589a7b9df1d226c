"""Assess pansharpening: HQNR, D_lambda (Khan), D_s (regression) and, with a reference, ERGAS/SAM/Q2n."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

from ..methods.pansharpen.workflow import assess_pansharpening
from .base import P_MEMORY_MB, HsiAlgorithm
from .pansharpen import SENSORS
from . import settings

NO_REFERENCE = {"HQNR": "HQNR", "D_LAMBDA": "D_lambda (Khan)", "D_S": "D_s (regression)"}
WITH_REFERENCE = {"ERGAS": "ERGAS", "SAM": "SAM (degrees)", "Q2N": "Q2n"}


class AssessPansharpeningAlgorithm(HsiAlgorithm):
    FUSED = "FUSED"
    HS = "HS"
    PAN = "PAN"
    REFERENCE = "REFERENCE"
    PAN_BAND = "PAN_BAND"
    SENSOR = "SENSOR"
    MTF_GAIN = "MTF_GAIN"
    OUTPUT_HTML = "OUTPUT_HTML"
    OUTPUT_JSON = "OUTPUT_JSON"

    algorithm_id = "assesspansharpening"
    display_name = "Assess pansharpening"
    group_key = "quality"
    output_file_parameters = (OUTPUT_HTML, OUTPUT_JSON)
    help_text = (
        "Quality of a pansharpened raster (FUSED) made from HS and PAN; the ratio comes from the pixel sizes and "
        "FUSED must lie on the HS grid refined by it over the PAN overlap (as Pansharpen writes it).\n\n"
        "Full resolution, no reference: D_lambda by Khan's protocol = 1 - Q2n between FUSED blurred with the HS "
        "sensor's Gaussian MTF (gain at Nyquist: MTF_GAIN, or SENSOR's default) and decimated, and the HS raster; "
        "D_s = 1 - R^2 of the least-squares regression of the PAN on the fused bands; HQNR = (1 - D_lambda)(1 - D_s). "
        "1 is ideal for HQNR, 0 for the distortions.\n\n"
        "Reduced resolution (Wald protocol): give REFERENCE, the true image on the FUSED grid (e.g. the original HS "
        "when HS and PAN were degraded from it), to add ERGAS, SAM (degrees) and Q2n (32 x 32 blocks).\n\n"
        "Bad bands are left out; nodata pixels are left out of the reference indices and filled with band means for "
        "the no-reference ones. Writes an HTML report with per-band spectral quality (PNG beside it) and a JSON file; "
        "the scalars are also outputs for graphical models."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.FUSED, "Pansharpened raster"))
        self.addParameter(QgsProcessingParameterRasterLayer(self.HS, "Hyperspectral raster it was made from"))
        self.addParameter(QgsProcessingParameterRasterLayer(self.PAN, "Panchromatic raster it was made from"))
        self.addParameter(
            QgsProcessingParameterRasterLayer(self.REFERENCE, "Reference at the fused resolution (optional)", optional=True)
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.PAN_BAND, "PAN band (0 = mean of all bands)", QgsProcessingParameterNumber.Type.Integer,
                defaultValue=0, minValue=0,
            )
        )
        self.addParameter(QgsProcessingParameterEnum(self.SENSOR, "HS sensor (MTF default)", options=list(SENSORS), defaultValue=0))
        self.add_advanced(
            QgsProcessingParameterNumber(
                self.MTF_GAIN, "HS MTF gain at Nyquist (0 = sensor default)", QgsProcessingParameterNumber.Type.Double,
                defaultValue=0.0, minValue=0.0, maxValue=0.99,
            )
        )
        self.add_advanced(
            QgsProcessingParameterNumber(
                P_MEMORY_MB, "Memory budget (MB)", QgsProcessingParameterNumber.Type.Integer,
                defaultValue=settings.memory_mb(), minValue=64,
            )
        )
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_HTML, "HTML report", "HTML files (*.html)"))
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT_JSON, "JSON results", "JSON files (*.json)", optional=True, createByDefault=False
            )
        )
        for name, label in {**NO_REFERENCE, **WITH_REFERENCE}.items():
            self.addOutput(QgsProcessingOutputNumber(name, label))

    def run_algorithm(self, parameters, context, feedback):
        fused = self.hsi_raster(parameters, self.FUSED, context)
        hs = self.hsi_raster(parameters, self.HS, context)
        pan = self.hsi_raster(parameters, self.PAN, context, min_bands=1)
        reference_layer = self.parameterAsRasterLayer(parameters, self.REFERENCE, context)
        html_path = self.parameterAsFileOutput(parameters, self.OUTPUT_HTML, context)
        json_path = self.parameterAsFileOutput(parameters, self.OUTPUT_JSON, context) or None
        result = assess_pansharpening(
            fused.path,
            hs.path,
            pan.path,
            reference_layer.source() if reference_layer is not None else None,
            html_path=html_path,
            json_path=json_path,
            pan_band=self.parameterAsInt(parameters, self.PAN_BAND, context),
            sensor=SENSORS[self.parameterAsEnum(parameters, self.SENSOR, context)],
            gain=self.parameterAsDouble(parameters, self.MTF_GAIN, context),
            memory_budget_mb=self.parameterAsInt(parameters, P_MEMORY_MB, context),
            monitor=self.monitor(feedback),
        )
        outputs = {name: result[name] for name in {**NO_REFERENCE, **WITH_REFERENCE} if name in result}
        for name, value in outputs.items():
            feedback.pushInfo(f"{name}: {value:.4f}")
        outputs[self.OUTPUT_HTML] = html_path
        if json_path:
            outputs[self.OUTPUT_JSON] = json_path
        return outputs
