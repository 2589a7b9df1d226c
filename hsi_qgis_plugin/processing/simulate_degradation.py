"""Simulate degradation: Wald-protocol blur + decimation, noise cases and a simulated PAN, for evaluation."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..methods.simulate.workflow import NOISE_CASES, simulate_degradation
from .base import P_MEMORY_MB, P_SEED, HsiAlgorithm

NOISE_LABELS = (
    "None",
    "Gaussian, i.i.d. (SIGMA)",
    "Gaussian, non-i.i.d. (per-band sigma in [SIGMA_MIN, SIGMA_MAX])",
    "Stripes (+ non-i.i.d. Gaussian)",
    "Dead lines (+ non-i.i.d. Gaussian)",
    "Impulse (+ non-i.i.d. Gaussian)",
    "Mixture: non-i.i.d. Gaussian + stripes + dead lines + impulse",
)
Double = QgsProcessingParameterNumber.Type.Double
Integer = QgsProcessingParameterNumber.Type.Integer


class SimulateDegradationAlgorithm(HsiAlgorithm):
    INPUT = "INPUT"
    NOISE = "NOISE"
    SIGMA = "SIGMA"
    SIGMA_MIN = "SIGMA_MIN"
    SIGMA_MAX = "SIGMA_MAX"
    BAND_FRACTION = "BAND_FRACTION"
    RATIO = "RATIO"
    MTF_GAIN = "MTF_GAIN"
    PAN_MIN_NM = "PAN_MIN_NM"
    PAN_MAX_NM = "PAN_MAX_NM"
    OUTPUT = "OUTPUT"
    OUTPUT_PAN = "OUTPUT_PAN"

    algorithm_id = "simulatedegradation"
    display_name = "Simulate degradation"
    group_key = "tools"
    output_file_parameters = (OUTPUT, OUTPUT_PAN)
    help_text = (
        "Makes a degraded copy of a clean hyperspectral raster, to test restoration methods with a known "
        "reference.\n\n"
        "Spatial: with RATIO > 1 the bands are blurred by the Gaussian matched to the sensor MTF (gain MTF_GAIN "
        "at the Nyquist frequency of the coarse grid) and decimated by RATIO (Wald protocol); the output grid "
        "has RATIO-times larger pixels.\n"
        "Noise (added after the spatial step): sigmas are fractions of the image's value range, so 30/255 = "
        "0.1176 is the usual 'sigma 30'. Stripes, dead lines and impulse each hit BAND_FRACTION of the bands, "
        "on top of non-i.i.d. Gaussian noise.\n"
        "OUTPUT_PAN (optional): a panchromatic band, the mean of the clean bands between PAN_MIN_NM and "
        "PAN_MAX_NM, on the input grid.\n\n"
        "Bad bands and nodata pixels are copied unchanged. SEED makes the result reproducible. Holds the raster "
        "in memory (within the memory budget)."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Clean hyperspectral raster"))
        self.addParameter(QgsProcessingParameterEnum(self.NOISE, "Noise", options=list(NOISE_LABELS), defaultValue=1))
        for name, label, default in (
            (self.SIGMA, "Sigma, i.i.d. case (fraction of value range)", 30 / 255),
            (self.SIGMA_MIN, "Smallest per-band sigma (fraction of value range)", 10 / 255),
            (self.SIGMA_MAX, "Largest per-band sigma (fraction of value range)", 70 / 255),
            (self.BAND_FRACTION, "Fraction of bands hit by stripes / dead lines / impulse", 1 / 3),
        ):
            self.addParameter(QgsProcessingParameterNumber(name, label, Double, defaultValue=default, minValue=0.0))
        self.addParameter(
            QgsProcessingParameterNumber(self.RATIO, "Spatial ratio (1 = keep resolution)", Integer, 1, minValue=1)
        )
        self.addParameter(
            QgsProcessingParameterNumber(self.MTF_GAIN, "MTF gain at Nyquist", Double, 0.3, minValue=0.0, maxValue=1.0)
        )
        self.add_seed_parameter()
        self.add_advanced(QgsProcessingParameterNumber(self.PAN_MIN_NM, "Simulated PAN: from (nm)", Double, 400.0))
        self.add_advanced(QgsProcessingParameterNumber(self.PAN_MAX_NM, "Simulated PAN: to (nm)", Double, 900.0))
        self.add_tiling_parameters()
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Degraded raster"))
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                self.OUTPUT_PAN, "Simulated PAN", optional=True, createByDefault=False
            )
        )

    def run_algorithm(self, parameters, context, feedback):
        info = self.hsi_raster(parameters, self.INPUT, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        pan = self.parameterAsOutputLayer(parameters, self.OUTPUT_PAN, context) or None
        number = lambda name: self.parameterAsDouble(parameters, name, context)  # noqa: E731
        result = simulate_degradation(
            info.path,
            output,
            noise=NOISE_CASES[self.parameterAsEnum(parameters, self.NOISE, context)],
            sigma=number(self.SIGMA),
            sigma_min=number(self.SIGMA_MIN),
            sigma_max=number(self.SIGMA_MAX),
            band_fraction=number(self.BAND_FRACTION),
            ratio=self.parameterAsInt(parameters, self.RATIO, context),
            mtf_gain=number(self.MTF_GAIN),
            pan_output_path=pan,
            pan_range_nm=(number(self.PAN_MIN_NM), number(self.PAN_MAX_NM)),
            seed=self.parameterAsInt(parameters, P_SEED, context),
            memory_budget_mb=self.parameterAsInt(parameters, P_MEMORY_MB, context),
            monitor=self.monitor(feedback),
        )
        outputs = {self.OUTPUT: result.output}
        if result.pan_output:
            outputs[self.OUTPUT_PAN] = result.pan_output
        return outputs
