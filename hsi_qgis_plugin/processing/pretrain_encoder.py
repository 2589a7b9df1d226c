"""Pretrain encoder (self-supervised): INTL on the scene's own unlabelled pixels, saved as a model file."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterFileDestination, QgsProcessingParameterRasterLayer

from ..methods.classify.workflow import pretrain_raster
from .base import P_MEMORY_MB, P_SEED, HsiAlgorithm
from .classify_common import add_training_parameters, training_options


class PretrainEncoderAlgorithm(HsiAlgorithm):
    INPUT = "INPUT"
    OUTPUT_MODEL = "OUTPUT_MODEL"

    algorithm_id = "pretrainencoder"
    display_name = "Pretrain encoder (self-supervised)"
    group_key = "classification"
    output_file_parameters = (OUTPUT_MODEL,)
    help_text = (
        "Learns features of a hyperspectral scene without any label. A band-agnostic spectral encoder "
        "(SpectralEarth-style 1-D convolutions along the spectrum; any band count) is trained with INTL "
        "(IterNorm whitening with trace loss) on pairs of neighbouring pixels with HSI-safe augmentations "
        "(illumination gain, noise, masked band runs); then the LoLA-SpecViT backbone (3-D convolution front "
        "end, local window attention) is trained with INTL on patches of the encoder's features.\n\n"
        "The result is a model file (.safetensors with a JSON model card beside it: bands, wavelengths, "
        "normalisation, training time) that 'Classify with few labels' can reuse, so several label sets can be "
        "tried without pretraining again. Bad bands and nodata pixels are not used."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Hyperspectral raster"))
        self.add_seed_parameter()
        add_training_parameters(self, finetuning=False)
        self.add_device_parameters()
        self.add_tiling_parameters()
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, "Pretrained encoder model", "Model files (*.safetensors)"))

    def run_algorithm(self, parameters, context, feedback):
        info = self.hsi_raster(parameters, self.INPUT, context, min_bands=2)
        model_path = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        pretrain_raster(
            info.path, model_path,
            options=training_options(self, parameters, context, self.parameterAsInt(parameters, P_SEED, context)),
            **self.device_options(parameters, context),
            memory_budget_mb=self.parameterAsInt(parameters, P_MEMORY_MB, context),
            monitor=self.monitor(feedback),
        )
        return {self.OUTPUT_MODEL: model_path}
