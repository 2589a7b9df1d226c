"""Train super-resolution model: one band-agnostic ESSA network trained on several scenes, saved as a model file."""
from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
)

from ..core.errors import HsiInputError
from ..methods.superres.workflow import train_superres_model
from . import settings
from .base import HsiAlgorithm
from .superresolve import add_factor_parameter, add_training_parameters, factor_value, training_options


class TrainSuperResolutionAlgorithm(HsiAlgorithm):
    INPUTS = "INPUTS"
    FACTOR = "FACTOR"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    TRAIN_PSNR = "TRAIN_PSNR"
    TRAIN_BICUBIC_PSNR = "TRAIN_BICUBIC_PSNR"

    algorithm_id = "trainsuperresolution"
    display_name = "Train super-resolution model"
    group_key = "enhancement"
    output_file_parameters = (OUTPUT_MODEL,)
    help_text = (
        "Trains the ESSA super-resolution network on one or more hyperspectral rasters and saves it as a model "
        "file for 'Super-resolve' (method: model file).\n\n"
        "Each raster is degraded by the factor (Wald protocol by default) and the network learns to restore it, "
        "with Spectral Mixup and rotations as augmentation. The rasters may have different band counts: one "
        "branch is shared by groups of 8 adjacent bands. Large rasters contribute a few random windows. "
        "Training stops after the time budget.\n\n"
        "The model file (.safetensors) carries a model card (also written beside it as .json) with the "
        "architecture, factor, bands and wavelengths, normalisation, training scenes and time, and the PSNR "
        "reached on the degraded training scenes next to bicubic."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.INPUTS, "Hyperspectral rasters to train on", QgsProcessing.SourceType.TypeRaster
            )
        )
        add_factor_parameter(self)
        add_training_parameters(self, default_budget=300)
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT_MODEL, "Model file", fileFilter="Model files (*.safetensors)"
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.TRAIN_PSNR, "Network PSNR on the degraded scenes (dB)"))
        self.addOutput(QgsProcessingOutputNumber(self.TRAIN_BICUBIC_PSNR, "Bicubic PSNR on the degraded scenes (dB)"))

    def run_algorithm(self, parameters, context, feedback):
        layers = self.parameterAsLayerList(parameters, self.INPUTS, context)
        if not layers:
            raise HsiInputError("INPUTS: give at least one hyperspectral raster to train on")
        output = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        options = training_options(self, parameters, context)
        result = train_superres_model(
            [layer.source() for layer in layers],
            factor_value(self, parameters, context),
            output,
            memory_budget_mb=settings.memory_mb(),
            monitor=self.monitor(feedback),
            **options,
        )
        feedback.pushInfo(
            f"Model with {result.parameters} parameters trained {result.history.steps} steps; written to {output}"
        )
        return {
            self.OUTPUT_MODEL: output,
            self.TRAIN_PSNR: result.history.psnr_network_db,
            self.TRAIN_BICUBIC_PSNR: result.history.psnr_bicubic_db,
        }
