"""Build graphical models the way a user draws them in the modeler: raster inputs, children, model outputs."""
from __future__ import annotations

from typing import Dict, Iterable, Optional

from qgis.core import (
    QgsApplication,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterRasterLayer,
)

Source = QgsProcessingModelChildParameterSource


def new_model(name: str, raster_inputs: Iterable[str]) -> QgsProcessingModelAlgorithm:
    model = QgsProcessingModelAlgorithm(name, "Hyperspectral tests")
    for input_name in raster_inputs:
        model.addModelParameter(QgsProcessingParameterRasterLayer(input_name, input_name),
                                QgsProcessingModelParameter(input_name))
    return model


def model_input(name: str) -> QgsProcessingModelChildParameterSource:
    return Source.fromModelParameter(name)


def child_output(child_id: str, output: str = "OUTPUT") -> QgsProcessingModelChildParameterSource:
    return Source.fromChildOutput(child_id, output)


def add_child(
    model: QgsProcessingModelAlgorithm,
    child_id: str,
    algorithm_id: str,
    sources: Dict[str, object],
    outputs: Optional[Dict[str, str]] = None,
) -> None:
    """Add ``algorithm_id`` as ``child_id``: ``sources`` are model sources or static values, ``outputs`` maps
    model output names to the child's outputs; every other parameter gets its default, as the modeler's dialog
    gives it."""
    child = QgsProcessingModelChildAlgorithm(algorithm_id)
    child.setChildId(child_id)
    for name, value in sources.items():
        child.addParameterSources(name, [value if isinstance(value, Source) else Source.fromStaticValue(value)])
    model_outputs = {}
    for model_name, output_name in (outputs or {}).items():
        model_outputs[model_name] = QgsProcessingModelOutput(model_name)
        model_outputs[model_name].setChildOutputName(output_name)
    child.setModelOutputs(model_outputs)
    algorithm = QgsApplication.processingRegistry().algorithmById(algorithm_id)
    for definition in algorithm.parameterDefinitions():
        if definition.name() not in sources and not definition.isDestination():
            child.addParameterSources(definition.name(), [Source.fromStaticValue(definition.defaultValue())])
    model.addChildAlgorithm(child)
