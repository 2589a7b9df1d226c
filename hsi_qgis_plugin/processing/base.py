"""Thin base class and parameter helpers shared by the Hyperspectral algorithms.

Each algorithm file declares its parameters in ``initAlgorithm`` and does ``parameters -> methods -> outputs``
in ``run_algorithm``. The base turns core errors into ``QgsProcessingException``s, deletes declared outputs of a failed
or cancelled run, and adapts the feedback object to core's :class:`Monitor`.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtGui import QIcon

from ..core.errors import HsiCancelled, HsiError, HsiInputError
from ..core.progress import Monitor
from ..core.raster import RasterInfo, raster_info, remove_outputs, require_bands
from . import settings
from .styling import TrueColourOnLoad

ICON_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "icon.svg")

GROUPS = {
    "enhancement": "Enhancement",
    "classification": "Classification",
    "quality": "Quality",
    "tools": "Tools",
}

P_DEVICE = "DEVICE"
P_THREADS = "THREADS"
P_TILE_SIZE = "TILE_SIZE"
P_MEMORY_MB = "MEMORY_MB"
P_SEED = "SEED"


class HsiAlgorithm(QgsProcessingAlgorithm):
    """Base for every algorithm of the provider.

    Subclasses set the class attributes and define ``run_algorithm(parameters, context, feedback) -> dict``.
    """

    algorithm_id = ""
    display_name = ""
    group_key = "tools"
    help_text = ""
    output_file_parameters: tuple = ()  # destination parameter names removed when the run fails

    def name(self) -> str:
        return self.algorithm_id

    def displayName(self) -> str:
        return self.display_name

    def group(self) -> str:
        return GROUPS[self.group_key]

    def groupId(self) -> str:
        return self.group_key

    def shortHelpString(self) -> str:
        return self.help_text

    def icon(self) -> QIcon:
        return QIcon(ICON_PATH)

    def createInstance(self) -> "HsiAlgorithm":
        return type(self)()

    # --- parameter helpers -------------------------------------------------------------------------------
    def add_device_parameters(self) -> None:
        self.addParameter(
            QgsProcessingParameterString(
                P_DEVICE, "Device (auto, cpu, cuda or cuda:N)", defaultValue=settings.device()
            )
        )
        self.add_advanced(
            QgsProcessingParameterNumber(
                P_THREADS, "CPU threads (0 = PyTorch default)", QgsProcessingParameterNumber.Type.Integer,
                defaultValue=settings.threads(), minValue=0,
            )
        )

    def add_tiling_parameters(self) -> None:
        self.add_advanced(
            QgsProcessingParameterNumber(
                P_TILE_SIZE, "Tile size (pixels)", QgsProcessingParameterNumber.Type.Integer,
                defaultValue=settings.tile_size(), minValue=16,
            )
        )
        self.add_advanced(
            QgsProcessingParameterNumber(
                P_MEMORY_MB, "Memory budget (MB)", QgsProcessingParameterNumber.Type.Integer,
                defaultValue=settings.memory_mb(), minValue=64,
            )
        )

    def add_seed_parameter(self) -> None:
        self.addParameter(
            QgsProcessingParameterNumber(
                P_SEED, "Random seed", QgsProcessingParameterNumber.Type.Integer, defaultValue=0, minValue=0
            )
        )

    def add_flag(self, name: str, description: str, default: bool) -> None:
        self.addParameter(QgsProcessingParameterBoolean(name, description, defaultValue=default))

    def add_advanced(self, parameter) -> None:
        parameter.setFlags(parameter.flags() | parameter.Flag.FlagAdvanced)
        self.addParameter(parameter)

    # --- parameter readers -------------------------------------------------------------------------------
    def hsi_raster(self, parameters, name: str, context, min_bands: int = 3) -> RasterInfo:
        """The source file of a raster parameter, checked to exist and to have enough bands."""
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            raise HsiInputError(f"{name}: no raster layer or file was given")
        info = raster_info(layer.source())
        require_bands(info, min_bands, name)
        return info

    def tiling(self, parameters, context) -> Dict[str, int]:
        return {
            "tile_size": self.parameterAsInt(parameters, P_TILE_SIZE, context),
            "memory_budget_mb": self.parameterAsInt(parameters, P_MEMORY_MB, context),
        }

    def device_options(self, parameters, context) -> Dict[str, Any]:
        """``device`` and ``threads`` keyword arguments for the torch methods."""
        return {
            "device": self.parameterAsString(parameters, P_DEVICE, context),
            "threads": self.parameterAsInt(parameters, P_THREADS, context),
        }

    def monitor(self, feedback: QgsProcessingFeedback) -> Monitor:
        return Monitor(progress=feedback.setProgress, cancelled=feedback.isCanceled, log=feedback.pushInfo)

    # --- execution ---------------------------------------------------------------------------------------
    def processAlgorithm(
        self, parameters: Dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Dict[str, Any]:
        # resolve each destination once (a TEMPORARY_OUTPUT gets a new name at every call) and hand the resolved
        # paths on, so the files the run writes are exactly the ones removed when it fails
        parameters = dict(parameters)
        outputs: List[str] = []
        for name in self.output_file_parameters:
            if self.parameterDefinition(name).type() == "rasterDestination":
                path = self.parameterAsOutputLayer(parameters, name, context)
            else:
                path = self.parameterAsFileOutput(parameters, name, context)
            if path:
                parameters[name] = path
                outputs.append(path)
        try:
            results = self.run_algorithm(parameters, context, feedback)
        except HsiCancelled:
            remove_outputs(*outputs)
            raise QgsProcessingException("Cancelled by the user; no output was written")
        except HsiError as error:
            remove_outputs(*outputs)
            raise QgsProcessingException(str(error)) from error
        except QgsProcessingException:
            remove_outputs(*outputs)
            raise
        for path in outputs:  # hyperspectral outputs open in true colour, not bands 1 / 2 / 3
            if context.willLoadLayerOnCompletion(path):
                context.layerToLoadOnCompletionDetails(path).setPostProcessor(TrueColourOnLoad.create())
        return results
