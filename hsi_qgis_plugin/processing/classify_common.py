"""Parameters shared by the classification algorithms (training settings and label sources)."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterNumber, QgsRasterLayer

from ..core.errors import HsiInputError
from ..methods.classify.workflow import ClassifyOptions

P_ENCODER_STEPS = "ENCODER_STEPS"
P_BACKBONE_STEPS = "BACKBONE_STEPS"
P_FINETUNE_STEPS = "FINETUNE_STEPS"

_DEFAULTS = ClassifyOptions()


def add_training_parameters(algorithm, pretraining: bool = True, finetuning: bool = True) -> None:
    """Advanced step counts for the pretraining and fine-tuning stages."""
    names = []
    if pretraining:
        names += [(P_ENCODER_STEPS, "Encoder pretraining steps", _DEFAULTS.encoder_steps),
                  (P_BACKBONE_STEPS, "Backbone pretraining steps", _DEFAULTS.backbone_steps)]
    if finetuning:
        names.append((P_FINETUNE_STEPS, "Fine-tuning steps", _DEFAULTS.finetune_steps))
    for name, label, default in names:
        algorithm.add_advanced(
            QgsProcessingParameterNumber(name, label, QgsProcessingParameterNumber.Type.Integer,
                                         defaultValue=default, minValue=1)
        )


def training_options(algorithm, parameters, context, seed: int, **extra) -> ClassifyOptions:
    options = ClassifyOptions(seed=seed, **extra)
    for name, attribute in ((P_ENCODER_STEPS, "encoder_steps"), (P_BACKBONE_STEPS, "backbone_steps"),
                            (P_FINETUNE_STEPS, "finetune_steps")):
        if algorithm.parameterDefinition(name) is not None:
            setattr(options, attribute, algorithm.parameterAsInt(parameters, name, context))
    return options


def label_source(algorithm, parameters, name: str, context, feedback, optional: bool = False):
    """A file path GDAL/OGR can read for a label parameter (vector layer exported when needed, or raster)."""
    value = parameters.get(name)
    if value in (None, ""):
        if optional:
            return None
        raise HsiInputError(f"{name}: no label layer was given")
    raster = algorithm.parameterAsRasterLayer(parameters, name, context)
    if isinstance(raster, QgsRasterLayer) and raster.isValid():
        return raster.source()
    layer = algorithm.parameterAsVectorLayer(parameters, name, context)
    if layer is None or not layer.isValid():
        raise HsiInputError(f"{name}: '{value}' is neither a vector layer nor a raster QGIS can open")
    return algorithm.parameterAsCompatibleSourceLayerPath(parameters, name, context, ["gpkg", "shp"], "gpkg", feedback)
