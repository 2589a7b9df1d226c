"""Train denoiser: self-supervised HSDT or MAN training on one or more noisy rasters, written as a model file."""
from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
)

from ..core.errors import HsiInputError
from ..methods.denoise.workflow import PRESETS, train_denoiser
from .base import P_SEED, HsiAlgorithm

ARCHITECTURES = ("hsdt", "man")


class TrainDenoiserAlgorithm(HsiAlgorithm):
    INPUTS = "INPUTS"
    ARCHITECTURE = "ARCHITECTURE"
    PRESET = "PRESET"
    TIME_BUDGET = "TIME_BUDGET"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    STEPS = "STEPS"

    algorithm_id = "traindenoiser"
    display_name = "Train denoiser"
    group_key = "enhancement"
    output_file_parameters = (OUTPUT_MODEL,)
    help_text = (
        "Trains an HSDT (Hybrid Spectral Denoising Transformer) or MAN (Mixed Attention Network) denoiser on "
        "your own noisy rasters, with no clean data: the self-supervised Neighbor2Neighbor objective compares "
        "the network's output on one random pixel of each 2 x 2 cell with a neighbouring pixel, whose noise is "
        "independent. The network works on each raster's noise-whitened signal subspace and refines the "
        "classical (FastHyDe-style) estimate.\n\n"
        "All rasters must have the same bands. Training stops at the TIME BUDGET. The model file (safetensors, "
        "with a JSON model card beside it) records the architecture, band count, wavelengths, normalisation, "
        "training data and time; apply it with <i>Denoise</i> (METHOD HSDT or MAN, MODEL FILE)."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.INPUTS, "Noisy hyperspectral rasters", QgsProcessing.SourceType.TypeRaster
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(self.ARCHITECTURE, "Network", options=["HSDT", "MAN"], defaultValue=0)
        )
        self.addParameter(
            QgsProcessingParameterEnum(self.PRESET, "Network size", options=list(PRESETS), defaultValue=0)
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.TIME_BUDGET, "Training time budget (seconds)", QgsProcessingParameterNumber.Type.Double,
                defaultValue=300.0, minValue=1.0,
            )
        )
        self.add_device_parameters()
        self.add_seed_parameter()
        self.addParameter(
            QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, "Model file", "Model files (*.safetensors)")
        )
        self.addOutput(QgsProcessingOutputNumber(self.STEPS, "Training steps done"))

    def run_algorithm(self, parameters, context, feedback):
        layers = self.parameterAsLayerList(parameters, self.INPUTS, context)
        if not layers:
            raise HsiInputError("INPUTS: give at least one hyperspectral raster to train on")
        output = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        card = train_denoiser(
            [layer.source() for layer in layers],
            output,
            architecture=ARCHITECTURES[self.parameterAsEnum(parameters, self.ARCHITECTURE, context)],
            preset=PRESETS[self.parameterAsEnum(parameters, self.PRESET, context)],
            **self.device_options(parameters, context),
            time_budget_s=self.parameterAsDouble(parameters, self.TIME_BUDGET, context),
            seed=self.parameterAsInt(parameters, P_SEED, context),
            monitor=self.monitor(feedback),
        )
        feedback.pushInfo(f"Model written to {output} ({card['metrics']['steps']} steps)")
        return {self.OUTPUT_MODEL: output, self.STEPS: card["metrics"]["steps"]}
