"""Apply classifier: run a classifier saved by 'Classify with few labels' on another scene of the sensor."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..methods.classify.workflow import APPLY_CLASSIFIERS, apply_classifier
from .base import P_MEMORY_MB, HsiAlgorithm

CLASSIFIER_LABELS = (  # APPLY_CLASSIFIERS order
    "Kernel ridge on the spectra (more accurate on other scenes)",
    "LoLA-SpecViT on INTL embedding patches (spectral-spatial)",
)


class ApplyClassifierAlgorithm(HsiAlgorithm):
    INPUT = "INPUT"
    MODEL_FILE = "MODEL_FILE"
    CLASSIFIER = "CLASSIFIER"
    OUTPUT = "OUTPUT"
    CONFIDENCE = "CONFIDENCE"
    PROBABILITIES = "PROBABILITIES"

    algorithm_id = "applyclassifier"
    display_name = "Apply classifier"
    group_key = "classification"
    output_file_parameters = (OUTPUT, CONFIDENCE, PROBABILITIES)
    help_text = (
        "Runs a classifier written by 'Classify with few labels' (MODEL_FILE, .safetensors) on another raster "
        "of the same sensor: same band count, wavelengths within 5 nm (checked; a clear error lists every "
        "mismatch). The spectra are normalised with the statistics of the training scene. The graph refinement "
        "of the training run needs labels on the scene, so this map comes from a classifier alone.\n\n"
        "CLASSIFIER: the model file holds two. The kernel ridge classifier on the spectra (default) was far more "
        "accurate on EnMAP tiles it was not trained on (79 % against 30-32 % OA) than the LoLA-SpecViT, which "
        "looks at a 9 x 9 window of INTL embeddings (docs/benchmarks/classify_transfer.md). Model files from "
        "older versions hold only the LoLA-SpecViT and use it, with a warning in the log.\n\n"
        "Outputs: class raster with colour table, class names and .qml style; optional confidence and per-class "
        "probabilities. Nodata pixels get class 0."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Hyperspectral raster"))
        self.addParameter(QgsProcessingParameterFile(self.MODEL_FILE, "Classifier model", extension="safetensors"))
        self.addParameter(QgsProcessingParameterEnum(
            self.CLASSIFIER, "Classifier", options=list(CLASSIFIER_LABELS), defaultValue=0))
        self.add_device_parameters()
        self.add_tiling_parameters()
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Class map"))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.CONFIDENCE, "Confidence", optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.PROBABILITIES, "Class probabilities", optional=True, createByDefault=False))

    def run_algorithm(self, parameters, context, feedback):
        info = self.hsi_raster(parameters, self.INPUT, context, min_bands=2)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        optional_output = lambda name: self.parameterAsOutputLayer(parameters, name, context) or None  # noqa: E731
        apply_classifier(
            info.path, self.parameterAsFile(parameters, self.MODEL_FILE, context), output,
            confidence_path=optional_output(self.CONFIDENCE),
            probabilities_path=optional_output(self.PROBABILITIES),
            classifier=APPLY_CLASSIFIERS[self.parameterAsEnum(parameters, self.CLASSIFIER, context)],
            **self.device_options(parameters, context),
            memory_budget_mb=self.parameterAsInt(parameters, P_MEMORY_MB, context),
            monitor=self.monitor(feedback),
        )
        outputs = {self.OUTPUT: output}
        for name in (self.CONFIDENCE, self.PROBABILITIES):
            if optional_output(name):
                outputs[name] = optional_output(name)
        return outputs
