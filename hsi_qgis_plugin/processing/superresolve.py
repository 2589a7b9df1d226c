"""Super-resolve: bicubic, or the band-agnostic ESSA network fit on the scene itself or read from a model file."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..methods.superres.workflow import DEGRADATIONS, FACTORS, METHODS, superresolve
from ..models.essa import PRESETS
from .base import P_SEED, HsiAlgorithm

FACTOR = "FACTOR"
PRESET = "PRESET"
BUDGET = "BUDGET"
DEGRADATION = "DEGRADATION"
MIXUP = "MIXUP"
METHOD_LABELS = ("Bicubic", "ESSA network fit on this scene (zero-shot)", "ESSA network from a model file")
DEGRADATION_LABELS = ("Wald protocol: Gaussian sensor MTF (gain 0.3 at Nyquist)", "Antialiased bicubic")
PRESET_LABELS = tuple(
    f"{name} ({cfg['features']} features, {cfg['blocks']} ESSA blocks)" for name, cfg in PRESETS.items()
)
PRESET_NAMES = tuple(PRESETS)


def add_factor_parameter(algorithm: HsiAlgorithm) -> None:
    algorithm.addParameter(
        QgsProcessingParameterEnum(FACTOR, "Upscaling factor", options=[f"x{f}" for f in FACTORS], defaultValue=0)
    )


def add_training_parameters(algorithm: HsiAlgorithm, default_budget: int) -> None:
    """Training budget, preset, training degradation and Spectral Mixup (shared by both algorithms)."""
    algorithm.addParameter(
        QgsProcessingParameterNumber(
            BUDGET, "Training time budget (seconds)", QgsProcessingParameterNumber.Type.Integer,
            defaultValue=default_budget, minValue=1,
        )
    )
    algorithm.add_advanced(
        QgsProcessingParameterEnum(PRESET, "Network size", options=list(PRESET_LABELS), defaultValue=0)
    )
    algorithm.add_advanced(
        QgsProcessingParameterEnum(
            DEGRADATION, "Degradation used to make training pairs", options=list(DEGRADATION_LABELS), defaultValue=0
        )
    )
    algorithm.add_advanced(
        QgsProcessingParameterNumber(
            MIXUP, "Spectral Mixup strength (0 = off)", QgsProcessingParameterNumber.Type.Double,
            defaultValue=0.5, minValue=0.0, maxValue=1.0,
        )
    )
    algorithm.add_device_parameters()
    algorithm.add_seed_parameter()


def factor_value(algorithm: HsiAlgorithm, parameters, context) -> int:
    return FACTORS[algorithm.parameterAsEnum(parameters, FACTOR, context)]


def training_options(algorithm: HsiAlgorithm, parameters, context) -> dict:
    """Keyword arguments of methods.superres for the shared training parameters."""
    return {
        "budget_s": float(algorithm.parameterAsInt(parameters, BUDGET, context)),
        "preset": PRESET_NAMES[algorithm.parameterAsEnum(parameters, PRESET, context)],
        "degradation": DEGRADATIONS[algorithm.parameterAsEnum(parameters, DEGRADATION, context)],
        "mixup": algorithm.parameterAsDouble(parameters, MIXUP, context),
        **algorithm.device_options(parameters, context),
        "seed": algorithm.parameterAsInt(parameters, P_SEED, context),
    }


class SuperResolveAlgorithm(HsiAlgorithm):
    INPUT = "INPUT"
    FACTOR = FACTOR
    METHOD = "METHOD"
    MODEL_FILE = "MODEL_FILE"
    SELF_ENSEMBLE = "SELF_ENSEMBLE"
    OUTPUT = "OUTPUT"
    TRAIN_PSNR = "TRAIN_PSNR"
    TRAIN_BICUBIC_PSNR = "TRAIN_BICUBIC_PSNR"

    algorithm_id = "superresolve"
    display_name = "Super-resolve"
    group_key = "enhancement"
    output_file_parameters = (OUTPUT,)
    help_text = (
        "Makes a sharper hyperspectral raster with pixels 2, 3 or 4 times smaller, from the raster alone.\n\n"
        "Bicubic: plain bicubic interpolation of every band.\n"
        "ESSA network fit on this scene: a small network (ESSA spectral-correlation attention, one branch "
        "shared by groups of 8 adjacent bands, so any band count works) is trained on the scene itself: the "
        "scene is degraded by the factor (Wald protocol by default) and the network learns to undo that, then "
        "it is applied to the scene. Spectral Mixup (random convex recombinations of the bands) creates virtual "
        "training images. Training stops after the time budget; the log reports how much better than bicubic "
        "the network is on the degraded scene, a guide to the gain to expect; when it is not better, the bicubic "
        "result is written instead. x4 is learned as x2 applied twice (one network, a ZSSR-style cascade). The "
        "scene needs at least 16 x FACTOR pixels per side at x2 and x3 and 32 at x4 (smaller ones overfit). "
        "Pick the training degradation that matches how the image lost its detail: Wald (a sensor's blur) for "
        "real sensor images, bicubic for images made smaller by resampling; a mismatch can make the network "
        "worse than bicubic.\n"
        "ESSA network from a model file: applies a model written by 'Train super-resolution model' (same "
        "factor; a x2 model also serves x4, applied twice). A model trained on other bands is applied with a "
        "warning.\n\n"
        "The output grid is the input grid refined by the factor (same extent and CRS); wavelengths, band "
        "names and bad-band flags are kept. Bad bands and nodata pixels are replicated, never interpolated. "
        "Runs tile by tile with blended overlaps; works on CPU, faster on a CUDA GPU."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Hyperspectral raster"))
        add_factor_parameter(self)
        self.addParameter(
            QgsProcessingParameterEnum(self.METHOD, "Method", options=list(METHOD_LABELS), defaultValue=1)
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.MODEL_FILE, "Model file (for the model-file method)", extension="safetensors", optional=True
            )
        )
        add_training_parameters(self, default_budget=120)
        self.add_advanced(
            QgsProcessingParameterBoolean(
                self.SELF_ENSEMBLE, "Average the network over 8 rotations and flips (8 x slower inference)",
                defaultValue=True,
            )
        )
        self.add_tiling_parameters()
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Super-resolved raster"))
        self.addOutput(QgsProcessingOutputNumber(self.TRAIN_PSNR, "Network PSNR on the degraded scene (dB)"))
        self.addOutput(QgsProcessingOutputNumber(self.TRAIN_BICUBIC_PSNR, "Bicubic PSNR on the degraded scene (dB)"))

    def run_algorithm(self, parameters, context, feedback):
        info = self.hsi_raster(parameters, self.INPUT, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        method = METHODS[self.parameterAsEnum(parameters, self.METHOD, context)]
        result = superresolve(
            info.path,
            output,
            factor=factor_value(self, parameters, context),
            method=method,
            model_path=self.parameterAsFile(parameters, self.MODEL_FILE, context) or None,
            self_ensemble=self.parameterAsBool(parameters, self.SELF_ENSEMBLE, context),
            monitor=self.monitor(feedback),
            **training_options(self, parameters, context),
            **self.tiling(parameters, context),
        )
        history = result.history
        feedback.pushInfo(f"Super-resolved x{result.factor} ({method}); output written to {output}")
        return {
            self.OUTPUT: output,
            self.TRAIN_PSNR: history.psnr_network_db if history else None,
            self.TRAIN_BICUBIC_PSNR: history.psnr_bicubic_db if history else None,
        }
