"""Thin base class and parameter helpers shared by the Hyperspectral algorithms.

Each algorithm file declares its parameters in ``initAlgorithm`` and does ``parameters -> methods -> outputs``
in ``run_algorithm``. The base refuses an output that names an input before anything runs, turns exceptions into
``QgsProcessingException`` messages, and adapts the feedback object to core's :class:`Monitor`. It deletes nothing:
the methods' :class:`~..core.outputs.OutputSet` commits or rolls back every file a run writes.
"""
from __future__ import annotations

import os
import traceback
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
from ..core.outputs import OutputSet
from ..core.progress import Monitor
from ..core.raster import RasterInfo, raster_info, require_bands
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

OUT_OF_MEMORY = (
    "Out of memory{detail}; no output was written. Lower the memory budget (MEMORY_MB) or the tile size, clip the "
    "raster, or run on the CPU"
)


class HsiAlgorithm(QgsProcessingAlgorithm):
    """Base for every algorithm of the provider.

    Subclasses set the class attributes and define ``run_algorithm(parameters, context, feedback) -> dict``.
    """

    algorithm_id = ""
    display_name = ""
    group_key = "tools"
    help_text = ""
    output_file_parameters: tuple = ()  # destination parameters, resolved once and checked against the inputs

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

    def input_files(self, parameters, context) -> List[str]:
        """The files behind every layer and file parameter given (for the output-equals-input check)."""
        files: List[str] = []
        for definition in self.parameterDefinitions():
            name, kind = definition.name(), definition.type()
            if parameters.get(name) in (None, ""):
                continue
            if kind == "multilayer":
                files += [layer.source() for layer in self.parameterAsLayerList(parameters, name, context)]
            elif kind in ("raster", "vector", "source", "layer"):
                layer = self.parameterAsLayer(parameters, name, context)
                files.append(layer.source() if layer is not None else str(parameters[name]))
            elif kind == "file":
                files.append(self.parameterAsFile(parameters, name, context))
        return files

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
            OutputSet(outputs, inputs=self.input_files(parameters, context))  # refuses before anything runs
            results = self.run_algorithm(parameters, context, feedback)
        except HsiCancelled:
            raise QgsProcessingException("Cancelled by the user; no output was written")
        except KeyboardInterrupt:
            raise QgsProcessingException("Interrupted; no output was written")
        except HsiError as error:
            raise QgsProcessingException(str(error)) from error
        except MemoryError as error:
            raise QgsProcessingException(OUT_OF_MEMORY.format(detail="")) from error
        except QgsProcessingException:
            raise
        except Exception as error:  # noqa: BLE001 - a defect: a message for the user, the traceback in the log
            feedback.pushDebugInfo(traceback.format_exc())
            if "out of memory" in str(error).lower():  # torch.OutOfMemoryError and its CUDA/MPS messages
                raise QgsProcessingException(OUT_OF_MEMORY.format(detail=f" ({str(error).splitlines()[0]})")) from error
            raise QgsProcessingException(
                f"Unexpected error: {type(error).__name__}: {error}; no output was written. Please report it with "
                "the log (the details are in the debug messages)"
            ) from error
        for path in outputs:  # hyperspectral outputs open in true colour, not bands 1 / 2 / 3
            if context.willLoadLayerOnCompletion(path):
                context.layerToLoadOnCompletionDetails(path).setPostProcessor(TrueColourOnLoad.create())
        return results
