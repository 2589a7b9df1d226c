"""Classify with few labels: a few drawn regions (or a label raster) become a land-cover map."""
from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..methods.classify.workflow import classify_raster
from .base import P_MEMORY_MB, P_SEED, HsiAlgorithm
from .classify_common import add_training_parameters, label_source, training_options


class ClassifyFewLabelsAlgorithm(HsiAlgorithm):
    INPUT = "INPUT"
    LABELS = "LABELS"
    CLASS_FIELD = "CLASS_FIELD"
    COLOR_FIELD = "COLOR_FIELD"
    VALIDATION = "VALIDATION"
    VALIDATION_FIELD = "VALIDATION_FIELD"
    PRETRAINED = "PRETRAINED"
    GRAPH = "GRAPH"
    OUTPUT = "OUTPUT"
    CONFIDENCE = "CONFIDENCE"
    PROBABILITIES = "PROBABILITIES"
    REPORT = "REPORT"
    OUTPUT_MODEL = "OUTPUT_MODEL"

    algorithm_id = "classifyfewlabels"
    display_name = "Classify with few labels"
    group_key = "classification"
    output_file_parameters = (OUTPUT, CONFIDENCE, PROBABILITIES, REPORT, OUTPUT_MODEL)
    help_text = (
        "Draw a handful of points or polygons per class (LABELS, with a text or integer CLASS_FIELD and an "
        "optional colour field such as '#33a02c' or '51,160,44'), or give a label raster (0 = unlabelled), and "
        "get a class map of the whole raster. Polygons are rasterised on the image grid (pixel centres inside); "
        "labels in another CRS are reprojected. VALIDATION takes the same kinds of layer: vector classes are matched to "
        "the training classes by name; a validation raster must use the values of the output class raster.\n\n"
        "Method: a spectral encoder is pretrained without labels on the scene itself (INTL), a LoLA-SpecViT "
        "classifier is fine-tuned on the labelled pixels with LoRA adapters and a cyclical learning rate, and "
        "the final map comes from a graph joining spectrally similar pixels and 8-neighbours (GRAPH): the labels "
        "and a kernel ridge classifier's probabilities on the spectra are each spread over it and multiplied, so the "
        "labels decide near them and the classifier where they do not reach. Give PRETRAINED (from 'Pretrain "
        "encoder') to skip pretraining.\n\n"
        "Outputs: class raster (colour table, class names and a .qml style, so the legend shows at once), "
        "confidence (top class probability), optional per-class probabilities, an HTML + JSON report (accuracy, "
        "confusion matrix, per-class precision/recall/F1 when VALIDATION labels are given; label counts; run "
        "time) and optionally the trained classifiers for 'Apply classifier': the kernel ridge classifier and the "
        "LoLA-SpecViT (the graph step needs labels on the scene, so it is not part of the model file). "
        "Nodata pixels get class 0; bad bands are not used."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Hyperspectral raster"))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.LABELS, "Training labels (points, polygons or label raster)",
            types=[QgsProcessing.SourceType.TypeVectorAnyGeometry, QgsProcessing.SourceType.TypeRaster]))
        self.addParameter(QgsProcessingParameterField(
            self.CLASS_FIELD, "Class field (vector labels)", parentLayerParameterName=self.LABELS, optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.COLOR_FIELD, "Colour field (optional)", parentLayerParameterName=self.LABELS, optional=True))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.VALIDATION, "Validation labels (optional)", optional=True,
            types=[QgsProcessing.SourceType.TypeVectorAnyGeometry, QgsProcessing.SourceType.TypeRaster]))
        self.addParameter(QgsProcessingParameterField(
            self.VALIDATION_FIELD, "Validation class field (empty = same as the class field)",
            parentLayerParameterName=self.VALIDATION, optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.PRETRAINED, "Pretrained encoder (optional)", extension="safetensors", optional=True))
        self.add_flag(self.GRAPH, "Refine by label spreading on the pixel graph", True)
        self.add_seed_parameter()
        add_training_parameters(self)
        self.add_device_parameters()
        self.add_tiling_parameters()
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Class map"))
        self.addParameter(QgsProcessingParameterRasterDestination(self.CONFIDENCE, "Confidence", optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.PROBABILITIES, "Class probabilities", optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.REPORT, "Report", "HTML files (*.html)", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, "Trained classifier", "Model files (*.safetensors)", optional=True,
            createByDefault=False))
        for name, label in (("OA", "Overall accuracy"), ("AA", "Average accuracy"), ("KAPPA", "Kappa")):
            self.addOutput(QgsProcessingOutputNumber(name, label))

    def run_algorithm(self, parameters, context, feedback):
        info = self.hsi_raster(parameters, self.INPUT, context, min_bands=2)
        labels = label_source(self, parameters, self.LABELS, context, feedback)
        validation = label_source(self, parameters, self.VALIDATION, context, feedback, optional=True)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        optional_output = lambda name: self.parameterAsOutputLayer(parameters, name, context) or None  # noqa: E731
        file_output = lambda name: self.parameterAsFileOutput(parameters, name, context) or None  # noqa: E731
        result = classify_raster(
            info.path, labels, output,
            class_field=self.parameterAsString(parameters, self.CLASS_FIELD, context) or None,
            color_field=self.parameterAsString(parameters, self.COLOR_FIELD, context) or None,
            confidence_path=optional_output(self.CONFIDENCE),
            report_path=file_output(self.REPORT),
            validation_path=validation,
            validation_field=self.parameterAsString(parameters, self.VALIDATION_FIELD, context) or None,
            model_path=file_output(self.OUTPUT_MODEL),
            probabilities_path=optional_output(self.PROBABILITIES),
            pretrained_path=self.parameterAsFile(parameters, self.PRETRAINED, context) or None,
            options=training_options(self, parameters, context, self.parameterAsInt(parameters, P_SEED, context),
                                     graph=self.parameterAsBool(parameters, self.GRAPH, context)),
            **self.device_options(parameters, context),
            memory_budget_mb=self.parameterAsInt(parameters, P_MEMORY_MB, context),
            monitor=self.monitor(feedback),
        )
        outputs = {self.OUTPUT: output}
        for name in (self.CONFIDENCE, self.PROBABILITIES):
            if optional_output(name):
                outputs[name] = optional_output(name)
        for name in (self.REPORT, self.OUTPUT_MODEL):
            if file_output(name):
                outputs[name] = file_output(name)
        summary = result.summary
        if summary is not None:
            outputs.update({"OA": summary["overall_accuracy"], "AA": summary["average_accuracy"],
                            "KAPPA": summary["kappa"]})
        return outputs
