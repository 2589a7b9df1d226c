"""Pansharpen: classical methods (EXP, GSA, BT-H, MTF-GLP-HPM, MTF-GLP-FS) or a zero-shot band-wise network."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..core.device import resolve_device
from ..methods.pansharpen.classical import SENSOR_MTF_GAINS
from ..methods.pansharpen.workflow import ALL_METHOD_NAMES, METHODS, pansharpen_rasters
from ..methods.pansharpen.training import PnnSettings
from . import settings
from .base import P_MEMORY_MB, P_SEED, HsiAlgorithm

SENSORS = tuple(SENSOR_MTF_GAINS)
DEFAULT_METHOD = METHODS.index("glp_fs")


class PansharpenAlgorithm(HsiAlgorithm):
    HS = "HS"
    PAN = "PAN"
    PAN_BAND = "PAN_BAND"
    METHOD = "METHOD"
    SENSOR = "SENSOR"
    MTF_GAIN = "MTF_GAIN"
    EQUALISE_PAN = "EQUALISE_PAN"
    BASE = "BASE"
    ITERATIONS = "ITERATIONS"
    TIME_BUDGET = "TIME_BUDGET"
    OUTPUT = "OUTPUT"
    RATIO = "RATIO"

    algorithm_id = "pansharpen"
    display_name = "Pansharpen"
    group_key = "enhancement"
    output_file_parameters = (OUTPUT,)
    help_text = (
        "Sharpens a hyperspectral raster (HS) with a finer panchromatic raster (PAN): a single band, a chosen band "
        "(PAN_BAND) or the mean of the bands of a multispectral raster (PAN_BAND = 0).\n\n"
        "The resolution ratio is the HS pixel size over the PAN pixel size and must be an integer (2, 3, 4, 6, ...); "
        "it is written to the log and returned as RATIO. The output covers the whole HS pixels inside the PAN, on the "
        "HS grid refined by the ratio; a PAN already on that grid is used as is (the output's geotransform equals the "
        "PAN's over the overlap), otherwise it is warped onto it (other CRS or extent).\n\n"
        "Methods: EXP (bicubic interpolation, no sharpening); GSA (adaptive Gram-Schmidt); BT-H (Brovey with haze "
        "correction); MTF-GLP-HPM (high-pass modulation; EQUALISE_PAN matches the PAN to each band first, which "
        "hurts when the PAN is a band mean); MTF-GLP-FS (full-scale regression gains); zero-shot network "
        "(rho-PNN-style band-wise CNN fine-tuned on this image only, starting from BASE, with a spectral loss "
        "against the HS bands and a local-correlation loss against the PAN switched by hysteresis; bounded by "
        "ITERATIONS per band and TIME_BUDGET seconds, runs on DEVICE).\n\n"
        "The MTF filters use the HS sensor's MTF gain at Nyquist: MTF_GAIN when > 0, else SENSOR's default "
        "(generic/PRISMA/EnMAP/DESIS 0.30, Hyperion 0.27).\n\n"
        "Whole images are processed in memory: the run stops with a clear message when it would exceed the memory "
        "budget (clip the rasters first). Bad bands are copied (nearest neighbour), HS or PAN nodata pixels are "
        "nodata in the output. Output: float32 GeoTIFF with the HS wavelengths and band metadata."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.HS, "Hyperspectral raster"))
        self.addParameter(QgsProcessingParameterRasterLayer(self.PAN, "Panchromatic (or multispectral) raster"))
        self.addParameter(
            QgsProcessingParameterNumber(
                self.PAN_BAND, "PAN band (0 = mean of all bands)", QgsProcessingParameterNumber.Type.Integer,
                defaultValue=0, minValue=0,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.METHOD, "Method", options=[ALL_METHOD_NAMES[m] for m in METHODS], defaultValue=DEFAULT_METHOD
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
            QgsProcessingParameterBoolean(self.EQUALISE_PAN, "MTF-GLP-HPM: equalise the PAN to each band",
                                          defaultValue=False)
        )
        self.add_advanced(
            QgsProcessingParameterEnum(
                self.BASE, "Network: starting estimate", options=[ALL_METHOD_NAMES[m] for m in METHODS[:-1]],
                defaultValue=METHODS.index(PnnSettings.base),
            )
        )
        self.add_advanced(
            QgsProcessingParameterNumber(
                self.ITERATIONS, "Network: maximum iterations per band", QgsProcessingParameterNumber.Type.Integer,
                defaultValue=PnnSettings.iterations, minValue=0,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.TIME_BUDGET, "Network: time budget (seconds)", QgsProcessingParameterNumber.Type.Double,
                defaultValue=PnnSettings.time_budget_s, minValue=1.0,
            )
        )
        self.add_device_parameters()
        self.add_seed_parameter()
        self.add_advanced(
            QgsProcessingParameterNumber(
                P_MEMORY_MB, "Memory budget (MB)", QgsProcessingParameterNumber.Type.Integer,
                defaultValue=settings.memory_mb(), minValue=64,
            )
        )
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Pansharpened raster"))
        self.addOutput(QgsProcessingOutputNumber(self.RATIO, "Resolution ratio"))

    def run_algorithm(self, parameters, context, feedback):
        hs = self.hsi_raster(parameters, self.HS, context)
        pan = self.hsi_raster(parameters, self.PAN, context, min_bands=1)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        method = METHODS[self.parameterAsEnum(parameters, self.METHOD, context)]
        monitor = self.monitor(feedback)
        device = "cpu"
        pnn_settings = None
        if method == "pnn":
            options = self.device_options(parameters, context)
            choice = resolve_device(options["device"], options["threads"])
            monitor.log(choice.message)
            device = choice.device
            pnn_settings = PnnSettings(
                base=METHODS[self.parameterAsEnum(parameters, self.BASE, context)],
                iterations=self.parameterAsInt(parameters, self.ITERATIONS, context),
                time_budget_s=self.parameterAsDouble(parameters, self.TIME_BUDGET, context),
                seed=self.parameterAsInt(parameters, P_SEED, context),
            )
        result = pansharpen_rasters(
            hs.path,
            pan.path,
            output,
            method=method,
            pan_band=self.parameterAsInt(parameters, self.PAN_BAND, context),
            sensor=SENSORS[self.parameterAsEnum(parameters, self.SENSOR, context)],
            gain=self.parameterAsDouble(parameters, self.MTF_GAIN, context),
            equalise_pan=self.parameterAsBool(parameters, self.EQUALISE_PAN, context),
            pnn_settings=pnn_settings,
            device=device,
            memory_budget_mb=self.parameterAsInt(parameters, P_MEMORY_MB, context),
            monitor=monitor,
        )
        feedback.pushInfo(f"{ALL_METHOD_NAMES[method]} at ratio {result.ratio} (MTF gain {result.gain:.2f}) "
                          f"in {result.seconds:.1f} s; output written to {output}")
        return {self.OUTPUT: output, self.RATIO: result.ratio}
